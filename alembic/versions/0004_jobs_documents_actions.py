"""jobs outbox documents actions reminders

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

Reserved for issue 5; a no-op until that work fills it in.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
