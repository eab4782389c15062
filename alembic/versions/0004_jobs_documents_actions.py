"""jobs outbox documents actions reminders

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

Background jobs (transactional outbox), stored certificate PDFs behind random link tokens,
per-workspace actions (automation rules) with their defaults for existing workspaces,
expiry reminders (one row per certificate and threshold), and two workspace settings:
reminder days and the booking link the certificate's QR code opens.
"""

from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    actions = op.create_table('actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('trigger', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('recipients', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('staff_emails', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('subject_template', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('body_template', sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
    sa.Column('attach_pdf', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("trigger IN ('created', 'activated', 'redeemed', 'voided', 'expiring_soon', 'expired')", name='ck_action_trigger'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name='fk_actions_workspace'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.create_index('ix_actions_ws_trigger', ['workspace_id', 'trigger'], unique=False)

    op.create_table('certificate_documents',
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('generated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'], name='fk_certificate_documents_certificate'),
    sa.PrimaryKeyConstraint('certificate_id'),
    sa.UniqueConstraint('token', name='uq_certificate_documents_token')
    )
    op.create_table('expiry_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('threshold_days', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'], name='fk_expiry_reminders_certificate'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('certificate_id', 'threshold_days', name='uq_expiry_reminder')
    )
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=True),
    sa.Column('certificate_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('payload', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('dedupe_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('run_after', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('locked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('locked_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name='ck_job_status'),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'], name='fk_jobs_certificate'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name='fk_jobs_workspace'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key', name='uq_jobs_dedupe_key')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_certificate_id'), ['certificate_id'], unique=False)
        batch_op.create_index('ix_jobs_status_run_after', ['status', 'run_after'], unique=False)
        batch_op.create_index('ix_jobs_ws_status_id', ['workspace_id', 'status', 'id'], unique=False)

    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminder_days', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False,
                                      server_default='30,7'))
        batch_op.add_column(sa.Column('booking_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.alter_column('reminder_days', server_default=None)
        batch_op.alter_column('booking_url', server_default=None)

    # Existing workspaces get the same default actions a new workspace is created with.
    from giftcerts.core.action_defaults import DEFAULTS

    now = datetime.now(timezone.utc)
    workspace_ids = [row[0] for row in op.get_bind().execute(sa.text("SELECT id FROM workspaces ORDER BY id"))]
    if workspace_ids:
        op.bulk_insert(actions, [
            {"workspace_id": ws_id, "staff_emails": "", "enabled": True, "created_at": now, "updated_at": now,
             **values}
            for ws_id in workspace_ids for values in DEFAULTS
        ])


def downgrade() -> None:
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.drop_column('booking_url')
        batch_op.drop_column('reminder_days')

    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_ws_status_id')
        batch_op.drop_index('ix_jobs_status_run_after')
        batch_op.drop_index(batch_op.f('ix_jobs_certificate_id'))

    op.drop_table('jobs')
    op.drop_table('expiry_reminders')
    op.drop_table('certificate_documents')
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_index('ix_actions_ws_trigger')

    op.drop_table('actions')
