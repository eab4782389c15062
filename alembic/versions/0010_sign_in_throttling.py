"""sign-in throttling

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Five wrong passwords used to lock an account for 15 minutes (staff_users.failed_logins and
locked_until): anyone could keep a member locked out, and since unknown emails were never
locked, the lock told which accounts exist. Sign-in is now paused per (email, address) with a
growing delay, plus an hourly cap per email that spares addresses its member signed in from
recently; `sign_in_records` holds what that needs, for any email typed.

Downgrading drops the records (they only pause attempts for a while) and gives every account
the old columns back, unlocked.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_records',
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('paused_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_success_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('window_start', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('window_failures', sa.Integer(), nullable=False),
    sa.Column('alerted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('email', 'address')
    )
    existing = {c["name"] for c in sa.inspect(op.get_bind()).get_columns('staff_users')}
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        for column in ('failed_logins', 'locked_until'):
            if column in existing:
                batch_op.drop_column(column)


def downgrade() -> None:
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.drop_table('sign_in_records')
