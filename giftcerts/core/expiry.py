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

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import lifecycle, outbox
from giftcerts.core.activity import SYSTEM_ACTOR, stored_params
from giftcerts.core.errors import InvalidTransition
from giftcerts.core.inserts import insert_ignore
from giftcerts.models import Action, Certificate, CertificateStatus, ExpiryReminder, Job, Workspace

S = CertificateStatus
MAX_REMINDER_DAYS = 365
MAX_THRESHOLDS = 5

E = lifecycle.EXPIRE


def _pg_sweep() -> sa.Select:
    """PostgreSQL: one batch in one statement, lifecycle's EXPIRE in its set-based form. The
    batch is picked with SKIP LOCKED (into an array, so it is picked once) and the UPDATE
    re-checks EXPIRE's condition on each row; its entries and jobs are fed by what moved."""
    certs = lifecycle.CERTS
    pick = (sa.select(certs.c.id).where(E.condition()).limit(sa.bindparam("batch", type_=sa.Integer))
            .with_for_update(skip_locked=True))
    moved = (lifecycle.moving(E, certs.c.id == sa.func.any(sa.func.array(pick.scalar_subquery())))
             .returning(certs.c.id, certs.c.workspace_id, certs.c.expires_at).cte("moved"))
    logged = lifecycle.entries_from(
        E, workspace_id=moved.c.workspace_id, certificate_id=moved.c.id, actor=sa.literal(SYSTEM_ACTOR),
        params=lifecycle.json_params("postgresql", expires_at=moved.c.expires_at),
        source=moved).returning(lifecycle.ACTIVITIES.c.id).cte("logged")
    queued = lifecycle.queue_from(E, workspace_id=moved.c.workspace_id, certificate_id=moved.c.id,
                                  source=moved).returning(Job.__table__.c.id).cte("queued")
    return sa.select(*(sa.select(sa.func.count()).select_from(cte).scalar_subquery() for cte in (moved, logged, queued)))


_PG_SWEEP = _pg_sweep()


def expire_due(session: Session, *, now: datetime | None = None, batch_size: int = 500) -> int:
    """Expire one batch; returns how many certificates moved (0 when nothing is due)."""
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        moved, logged, _ = session.execute(_PG_SWEEP, {"now": now, "batch": batch_size}).one()
        if logged != moved:  # cannot happen (both in one statement); never expire without the entry
            raise RuntimeError(f"expiry sweep moved {moved} certificates but logged {logged}")
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
    """Other databases (SQLite): the same transition, entries and jobs as a few statements."""
    certs = lifecycle.CERTS
    due = sa.select(certs.c.id).where(E.condition()).limit(batch_size).scalar_subquery()
    moved = session.execute(
        lifecycle.moving(E, certs.c.id.in_(due)).returning(certs.c.id, certs.c.workspace_id, certs.c.expires_at),
        {"now": now},
    ).all()
    if not moved:
        return 0
    # One row of parameters per certificate moved (executemany): no statement grows with the batch.
    ws_id, cert_id = sa.bindparam("w", type_=sa.Integer), sa.bindparam("c", type_=sa.Integer)
    entry = lifecycle.entries_from(E, workspace_id=ws_id, certificate_id=cert_id, actor=sa.literal(SYSTEM_ACTOR),
                                   params=sa.bindparam("params", type_=lifecycle.ACTIVITIES.c.params.type))
    session.execute(entry, [{"w": w, "c": c, "params": stored_params({"expires_at": e}), "now": now}
                            for c, w, e in moved])
    session.execute(lifecycle.queue_from(E, workspace_id=ws_id, certificate_id=cert_id),
                    [{"w": w, "c": c, "now": now} for c, w, _ in moved])
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
