"""reporting indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

Reserved for issue 7; a no-op until that work fills it in.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
