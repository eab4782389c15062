"""pdf rendered status

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

A stored PDF remembers the certificate status it was rendered for, so a certificate voided,
redeemed or expired by any path (the lifecycle, the one-statement redemption, the set-based
expiry sweep) is rendered again on its next download instead of being served as valid.
Existing PDFs have none and are rendered again once.
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('certificate_documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rendered_status', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('certificate_documents', schema=None) as batch_op:
        batch_op.drop_column('rendered_status')
