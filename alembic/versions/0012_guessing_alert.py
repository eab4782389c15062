"""guessing alert

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

Strangers' failed codes no longer refuse a workspace's own redemptions: crossing the
workspace-wide threshold records a guessing alert (the staff banner, the tighter per-address
widget budget while it lasts) and fires the new action trigger 'guessing_detected'.

Downgrading refuses while an action uses 'guessing_detected' (the old check constraint does
not allow it): delete those actions first.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_OLD = "trigger IN ('created', 'activated', 'redeemed', 'voided', 'expiring_soon', 'expired')"
_NEW = "trigger IN ('created', 'activated', 'redeemed', 'voided', 'expiring_soon', 'expired', 'guessing_detected')"


def upgrade() -> None:
    op.create_table('guessing_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('detected_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('guarded_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('threshold', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name='fk_guessing_alerts_workspace'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('guessing_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_guessing_alerts_ws_detected', ['workspace_id', 'detected_at'], unique=False)
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_constraint('ck_action_trigger', type_='check')
        batch_op.create_check_constraint('ck_action_trigger', _NEW)


def downgrade() -> None:
    using = op.get_bind().execute(
        sa.text("SELECT count(*) FROM actions WHERE trigger = 'guessing_detected'")).scalar_one()
    if using:
        raise RuntimeError(f"{using} action(s) run on 'guessing_detected'; delete them, then downgrade.")
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_constraint('ck_action_trigger', type_='check')
        batch_op.create_check_constraint('ck_action_trigger', _OLD)
    with op.batch_alter_table('guessing_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_guessing_alerts_ws_detected')
    op.drop_table('guessing_alerts')
