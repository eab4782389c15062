"""certificate types

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 22:15:11.976411
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('certificate_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('accent_color', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('image_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('preset_amounts', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('min_amount_cents', sa.Integer(), nullable=True),
    sa.Column('max_amount_cents', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint('max_amount_cents IS NULL OR min_amount_cents IS NULL OR max_amount_cents >= min_amount_cents', name='ck_type_bounds'),
    sa.CheckConstraint('min_amount_cents IS NULL OR min_amount_cents > 0', name='ck_type_min_positive'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'name', name='uq_certificate_types_ws_name')
    )
    with op.batch_alter_table('certificate_types', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_types_workspace_id'), ['workspace_id'], unique=False)

    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('certificate_type_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_certificates_certificate_type_id'), ['certificate_type_id'], unique=False)
        batch_op.create_foreign_key('fk_certificates_certificate_type', 'certificate_types', ['certificate_type_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_constraint('fk_certificates_certificate_type', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_certificates_certificate_type_id'))
        batch_op.drop_column('certificate_type_id')

    with op.batch_alter_table('certificate_types', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_types_workspace_id'))

    op.drop_table('certificate_types')
