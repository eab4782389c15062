"""Sales tracking: revenue, popular amounts, redemption rates, liability and breakage.

Every figure is an aggregate computed by the database (GROUP BY over indexes, see
`ix_certificates_ws_activated` and `ix_certificates_ws_status_expires`), never by loading
certificates into Python, and every amount stays in integer minor units until it is
formatted. Periods are calendar periods in the workspace's timezone, turned into a
half-open UTC interval [start, end) before they reach SQL, so a sale at 23:59 local time
on the last day of a month belongs to that month whatever UTC says.

Definitions (shown to staff in the captions of the Overview page, see `CAPTIONS`):

- **Revenue (sold)**: certificates paid (activated) in the period: `activated_at` in the
  period. Pending (unpaid) certificates are not sales. A certificate that was sold and
  later voided stays in the revenue of the period it was sold in (it *was* sold); its
  value is reported again under **Voided** in the period it was voided, so that
  "sold - voided" is the net figure. Reactivating a voided certificate clears its void.
- **Redemption rate**: of the certificates sold in the period, the share now Redeemed,
  by count and by value. A redemption released because the booking was cancelled no
  longer counts.
- **Average days to redemption**: for the certificates sold in the period and now
  Redeemed, the mean time from activation to redemption.
- **Outstanding**: the value of certificates Active now and not past their expiry date:
  what the workspace still owes its customers (the liability on its books). Not tied to
  the period. **Expiring soon** is the part of it that expires within 30 days.
- **Breakage**: the value of certificates that expired unredeemed, by expiry date in the
  period: status Expired, or still Active but past `expires_at` (the expiry sweep has not
  reached it yet; it can no longer be redeemed either way).
- **Voided**: the value of paid certificates voided in the period (`voided_at` in the
  period; a certificate voided before it was paid was never sold and is left out).
- **Refunded**: the part of Voided whose card payment was refunded through Stripe
  (`refunded_at`, set with the void). Refunds made outside the system show as plain voids.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session

from giftcerts.clock import utcnow
from giftcerts.core.errors import ValidationError
from giftcerts.models import Activity, Certificate, CertificateSource, CertificateStatus, Workspace

PERIODS: dict[str, str] = {
    "month": "This month",
    "30d": "Last 30 days",
    "quarter": "This quarter",
    "year": "This year",
    "custom": "Custom range",
}
SOURCES: dict[str, str] = {"all": "All sources", "portal": "Portal", "manual": "Manual", "api": "API"}
MAX_CUSTOM_DAYS = 366 * 5
EXPIRING_SOON_DAYS = 30
# Outstanding split by how soon it expires (days from now): when the liability runs off.
RUN_OFF = ((30, "≤ 30 days"), (90, "31–90 days"), (180, "91–180 days"), (None, "Later"))
TOP_AMOUNTS = 8

CAPTIONS: dict[str, str] = {
    "revenue": "Certificates paid in the period (pending ones are not sales). Sales voided later still "
               "count here, in the period they were sold, and again under Voided.",
    "redemption": "Of the certificates sold in the period, the share now redeemed: by number and by value.",
    "popular": "How many certificates were sold at each amount in the period, most sold first.",
    "outstanding": "Value of Active certificates now, not yet expired: what is still owed to customers. "
                   "Does not depend on the period.",
    "expiring": f"Part of Outstanding that expires in the next {EXPIRING_SOON_DAYS} days.",
    "run_off": "Outstanding value by how soon it expires, counted from today.",
    "breakage": "Value of certificates that expired unredeemed, by expiry date in the period.",
    "voided": "Value of paid certificates voided in the period; the refunded part is what went back to "
              "the purchaser's card.",
    "days": "Average time from activation to redemption, for certificates sold in the period and now redeemed.",
}


@dataclass(frozen=True)
class Period:
    """A half-open interval [start, end) in UTC, and what it means in the workspace's timezone."""

    kind: str
    first_day: date  # local, inclusive
    last_day: date  # local, inclusive
    start: datetime  # UTC
    end: datetime  # UTC, exclusive
    granularity: str  # "day" | "week" | "month": the revenue chart's buckets

    @property
    def label(self) -> str:
        return f"{self.first_day:%b %-d, %Y} – {self.last_day:%b %-d, %Y}"


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant a local calendar day begins (DST-safe: zoneinfo resolves the wall time)."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(timezone.utc)


def _granularity(days: int) -> str:
    if days <= 31:
        return "day"
    if days <= 120:
        return "week"
    return "month"


def parse_day(text: str | None, field_name: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise ValidationError({field_name: "Enter a date as YYYY-MM-DD."}) from None


def resolve_period(kind: str, tz_name: str, *, now: datetime | None = None, start: str | None = None,
                   end: str | None = None) -> Period:
    """The period `kind` as of `now`, in the workspace's timezone; `custom` takes inclusive dates."""
    if kind not in PERIODS:
        raise ValidationError({"period": "Choose a period from the list."})
    tz = ZoneInfo(tz_name)
    today = (now or utcnow()).astimezone(tz).date()
    if kind == "month":
        first = today.replace(day=1)
        last = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    elif kind == "30d":
        first, last = today - timedelta(days=29), today
    elif kind == "quarter":
        q_month = 3 * ((today.month - 1) // 3) + 1
        first = date(today.year, q_month, 1)
        end_month = q_month + 2
        last = date(today.year, end_month, calendar.monthrange(today.year, end_month)[1])
    elif kind == "year":
        first, last = date(today.year, 1, 1), date(today.year, 12, 31)
    else:
        errors: dict[str, str] = {}
        try:
            first = parse_day(start, "start")
        except ValidationError as exc:
            errors.update(exc.errors)
        try:
            last = parse_day(end, "end")
        except ValidationError as exc:
            errors.update(exc.errors)
        if not errors and last < first:
            errors["end"] = "The end date must be on or after the start date."
        if not errors and (last - first).days >= MAX_CUSTOM_DAYS:
            errors["end"] = "Choose a range of at most five years."
        if errors:
            raise ValidationError(errors)
    return Period(kind=kind, first_day=first, last_day=last, start=local_midnight(first, tz),
                  end=local_midnight(last + timedelta(days=1), tz),
                  granularity=_granularity((last - first).days + 1))


@dataclass(frozen=True)
class Filters:
    """Narrow every figure to one certificate type and/or one sales channel.

    `type_id`: None for all types, 0 for certificates without a type, else a type's id
    (another workspace's type simply matches nothing: every query is workspace-scoped).
    """

    type_id: int | None = None
    source: str | None = None

    @classmethod
    def parse(cls, type_value: str | None, source_value: str | None) -> Filters:
        type_text = (type_value or "all").strip()
        type_id = None
        if type_text == "none":
            type_id = 0
        elif type_text.isascii() and type_text.isdigit() and 0 < int(type_text) < 2**31:
            type_id = int(type_text)
        source = source_value if source_value in {s.value for s in CertificateSource} else None
        return cls(type_id=type_id, source=source)

    def conditions(self) -> list:
        out = []
        if self.type_id == 0:
            out.append(Certificate.certificate_type_id.is_(None))
        elif self.type_id is not None:
            out.append(Certificate.certificate_type_id == self.type_id)
        if self.source:
            out.append(Certificate.source == self.source)
        return out


@dataclass(frozen=True)
class Bucket:
    first_day: date  # local day the bucket starts on
    count: int
    value_cents: int


@dataclass(frozen=True)
class AmountCount:
    amount_cents: int
    count: int
    value_cents: int


@dataclass(frozen=True)
class RunOff:
    label: str
    count: int
    value_cents: int


@dataclass(frozen=True)
class Overview:
    currency: str
    period: Period
    sold_count: int = 0
    sold_cents: int = 0
    redeemed_count: int = 0  # of the certificates sold in the period
    redeemed_cents: int = 0
    voided_later_count: int = 0  # of the certificates sold in the period, now voided
    voided_later_cents: int = 0
    redemption_seconds: float = 0.0  # total activation -> redemption time of `redeemed_count`
    outstanding_count: int = 0
    outstanding_cents: int = 0
    expiring_count: int = 0
    expiring_cents: int = 0
    breakage_count: int = 0
    breakage_cents: int = 0
    voided_count: int = 0  # voided in the period
    voided_cents: int = 0
    refunded_count: int = 0  # of the voided in the period, refunded to the card
    refunded_cents: int = 0
    series: list[Bucket] = field(default_factory=list)
    amounts: list[AmountCount] = field(default_factory=list)
    run_off: list[RunOff] = field(default_factory=list)  # Outstanding by time to expiry

    @property
    def redemption_rate_count(self) -> float | None:
        return self.redeemed_count / self.sold_count if self.sold_count else None

    @property
    def redemption_rate_value(self) -> float | None:
        return self.redeemed_cents / self.sold_cents if self.sold_cents else None

    @property
    def average_days_to_redemption(self) -> float | None:
        return self.redemption_seconds / self.redeemed_count / 86400 if self.redeemed_count else None


# --- local-time buckets ---------------------------------------------------------------------

def bucket_starts(period: Period) -> list[date]:
    """Every bucket of the period, so that days without sales show as zero."""
    first = period.first_day
    if period.granularity == "week":
        first -= timedelta(days=first.weekday())
    elif period.granularity == "month":
        first = first.replace(day=1)
    out = []
    day = first
    while day <= period.last_day:
        out.append(day)
        if period.granularity == "day":
            day += timedelta(days=1)
        elif period.granularity == "week":
            day += timedelta(days=7)
        else:
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def _bucket_index(session: Session, column, bounds: list[datetime]):
    """SQL for the 0-based bucket of `column`, given each bucket's first instant (UTC, ascending).

    The bounds are local midnights converted to UTC in Python (DST-exact), so the database
    compares timestamps only: PostgreSQL's width_bucket() binary-searches them; SQLite walks
    a CASE (a period has at most ~60 buckets)."""
    if session.get_bind().dialect.name == "postgresql":
        thresholds = sa.bindparam("bucket_bounds", value=bounds, type_=ARRAY(sa.DateTime(timezone=True)))
        return sa.func.width_bucket(column, thresholds) - 1
    if len(bounds) == 1:
        return sa.literal(0)
    return sa.case(*[(column < sa.literal(edge, Certificate.activated_at.type), i)
                     for i, edge in enumerate(bounds[1:])], else_=len(bounds) - 1)


# --- the queries ----------------------------------------------------------------------------

def _redemption_seconds(session: Session, redeemed):
    """Total activation -> redemption time of the redeemed rows, in seconds."""
    C = Certificate
    if session.get_bind().dialect.name == "postgresql":
        # Sum intervals per row (cheap) and convert once, rather than a numeric per row.
        return sa.func.extract("epoch", sa.func.sum(C.redeemed_at - C.activated_at).filter(redeemed))
    return sa.func.sum((sa.func.julianday(C.redeemed_at) - sa.func.julianday(C.activated_at)) * 86400.0
                       ).filter(redeemed)


def overview(session: Session, workspace: Workspace, period: Period, filters: Filters = Filters(), *,
             now: datetime | None = None) -> Overview:
    """Every figure of the Overview page for `period` (four aggregate queries, no rows loaded)."""
    now = now or utcnow()
    C = Certificate
    scope = [C.workspace_id == workspace.id, *filters.conditions()]
    sold = [*scope, C.activated_at >= period.start, C.activated_at < period.end]
    redeemed = C.status == CertificateStatus.REDEEMED.value
    voided = C.status == CertificateStatus.VOIDED.value

    # 1-3. Sales of the period: one index-only scan grouped by (chart bucket, amount) — buckets
    # times distinct amounts, small next to the rows; the chart, the popular amounts and the
    # cohort totals are sums of those groups. FILTER makes the status-dependent measures touch only their rows.
    starts = bucket_starts(period)
    bounds = [max(local_midnight(day, ZoneInfo(workspace.timezone)), period.start) for day in starts]
    bucket = _bucket_index(session, C.activated_at, bounds).label("bucket")
    if session.get_bind().dialect.name == "postgresql":
        # The planner cannot estimate how few groups there are and would sort a year of sales to
        # disk rather than hash them: memory for one small hash table, for this transaction only.
        session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
    groups = session.execute(
        sa.select(
            bucket, C.amount_cents,
            sa.func.count().label("n"),
            sa.func.count().filter(redeemed).label("redeemed_n"),
            sa.func.count().filter(voided).label("voided_n"),
            _redemption_seconds(session, redeemed).label("seconds"),
        )
        .where(*sold)
        # GROUP BY 1: the bucket expression has bound parameters; naming it by position keeps the
        # database from having to match two copies of it.
        .group_by(sa.literal_column("1"), C.amount_cents)
    ).all()
    per_bucket: dict[int, list[int]] = {}
    per_amount: dict[int, int] = {}
    totals = dict.fromkeys(("n", "cents", "redeemed_n", "redeemed_cents", "voided_n", "voided_cents"), 0)
    seconds = 0.0
    for row in groups:
        amount, n = int(row.amount_cents), int(row.n)
        counts = per_bucket.setdefault(int(row.bucket), [0, 0])
        counts[0] += n
        counts[1] += n * amount
        per_amount[amount] = per_amount.get(amount, 0) + n
        for name in ("n", "redeemed_n", "voided_n"):
            totals[name] += int(getattr(row, name))
        totals["cents"] += n * amount
        totals["redeemed_cents"] += int(row.redeemed_n) * amount
        totals["voided_cents"] += int(row.voided_n) * amount
        seconds += float(row.seconds or 0)
    series = [Bucket(day, *per_bucket.get(i, (0, 0))) for i, day in enumerate(starts)]
    popular = sorted(per_amount.items(), key=lambda item: (-item[1], -item[0]))[:TOP_AMOUNTS]
    amounts = [AmountCount(amount_cents=a, count=k, value_cents=a * k) for a, k in popular]

    # 4. What is owed now, split by how soon it expires.
    limits = [days for days, _ in RUN_OFF[:-1]]
    edges = [now + timedelta(days=days) for days in limits]
    bands = []
    for i, edge in enumerate([*edges, None]):
        lower = edges[i - 1] if i else None
        cond = sa.and_(*([] if lower is None else [C.expires_at > lower]),
                       *([] if edge is None else [C.expires_at <= edge]))  # never both None
        bands += [sa.func.count().filter(cond), sa.func.coalesce(sa.func.sum(C.amount_cents).filter(cond), 0)]
    standing = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(C.amount_cents), 0), *bands)
        .where(*scope, C.status == CertificateStatus.ACTIVE.value, C.expires_at > now)
    ).one()
    run_off = [RunOff(label, int(standing[2 + 2 * i]), int(standing[3 + 2 * i]))
               for i, (_, label) in enumerate(RUN_OFF)]

    # 5. Breakage and voids of the period.
    # An Active certificate past its date is worth nothing even before the expiry sweep marks it.
    breakage = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(C.amount_cents), 0))
        .where(*scope, C.status.in_([CertificateStatus.EXPIRED.value, CertificateStatus.ACTIVE.value]),
               C.expires_at >= period.start, C.expires_at < period.end, C.expires_at <= now)
    ).one()
    refunded = C.refunded_at.is_not(None)
    voids = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(C.amount_cents), 0),
                  sa.func.count().filter(refunded),
                  sa.func.coalesce(sa.func.sum(C.amount_cents).filter(refunded), 0))
        .where(*scope, C.voided_at >= period.start, C.voided_at < period.end, voided, C.activated_at.is_not(None))
    ).one()

    return Overview(
        currency=workspace.currency, period=period,
        sold_count=totals["n"], sold_cents=totals["cents"],
        redeemed_count=totals["redeemed_n"], redeemed_cents=totals["redeemed_cents"],
        voided_later_count=totals["voided_n"], voided_later_cents=totals["voided_cents"],
        redemption_seconds=seconds,
        outstanding_count=int(standing[0]), outstanding_cents=int(standing[1]),
        expiring_count=run_off[0].count, expiring_cents=run_off[0].value_cents, run_off=run_off,
        breakage_count=int(breakage[0]), breakage_cents=int(breakage[1]),
        voided_count=int(voids[0]), voided_cents=int(voids[1]),
        refunded_count=int(voids[2]), refunded_cents=int(voids[3]),
        series=series, amounts=amounts,
    )


def change_marker(session: Session, workspace_id: int) -> int:
    """The newest activity id of a workspace (0 if none): every sale, redemption, void, expiry
    and reactivation writes one, so when this has not moved no figure can have changed.
    One probe of `ix_activities_ws_id`."""
    return int(session.execute(
        sa.select(sa.func.coalesce(sa.func.max(Activity.id), 0)).where(Activity.workspace_id == workspace_id)
    ).scalar_one())
