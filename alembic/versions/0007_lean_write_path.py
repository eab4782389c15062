"""lean write path

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

Fewer index and foreign-key writes per certificate change, measured with bench/expiry.py:
- partial indexes where most rows can never match (Active-only sweep index, typed
  certificates, portal sales' PaymentIntent and confirmation token);
- the redundant ix_activities_workspace_id (a prefix of ix_activities_ws_id) is dropped;
- an activity references its certificate by (workspace_id, certificate_id): one check
  instead of two, and an entry can no longer name another workspace's certificate.
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# SQLite's foreign keys from 0001 are unnamed; batch mode names them by this convention.
_SQLITE_FK_NAMES = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}


def _partial(condition: str) -> dict:
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def upgrade() -> None:
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_status_expires')
        batch_op.drop_index('ix_certificates_certificate_type_id')
        batch_op.drop_constraint('uq_certificates_payment_intent', type_='unique')
        batch_op.drop_constraint('uq_certificates_portal_token', type_='unique')
        batch_op.drop_index('ix_certificates_ws_id')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index('ix_certificates_ws_id', ['workspace_id', 'id'], unique=True)
        batch_op.create_index('ix_certificates_active_expires', ['expires_at'], unique=False,
                              **_partial("status = 'active'"))
        batch_op.create_index('ix_certificates_certificate_type_id', ['certificate_type_id'], unique=False,
                              **_partial('certificate_type_id IS NOT NULL'))
        batch_op.create_index('uq_certificates_payment_intent', ['stripe_payment_intent_id'], unique=True,
                              **_partial('stripe_payment_intent_id IS NOT NULL'))
        batch_op.create_index('uq_certificates_portal_token', ['portal_token_hash'], unique=True,
                              **_partial('portal_token_hash IS NOT NULL'))
    with op.batch_alter_table('activities', schema=None, naming_convention=_SQLITE_FK_NAMES) as batch_op:
        batch_op.drop_index('ix_activities_workspace_id')
        batch_op.drop_constraint('activities_certificate_id_fkey', type_='foreignkey')
        batch_op.drop_constraint('activities_workspace_id_fkey', type_='foreignkey')
        batch_op.create_foreign_key('fk_activities_certificate', 'certificates',
                                    ['workspace_id', 'certificate_id'], ['workspace_id', 'id'])


def downgrade() -> None:
    with op.batch_alter_table('activities', schema=None, naming_convention=_SQLITE_FK_NAMES) as batch_op:
        batch_op.drop_constraint('fk_activities_certificate', type_='foreignkey')
        batch_op.create_foreign_key('activities_workspace_id_fkey', 'workspaces', ['workspace_id'], ['id'])
        batch_op.create_foreign_key('activities_certificate_id_fkey', 'certificates', ['certificate_id'], ['id'])
        batch_op.create_index('ix_activities_workspace_id', ['workspace_id'], unique=False)
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('uq_certificates_portal_token')
        batch_op.drop_index('uq_certificates_payment_intent')
        batch_op.drop_index('ix_certificates_certificate_type_id')
        batch_op.drop_index('ix_certificates_active_expires')
        batch_op.drop_index('ix_certificates_ws_id')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index('ix_certificates_ws_id', ['workspace_id', 'id'], unique=False)
        batch_op.create_unique_constraint('uq_certificates_portal_token', ['portal_token_hash'])
        batch_op.create_unique_constraint('uq_certificates_payment_intent', ['stripe_payment_intent_id'])
        batch_op.create_index('ix_certificates_certificate_type_id', ['certificate_type_id'], unique=False)
        batch_op.create_index('ix_certificates_status_expires', ['status', 'expires_at'], unique=False)
