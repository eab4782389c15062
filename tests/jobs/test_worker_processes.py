"""The worker as separate processes (`giftcerts worker`): killed at random moments it loses
nothing and duplicates at most the one email it was sending; two workers on PostgreSQL never
run the same job twice."""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from giftcerts import db, migrate
from giftcerts.models import Action, Job
from tests.conftest import ROOT, throwaway_postgres
from tests.factories import make_certificate, make_workspace

GIFTCERTS = str(Path(sys.executable).parent / "giftcerts")


def spawn_worker(url: str, smtp_url: str, *, lease: float) -> subprocess.Popen:
    env = {**os.environ, "REFLEX_DB_URL": url, "GIFTCERTS_SMTP_URL": smtp_url,
           "GIFTCERTS_JOB_BACKOFF_SECONDS": "0.2",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([GIFTCERTS, "worker", "--no-sweeps", "--poll", "0.05", "--lease", str(lease)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def catches(pid: int, signum: int) -> bool:
    """Whether the process has a handler for the signal (SigCgt in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    return False


def seed_certificates(url: str, count: int, *, with_pdf: bool) -> None:
    """`count` activated certificates: with the default actions, 2 emails each."""
    with db.write_session(url) as s:
        ws = make_workspace(s)
        if not with_pdf:
            s.execute(sa.update(Action).where(Action.workspace_id == ws.id).values(attach_pdf=False))
        for _ in range(count):
            make_certificate(s, ws)


def email_jobs(url: str) -> list[Job]:
    with db.read_session(url) as s:
        return list(s.exec(select(Job).where(Job.kind == "send_email")))


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_killing_the_worker_ten_times_loses_no_email_and_duplicates_at_most_one_per_kill(tmp_path, mail_sink):
    # Given 100 emails to send (50 activated certificates: certificate + receipt each; their PDFs are rendered too)
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    migrate.upgrade(url)
    seed_certificates(url, 50, with_pdf=False)
    rng = random.Random(int(os.environ.get("GIFTCERTS_KILL_SEED", secrets.randbits(32))))
    # (a server taking 0.1 s to answer: an idle machine's worker must not send all 100 before the tenth kill,
    # and a kill often lands between "message stored" and "250", the one place a duplicate can come from)
    mail_sink.slow_down(0.1)
    kills = 0
    # When the worker is SIGKILLed at a random moment while it is sending, ten times
    for _ in range(10):
        before = mail_sink.count()
        proc = spawn_worker(url, mail_sink.url, lease=1.0)
        try:
            wait_for(lambda: mail_sink.count() > before, 60, "the worker to send something")
            time.sleep(rng.uniform(0, 0.4))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        kills += 1
    # And then runs undisturbed
    proc = spawn_worker(url, mail_sink.url, lease=1.0)
    try:
        wait_for(lambda: all(j.status == "done" for j in email_jobs(url)) and len(email_jobs(url)) == 100,
                 120, "every email job to be done")
    finally:
        proc.terminate()
        proc.wait(10)
    # Then every email was delivered, one Message-ID per job, and duplicates are at most one per kill
    messages = mail_sink.messages()
    ids = [m["Message-ID"] for m in messages]
    jobs = email_jobs(url)
    assert len(jobs) == 100
    assert len(set(ids)) == len(jobs)
    assert {f"<giftcerts-job-{j.id}@" for j in jobs} == {i.split("@")[0] + "@" for i in ids}
    assert len(ids) - len(set(ids)) <= kills


@pytest.fixture
def fresh_postgres():
    with throwaway_postgres("giftcerts_workers") as url:
        yield url


def test_two_workers_on_postgresql_never_run_the_same_job_twice(fresh_postgres, mail_sink):
    # Given 300 emails to send
    seed_certificates(fresh_postgres, 150, with_pdf=False)
    # When two workers drain the queue at the same time
    workers = [spawn_worker(fresh_postgres, mail_sink.url, lease=120) for _ in range(2)]
    try:
        wait_for(lambda: mail_sink.count() >= 300 and all(j.status == "done" for j in email_jobs(fresh_postgres)),
                 120, "300 deliveries")
        time.sleep(0.5)  # a duplicate, if any, would arrive now
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            proc.wait(10)
    # Then each email was delivered exactly once, and both workers took part
    ids = [m["Message-ID"] for m in mail_sink.messages()]
    assert len(ids) == 300 and len(set(ids)) == 300
    with db.read_session(fresh_postgres) as s:
        by = set(s.execute(sa.text("SELECT DISTINCT locked_by FROM jobs WHERE kind = 'send_email'")).scalars())
    assert len(by) == 2


def test_a_stop_signal_caught_inside_the_idle_wait_still_stops_the_worker():
    """SIGTERM often lands while the main thread is inside stop.wait(), holding the Event's lock
    (not reentrant). The handler must not wait for that lock itself: seen as a worker that never
    exited after SIGTERM (tests/jobs: two workers, CI of 2026-12-01)."""
    import threading

    from giftcerts.jobs.worker import stop_on_signal

    stop = threading.Event()
    handler = stop_on_signal(stop)

    def signal_arrives_inside_wait():
        with stop._cond:  # what the main thread holds at that moment inside Event.wait
            handler(signal.SIGTERM, None)

    caught = threading.Thread(target=signal_arrives_inside_wait, daemon=True)
    caught.start()
    caught.join(5)
    assert not caught.is_alive(), "the signal handler blocked on the lock its own thread holds"
    assert stop.wait(5)


def test_the_worker_process_exits_promptly_on_sigterm(fresh_postgres, mail_sink):
    worker = spawn_worker(fresh_postgres, mail_sink.url, lease=120)
    try:
        # started (its SIGTERM handler in place: on a loaded machine the import alone can take
        # seconds) and then idle, polling every 50 ms
        wait_for(lambda: catches(worker.pid, signal.SIGTERM), 60, "the worker to install its SIGTERM handler")
        time.sleep(1)
        started = time.monotonic()
        worker.terminate()
        assert worker.wait(10) == 0
        assert time.monotonic() - started < 10
    finally:
        if worker.poll() is None:
            worker.kill()
