"""activity params

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

Activity entries store their structured parameters (amounts, moments, the order's reference,
a reason) in `params` and are worded when shown (giftcerts.core.activity.describe), in the
viewer's workspace timezone. Existing entries keep their English `details` and params NULL:
their moments were formatted to local dates when written and cannot be recovered exactly, so
they are shown as written.

Downgrading words every entry that has params into `details` (in its workspace's timezone)
before dropping the column, so the older code still shows them.
"""

from types import SimpleNamespace

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('params', sa.JSON(), nullable=True))


def downgrade() -> None:
    from giftcerts.core.activity import describe

    bind = op.get_bind()
    activities = sa.table('activities', sa.column('id', sa.Integer), sa.column('workspace_id', sa.Integer),
                          sa.column('kind', sa.String), sa.column('details', sa.String),
                          sa.column('params', sa.JSON))
    workspaces = sa.table('workspaces', sa.column('id', sa.Integer), sa.column('timezone', sa.String))
    rows = bind.execute(
        sa.select(activities.c.id, activities.c.kind, activities.c.details, activities.c.params, workspaces.c.timezone)
        .join(workspaces, workspaces.c.id == activities.c.workspace_id)
        .where(activities.c.params.is_not(None))
    ).all()
    worded = [{"entry_id": row.id, "text": describe(SimpleNamespace(kind=row.kind, details=row.details,
                                                                    params=row.params), row.timezone)[:2000]}
              for row in rows]
    if worded:
        bind.execute(activities.update().where(activities.c.id == sa.bindparam("entry_id"))
                     .values(details=sa.bindparam("text")), worded)
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_column('params')
