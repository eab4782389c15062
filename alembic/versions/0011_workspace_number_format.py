"""workspace number format

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Each workspace reads typed amounts in its own number format (a Babel locale such as en_US or
de_DE), strictly: "50,00" was read as 5,000.00 in every workspace. Existing workspaces get
en_US, which reads every amount they accepted before the same way, except a decimal comma,
which is now refused with how to write it instead of being taken for a thousands separator.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='en_US'))


def downgrade() -> None:
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.drop_column('locale')
