"""Expiry: the periodic sweep that moves Active certificates past their date to Expired, and
the reminders sent N days before (each certificate reminded once per threshold).

Redemption and reactivation check the clock themselves and never depend on the sweep.
The sweep is idempotent and safe with several workers: a row moves only through a
conditional UPDATE (`status = 'active' AND expires_at <= now`), and on PostgreSQL the
batch is picked with FOR UPDATE SKIP LOCKED so concurrent sweepers take different rows. Batches
come in no particular order (sorting a backlog by date cost a third of the sweep): every due
certificate is taken by some batch, found through the Active-only index on expires_at.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from giftcerts import db
from giftcerts.clock import format_date, utcnow
from giftcerts.core import outbox
from giftcerts.core.activity import SYSTEM_ACTOR, ActivityKind
from giftcerts.core.errors import InvalidTransition
from giftcerts.core.inserts import insert_ignore
from giftcerts.models import Action, Activity, Certificate, CertificateStatus, ExpiryReminder, Job, Workspace

S = CertificateStatus
MAX_REMINDER_DAYS = 365
MAX_THRESHOLDS = 5

_PG_SWEEP = sa.text("""
WITH moved AS (
    UPDATE certificates AS c SET status = 'expired'
    WHERE c.id = ANY (ARRAY(
        SELECT id FROM certificates
        WHERE status = 'active' AND expires_at <= :now
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    )) AND c.status = 'active' AND c.expires_at <= :now
    RETURNING c.id, c.workspace_id, c.expires_at
), logged AS (
    INSERT INTO activities (workspace_id, certificate_id, kind, actor, created_at, details)
    SELECT m.workspace_id, m.id, :kind, :actor, :now,
           'Expired on ' || to_char(m.expires_at AT TIME ZONE w.timezone, 'YYYY-MM-DD')
    FROM moved AS m JOIN workspaces AS w ON w.id = m.workspace_id
    RETURNING certificate_id
), queued AS (
    INSERT INTO jobs (workspace_id, certificate_id, kind, payload, status, attempts, max_attempts, run_after,
                      last_error, created_at)
    SELECT m.workspace_id, m.id, 'dispatch', :payload, 'queued', 0, 8, :now, '', :now
    FROM moved AS m
    WHERE EXISTS (SELECT 1 FROM actions AS a
                  WHERE a.workspace_id = m.workspace_id AND a.trigger = 'expired' AND a.enabled)
    RETURNING id
)
SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM logged), (SELECT count(*) FROM queued)
""")


def expire_due(session: Session, *, now: datetime | None = None, batch_size: int = 500) -> int:
    """Expire one batch; returns how many certificates moved (0 when nothing is due)."""
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        moved, _, _ = session.execute(_PG_SWEEP, {
            "now": now, "batch": batch_size, "kind": ActivityKind.EXPIRED.value, "actor": SYSTEM_ACTOR,
            "payload": json.dumps({"trigger": "expired"}, sort_keys=True),
        }).one()
        return moved
    return _expire_generic(session, now, batch_size)


SWEEP_BATCH = 5000  # certificates expired per transaction
# Sweepers at once on PostgreSQL. Measured with a million due certificates on 2 cores: one
# takes 80 s, two 45 s, four 52 s (bench/expiry.py); SQLite has a single writer: one.
SWEEPERS = max(1, min(4, os.cpu_count() or 1))


def expire_backlog(url: str | None = None, *, now: datetime | None = None, batch_size: int = SWEEP_BATCH,
                   sweepers: int | None = None) -> int:
    """Expire everything due at `now`, one transaction per batch, with several sweepers at once
    on PostgreSQL; returns how many certificates moved.

    A sweeper stops at its first short batch: SKIP LOCKED gave it every due row nobody else
    held, so whatever remains is in another sweeper's batch and that one carries on."""
    now = now or utcnow()

    def sweep() -> int:
        moved = 0
        while True:
            with db.write_session(url) as session:
                n = expire_due(session, now=now, batch_size=batch_size)
            moved += n
            if n < batch_size:
                return moved

    count = sweepers or SWEEPERS
    if count == 1 or db.engine(url).dialect.name != "postgresql":
        return sweep()
    with ThreadPoolExecutor(count, thread_name_prefix="expiry-sweep") as pool:
        return sum(pool.map(lambda _: sweep(), range(count)))


def _expire_generic(session: Session, now: datetime, batch_size: int) -> int:
    due = select(Certificate.id).where(Certificate.status == S.ACTIVE.value, Certificate.expires_at <= now) \
        .limit(batch_size).scalar_subquery()
    moved = session.execute(
        sa.update(Certificate)
        .where(Certificate.id.in_(due), Certificate.status == S.ACTIVE.value, Certificate.expires_at <= now)
        .values(status=S.EXPIRED.value)
        .returning(Certificate.id, Certificate.workspace_id, Certificate.expires_at)
        .execution_options(synchronize_session=False)
    ).all()
    if not moved:
        return 0
    ws_ids = {w for _, w, _ in moved}
    zones = dict(session.execute(select(Workspace.id, Workspace.timezone).where(Workspace.id.in_(ws_ids))).all())
    notify = set(session.execute(select(Action.workspace_id).where(
        Action.workspace_id.in_(ws_ids), Action.trigger == "expired", Action.enabled)).scalars())
    session.execute(sa.insert(Activity), [
        {"workspace_id": w, "certificate_id": c, "kind": ActivityKind.EXPIRED.value, "actor": SYSTEM_ACTOR,
         "created_at": now, "details": f"Expired on {format_date(e, zones[w])}"} for c, w, e in moved
    ])
    jobs = [{"workspace_id": w, "certificate_id": c, "kind": "dispatch", "status": "queued",
             "payload": json.dumps({"trigger": "expired"}, sort_keys=True), "attempts": 0, "max_attempts": 8,
             "run_after": now, "last_error": "", "created_at": now} for c, w, _ in moved if w in notify]
    if jobs:
        session.execute(sa.insert(Job), jobs)
    return len(moved)


# --- reminders -----------------------------------------------------------------------------

def parse_thresholds(text: str | None) -> list[int]:
    return sorted({int(p) for p in (text or "").replace(";", ",").split(",") if p.strip().isdigit()
                   and 0 < int(p) <= MAX_REMINDER_DAYS})


def clean_thresholds(text: str | None, errors: dict[str, str], field: str = "reminder_days") -> str:
    parts = [p.strip() for p in (text or "").replace(";", ",").split(",") if p.strip()]
    if len(parts) > MAX_THRESHOLDS:
        errors[field] = f"Use at most {MAX_THRESHOLDS} reminder days."
        return ""
    for p in parts:
        if not (p.isascii() and p.isdigit()) or not 0 < int(p) <= MAX_REMINDER_DAYS:
            errors[field] = (f"“{p[:10]}” is not a number of days from 1 to {MAX_REMINDER_DAYS}. "
                             "Separate several with commas, e.g. 30, 7.")
            return ""
    return ",".join(str(d) for d in sorted({int(p) for p in parts}, reverse=True))


def send_due_reminders(session: Session, *, now: datetime | None = None, batch_size: int = 500) -> int:
    """Queue the reminders that are due: for each threshold T of a workspace, Active certificates
    expiring within T days that were not yet reminded at T. A certificate first seen inside
    several thresholds (sold with 5 days left, thresholds 30 and 7) gets one reminder, recorded
    for each of them."""
    now = now or utcnow()
    queued = 0
    rows = session.execute(
        select(Workspace.id, Workspace.reminder_days).where(
            Workspace.reminder_days != "",
            sa.exists().where(Action.workspace_id == Workspace.id, Action.trigger == "expiring_soon", Action.enabled),
        )
    ).all()
    for ws_id, days_text in rows:
        thresholds = parse_thresholds(days_text)
        for i, days in enumerate(thresholds):
            reminded = select(ExpiryReminder.id).where(ExpiryReminder.certificate_id == Certificate.id,
                                                       ExpiryReminder.threshold_days == days)
            due = session.exec(
                select(Certificate).where(
                    Certificate.workspace_id == ws_id, Certificate.status == S.ACTIVE.value,
                    Certificate.expires_at > now, Certificate.expires_at <= now + timedelta(days=days),
                    ~sa.exists(reminded),
                ).order_by(Certificate.expires_at).limit(batch_size)
            ).all()
            for cert in due:
                if not insert_ignore(session, ExpiryReminder.__table__,
                                     {"certificate_id": cert.id, "threshold_days": days, "created_at": now},
                                     conflict=["certificate_id", "threshold_days"]):
                    continue  # another sweeper reminded it a moment ago
                for larger in thresholds[i + 1:]:
                    insert_ignore(session, ExpiryReminder.__table__,
                                  {"certificate_id": cert.id, "threshold_days": larger, "created_at": now},
                                  conflict=["certificate_id", "threshold_days"])
                outbox.dispatch(session, cert, "expiring_soon", threshold_days=days,
                                dedupe_key=f"reminder:{cert.id}:{days}")
                queued += 1
    return queued


def upcoming(session: Session, *, workspace_id: int, days: int, now: datetime | None = None, limit: int = 200):
    """Active certificates expiring within `days`, soonest first: (rows, count, total value)."""
    now = now or utcnow()
    where = [Certificate.workspace_id == workspace_id, Certificate.status == S.ACTIVE.value,
             Certificate.expires_at > now, Certificate.expires_at <= now + timedelta(days=days)]
    count, total = session.execute(
        select(sa.func.count(), sa.func.coalesce(sa.func.sum(Certificate.amount_cents), 0)).where(*where)
    ).one()
    rows = session.exec(select(Certificate).where(*where).order_by(Certificate.expires_at, Certificate.id)
                        .limit(limit)).all()
    return list(rows), count, total


def upcoming_ids(session: Session, *, workspace_id: int, days: int, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    return list(session.execute(select(Certificate.id).where(
        Certificate.workspace_id == workspace_id, Certificate.status == S.ACTIVE.value,
        Certificate.expires_at > now, Certificate.expires_at <= now + timedelta(days=days),
    ).order_by(Certificate.expires_at)).scalars())


def notify_expiring(session: Session, workspace: Workspace, *, certificate_ids: list[int], actor: str,
                    now: datetime | None = None) -> int:
    """Staff's "Notify": queue the expiring-soon emails for these Active certificates of this
    workspace now (whatever reminders went out before). Returns how many were queued."""
    if not outbox.has_enabled(session, workspace_id=workspace.id, trigger="expiring_soon"):
        raise InvalidTransition("No enabled action sends an email when a certificate is expiring soon. "
                                "Turn one on in Actions first.")
    now = now or utcnow()
    ids = [i for i in certificate_ids if isinstance(i, int)][:10000]
    certs = session.exec(select(Certificate).where(
        Certificate.workspace_id == workspace.id, Certificate.id.in_(ids), Certificate.status == S.ACTIVE.value,
        Certificate.expires_at > now)).all() if ids else []
    for cert in certs:
        outbox.dispatch(session, cert, "expiring_soon", manual=True, requested_by=actor[:254])
    return len(certs)
