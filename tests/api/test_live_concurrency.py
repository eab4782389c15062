"""Races over real HTTP against the app in production mode (`reflex run --env prod`, one
port, SQLite — see the `app_server` fixture): many simultaneous requests, one outcome."""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select

from giftcerts import db
from giftcerts.core import activity, redemption, workspaces
from giftcerts.models import Order, Redemption
from tests.factories import make_certificate

_refs = itertools.count(1)


@pytest.fixture(scope="module")
def live(app_server):
    return app_server


def _seed(live, *, certificates: list[str], orders: list[int]):
    """Create certificates (amounts as typed) and orders (totals in cents) in the demo workspace."""
    run = next(_refs)
    with db.write_session(live["db_url"]) as s:
        ws = workspaces.find_workspace(s, live["workspace"])
        certs = [make_certificate(s, ws, amount=amount) for amount in certificates]
        made = [redemption.create_order(s, ws, reference=f"LIVE-{run}-{n}", total_cents=total)
                for n, total in enumerate(orders)]
    return certs, made


def _all_at_once(live, requests: list[tuple[str, dict, dict]]) -> list[httpx.Response]:
    """Send every (path, json, headers) at the same moment, each on its own connection."""
    async def main():
        limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=live["base"], timeout=60, limits=limits) as client:
            auth = {"Authorization": f"Bearer {live['api_key']}"}
            return await asyncio.gather(*(client.post(path, json=body, headers={**auth, **headers})
                                          for path, body, headers in requests))
    return asyncio.run(main())


def test_one_code_redeemed_by_a_hundred_simultaneous_requests_is_spent_once(live):
    (cert,), orders = _seed(live, certificates=["50"], orders=[90000] * 100)
    responses = _all_at_once(live, [("/api/v1/redemptions", {"code": cert.code, "order_id": o.id}, {})
                                    for o in orders])
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1, statuses
    assert all(s in (409, 429) for s in statuses if s != 201), statuses
    refusals = {r.json()["error"]["code"] for r in responses if r.status_code != 201}
    assert refusals <= {"not_active", "rate_limited"}
    with db.read_session(live["db_url"]) as s:
        kinds = [a.kind for a in activity.history(s, workspace_id=cert.workspace_id, certificate_id=cert.id)]
        assert kinds.count("Redeemed") == 1
        assert len(s.exec(select(Redemption).where(Redemption.certificate_id == cert.id)).all()) == 1
        paid = s.exec(select(sa.func.sum(Order.total_cents - Order.amount_due_cents))
                      .where(Order.id.in_([o.id for o in orders]))).one()
        assert paid == 5000


def test_fifty_certificates_racing_for_one_order_never_pay_more_than_its_total(live):
    certs, (order,) = _seed(live, certificates=["25"] * 50, orders=[10000])
    responses = _all_at_once(live, [("/api/v1/redemptions", {"code": c.code, "order_id": order.id}, {})
                                    for c in certs])
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 4, statuses
    assert {r.json()["error"]["code"] for r in responses if r.status_code != 201} == {"exceeds_order_total"}
    with db.read_session(live["db_url"]) as s:
        assert s.get(Order, order.id).amount_due_cents == 0
        applied = s.exec(select(Redemption).where(Redemption.order_id == order.id,
                                                  Redemption.status == "applied")).all()
        assert sum(r.amount_cents for r in applied) == 10000


def test_one_idempotency_key_sent_ten_times_at_once_is_applied_once(live):
    (cert,), (order,) = _seed(live, certificates=["40"], orders=[90000])
    body = {"code": cert.code, "order_id": order.id}
    responses = _all_at_once(live, [("/api/v1/redemptions", body, {"Idempotency-Key": f"live-{order.id}"})] * 10)
    assert {(r.status_code, r.content) for r in responses} == {(201, responses[0].content)}
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 9
    with db.read_session(live["db_url"]) as s:
        assert s.get(Order, order.id).amount_due_cents == 86000
        assert len(s.exec(select(Redemption).where(Redemption.order_id == order.id)).all()) == 1
