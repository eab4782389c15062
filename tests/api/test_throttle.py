"""Guessing codes is throttled (SECURITY.md, OWASP OAT-002): answers `invalid_code` spend
budgets per key and client address and per key (the widget's: per session, address and
network); a spent budget refuses code look-ups with 429 and Retry-After before the code is
looked at. Valid codes cost nothing."""

from __future__ import annotations

import logging

import pytest

from giftcerts import db, ratelimit
from giftcerts.web import throttle
from giftcerts.core import apikeys
from giftcerts.core.codes import format_code
from giftcerts.core.errors import InvalidCode, RateLimited
from giftcerts.models import Certificate, Workspace
from tests.api.conftest import Api, TestClient, assert_error

GUESS = "ZZZZ-ZZZZ-ZZZZ"


@pytest.fixture
def budgets(monkeypatch):
    def set_budgets(**limits):
        for name, value in limits.items():
            monkeypatch.setenv(f"GIFTCERTS_GUESS_LIMIT_{name.upper()}", value)
    return set_budgets


def guess(api, order_id, code=GUESS, path="/api/v1/redemptions"):
    return api.post(path, {"code": code, "order_id": order_id})


def test_once_the_budget_is_spent_code_lookups_get_429_with_retry_after(api, budgets, db_url):
    budgets(client="3/minute")
    order = api.tenant.order()
    cert = api.tenant.certificate()
    for path in ["/api/v1/redemptions/preview", "/api/v1/redemptions", "/api/v1/redemptions"]:
        assert_error(guess(api, order.id, path=path), 404, "invalid_code")
    # when the budget is spent, even a valid code is not looked at
    for path in ["/api/v1/redemptions", "/api/v1/redemptions/preview"]:
        r = guess(api, order.id, code=cert.code, path=path)
        assert_error(r, 429, "rate_limited")
        assert 1 <= int(r.headers["retry-after"]) <= 60
    with db.read_session(db_url) as s:
        assert s.get(Certificate, cert.id).status == "active"
    # other endpoints are not affected
    assert api.get(f"/api/v1/orders/{order.id}").status_code == 200


def test_replaying_a_stored_invalid_code_answer_is_not_another_guess(api, budgets):
    budgets(client="3/minute")
    order = api.tenant.order()
    first = api.post("/api/v1/redemptions", {"code": GUESS, "order_id": order.id}, idempotency_key="retry-me")
    assert_error(first, 404, "invalid_code")
    for _ in range(4):  # retries of the same request: its answer again, and no unit spent
        again = api.post("/api/v1/redemptions", {"code": GUESS, "order_id": order.id}, idempotency_key="retry-me")
        assert (again.status_code, again.content, again.headers["idempotent-replayed"]) == (404, first.content, "true")
    for _ in range(2):  # two units are left of three
        assert_error(guess(api, order.id), 404, "invalid_code")
    assert_error(guess(api, order.id), 429, "rate_limited")


def test_valid_codes_refused_for_other_reasons_cost_nothing(api, budgets):
    budgets(client="3/minute")
    cert = api.tenant.certificate(amount="100")
    order = api.tenant.order()
    assert guess(api, order.id, code=cert.code).status_code == 201
    for _ in range(10):  # the customer keeps clicking "Apply"
        assert_error(guess(api, order.id, code=cert.code), 409, "not_active")
    assert_error(guess(api, api.tenant.order(total=100).id, code=api.tenant.certificate().code), 409,
                 "exceeds_order_total")
    assert_error(guess(api, order.id), 404, "invalid_code")


def test_the_client_budget_is_per_key_and_address_and_no_workspace_budget_refuses_the_key(app, api, budgets):
    budgets(client="2/minute", workspace="5/minute")
    order = api.tenant.order()
    for _ in range(2):
        guess(api, order.id)
    assert_error(guess(api, order.id), 429, "rate_limited")
    # another address with the same key has its own client budget...
    elsewhere = Api(TestClient(app, client=("198.51.100.7", 40000)), api.tenant)
    for _ in range(2):
        assert_error(guess(elsewhere, order.id), 404, "invalid_code")
    assert_error(guess(elsewhere, order.id), 429, "rate_limited")
    # ...and the workspace-wide count, which strangers could spend, refuses no API key:
    # 4 failures spent, yet a third address still gets its own 2, then 429
    third = Api(TestClient(app, client=("192.0.2.1", 40000)), api.tenant)
    assert_error(guess(third, order.id), 404, "invalid_code")
    assert_error(guess(third, order.id), 404, "invalid_code")
    assert_error(guess(third, order.id), 429, "rate_limited")


def test_the_key_budget_spans_addresses(app, api, budgets):
    budgets(client="100/minute", key="3/minute")
    order = api.tenant.order()
    for n in range(3):
        assert_error(guess(Api(TestClient(app, client=(f"192.0.2.{n}", 1)), api.tenant), order.id), 404,
                     "invalid_code")
    assert_error(guess(Api(TestClient(app, client=("192.0.2.99", 1)), api.tenant), order.id), 429, "rate_limited")
    # a second key of the same workspace has its own key budget
    with db.write_session(api.tenant.db_url) as s:
        _, second = apikeys.create_api_key(s, s.get(Workspace, api.tenant.workspace.id))
    assert_error(api.post("/api/v1/redemptions", {"code": GUESS, "order_id": order.id}, key=second), 404,
                 "invalid_code")


def test_another_workspace_is_not_throttled_by_someone_elses_guessing(app, api, other, budgets):
    budgets(client="2/minute", workspace="2/minute")
    order = api.tenant.order()
    for _ in range(2):
        guess(api, order.id)
    assert_error(guess(api, order.id), 429, "rate_limited")
    theirs = Api(TestClient(app, client=("203.0.113.10", 50000)), other)
    assert_error(guess(theirs, other.order().id), 404, "invalid_code")


def test_logs_show_masked_codes_only(api, budgets, caplog):
    budgets(client="1/minute")
    order = api.tenant.order()
    foreign = "K7QP2M9DX4TB"
    with caplog.at_level(logging.DEBUG):
        guess(api, order.id, code=format_code(foreign).lower())
        guess(api, order.id, code=foreign)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "••••-••••-X4TB" in text
    assert foreign not in text and format_code(foreign) not in text and foreign[:8].lower() not in text.lower()


def test_the_widget_helper_budgets_each_widget_session(budgets):
    budgets(widget="2/minute")
    scopes = throttle.widget_scopes(widget_session_id=7, address="198.51.100.1", workspace_id=1)
    looked_up = []

    def unknown_code():
        looked_up.append(1)
        raise InvalidCode()

    for _ in range(2):
        with pytest.raises(InvalidCode):
            throttle.guarded(scopes, GUESS, unknown_code)
    with pytest.raises(RateLimited) as refused:
        throttle.guarded(scopes, GUESS, unknown_code)
    assert refused.value.retry_after >= 1 and len(looked_up) == 2
    # another widget session (another checkout) is unaffected
    other_session = throttle.widget_scopes(widget_session_id=8, address="198.51.100.2", workspace_id=1)
    assert throttle.guarded(other_session, GUESS, lambda: "ok") == "ok"


@pytest.fixture(autouse=True)
def _fresh_counters():
    ratelimit.reset()
    yield
    ratelimit.reset()


def test_budgets_kept_in_redis_are_checked_in_one_go_with_the_same_answers(monkeypatch):
    """Several app processes share budgets through Redis (REFLEX_REDIS_URL)."""
    monkeypatch.setenv("REFLEX_REDIS_URL", "redis://127.0.0.1:6379/9")
    ratelimit.limiter.cache_clear()
    try:
        ratelimit.reset()
        scopes = throttle.api_scopes(key_id=7, address="203.0.113.10", workspace_id=3)
        monkeypatch.setenv("GIFTCERTS_GUESS_LIMIT_CLIENT", "2/minute")
        monkeypatch.setenv("GIFTCERTS_GUESS_LIMIT_KEY", "3/minute")
        checks = [(scope.item, scope.identifiers) for scope in scopes]
        answers = []
        for _ in range(4):
            expected = [not ratelimit.limiter().test(item, *ids) for item, ids in checks]
            assert ratelimit.spent(checks) == expected
            answers.append(expected)
            throttle.count_failure(scopes, GUESS)
        assert answers == [[False, False], [False, False], [True, False], [True, True]]
        with pytest.raises(RateLimited):
            throttle.check(scopes)
    finally:
        ratelimit.reset()
        ratelimit.limiter.cache_clear()


def _scope(peer: str, *forwarded: str) -> dict:
    return {"type": "http", "client": (peer, 50000),
            "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded]}


@pytest.fixture
def proxy_hops(monkeypatch):
    from reflex.config import get_config
    return lambda hops: monkeypatch.setattr(get_config(), "trusted_proxy_hops", hops)


def test_without_trusted_proxies_the_budget_is_the_socket_peers_whatever_the_headers_claim(proxy_hops):
    proxy_hops(0)
    assert ratelimit.client_address(_scope("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


def test_behind_a_proxy_the_address_it_saw_counts_not_the_ones_the_client_wrote(proxy_hops):
    proxy_hops(1)
    # The client forged "1.2.3.4"; our proxy appended the address it really saw.
    assert ratelimit.client_address(_scope("10.0.0.2", "1.2.3.4, 203.0.113.7")) == "203.0.113.7"
    assert ratelimit.client_address(_scope("10.0.0.2", "1.2.3.4", "203.0.113.7")) == "203.0.113.7"
    proxy_hops(2)  # a CDN in front of the load balancer
    assert ratelimit.client_address(_scope("10.0.0.2", "1.2.3.4, 203.0.113.7, 10.0.0.9")) == "203.0.113.7"
    # Fewer entries than proxies: the request did not come through them all; the peer counts.
    assert ratelimit.client_address(_scope("10.0.0.2", "203.0.113.7")) == "10.0.0.2"
    assert ratelimit.client_address(_scope("10.0.0.2")) == "10.0.0.2"


def test_the_api_counts_guesses_against_the_address_the_proxy_saw(api, budgets, proxy_hops):
    proxy_hops(1)
    budgets(client="2/minute")
    order = api.tenant.order()
    for _ in range(2):
        assert_error(api.post("/api/v1/redemptions", {"code": GUESS, "order_id": order.id},
                              headers={"X-Forwarded-For": "203.0.113.7"}), 404, "invalid_code")
    spent = api.post("/api/v1/redemptions", {"code": GUESS, "order_id": order.id},
                     headers={"X-Forwarded-For": "203.0.113.7"})
    assert_error(spent, 429, "rate_limited")
    # another customer behind the same proxy still has their budget
    assert_error(api.post("/api/v1/redemptions", {"code": GUESS, "order_id": order.id},
                          headers={"X-Forwarded-For": "198.51.100.4"}), 404, "invalid_code")


@pytest.fixture
def budgets_store_down(monkeypatch):
    """REFLEX_REDIS_URL names a Redis that is not answering (nothing listens on port 1)."""
    monkeypatch.setenv("REFLEX_REDIS_URL", "redis://127.0.0.1:1/0")
    ratelimit.limiter.cache_clear()
    yield
    monkeypatch.delenv("REFLEX_REDIS_URL")
    ratelimit.limiter.cache_clear()


def test_when_the_budget_store_is_down_code_lookups_are_refused_with_503_and_nothing_is_spent(
        api, budgets_store_down, caplog):
    order = api.tenant.order()
    cert = api.tenant.certificate()
    for path in ("/api/v1/redemptions/preview", "/api/v1/redemptions"):
        response = api.post(path, {"code": cert.code, "order_id": order.id})
        error = assert_error(response, 503, "unavailable")
        assert int(response.headers["retry-after"]) > 0
        assert "try again" in error["message"].lower()
    with db.read_session(api.tenant.db_url) as s:
        assert s.get(Certificate, cert.id).status == "active"
    assert cert.code not in caplog.text  # the log says what failed, never the code


def test_counting_in_memory_starts_no_thread_per_hit_and_still_drops_expired_entries(monkeypatch):
    """limits' memory storage starts a timer thread on nearly every hit; ours sweeps from the
    callers' threads, at most once a second, and drops the expired entries of every key."""
    import threading
    import time as clock

    from limits import parse

    storage = ratelimit.InProcessStorage()
    limiter = ratelimit.MovingWindowRateLimiter(storage)
    item = parse("5/second")
    started = []
    real_start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda self: (started.append(self), real_start(self))[1])
    for n in range(200):
        limiter.hit(item, "guess-test", str(n % 7))
    assert started == []
    assert sum(map(len, storage.events.values())) == 7 * 5  # each key's window is full
    monkeypatch.setattr(storage, "SWEEP_SECONDS", 0.0)
    clock.sleep(1.1)  # every entry of "5/second" has expired
    limiter.hit(item, "guess-test", "fresh")
    assert {key for key, entries in storage.events.items() if entries} == {item.key_for("guess-test", "fresh")}
