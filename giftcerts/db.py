"""Engines and transactions.

SQLite is the default and is made safe for concurrent use: WAL, a busy timeout,
and write transactions opened with BEGIN IMMEDIATE (a deferred transaction that
reads and then writes can fail with "database is locked" whatever the timeout).
Within one process, write transactions on SQLite are also serialised by a lock,
which keeps tail latency low instead of leaning on SQLite's retry sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

from giftcerts import config


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _make_engine(url: str, *, immediate: bool) -> sa.Engine:
    url = normalise_url(url)
    if not is_sqlite(url):
        return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


_ENGINES: dict[str, tuple[sa.Engine, sa.Engine]] = {}
_engines_lock = threading.Lock()


def _engines(url: str) -> tuple[sa.Engine, sa.Engine]:
    """(write engine, read engine) for a URL; the same engine twice on PostgreSQL."""
    with _engines_lock:
        if url not in _ENGINES:
            if is_sqlite(normalise_url(url)):
                pair = (_make_engine(url, immediate=True), _make_engine(url, immediate=False))
            else:
                shared = _make_engine(url, immediate=False)
                pair = (shared, shared)
            _ENGINES[url] = pair
        return _ENGINES[url]


def engine(url: str | None = None) -> sa.Engine:
    return _engines(url or config.db_url())[0]


_sqlite_write_lock = threading.RLock()


@contextmanager
def write_session(url: str | None = None) -> Iterator[Session]:
    """One write transaction: commits when the block ends, rolls back on any error."""
    url = url or config.db_url()
    write_engine, _ = _engines(url)
    lock = _sqlite_write_lock if is_sqlite(normalise_url(url)) else None
    if lock:
        lock.acquire()
    try:
        with Session(write_engine, expire_on_commit=False) as session:
            with session.begin():
                yield session
    finally:
        if lock:
            lock.release()


@contextmanager
def read_session(url: str | None = None) -> Iterator[Session]:
    """A read-only unit of work (never blocks writers on SQLite WAL)."""
    _, read_engine = _engines(url or config.db_url())
    with Session(read_engine, expire_on_commit=False) as session:
        yield session  # closing the session rolls the read transaction back


def dispose_all() -> None:
    """Close every pooled connection (tests drop their databases afterwards)."""
    with _engines_lock:
        for write_engine, read_engine in _ENGINES.values():
            write_engine.dispose()
            read_engine.dispose()
        _ENGINES.clear()
