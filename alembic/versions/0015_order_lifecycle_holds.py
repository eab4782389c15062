"""order lifecycle and holds

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

Orders are open, completed or cancelled. A certificate applied to an open order is held for it
(captured_at NULL) until the order is completed, and released by the worker when the
workspace's hold time (hold_minutes, default 30; 0 = until completed or cancelled) passes.

Redemptions made before holds existed are final: they are marked captured when they were
made, so upgrading never releases a booking that was already paid with a certificate.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_OLD = "status IN ('open', 'cancelled')"
_NEW = "status IN ('open', 'completed', 'cancelled')"
_HOLDS = "status = 'applied' AND captured_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_minutes', sa.Integer(), nullable=False, server_default='30'))
        batch_op.create_check_constraint('ck_workspace_hold_minutes', 'hold_minutes >= 0 AND hold_minutes <= 10080')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('completed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False,
                                      server_default=''))
        batch_op.drop_constraint('ck_order_status', type_='check')
        batch_op.create_check_constraint('ck_order_status', _NEW)
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('captured_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.execute("UPDATE redemptions SET captured_at = created_at WHERE status = 'applied'")
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_redemptions_holds', ['created_at'], unique=False,
                              sqlite_where=sa.text(_HOLDS), postgresql_where=sa.text(_HOLDS))


def downgrade() -> None:
    completed = op.get_bind().execute(sa.text("SELECT count(*) FROM orders WHERE status = 'completed'")).scalar_one()
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_redemptions_holds', sqlite_where=sa.text(_HOLDS), postgresql_where=sa.text(_HOLDS))
        batch_op.drop_column('captured_at')
    # The older code knows open and cancelled orders only; a completed order stays usable as open.
    if completed:
        op.execute("UPDATE orders SET status = 'open' WHERE status = 'completed'")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint('ck_order_status', type_='check')
        batch_op.create_check_constraint('ck_order_status', _OLD)
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('completed_at')
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.drop_constraint('ck_workspace_hold_minutes', type_='check')
        batch_op.drop_column('hold_minutes')
