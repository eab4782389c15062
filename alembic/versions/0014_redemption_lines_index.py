"""redemption lines index

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

An order's redemptions are always read scoped to the workspace (`order_id = ? AND
workspace_id = ?`). With one index on each column, SQLite — which keeps no statistics unless
ANALYZE is run — chose the workspace's index and scanned every redemption of the workspace on
each API redemption, a cost that grew with the table. One index on (workspace_id, order_id, id)
answers both predicates and the ordering, and replaces the two (the workspace's own queries
use its prefix).
"""

from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_redemptions_ws_order', ['workspace_id', 'order_id', 'id'], unique=False)
        batch_op.drop_index('ix_redemptions_order_id')
        batch_op.drop_index('ix_redemptions_workspace_id')


def downgrade() -> None:
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_redemptions_workspace_id', ['workspace_id'], unique=False)
        batch_op.create_index('ix_redemptions_order_id', ['order_id', 'id'], unique=False)
        batch_op.drop_index('ix_redemptions_ws_order')
