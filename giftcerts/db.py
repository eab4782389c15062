"""Engines and transactions.

SQLite is the default and is made safe for concurrent use: WAL, a busy timeout,
and write transactions opened with BEGIN IMMEDIATE (a deferred transaction that
reads and then writes can fail with "database is locked" whatever the timeout).
Within one process, write transactions on SQLite are also serialised by a lock,
which keeps tail latency low instead of leaning on SQLite's retry sleeps.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import psycopg
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


# A pooled PostgreSQL connection idle for longer than this is checked with a round trip
# before use; a busy one is not (see _ping_after_idle).
IDLE_PING_SECONDS = 10.0


def _make_engine(url: str, *, immediate: bool) -> sa.Engine:
    url = normalise_url(url)
    if not is_sqlite(url):
        engine = sa.create_engine(url, pool_size=10, max_overflow=20, pool_recycle=1800)
        _ping_after_idle(engine)
        return engine
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

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # straight to the driver: exec_driver_sql's execution context cost more than the BEGIN
        conn.connection.driver_connection.execute(begin)

    return engine


def _ping_after_idle(engine: sa.Engine) -> None:
    """Pessimistic disconnect handling without a round trip per request.

    `pool_pre_ping` pings on every checkout, which on a busy API is one extra round trip per
    request. A connection that was in use a moment ago is alive; one that sat idle may have
    been closed by the server, a proxy or a restart, so only those are pinged. A failed ping
    discards the connection and the pool opens another (SQLAlchemy's DisconnectionError).
    If the server goes away between two requests anyway, the first statement fails, the
    pool is invalidated (SQLAlchemy's default on a disconnect) and the next request reconnects.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy):
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
            dbapi_conn.rollback()  # end the ping's own transaction
        except Exception:
            alive = False
        if not alive:
            raise sa.exc.DisconnectionError("connection lost while idle")


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
_writing = threading.local()


def in_write_transaction() -> bool:
    """Whether this thread is inside a `write_session` (on SQLite: holds the write lock).
    Slow work such as password hashing must not run there: every writer would wait for it."""
    return getattr(_writing, "depth", 0) > 0


@contextmanager
def write_session(url: str | None = None) -> Iterator[Session]:
    """One write transaction: commits when the block ends, rolls back on any error."""
    url = url or config.db_url()
    write_engine, _ = _engines(url)
    lock = _sqlite_write_lock if is_sqlite(normalise_url(url)) else None
    if lock:
        lock.acquire()
    _writing.depth = getattr(_writing, "depth", 0) + 1
    try:
        # The transaction is the connection's and the session joins it: the same unit of work
        # for a fraction of the ORM's own transaction bookkeeping (about 0.1 ms a request).
        if lock and _writing.depth == 1:
            connection = _sqlite_writer(url, write_engine)
            with connection.begin(), Session(connection, expire_on_commit=False) as session:
                yield session
                session.flush()
        else:
            with write_engine.connect() as connection, connection.begin():
                with Session(connection, expire_on_commit=False) as session:
                    yield session
                    session.flush()
    finally:
        _writing.depth -= 1
        if lock:
            lock.release()


# SQLite's one writer per process (see write_session): a connection kept open for it, used
# only under the write lock, so a write transaction skips the pool's checkout and return.
_sqlite_writers: dict[tuple[str, int], sa.Connection] = {}


def _sqlite_writer(url: str, write_engine: sa.Engine) -> sa.Connection:
    key = (url, os.getpid())  # never a connection inherited across fork
    connection = _sqlite_writers.get(key)
    if connection is None or connection.closed or connection.invalidated:
        connection = _sqlite_writers[key] = write_engine.connect()
    return connection


@contextmanager
def read_session(url: str | None = None) -> Iterator[Session]:
    """A read-only unit of work (never blocks writers on SQLite WAL)."""
    _, read_engine = _engines(url or config.db_url())
    with Session(read_engine, expire_on_commit=False) as session:
        yield session  # closing the session rolls the read transaction back


_HOT: dict[tuple[str, sa.Executable], tuple] = {}


def execute_hot(session: Session, statement: sa.Executable, params: dict | None = None) -> list[tuple]:
    """Run a prebuilt Core statement in the session's transaction; returns its rows as tuples,
    datetimes in UTC (as the models' UTCDateTime columns give them).

    For the few statements every API request runs. The statement is compiled once per dialect
    and handed straight to the driver: SQLAlchemy's execution layer (execution context, result
    objects, events) costs more CPU than such a statement takes to run. On SQLite the
    compiled statement's own bind and result processors convert the values, so a row reads
    exactly as `connection.execute` would give it; driver errors are raised as SQLAlchemy's.
    """
    bind = session.bind
    connection = bind if isinstance(bind, sa.Connection) else session.connection()
    dialect = connection.dialect
    cache_key = (dialect.name, statement)
    if cache_key not in _HOT:
        _HOT[cache_key] = _prepare(statement, dialect)
    if dialect.name == "postgresql":
        return _execute_postgres(connection, params or {}, *_HOT[cache_key])
    return _execute_sqlite(connection, params or {}, *_HOT[cache_key])


def _prepare(statement: sa.Executable, dialect: sa.Dialect) -> tuple:
    compiled = statement.compile(dialect=dialect)
    if dialect.name == "postgresql":
        return compiled, str(compiled)
    binds = compiled._bind_processors
    order = [(name, binds.get(name)) for name in compiled.positiontup]
    results = [type_._cached_result_processor(dialect, None) for *_, type_ in compiled._result_columns]
    return compiled, str(compiled), order, results


def _execute_postgres(connection: sa.Connection, params: dict, compiled, sql: str) -> list[tuple]:
    driver = connection.connection.driver_connection
    try:
        cursor = driver.execute(sql, compiled.construct_params(params))
    except psycopg.OperationalError as exc:
        if driver.closed:  # the server went away: drop the pool's connections, as SQLAlchemy would
            connection.invalidate(exc)
            connection.engine.dispose(close=False)
        raise
    if cursor.description is None:
        return []
    return [tuple(_utc(value) for value in row) for row in cursor]


def _execute_sqlite(connection: sa.Connection, params: dict, compiled, sql: str, order, results) -> list[tuple]:
    values = compiled.construct_params(params)
    args = [values[name] if process is None else process(values[name]) for name, process in order]
    driver = connection.connection.driver_connection
    try:
        rows = driver.execute(sql, args).fetchall()
    except sqlite3.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, args, exc, sqlite3.Error) from exc
    if not rows or not any(results):
        return rows
    return [tuple(value if process is None else process(value) for process, value in zip(results, row)) for row in rows]


def _utc(value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc)
    return value


def dispose_all() -> None:
    """Close every pooled connection (tests drop their databases afterwards)."""
    with _sqlite_write_lock:
        for (_, pid), connection in _sqlite_writers.items():
            if pid == os.getpid():
                connection.close()
        _sqlite_writers.clear()
    with _engines_lock:
        for write_engine, read_engine in _ENGINES.values():
            write_engine.dispose()
            read_engine.dispose()
        _ENGINES.clear()
