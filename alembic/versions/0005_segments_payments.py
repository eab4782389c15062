"""segments payments stripe events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

Portal purchases: segments and their members, which segments may buy which
certificate type, processed Stripe event ids, and the certificate's PaymentIntent,
confirmation-link token hash and refund.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stripe_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', name='uq_stripe_events_event_id')
    )
    op.create_table('segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('market_code', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("(kind = 'market') = (market_code IS NOT NULL)", name='ck_segment_market_code'),
    sa.CheckConstraint("kind IN ('customer_group', 'market')", name='ck_segment_kind'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name='fk_segments_workspace'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'market_code', name='uq_segments_ws_market'),
    sa.UniqueConstraint('workspace_id', 'name', name='uq_segments_ws_name')
    )
    with op.batch_alter_table('segments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_segments_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('certificate_type_segments',
    sa.Column('certificate_type_id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['certificate_type_id'], ['certificate_types.id'], name='fk_type_segments_type'),
    sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name='fk_type_segments_segment'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name='fk_type_segments_workspace'),
    sa.PrimaryKeyConstraint('certificate_type_id', 'segment_id')
    )
    with op.batch_alter_table('certificate_type_segments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_type_segments_segment_id'), ['segment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_type_segments_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('segment_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.CheckConstraint("kind IN ('email', 'domain')", name='ck_segment_member_kind'),
    sa.ForeignKeyConstraint(['segment_id'], ['segments.id'], name='fk_segment_members_segment'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name='fk_segment_members_workspace'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('segment_id', 'kind', 'value', name='uq_segment_members')
    )
    with op.batch_alter_table('segment_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_segment_members_segment_id'), ['segment_id'], unique=False)
        batch_op.create_index('ix_segment_members_ws_value', ['workspace_id', 'value'], unique=False)

    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_payment_intent_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column('portal_token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('stripe_refund_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column('refunded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_unique_constraint('uq_certificates_portal_token', ['portal_token_hash'])
        batch_op.create_unique_constraint('uq_certificates_payment_intent', ['stripe_payment_intent_id'])


def downgrade() -> None:
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_constraint('uq_certificates_payment_intent', type_='unique')
        batch_op.drop_constraint('uq_certificates_portal_token', type_='unique')
        batch_op.drop_column('refunded_at')
        batch_op.drop_column('stripe_refund_id')
        batch_op.drop_column('portal_token_hash')
        batch_op.drop_column('stripe_payment_intent_id')

    with op.batch_alter_table('segment_members', schema=None) as batch_op:
        batch_op.drop_index('ix_segment_members_ws_value')
        batch_op.drop_index(batch_op.f('ix_segment_members_segment_id'))

    op.drop_table('segment_members')
    with op.batch_alter_table('certificate_type_segments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_type_segments_workspace_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_type_segments_segment_id'))

    op.drop_table('certificate_type_segments')
    with op.batch_alter_table('segments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_segments_workspace_id'))

    op.drop_table('segments')
    op.drop_table('stripe_events')
