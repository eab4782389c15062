"""SQLite is the default database and is set up for concurrent use: the dashboard, the
portal, the API and the worker write at the same time, from threads of one process and from
separate processes, and none of them may fail with "database is locked".

SQLite only (PostgreSQL has its own locking); each test uses its own database file.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event
from sqlmodel import func, select

from giftcerts import db, migrate
from giftcerts.models import Activity, Certificate, Workspace
from tests.factories import make_certificate, make_workspace

TRANSACTIONS = 25
PAID_PER_WORKER = (TRANSACTIONS + 1) // 2  # every other sale is paid at once: Created + Purchased


@pytest.fixture
def sqlite_file_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'concurrency.db'}"
    migrate.upgrade(url)
    with db.write_session(url) as s:
        ws_id = make_workspace(s, slug="busy-tours").id
    yield url, ws_id


def _issue_many(url: str, workspace_id: int, worker: int, count: int) -> list[str]:
    """`count` separate write transactions, each selling one certificate; returns the errors."""
    errors: list[str] = []
    for n in range(count):
        try:
            with db.write_session(url) as s:
                ws = s.get(Workspace, workspace_id)
                make_certificate(s, ws, paid=n % 2 == 0, purchaser_name=f"Worker {worker}",
                                 purchaser_email=f"w{worker}-{n}@example.com")
        except Exception:  # noqa: BLE001 - every failure is reported, none hidden
            errors.append(traceback.format_exc())
    return errors


def _process_worker(url: str, workspace_id: int, worker: int, count: int, start, results) -> None:
    """Runs in a spawned process: its own interpreter, its own engine, the same database file."""
    try:
        start.wait(timeout=60)
        results.put((worker, _issue_many(url, workspace_id, worker, count)))
    except Exception:  # noqa: BLE001
        results.put((worker, [traceback.format_exc()]))
    finally:
        db.dispose_all()


def _count(url: str, workspace_id: int) -> tuple[int, int, int]:
    with db.read_session(url) as s:
        certs = s.exec(select(func.count()).select_from(Certificate).where(Certificate.workspace_id == workspace_id)).one()
        codes = s.exec(select(func.count(func.distinct(Certificate.code)))).one()
        entries = s.exec(select(func.count()).select_from(Activity).where(Activity.workspace_id == workspace_id)).one()
    return certs, codes, entries


def test_sqlite_connections_use_wal_and_a_busy_timeout(sqlite_file_url):
    url, _ = sqlite_file_url
    with db.engine(url).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with db.read_session(url) as s:
        assert s.connection().exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_write_transactions_start_immediately_so_they_queue_instead_of_failing(sqlite_file_url):
    """A transaction that reads and then writes must hold the write lock from its first
    statement; a deferred one could find the database changed under it and fail at once."""
    url, _ = sqlite_file_url
    statements: list[str] = []

    # what SQLite itself receives (BEGIN is sent straight to the driver, not through SQLAlchemy)
    def capture(dbapi_connection, _record):
        dbapi_connection.set_trace_callback(statements.append)

    db.dispose_all()
    write_engine = db.engine(url)
    event.listen(write_engine, "connect", capture)
    try:
        with db.write_session(url) as s:
            s.exec(select(Workspace)).all()
    finally:
        event.remove(write_engine, "connect", capture)
    assert statements[0] == "BEGIN IMMEDIATE"
    assert statements[1].startswith("SELECT")


def test_eight_threads_writing_at_once_never_see_database_is_locked(sqlite_file_url):
    url, ws_id = sqlite_file_url
    threads = 8
    start = threading.Barrier(threads)

    def work(worker):
        start.wait()
        return _issue_many(url, ws_id, worker, TRANSACTIONS)

    with ThreadPoolExecutor(threads) as pool:
        errors = [e for batch in pool.map(work, range(threads)) for e in batch]
    assert errors == [], errors[0]
    # every one of the 200 sales is there, with its activity (Created, plus Purchased when paid)
    certs, codes, entries = _count(url, ws_id)
    assert certs == codes == threads * TRANSACTIONS == 200
    assert entries == threads * (TRANSACTIONS + PAID_PER_WORKER)


def test_separate_processes_writing_at_once_never_see_database_is_locked(sqlite_file_url):
    """Processes do not share the in-process write lock: this relies on BEGIN IMMEDIATE and
    the busy timeout alone, as when the app and the worker run side by side."""
    url, ws_id = sqlite_file_url
    processes = 4
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [ctx.Process(target=_process_worker, args=(url, ws_id, n, TRANSACTIONS, start, results))
               for n in range(processes)]
    for p in workers:
        p.start()
    try:
        outcomes = dict(results.get(timeout=120) for _ in workers)
    finally:
        for p in workers:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert [p.exitcode for p in workers] == [0] * processes
    errors = [e for batch in outcomes.values() for e in batch]
    assert not any("database is locked" in e for e in errors), errors[0]
    assert errors == [], errors[0]
    certs, codes, entries = _count(url, ws_id)
    assert certs == codes == processes * TRANSACTIONS == 100
    assert entries == processes * (TRANSACTIONS + PAID_PER_WORKER)
