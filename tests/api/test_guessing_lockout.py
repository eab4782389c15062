"""Strangers cannot lock a workspace out of its own certificates.

Widget sessions are handed out by every booking checkout, so anyone can guess codes in the
widget. They spend only budgets of their own (per widget session, per address, per /24 or
/56 network); the workspace-wide count refuses nobody: crossing it tightens the per-address
widget budget for a day and alerts that workspace's staff (Overview banner, the actions on
`guessing_detected`, queued once), while the operator's API key and a customer with a real
code carry on.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from giftcerts import db, ratelimit
from giftcerts.web import throttle
from giftcerts.core import accounts, redemption
from giftcerts.models import Action, Certificate, GuessingAlert, Job, Workspace
from giftcerts.notify import actions
from giftcerts.ui.dashboard import overview
from giftcerts.ui.widget.redeem import WidgetState
from tests.api.conftest import assert_error
from tests.factories import PASSWORD, make_staff
from tests.test_widget_state import call

PARAMS = {"period": "month", "start": "", "end": "", "type": "all", "source": "all"}


@pytest.fixture
def small_budgets(monkeypatch):
    """The defaults scaled down (same shape) so that the attack runs in seconds."""
    for name, value in {"CLIENT": "20/10 minutes", "KEY": "200/hour", "WIDGET": "3/10 minutes",
                        "ADDRESS": "2/10 minutes", "NETWORK": "5/10 minutes", "GUARDED": "1/day",
                        "WORKSPACE": "40/hour"}.items():
        monkeypatch.setenv(f"GIFTCERTS_GUESS_LIMIT_{name}", value)


def _sessions(tenant, n):
    with db.write_session(tenant.db_url) as s:
        ws = s.get(Workspace, tenant.workspace.id)
        order = redemption.create_order(s, ws, reference=f"BK-ATTACK-{n}", total_cents=10_000_000)
        return [redemption.create_widget_session(s, ws, order_id=order.id)[1] for _ in range(n)]


def _guess(token, ip, n=0):
    state, _ = call(WidgetState, "apply", {"code": f"ZZZZ-ZZZZ-Z{n:03d}"}, token=token, ip=ip)
    if "not valid" in state.error:
        return "invalid_code"
    assert state.error.startswith("Too many attempts."), state.error
    return "rate_limited"


def _staff_token(tenant):
    with db.write_session(tenant.db_url) as s:
        email = make_staff(s, s.get(Workspace, tenant.workspace.id)).email
    return accounts.sign_in(tenant.db_url, email=email, password=PASSWORD, address="192.0.2.1").token


def _alert_jobs(url):
    with db.read_session(url) as s:
        return [job for job in s.exec(sa.select(Job).where(Job.kind == "dispatch")).scalars()
                if json.loads(job.payload).get("trigger") == "guessing_detected"]


def test_strangers_exhausting_every_budget_they_reach_lock_out_neither_the_key_nor_customers(
        app, api, tenant, other, small_budgets):
    with db.write_session(tenant.db_url) as s:
        s.add(Action(workspace_id=tenant.workspace.id, name="Tell the office", trigger="guessing_detected",
                     recipients="staff", staff_emails="office@example.com", subject_template="Guessing",
                     body_template="{{ failed_attempts }} at {{ detected_at }}"))
    real_for_api, real_for_widget = tenant.certificate(), tenant.certificate()
    mine, theirs = _staff_token(tenant), _staff_token(other)
    assert overview.compute(mine, PARAMS)["guessing_alert"] == ""

    # Many addresses of one /24, each with its own widget sessions, act as one network: 5 guesses.
    tokens = iter(_sessions(tenant, 400))
    one_net = [_guess(next(tokens), f"198.51.100.{n}", n) for n in range(40)]
    assert one_net.count("invalid_code") == 5
    # Many networks: every address spends its own budgets until refused...
    answers = []
    for n in range(60):
        ip = f"10.{n}.0.7"
        token = next(tokens)
        answers += [_guess(token, ip, n), _guess(token, ip, n), _guess(token, ip, n)]
        assert answers[-1] == "rate_limited"  # the per-address budget is hard
    # ...and once past the workspace-wide threshold (40 an hour), each new address gets 1 a day
    assert answers.count("invalid_code") < 5 + 60 * 2
    late = [_guess(next(tokens), "192.0.2.200", 1) for _ in range(3)]
    assert late == ["invalid_code", "rate_limited", "rate_limited"]

    # The workspace's own API key still redeems a real code...
    order = tenant.order(total=50000)
    r = api.post("/api/v1/redemptions", {"code": real_for_api.code, "order_id": order.id})
    assert r.status_code == 201, r.text
    # ...and (still) gets its own budget for typos; strangers could not spend it
    assert_error(api.post("/api/v1/redemptions/preview", {"code": "ZZZZ-ZZZZ-ZZZZ", "order_id": order.id}),
                 404, "invalid_code")
    # A customer at a fresh address redeems a real code in the widget
    state, events = call(WidgetState, "apply", {"code": real_for_widget.code}, token=_sessions(tenant, 1)[0],
                         ip="203.0.113.50")
    assert state.error == "" and len(state.applied) == 1
    with db.read_session(tenant.db_url) as s:
        assert s.get(Certificate, real_for_widget.id).status == "redeemed"

    # Staff of that workspace see what happened and when; nobody else does
    banner = overview.compute(mine, PARAMS)["guessing_alert"]
    assert banner.startswith("Code guessing detected at ") and "40 invalid codes" in banner and "within 1 hour" in banner
    assert "(UTC)" in banner and "Until " in banner
    assert overview.compute(theirs, PARAMS)["guessing_alert"] == ""
    # The action's email is queued once, however long the attack goes on
    for n in range(10):
        _guess(next(tokens), f"172.16.{n}.1", n)
    jobs = _alert_jobs(tenant.db_url)
    assert len(jobs) == 1 and jobs[0].workspace_id == tenant.workspace.id and jobs[0].certificate_id is None
    with db.read_session(tenant.db_url) as s:
        assert s.exec(sa.select(sa.func.count()).select_from(GuessingAlert)).scalar() == 1


def test_the_key_is_refused_only_by_its_own_budgets(app, api, small_budgets, monkeypatch):
    """Per key and address, per key: hard, and only the key's holder can spend them."""
    monkeypatch.setenv("GIFTCERTS_GUESS_LIMIT_CLIENT", "3/10 minutes")
    order = api.tenant.order()
    for _ in range(3):
        assert_error(api.post("/api/v1/redemptions/preview", {"code": "ZZZZ-ZZZZ-ZZZZ", "order_id": order.id}),
                     404, "invalid_code")
    assert_error(api.post("/api/v1/redemptions/preview", {"code": "ZZZZ-ZZZZ-ZZZZ", "order_id": order.id}),
                 429, "rate_limited")


@pytest.mark.parametrize("address, net", [
    ("198.51.100.77", "198.51.100.0/24"),
    ("2001:db8:1234:5678:abcd::1", "2001:db8:1234:5600::/56"),
    ("::ffff:198.51.100.9", "198.51.100.0/24"),
    ("unknown", "unknown"),
])
def test_networks_are_slash_24_and_slash_56(address, net):
    assert throttle.network(address) == net


def test_an_ipv6_host_is_its_slash_64():
    assert throttle.host("2001:db8:1:2:3:4:5:6") == throttle.host("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert throttle.host("192.0.2.1") == "192.0.2.1"


def test_a_guessing_alert_action_emails_staff_only():
    with pytest.raises(Exception) as refused:
        actions.validate(name="Alert", trigger="guessing_detected", recipients=["recipient", "staff"],
                         staff_emails="office@example.com", subject="Guessing", body="{{ detected_at }}",
                         attach_pdf=False, enabled=True)
    assert "recipients" in refused.value.errors
    ok = actions.validate(name="Alert", trigger="guessing_detected", recipients=["staff"],
                          staff_emails="office@example.com", subject="Guessing in {{ workspace_name }}",
                          body="{{ failed_attempts }} since {{ detected_at }}, stricter until {{ guarded_until }}",
                          attach_pdf=False, enabled=True)
    assert ok.trigger == "guessing_detected"


def test_app_processes_sharing_redis_raise_one_alert_and_all_see_it(app, tenant, monkeypatch):
    """Each process has its own limiter; with Redis they share the threshold and the 6-hour gate,
    and the alert itself is in the database."""
    from giftcerts.web import guessing

    monkeypatch.setenv("REFLEX_REDIS_URL", "redis://127.0.0.1:6379/9")
    monkeypatch.setenv("GIFTCERTS_GUESS_LIMIT_WORKSPACE", "10/hour")
    ratelimit.limiter.cache_clear()
    try:
        ratelimit.reset()
        for process in range(4):
            ratelimit.limiter.cache_clear()  # as if another process: a new connection, no memory of its own
            for _ in range(8):
                guessing.widget_failed(tenant.workspace.id)
        with db.read_session(tenant.db_url) as s:
            assert s.exec(sa.select(sa.func.count()).select_from(GuessingAlert)).scalar() == 1
            assert guessing.current(s, tenant.workspace.id) is not None
        scopes = throttle.widget_scopes(widget_session_id="x", address="192.0.2.1", workspace_id=tenant.workspace.id,
                                        guarded=True)
        assert [scope.name for scope in scopes] == ["WIDGET", "ADDRESS", "NETWORK", "GUARDED"]
    finally:
        ratelimit.reset()
        monkeypatch.delenv("REFLEX_REDIS_URL")
        ratelimit.limiter.cache_clear()
