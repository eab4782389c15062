"""Database tables. Plain SQLModel tables; the schema itself is owned by Alembic.

Conventions:
- money is an integer number of minor units (`*_cents`) next to an ISO 4217 currency;
- timestamps are timezone-aware UTC (`giftcerts.clock.utcnow`), converted to the workspace
  timezone only for display;
- email addresses are stored lower-cased so that search is an index lookup.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from giftcerts.clock import utcnow


class CertificateStatus(str, enum.Enum):
    PENDING = "pending"
    ACTIVE = "active"
    REDEEMED = "redeemed"
    VOIDED = "voided"
    EXPIRED = "expired"
    # A paid portal certificate being voided while its card refund is with Stripe: out of
    # circulation (every redemption path requires 'active'), then Voided, or back if refused.
    REFUNDING = "refunding"

    @property
    def label(self) -> str:
        return "Refund in progress" if self is CertificateStatus.REFUNDING else self.value.capitalize()


class CertificateSource(str, enum.Enum):
    PORTAL = "portal"
    MANUAL = "manual"
    API = "api"


class OrderStatus(str, enum.Enum):
    OPEN = "open"  # the booking is in progress: certificates applied to it are held
    COMPLETED = "completed"  # the booking was confirmed: its certificates are spent for good
    CANCELLED = "cancelled"  # the booking did not happen: its certificates were released


class RedemptionStatus(str, enum.Enum):
    APPLIED = "applied"
    RELEASED = "released"


class StaffRole(str, enum.Enum):
    OWNER = "owner"
    STAFF = "staff"
    VIEWER = "viewer"


STATUS_VALUES = tuple(s.value for s in CertificateStatus)
SOURCE_VALUES = tuple(s.value for s in CertificateSource)
ROLE_VALUES = tuple(r.value for r in StaffRole)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Workspace(SQLModel, table=True):
    __tablename__ = "workspaces"
    __table_args__ = (
        # Bounds must make sense or the portal could sell nothing (or anything).
        sa.CheckConstraint("min_amount_cents > 0", name="ck_workspace_min_positive"),
        sa.CheckConstraint("max_amount_cents >= min_amount_cents", name="ck_workspace_bounds"),
        sa.CheckConstraint("expiry_days > 0", name="ck_workspace_expiry_positive"),
        sa.CheckConstraint("hold_minutes >= 0 AND hold_minutes <= 10080", name="ck_workspace_hold_minutes"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=63, sa_column_kwargs={"unique": True}, nullable=False)
    name: str = Field(max_length=200)
    currency: str = Field(max_length=3, default="USD")
    timezone: str = Field(max_length=64, default="UTC")
    portal_enabled: bool = Field(default=True)
    min_amount_cents: int = Field(default=2500)
    max_amount_cents: int = Field(default=100000)
    expiry_days: int = Field(default=365)
    # Comma-separated minor-unit amounts offered as one-click choices, e.g. "5000,10000,25000".
    preset_amounts: str = Field(default="5000,10000,25000", max_length=500)
    # Space-separated origins (https://booking.example.com) allowed to embed the redemption
    # widget and to receive its postMessage; also sent as CSP frame-ancestors.
    embed_origins: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    # Days before expiry at which holders are reminded ("30,7"; empty: no reminders),
    # and the booking page the certificate's QR code opens ("{code}" is replaced by the code).
    reminder_days: str = Field(default="30,7", max_length=100)
    booking_url: str = Field(default="", max_length=500)
    # How staff and customers write amounts (a key of core.money.NUMBER_FORMATS): "50,00" is
    # fifty in de_DE and refused in en_US, never read as five thousand.
    locale: str = Field(default="en_US", max_length=16)
    # How long a certificate applied to an open order stays held before the worker releases it
    # (the checkout was abandoned); 0: held until the order is completed or cancelled.
    hold_minutes: int = Field(default=30, sa_column_kwargs={"server_default": "30"})


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_users"
    __table_args__ = (sa.CheckConstraint(_in("role", ROLE_VALUES), name="ck_staff_role"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True)
    # Sign-in is by email alone, so an address belongs to one staff account.
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True}, nullable=False)
    name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=255)
    role: str = Field(default=StaffRole.STAFF.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class SignInRecord(SQLModel, table=True):
    """Sign-in outcomes per (email as typed, client address), the ground for pausing sign-in.

    Kept for any email, with an account or not, so that both are treated alike. The row whose
    address is "" counts the email's failures from every address within an hour (the cap) and
    remembers when its member was last alerted by email."""

    __tablename__ = "sign_in_records"

    email: str = Field(max_length=254, primary_key=True)
    address: str = Field(max_length=64, primary_key=True)
    failures: int = Field(default=0)  # in a row, since the last success from this address
    last_failure_at: datetime | None = None
    paused_until: datetime | None = None
    last_success_at: datetime | None = None
    window_start: datetime | None = None
    window_failures: int = Field(default=0)
    alerted_at: datetime | None = None


class StaffSession(SQLModel, table=True):
    """A signed-in browser. Only the SHA-256 of the random token is stored."""

    __tablename__ = "staff_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True}, nullable=False)
    staff_id: int = Field(foreign_key="staff_users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class Certificate(SQLModel, table=True):
    __tablename__ = "certificates"
    __table_args__ = (
        # A certificate is worth something; zero or negative credit is a bug, not a sale.
        sa.CheckConstraint("amount_cents > 0", name="ck_certificate_amount_positive"),
        sa.CheckConstraint(_in("status", STATUS_VALUES), name="ck_certificate_status"),
        sa.CheckConstraint(_in("source", SOURCE_VALUES), name="ck_certificate_source"),
        # Keyset pagination of the dashboard list: newest first within a workspace. Unique (as id
        # alone is) so that activities can reference (workspace_id, id): see Activity.
        sa.Index("ix_certificates_ws_id", "workspace_id", "id", unique=True),
        sa.Index("ix_certificates_ws_status_id", "workspace_id", "status", "id"),
        sa.Index("ix_certificates_ws_purchaser_id", "workspace_id", "purchaser_email", "id"),
        sa.Index("ix_certificates_ws_recipient_id", "workspace_id", "recipient_email", "id"),
        # The expiry sweep and the reminders. Partial indexes skip the rows they can never find:
        # a certificate leaving Active (a million at once in a sweep) is one index write fewer.
        sa.Index("ix_certificates_active_expires", "expires_at",
                 sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'")),
        sa.Index("ix_certificates_certificate_type_id", "certificate_type_id",
                 sqlite_where=sa.text("certificate_type_id IS NOT NULL"),
                 postgresql_where=sa.text("certificate_type_id IS NOT NULL")),
        # One certificate per PaymentIntent and per confirmation link (portal sales only).
        sa.Index("uq_certificates_payment_intent", "stripe_payment_intent_id", unique=True,
                 sqlite_where=sa.text("stripe_payment_intent_id IS NOT NULL"),
                 postgresql_where=sa.text("stripe_payment_intent_id IS NOT NULL")),
        sa.Index("uq_certificates_portal_token", "portal_token_hash", unique=True,
                 sqlite_where=sa.text("portal_token_hash IS NOT NULL"),
                 postgresql_where=sa.text("portal_token_hash IS NOT NULL")),
        # Reports (giftcerts.core.reports): the certificates sold in a period, with everything the
        # sales figures and their filters (type, source) read, so a year is an index-only scan.
        sa.Index("ix_certificates_ws_activated", "workspace_id", "activated_at", "amount_cents", "status",
                 "redeemed_at", "certificate_type_id", "source"),
        # Reports: outstanding (Active now), expiring soon and breakage (expired in a period).
        sa.Index("ix_certificates_ws_status_expires", "workspace_id", "status", "expires_at", "amount_cents",
                 "certificate_type_id", "source"),
        # Reports: voids of a period (only voided certificates carry voided_at, hence partial).
        sa.Index("ix_certificates_ws_voided", "workspace_id", "voided_at", "status", "amount_cents", "activated_at",
                 "certificate_type_id", "source", sqlite_where=sa.text("voided_at IS NOT NULL"), postgresql_where=sa.text("voided_at IS NOT NULL")),
        # The clean-up's look for refunds left in progress (a crash, an unanswered Stripe): almost always empty.
        sa.Index("ix_certificates_refunding", "refund_requested_at",
                 sqlite_where=sa.text("status = 'refunding'"), postgresql_where=sa.text("status = 'refunding'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id")
    # Unique across the whole database, so a code identifies one certificate anywhere.
    code: str = Field(max_length=12, sa_column_kwargs={"unique": True}, nullable=False)
    status: str = Field(default=CertificateStatus.PENDING.value, max_length=16)
    amount_cents: int
    currency: str = Field(max_length=3)
    purchaser_name: str = Field(max_length=200)
    purchaser_email: str = Field(max_length=254)
    recipient_name: str = Field(max_length=200)
    recipient_email: str = Field(max_length=254)
    message: str = Field(default="", max_length=1000)
    source: str = Field(default=CertificateSource.MANUAL.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    activated_at: datetime | None = None
    expires_at: datetime | None = None
    redeemed_at: datetime | None = None
    voided_at: datetime | None = None
    void_reason: str | None = Field(default=None, max_length=500)
    # What kind of certificate was sold (None: the workspace's plain, untyped certificate).
    certificate_type_id: int | None = Field(default=None, foreign_key="certificate_types.id")
    # Portal sales: the Stripe PaymentIntent that pays for this certificate (one each, so a
    # webhook or a confirmation finds exactly one certificate to activate).
    stripe_payment_intent_id: str | None = Field(default=None, max_length=255)
    # SHA-256 of the random token in the purchaser's confirmation link (never the token itself).
    portal_token_hash: str | None = Field(default=None, max_length=64)
    # Set once the payment was refunded through Stripe (staff voided a paid portal certificate).
    stripe_refund_id: str | None = Field(default=None, max_length=255)
    refunded_at: datetime | None = None
    # When the certificate was taken out of circulation for its refund (status Refund in progress).
    refund_requested_at: datetime | None = None


class CertificateType(SQLModel, table=True):
    """A kind of certificate a workspace sells on its portal ("Safari credit", "Winter tours").

    Preset amounts and bounds narrow the workspace's own; None/empty means "use the workspace's".
    """

    __tablename__ = "certificate_types"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "name", name="uq_certificate_types_ws_name"),
        sa.CheckConstraint("min_amount_cents IS NULL OR min_amount_cents > 0", name="ck_type_min_positive"),
        sa.CheckConstraint("max_amount_cents IS NULL OR min_amount_cents IS NULL OR max_amount_cents >= min_amount_cents",
                           name="ck_type_bounds"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True)
    name: str = Field(max_length=100)
    description: str = Field(default="", max_length=1000)
    accent_color: str = Field(default="", max_length=7)
    image_url: str = Field(default="", max_length=500)
    preset_amounts: str = Field(default="", max_length=500)
    min_amount_cents: int | None = None
    max_amount_cents: int | None = None
    active: bool = Field(default=True)
    position: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow)


class Activity(SQLModel, table=True):
    """One line of a certificate's history. Written in the same transaction as the change."""

    __tablename__ = "activities"
    __table_args__ = (
        sa.Index("ix_activities_certificate_id", "certificate_id", "id"),
        # The live dashboard's change marker: the newest activity of a workspace, one index probe.
        sa.Index("ix_activities_ws_id", "workspace_id", "id"),
        # An entry belongs to its certificate's own workspace, never another's: one composite
        # key, checked once per entry (the workspace follows from the certificate's own key).
        sa.ForeignKeyConstraint(["workspace_id", "certificate_id"], ["certificates.workspace_id", "certificates.id"],
                                name="fk_activities_certificate"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int
    certificate_id: int
    kind: str = Field(max_length=40)
    actor: str = Field(max_length=254)
    created_at: datetime = Field(default_factory=utcnow)
    details: str = Field(default="", max_length=2000)  # the English text of entries written before params
    # The entry's parameters, worded when shown (activity.describe); NULL on those older entries.
    params: dict | None = Field(default=None, sa_column=sa.Column(sa.JSON(none_as_null=True), nullable=True))


class ApiKey(SQLModel, table=True):
    """A workspace API key. The key is shown once; only its SHA-256 is kept."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True)
    name: str = Field(default="", max_length=100)
    # First characters of the key, to recognise it in the dashboard without revealing it.
    prefix: str = Field(max_length=20)
    key_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True}, nullable=False)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class Order(SQLModel, table=True):
    """A booking on the operator's booking platform, as far as gift certificates are concerned."""

    __tablename__ = "orders"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "reference", name="uq_orders_ws_reference"),
        sa.CheckConstraint("total_cents > 0", name="ck_order_total_positive"),
        # Never pay more than the order is worth: the last line of defence against double spend.
        sa.CheckConstraint("amount_due_cents >= 0 AND amount_due_cents <= total_cents", name="ck_order_amount_due"),
        sa.CheckConstraint("status IN ('open', 'completed', 'cancelled')", name="ck_order_status"),
        sa.Index("ix_orders_ws_id", "workspace_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id")
    reference: str = Field(max_length=100)
    total_cents: int
    amount_due_cents: int
    currency: str = Field(max_length=3)
    customer_email: str = Field(default="", max_length=254)
    status: str = Field(default=OrderStatus.OPEN.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str = Field(default="", max_length=500)


class Redemption(SQLModel, table=True):
    """One certificate applied in full as payment on one order."""

    __tablename__ = "redemptions"
    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="ck_redemption_amount_positive"),
        sa.CheckConstraint("status IN ('applied', 'released')", name="ck_redemption_status"),
        # A certificate pays for at most one order at a time, whatever the application does.
        sa.Index("uq_redemptions_applied_certificate", "certificate_id", unique=True,
                 sqlite_where=sa.text("status = 'applied'"), postgresql_where=sa.text("status = 'applied'")),
        # An order's lines, scoped to its workspace: one index serves both predicates and the
        # order, so SQLite (which keeps no statistics) cannot pick a workspace-wide scan instead.
        sa.Index("ix_redemptions_ws_order", "workspace_id", "order_id", "id"),
        sa.Index("ix_redemptions_certificate_id", "certificate_id"),
        # The holds the worker looks at: applied, not yet made final by the order's completion.
        sa.Index("ix_redemptions_holds", "created_at", sqlite_where=sa.text("status = 'applied' AND captured_at IS NULL"),
                 postgresql_where=sa.text("status = 'applied' AND captured_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id")
    order_id: int = Field(foreign_key="orders.id")
    certificate_id: int = Field(foreign_key="certificates.id")
    amount_cents: int
    status: str = Field(default=RedemptionStatus.APPLIED.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    released_at: datetime | None = None
    # When the order was completed and the hold became final (None while it is held).
    captured_at: datetime | None = None


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a write request, replayed for any retry with the same key."""

    __tablename__ = "idempotency_records"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "key", name="uq_idempotency_ws_key"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id")
    key: str = Field(max_length=255)
    request_fingerprint: str = Field(max_length=64)
    response_status: int = Field(default=0)
    response_body: str = Field(default="")
    created_at: datetime = Field(default_factory=utcnow, index=True)


class WidgetSession(SQLModel, table=True):
    """A short-lived grant for the redemption widget to work on one order (no API key in the browser)."""

    __tablename__ = "widget_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True}, nullable=False)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True)
    order_id: int = Field(foreign_key="orders.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


# --- Portal purchases: segments, certificate type restrictions, Stripe events ---------------

class SegmentKind(str, enum.Enum):
    CUSTOMER_GROUP = "customer_group"
    MARKET = "market"


class Segment(SQLModel, table=True):
    """Who may buy a restricted certificate type: a customer group (members by email address or
    email domain) or a market (a market code chosen by the entry link `?market=XX`)."""

    __tablename__ = "segments"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "name", name="uq_segments_ws_name"),
        # One segment per market code, so a link `?market=XX` means one thing.
        sa.UniqueConstraint("workspace_id", "market_code", name="uq_segments_ws_market"),
        sa.CheckConstraint("kind IN ('customer_group', 'market')", name="ck_segment_kind"),
        sa.CheckConstraint("(kind = 'market') = (market_code IS NOT NULL)", name="ck_segment_market_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=16)
    market_code: str | None = Field(default=None, max_length=10)
    created_at: datetime = Field(default_factory=utcnow)


class SegmentMember(SQLModel, table=True):
    """One entry of a customer group: a lower-case email address, or a domain (`example.com`)."""

    __tablename__ = "segment_members"
    __table_args__ = (
        sa.UniqueConstraint("segment_id", "kind", "value", name="uq_segment_members"),
        sa.CheckConstraint("kind IN ('email', 'domain')", name="ck_segment_member_kind"),
        # Eligibility looks members up by value within the workspace.
        sa.Index("ix_segment_members_ws_value", "workspace_id", "value"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id")
    segment_id: int = Field(foreign_key="segments.id", index=True)
    kind: str = Field(max_length=8)
    value: str = Field(max_length=254)


class CertificateTypeSegment(SQLModel, table=True):
    """A segment allowed to buy a certificate type. A type with no rows here is for everyone."""

    __tablename__ = "certificate_type_segments"

    certificate_type_id: int = Field(foreign_key="certificate_types.id", primary_key=True)
    segment_id: int = Field(foreign_key="segments.id", primary_key=True, index=True)
    workspace_id: int = Field(foreign_key="workspaces.id", index=True)


class StripeEvent(SQLModel, table=True):
    """A Stripe event already processed: Stripe retries and duplicates, each id is acted on once."""

    __tablename__ = "stripe_events"
    __table_args__ = (sa.UniqueConstraint("event_id", name="uq_stripe_events_event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=255)
    type: str = Field(max_length=100)
    received_at: datetime = Field(default_factory=utcnow)


# --- Background jobs (outbox), certificate documents, actions, expiry reminders -----------------

class JobStatus(str, enum.Enum):
    QUEUED = "queued"      # waiting for `run_after`
    RUNNING = "running"    # claimed by a worker until `locked_until` (then anyone may claim it again)
    DONE = "done"
    FAILED = "failed"      # gave up after `max_attempts`; staff can retry it from the dashboard


JOB_STATUS_VALUES = tuple(s.value for s in JobStatus)


class Job(SQLModel, table=True):
    """One unit of background work, written in the same transaction as the change that causes it
    (transactional outbox), so a change is never committed without its email/PDF or vice versa."""

    __tablename__ = "jobs"
    __table_args__ = (
        sa.CheckConstraint(_in("status", JOB_STATUS_VALUES), name="ck_job_status"),
        # What workers poll: due queued jobs and expired leases.
        sa.Index("ix_jobs_status_run_after", "status", "run_after"),
        sa.Index("ix_jobs_ws_status_id", "workspace_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int | None = Field(default=None, foreign_key="workspaces.id")
    certificate_id: int | None = Field(default=None, foreign_key="certificates.id", index=True)
    kind: str = Field(max_length=40)
    payload: str = Field(default="{}")  # JSON
    status: str = Field(default=JobStatus.QUEUED.value, max_length=16)
    # Unique when set: the same logical job (e.g. a reminder email of one dispatch) is enqueued once.
    dedupe_key: str | None = Field(default=None, max_length=200, sa_column_kwargs={"unique": True})
    attempts: int = Field(default=0)
    max_attempts: int = Field(default=8)
    run_after: datetime = Field(default_factory=utcnow)
    locked_until: datetime | None = None
    locked_by: str | None = Field(default=None, max_length=100)
    last_error: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class CertificateDocument(SQLModel, table=True):
    """A certificate's PDF and the unguessable token of its download link (random, not derived
    from the id, so links cannot be enumerated). `pdf` is None until rendered, or after being
    dropped, and is stale when `rendered_status` is not the certificate's status: either way
    the download route renders it again."""

    __tablename__ = "certificate_documents"

    certificate_id: int = Field(foreign_key="certificates.id", primary_key=True)
    token: str = Field(max_length=64, sa_column_kwargs={"unique": True}, nullable=False)
    pdf: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    generated_at: datetime | None = None
    rendered_status: str | None = Field(default=None, max_length=20)  # the status `pdf` shows


ACTION_TRIGGERS = ("created", "activated", "redeemed", "voided", "expiring_soon", "expired", "guessing_detected")


class Action(SQLModel, table=True):
    """An automation rule: when `trigger` happens to a certificate, email `recipients`
    (`guessing_detected` happens to the workspace: see GuessingAlert)."""

    __tablename__ = "actions"
    __table_args__ = (
        sa.CheckConstraint(_in("trigger", ACTION_TRIGGERS), name="ck_action_trigger"),
        sa.Index("ix_actions_ws_trigger", "workspace_id", "trigger"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id")
    name: str = Field(max_length=100)
    trigger: str = Field(max_length=20)
    # Comma-separated roles: purchaser, recipient, staff (staff = `staff_emails`).
    recipients: str = Field(default="recipient", max_length=100)
    staff_emails: str = Field(default="", max_length=1000)
    subject_template: str = Field(max_length=300)
    body_template: str = Field(max_length=5000)
    attach_pdf: bool = Field(default=False)
    enabled: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class WebhookEndpoint(SQLModel, table=True):
    """A booking platform's server that hears of every change it subscribed to, signed with
    `secret` (shown to staff once, kept to sign: giftcerts.core.webhooks)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (sa.Index("ix_webhook_endpoints_ws_enabled", "workspace_id", "enabled"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id")
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)
    events: str = Field(max_length=1000)  # space-separated event types
    secret: str = Field(max_length=100)
    enabled: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint and what became of sending it (the delivery log). `event_id`
    is the event's stable id: the same for every endpoint and every retry of it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="ck_webhook_delivery_status"),
        sa.Index("ix_webhook_deliveries_endpoint_id", "endpoint_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id")
    endpoint_id: int = Field(foreign_key="webhook_endpoints.id")
    event_id: str = Field(max_length=64)
    event_type: str = Field(max_length=40)
    body: str  # the JSON sent, byte for byte the same on every attempt
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    response_status: int | None = None
    error: str = Field(default="", max_length=500)
    duration_ms: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None


class GuessingAlert(SQLModel, table=True):
    """Failed codes from strangers (the redemption widget) crossed the workspace's alert
    threshold: until `guarded_until` the widget's per-address budget is tighter, and staff see
    a banner (giftcerts.web.guessing). At most one per workspace every few hours."""

    __tablename__ = "guessing_alerts"
    __table_args__ = (sa.Index("ix_guessing_alerts_ws_detected", "workspace_id", "detected_at"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id")
    detected_at: datetime = Field(default_factory=utcnow)
    guarded_until: datetime
    failures: int  # failed codes counted in the window when the threshold was crossed
    threshold: str = Field(max_length=40)  # the threshold then, e.g. "1000/hour"

    @property
    def window(self) -> str:
        """The threshold's window in words: "1 hour", "10 minutes"."""
        per = self.threshold.split("/", 1)[-1]
        return per if per[:1].isdigit() else f"1 {per}"


class ExpiryReminder(SQLModel, table=True):
    """A certificate was reminded at this threshold (days before expiry): once, never twice."""

    __tablename__ = "expiry_reminders"
    __table_args__ = (sa.UniqueConstraint("certificate_id", "threshold_days", name="uq_expiry_reminder"),)

    id: int | None = Field(default=None, primary_key=True)
    certificate_id: int = Field(foreign_key="certificates.id")
    threshold_days: int
    created_at: datetime = Field(default_factory=utcnow)
