"""PostgreSQL cutting the app's connections (a restart, a failover) mid-traffic: the request
that meets the dead connection is refused cleanly (503 `unavailable`, Retry-After, nothing
applied), the pool reconnects, and the next request works."""

from __future__ import annotations

import psycopg
import pytest

from giftcerts import db
from giftcerts.core import invariants
from tests.api.conftest import assert_error


@pytest.fixture
def pg_only(db_url):
    if not db_url.startswith("postgres"):
        pytest.skip("PostgreSQL's connections are cut here")
    return db_url


def _cut_connections(url: str) -> int:
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        return len(conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall())


def test_a_redemption_meeting_a_cut_connection_is_refused_cleanly_and_the_next_one_works(api, pg_only, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)  # a busy pool: no ping before use
    order, cert = api.tenant.order(total=50000), api.tenant.certificate(amount="100")
    assert api.get(f"/api/v1/orders/{order.id}").status_code == 200  # the pool holds live connections
    assert _cut_connections(pg_only) >= 1
    outcomes = []
    for attempt in range(3):
        r = api.post("/api/v1/redemptions", {"code": cert.code, "order_id": order.id}, idempotency_key="restart-1")
        outcomes.append(r.status_code)
        if r.status_code == 201:
            break
        error = assert_error(r, 503, "unavailable")
        assert "same Idempotency-Key" in error["message"] or "not applied" in error["message"]
        assert int(r.headers["Retry-After"]) >= 1
    assert outcomes[-1] == 201 and set(outcomes[:-1]) <= {503}, outcomes
    # applied exactly once, and the database is whole
    body = api.get(f"/api/v1/orders/{order.id}").json()
    assert body["amount_due_cents"] == 40000 and len(body["redemptions"]) == 1
    with db.read_session(pg_only) as s:
        assert invariants.scan(s) == []
