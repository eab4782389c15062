"""The worker: claims due jobs one at a time, runs them, retries with backoff, gives up after
`max_attempts` keeping the error for staff, and runs the periodic sweeps (expiry, reminders,
old idempotency records).

Claiming is one statement: `UPDATE jobs ... WHERE id = (SELECT ... LIMIT 1 [FOR UPDATE SKIP
LOCKED]) RETURNING id`. On PostgreSQL SKIP LOCKED lets several workers claim different jobs
without waiting; on SQLite the statement runs inside BEGIN IMMEDIATE, so it is atomic. A
claim is a lease (`locked_until`): a job whose worker died is claimed again once the lease
runs out, and a worker whose lease was taken over cannot mark the job done.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import traceback
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import select

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import accounts, expiry, orders
from giftcerts.jobs.handlers import HANDLERS, Context, Skip
from giftcerts.models import IdempotencyRecord, Job, JobStatus

log = logging.getLogger("giftcerts.worker")

LEASE_SECONDS = float(os.environ.get("GIFTCERTS_JOB_LEASE_SECONDS", "120"))
BACKOFF_SECONDS = float(os.environ.get("GIFTCERTS_JOB_BACKOFF_SECONDS", "10"))
MAX_BACKOFF_SECONDS = 3600
SWEEP_SECONDS = float(os.environ.get("GIFTCERTS_SWEEP_SECONDS", "60"))
IDEMPOTENCY_DAYS = 7
DONE_JOBS_DAYS = 30


def backoff(attempts: int) -> float:
    """10 s, 20 s, 40 s ... at most an hour, with jitter so retries of many jobs spread out."""
    base = min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2 ** max(0, attempts - 1))
    return base * random.uniform(0.8, 1.2)


class Worker:
    def __init__(self, url: str | None = None, *, name: str | None = None, lease_seconds: float | None = None):
        self.url = url
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"
        self.lease = timedelta(seconds=lease_seconds or LEASE_SECONDS)
        self._last_sweep = 0.0

    # --- claiming and finishing ---------------------------------------------------------

    def _due(self, now):
        return sa.or_(sa.and_(Job.status == JobStatus.QUEUED.value, Job.run_after <= now),
                      sa.and_(Job.status == JobStatus.RUNNING.value, Job.locked_until < now))

    def claim(self) -> Job | None:
        now = utcnow()
        with db.write_session(self.url) as session:
            pick = select(Job.id).where(self._due(now)).order_by(Job.run_after, Job.id).limit(1)
            if session.get_bind().dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            job_id = session.execute(
                sa.update(Job)
                .where(Job.id == pick.scalar_subquery(), self._due(now))
                .values(status=JobStatus.RUNNING.value, locked_by=self.name, locked_until=now + self.lease,
                        attempts=Job.attempts + 1)
                .returning(Job.id)
                .execution_options(synchronize_session=False)
            ).scalar()
            return session.get(Job, job_id) if job_id is not None else None

    def _mine(self, job: Job):
        return [Job.id == job.id, Job.locked_by == self.name, Job.status == JobStatus.RUNNING.value]

    def finish(self, session, job: Job, note: str = "") -> None:
        """Mark done in the caller's transaction; if another worker took the job over (our lease
        ran out), raise so that the caller's writes roll back and nothing is recorded twice."""
        done = session.execute(
            sa.update(Job).where(*self._mine(job))
            .values(status=JobStatus.DONE.value, finished_at=utcnow(), locked_until=None, last_error=note[:2000])
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:
            raise LeaseLost(f"job {job.id} was taken over by another worker")

    def fail(self, job: Job, error: str) -> None:
        now = utcnow()
        give_up = job.attempts >= job.max_attempts
        with db.write_session(self.url) as session:
            session.execute(
                sa.update(Job).where(*self._mine(job))
                .values(status=JobStatus.FAILED.value if give_up else JobStatus.QUEUED.value,
                        run_after=now if give_up else now + timedelta(seconds=backoff(job.attempts)),
                        locked_until=None, locked_by=None, last_error=error[:2000],
                        finished_at=now if give_up else None)
                .execution_options(synchronize_session=False)
            )
        log.warning("job %s (%s) attempt %s/%s failed%s: %s", job.id, job.kind, job.attempts, job.max_attempts,
                    " — giving up" if give_up else "", error.splitlines()[0] if error else "")

    # --- running ------------------------------------------------------------------------

    def run_one(self) -> bool:
        """Claim and run one job; False when nothing is due."""
        job = self.claim()
        if job is None:
            return False
        handler = HANDLERS.get(job.kind)
        try:
            if handler is None:
                raise RuntimeError(f"unknown job kind {job.kind!r}")
            if job.attempts > job.max_attempts:
                raise RuntimeError("the worker stopped repeatedly while running this job")
            handler(job, Context(url=self.url, finish=self.finish))
        except LeaseLost as exc:
            log.warning("%s", exc)
        except Skip as exc:
            with db.write_session(self.url) as session:
                self.finish(session, job, note=str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure is retried, then shown to staff
            self.fail(job, f"{type(exc).__name__}: {exc}"[:500] + "\n" + traceback.format_exc(limit=3)[-1400:])
        return True

    def sweep(self, *, force: bool = False) -> dict[str, int]:
        """Expiry, abandoned checkouts, reminders and clean-up, at most every SWEEP_SECONDS (or now with `force`)."""
        if not force and time.monotonic() - self._last_sweep < SWEEP_SECONDS:
            return {}
        self._last_sweep = time.monotonic()
        now = utcnow()
        expired = expiry.expire_backlog(self.url, now=now)
        with db.write_session(self.url) as session:
            released = orders.release_abandoned_holds(session, now=now)
        with db.write_session(self.url) as session:
            reminders = expiry.send_due_reminders(session, now=now)
        with db.write_session(self.url) as session:
            purged = session.execute(sa.delete(IdempotencyRecord).where(
                IdempotencyRecord.created_at < now - timedelta(days=IDEMPOTENCY_DAYS))).rowcount
            purged += session.execute(sa.delete(Job).where(
                Job.status == JobStatus.DONE.value, Job.finished_at < now - timedelta(days=DONE_JOBS_DAYS))).rowcount
            purged += accounts.purge_sign_in_records(session, now=now)
        if expired or reminders or released:
            log.info("sweep: %s certificates expired, %s abandoned holds released, %s reminders queued",
                     expired, released, reminders)
        return {"expired": expired, "released": released, "reminders": reminders, "purged": purged}

    def run(self, stop: threading.Event | None = None, *, idle_sleep: float = 1.0, exit_when_idle: bool = False,
            sweeps: bool = True) -> None:
        stop = stop or threading.Event()
        log.info("worker %s started", self.name)
        while not stop.is_set():
            try:
                if sweeps:
                    self.sweep()
                if self.run_one():
                    continue
            except Exception:  # noqa: BLE001 - e.g. the database restarting: wait and carry on
                log.exception("worker loop error")
            if exit_when_idle:
                return
            stop.wait(idle_sleep)


class LeaseLost(Exception):
    pass


def stop_on_signal(stop: threading.Event):
    """A signal handler that sets `stop`, for `giftcerts worker` (SIGTERM, SIGINT).

    Not `stop.set()` in the handler itself: Python runs it on the main thread, which is most of
    the time inside `stop.wait()` in the idle loop; caught while holding the Event's lock (not
    reentrant), the handler would wait for itself forever and the worker never stop. A
    short-lived thread sets it instead, as soon as the main thread lets go of the lock."""
    def handler(_signum, _frame) -> None:
        threading.Thread(target=stop.set, name="giftcerts-stop", daemon=True).start()

    return handler


def retry_job(session, *, workspace_id: int, job_id) -> Job:
    """Staff's "Retry": a failed (or waiting) job of this workspace runs again now, with fresh attempts."""
    from giftcerts.core.errors import InvalidTransition
    from giftcerts.core.scoped import get_in_workspace

    job = get_in_workspace(session, Job, workspace_id, job_id, not_found="Job not found.")
    moved = session.execute(
        sa.update(Job).where(Job.id == job.id, Job.status.in_([JobStatus.FAILED.value, JobStatus.QUEUED.value]))
        .values(status=JobStatus.QUEUED.value, attempts=0, run_after=utcnow(), finished_at=None, locked_by=None)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise InvalidTransition("This job is running or already done.")
    session.refresh(job)
    return job
