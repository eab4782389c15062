"""Concurrent code look-ups spend exactly the budget: one unit of every budget is taken,
atomically, before the code is looked up (and given back when the code is valid), so 200
simultaneous guesses with a fresh key get exactly CLIENT `invalid_code` answers, never more."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from giftcerts import ratelimit
from giftcerts.web import throttle
from giftcerts.core.errors import InvalidCode, RateLimited

REDIS = "redis://127.0.0.1:6379/9"


@pytest.fixture(params=["memory", "redis"])
def store(request, monkeypatch):
    if request.param == "redis":
        monkeypatch.setenv("REFLEX_REDIS_URL", REDIS)
    else:
        monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)
    ratelimit.limiter.cache_clear()
    ratelimit.reset()
    yield request.param
    ratelimit.reset()
    monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)
    ratelimit.limiter.cache_clear()


async def _storm(app, headers, body, n, path="/api/v1/redemptions/preview"):
    transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await asyncio.gather(*[client.post(path, json=body, headers=headers) for _ in range(n)])


@pytest.mark.parametrize("path", ["/api/v1/redemptions/preview", "/api/v1/redemptions"])
def test_two_hundred_concurrent_guesses_spend_exactly_the_budget(store, app, tenant, monkeypatch, path):
    monkeypatch.setenv("GIFTCERTS_GUESS_LIMIT_CLIENT", "20/10 minutes")
    order = tenant.order()
    answers = asyncio.run(_storm(app, tenant.headers, {"code": "ZZZZ-ZZZZ-ZZZZ", "order_id": order.id}, 200,
                                 path=path))
    codes = [r.json()["error"]["code"] for r in answers]
    assert codes.count("invalid_code") == 20, codes
    assert codes.count("rate_limited") == 180


def test_concurrent_valid_codes_spend_nothing(store, app, tenant, monkeypatch):
    """A look-up in flight holds its unit until the code proves valid; the API runs at most
    API_THREADS (8) at once per process, well inside the budget of 20."""
    monkeypatch.setenv("GIFTCERTS_GUESS_LIMIT_CLIENT", "20/10 minutes")
    order = tenant.order()
    cert = tenant.certificate()
    answers = asyncio.run(_storm(app, tenant.headers, {"code": cert.code, "order_id": order.id}, 100))
    assert {r.status_code for r in answers} == {200}
    # the whole budget is still there for the next customer's typos
    guesses = asyncio.run(_storm(app, tenant.headers, {"code": "ZZZZ-ZZZZ-ZZZZ", "order_id": order.id}, 21))
    assert sorted(r.status_code for r in guesses) == [404] * 20 + [429]


def test_concurrent_widget_guesses_spend_exactly_the_budget(store, monkeypatch):
    """The widget's path (throttle.guarded) from many threads at once."""
    from concurrent.futures import ThreadPoolExecutor
    import threading
    import time

    monkeypatch.setenv("GIFTCERTS_GUESS_LIMIT_WIDGET", "10/10 minutes")
    scopes = throttle.widget_scopes(widget_session_id="race", address="198.51.100.1", workspace_id=1)
    start = threading.Barrier(40)

    def one(_):
        start.wait()

        def lookup():
            time.sleep(0.01)  # the database look-up, during which the others arrive
            raise InvalidCode()
        try:
            throttle.guarded(scopes, "ZZZZ-ZZZZ-ZZZZ", lookup)
        except InvalidCode:
            return "invalid_code"
        except RateLimited:
            return "rate_limited"

    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(one, range(200)))
    assert results.count("invalid_code") == 10, results


def test_a_refused_attempt_takes_nothing_from_the_other_budgets(store, monkeypatch):
    monkeypatch.setenv("GIFTCERTS_GUESS_LIMIT_CLIENT", "1/10 minutes")
    monkeypatch.setenv("GIFTCERTS_GUESS_LIMIT_KEY", "3/10 minutes")
    here = throttle.api_scopes(key_id=5, address="203.0.113.1", workspace_id=1)

    def unknown():
        raise InvalidCode()

    with pytest.raises(InvalidCode):
        throttle.guarded(here, "ZZZZ-ZZZZ-ZZZZ", unknown)
    for _ in range(5):  # refused by the client budget: the key budget is not touched
        with pytest.raises(RateLimited):
            throttle.guarded(here, "ZZZZ-ZZZZ-ZZZZ", unknown)
    elsewhere = throttle.api_scopes(key_id=5, address="203.0.113.2", workspace_id=1)
    with pytest.raises(InvalidCode):
        throttle.guarded(elsewhere, "ZZZZ-ZZZZ-ZZZZ", unknown)
    assert throttle.guarded(throttle.api_scopes(key_id=5, address="203.0.113.3", workspace_id=1),
                            "ZZZZ-ZZZZ-ZZZZ", lambda: "valid") == "valid"
