"""reporting indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

Indexes for the sales overview (giftcerts.core.reports) and its live change marker.
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index('ix_certificates_ws_activated',
                              ['workspace_id', 'activated_at', 'amount_cents', 'status', 'redeemed_at',
                               'certificate_type_id', 'source'], unique=False)
        batch_op.create_index('ix_certificates_ws_status_expires',
                              ['workspace_id', 'status', 'expires_at', 'amount_cents', 'certificate_type_id',
                               'source'], unique=False)
        batch_op.create_index('ix_certificates_ws_voided',
                              ['workspace_id', 'voided_at', 'status', 'amount_cents', 'activated_at',
                               'certificate_type_id', 'source'], unique=False,
                              sqlite_where=sa.text('voided_at IS NOT NULL'),
                              postgresql_where=sa.text('voided_at IS NOT NULL'))
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_ws_id', ['workspace_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_ws_id')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_ws_voided')
        batch_op.drop_index('ix_certificates_ws_status_expires')
        batch_op.drop_index('ix_certificates_ws_activated')
