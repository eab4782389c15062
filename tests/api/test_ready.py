"""Readiness (/api/v1/ready) against a real database and Redis, and against closed ports."""

from __future__ import annotations

import socket
import time

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from giftcerts.api.routes import routes


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def client():
    return TestClient(Starlette(routes=routes()))


def test_ready_on_a_migrated_database_without_redis(client, sqlite_url, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", sqlite_url)
    monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)
    r = client.get("/api/v1/ready")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "redis": "not configured"}}
    assert r.headers["cache-control"] == "no-store"


def test_ready_with_postgres_and_redis_answering(client, postgres_url, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", postgres_url)
    monkeypatch.setenv("REFLEX_REDIS_URL", "redis://127.0.0.1:6379/0")
    r = client.get("/api/v1/ready")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_not_ready_while_postgres_does_not_answer(client, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", f"postgresql://postgres:s3cret-pw@127.0.0.1:{closed_port()}/giftcerts")
    monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)
    started = time.monotonic()
    r = client.get("/api/v1/ready")
    assert time.monotonic() - started < 5
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("unreachable")
    assert body["checks"]["redis"] == "not configured"
    assert body["error"]["code"] == "unavailable" and "database" in body["error"]["message"]
    assert "s3cret-pw" not in r.text and "127.0.0.1" not in r.text
    # liveness is not readiness: the process itself is fine
    assert client.get("/api/v1/health").status_code == 200


def test_not_ready_while_redis_does_not_answer(client, sqlite_url, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", sqlite_url)
    monkeypatch.setenv("REFLEX_REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    r = client.get("/api/v1/ready")
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unreachable")
    assert "redis" in body["error"]["message"] and "database" not in body["error"]["message"]


def test_an_empty_database_is_not_ready(client, tmp_path, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)
    r = client.get("/api/v1/ready")
    assert r.status_code == 503
    assert r.json()["checks"]["database"].startswith("unreachable")


def test_ready_again_at_once_after_postgres_dropped_the_pooled_connections(client, monkeypatch):
    import psycopg

    from tests.conftest import PG_ADMIN_URL, throwaway_postgres

    with throwaway_postgres("giftcerts_ready") as url:
        monkeypatch.setenv("REFLEX_DB_URL", url)
        monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)
        assert client.get("/api/v1/ready").status_code == 200  # a pooled connection now exists
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:  # as a server restart would
            killed = admin.execute("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE datname = %s AND pid <> pg_backend_pid()) t", (name,)).fetchone()[0]
        assert killed >= 1
        r = client.get("/api/v1/ready")
        assert r.status_code == 200, r.text
