"""Pooled PostgreSQL connections are not pinged before every use (a round trip per API
request), yet a connection the server closed does not keep failing requests: one idle
for a while is pinged and replaced, and a busy one that fails takes the pool with it."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from giftcerts import db

PING = sa.select(sa.literal(1))


def _kill_backends(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))


@pytest.fixture
def pool(postgres_url):
    db.dispose_all()
    with db.write_session(postgres_url) as a, db.write_session(postgres_url) as b:
        db.execute_hot(a, PING)  # two pooled connections, used a moment ago
        db.execute_hot(b, PING)
    yield postgres_url
    db.dispose_all()


def test_a_connection_closed_while_idle_is_replaced_before_use(pool, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # every pooled connection counts as idle
    _kill_backends(pool)
    with db.write_session(pool) as s:
        assert db.execute_hot(s, PING) == [(1,)]


def test_a_busy_connection_the_server_closed_fails_one_request_then_the_pool_recovers(pool):
    _kill_backends(pool)  # used a moment ago, so it is not pinged
    with pytest.raises(psycopg.OperationalError):
        with db.write_session(pool) as s:
            db.execute_hot(s, PING)
    with db.write_session(pool) as s:
        assert db.execute_hot(s, PING) == [(1,)]
