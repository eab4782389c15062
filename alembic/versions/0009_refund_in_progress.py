"""refund in progress

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

Voiding a paid portal certificate takes it out of circulation before Stripe is asked for the
refund: the new status 'refunding' (Refund in progress), which no redemption path accepts,
and the moment it started, so that the clean-up can finish refunds a crash left in progress
(a partial index: such rows are rare and short-lived).

Downgrading refuses while any certificate is in 'refunding': whether its card was refunded
is only known by asking Stripe, so it is neither safely Active nor Voided. Void it again (or
let the clean-up finish it) first.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_OLD = "status IN ('pending', 'active', 'redeemed', 'voided', 'expired')"
_NEW = "status IN ('pending', 'active', 'redeemed', 'voided', 'expired', 'refunding')"


def _partial(condition: str) -> dict:
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def upgrade() -> None:
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_constraint('ck_certificate_status', type_='check')
        batch_op.create_check_constraint('ck_certificate_status', _NEW)
        batch_op.add_column(sa.Column('refund_requested_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index('ix_certificates_refunding', ['refund_requested_at'], unique=False,
                              **_partial("status = 'refunding'"))


def downgrade() -> None:
    in_progress = op.get_bind().execute(
        sa.text("SELECT count(*) FROM certificates WHERE status = 'refunding'")).scalar_one()
    if in_progress:
        raise RuntimeError(f"{in_progress} certificate(s) have a refund in progress; void them again (or run "
                           "`giftcerts cleanup-pending`) so that Stripe settles them, then downgrade.")
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_refunding', **_partial("status = 'refunding'"))
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_column('refund_requested_at')
        batch_op.drop_constraint('ck_certificate_status', type_='check')
        batch_op.create_check_constraint('ck_certificate_status', _OLD)
