"""The public pages' event handlers, called directly as any browser could call them.

The redemption widget has no staff sign-in: its only authority is the widget session token
in the page URL. Every handler is called with no token, a forged one, an expired one and
one for another order, and must change nothing; failed attempts are throttled; the
booking page is told about a change only at the workspace's embed origins.

Invalid codes spend the code-guessing budgets of giftcerts.web.throttle (defaults: 10 per
widget session and 30 per client address per workspace, each per 10 minutes).
"""

from __future__ import annotations

import asyncio
import inspect
import json
from datetime import timedelta

import pytest
import reflex as rx
import sqlalchemy as sa
from reflex.istate.data import RouterData

from giftcerts import db, ratelimit
from giftcerts.clock import utcnow
from giftcerts.core import redemption, workspaces
from giftcerts.models import Certificate, Order
from giftcerts.ui.widget.demo_checkout import DemoCheckoutState
from giftcerts.ui.widget.redeem import WidgetState
from tests.factories import make_certificate, make_workspace

import giftcerts.giftcerts  # noqa: F401  (registers every page State)

TABLES = ["certificates", "activities", "orders", "redemptions", "widget_sessions"]


@pytest.fixture
def world(sqlite_only_url, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", sqlite_only_url)
    ratelimit.reset()
    with db.write_session(sqlite_only_url) as s:
        ws = make_workspace(s, slug="shop", embed_origins="https://booking.example.com http://localhost:3000")
        mine = redemption.create_order(s, ws, reference="BK-MINE", total_cents=48000)
        theirs = redemption.create_order(s, ws, reference="BK-THEIRS", total_cents=48000)
        _, token = redemption.create_widget_session(s, ws, order_id=mine.id)
        _, expired = redemption.create_widget_session(s, ws, order_id=mine.id, now=utcnow() - timedelta(hours=1))
        _, theirs_token = redemption.create_widget_session(s, ws, order_id=theirs.id)
        spent = make_certificate(s, ws, amount="100")
        red = redemption.redeem(s, ws, code=spent.code, order_id=theirs.id, actor="api")
        fresh = make_certificate(s, ws, amount="100")
        other_ws = make_workspace(s, slug="elsewhere", embed_origins="https://evil.example")
        foreign = make_certificate(s, other_ws, amount="100")
    yield {"url": sqlite_only_url, "token": token, "expired": expired, "theirs_token": theirs_token,
           "theirs_redemption": red.id, "fresh": fresh, "spent": spent, "foreign": foreign, "mine": mine.id}
    ratelimit.reset()


def snapshot(url: str) -> dict:
    with db.read_session(url) as s:
        return {t: sorted(map(tuple, s.execute(sa.text(f"SELECT * FROM {t}")).all()), key=repr) for t in TABLES}


def call(cls, name: str, *args, token: str, ip: str = "203.0.113.9"):
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        "query": {"session": token}, "pathname": "/widget/redeem", "asPath": f"/widget/redeem?session={token}",
        "headers": {"origin": "http://localhost:3000"}, "ip": ip,
    })
    state = root.get_substate(cls.get_full_name().split("."))
    result = cls.event_handlers[name].fn(state, *args)
    if inspect.iscoroutine(result):  # an async handler, such as the demo checkout's on_load
        result = asyncio.run(result)
    events = list(result) if inspect.isgenerator(result) else [result]
    return state, [e for e in events if e is not None]


def scripts(events) -> str:
    return " ".join(str(getattr(e, "args", e)) for e in events)


def test_with_a_bad_token_no_widget_handler_changes_anything(world):
    before = snapshot(world["url"])
    codes = [world["fresh"].code, world["foreign"].code]
    called = 0
    for token in ["", "gcw_forged" + "x" * 30, world["expired"], world["theirs_token"] + "x"]:
        for name in WidgetState.event_handlers:
            if name == "setvar":
                continue
            for arg in ([{"code": c} for c in codes] if name == "apply" else
                        [str(world["theirs_redemption"])] if name == "remove" else [None]):
                state, events = call(WidgetState, name, *([] if arg is None else [arg]), token=token)
                called += 1
                assert snapshot(world["url"]) == before, f"{name} wrote with token {token!r}"
                assert state.phase == "expired"
                assert state.total == "" and state.applied == []
                assert "postMessage" not in scripts(events)
    assert called >= 12


def test_a_session_cannot_remove_a_certificate_from_another_order(world):
    before = snapshot(world["url"])
    state, events = call(WidgetState, "remove", str(world["theirs_redemption"]), token=world["token"])
    assert snapshot(world["url"]) == before
    assert state.error == "This gift certificate is no longer applied to this order."
    assert "postMessage" not in scripts(events)


def test_apply_then_remove_tells_only_the_embed_origins(world):
    state, events = call(WidgetState, "apply", {"code": world["fresh"].code.lower()}, token=world["token"])
    assert state.error == "" and state.amount_due == "$380.00" and state.applied_total == "$100.00"
    assert [a["last4"] for a in state.applied] == [world["fresh"].code[-4:]]
    js = scripts(events)
    assert "postMessage" in js and '"*"' not in js and "'*'" not in js
    assert json.dumps(["https://booking.example.com", "http://localhost:3000"]) in js
    assert '"amount_due_cents": 38000' in js and f'"order_id": {world["mine"]}' in js
    assert world["fresh"].code not in js  # only the last four symbols
    with db.read_session(world["url"]) as s:
        assert s.get(Certificate, world["fresh"].id).status == "redeemed"

    state, events = call(WidgetState, "remove", state.applied[0]["id"], token=world["token"])
    assert state.amount_due == "$480.00" and state.applied == []
    assert '"action": "removed"' in scripts(events) and '"amount_due_cents": 48000' in scripts(events)
    with db.read_session(world["url"]) as s:
        assert s.get(Certificate, world["fresh"].id).status == "active"
        assert s.get(Order, world["mine"]).amount_due_cents == 48000


def test_every_refusal_is_explained_in_plain_words(world):
    state, _ = call(WidgetState, "apply", {"code": "NOPE-NOPE-NOPE"}, token=world["token"])
    assert state.error == "This code is not valid. Check it and try again."
    state, _ = call(WidgetState, "apply", {"code": world["spent"].code}, token=world["token"])
    assert state.error == "This gift certificate has already been used."
    state, _ = call(WidgetState, "apply", {"code": world["foreign"].code}, token=world["token"])
    assert state.error == "This code is not valid. Check it and try again."  # other workspace: same answer
    state, _ = call(WidgetState, "apply", {"code": "   "}, token=world["token"])
    assert state.error == "Enter the code printed on your gift certificate."


def test_refusals_of_real_codes_do_not_spend_the_budget(world):
    for _ in range(12):
        state, _ = call(WidgetState, "apply", {"code": world["spent"].code}, token=world["token"])
        assert state.error == "This gift certificate has already been used."
    state, _ = call(WidgetState, "apply", {"code": world["fresh"].code}, token=world["token"])
    assert state.error == "" and state.amount_due == "$380.00"


def test_failed_attempts_are_throttled_per_widget_session(world):
    for n in range(10):
        state, _ = call(WidgetState, "apply", {"code": f"ZZZZ-ZZZZ-ZZ{n:02d}"}, token=world["token"],
                        ip=f"198.51.100.{n}")
        assert "not valid" in state.error
    state, events = call(WidgetState, "apply", {"code": world["fresh"].code}, token=world["token"], ip="198.51.100.99")
    assert state.error.startswith("Too many attempts. Please try again in ")
    assert "minute" in state.error
    assert "postMessage" not in scripts(events)
    with db.read_session(world["url"]) as s:
        assert s.get(Certificate, world["fresh"].id).status == "active"


def test_failed_attempts_are_throttled_per_client_address(world):
    with db.write_session(world["url"]) as s:
        shop = workspaces.find_workspace(s, "shop")
        tokens = [redemption.create_widget_session(s, shop, order_id=world["mine"])[1] for _ in range(6)]
    for n in range(30):
        state, _ = call(WidgetState, "apply", {"code": "ZZZZ-ZZZZ-ZZZZ"}, token=tokens[n // 9], ip="192.0.2.7")
        assert "not valid" in state.error
    state, _ = call(WidgetState, "apply", {"code": world["fresh"].code}, token=tokens[-1], ip="192.0.2.7")
    assert state.error.startswith("Too many attempts.")
    state, _ = call(WidgetState, "apply", {"code": world["fresh"].code}, token=tokens[-1], ip="192.0.2.8")
    assert state.error == "" and state.amount_due == "$380.00"


def test_the_demo_checkout_keeps_its_order_on_the_server():
    public = {name for name in DemoCheckoutState.base_vars if not name.startswith("_")}
    assert not {"order_id", "api_key", "token"} & public
    state, events = call(DemoCheckoutState, "refresh", token="")
    assert events == [] and state.amount_due == ""
    state._order_id = 987654
    sent = json.dumps(state.parent_state.dict(), default=str)
    assert "987654" not in sent and "_order_id" not in sent


def test_automatic_setters_are_off_on_the_public_pages():
    for cls in (WidgetState, DemoCheckoutState):
        written = {name for klass in cls.__mro__ for name in vars(klass) if name.startswith("set_")}
        assert {n for n in cls.event_handlers if n.startswith("set_")} - written == set()


def test_the_demo_checkout_is_off_unless_the_server_says_it_is_a_demo(sqlite_only_url, monkeypatch):
    """A real operator may well have the slug "demo": nobody may open orders or mint API keys in
    their workspace from a public page just because the stand-in checkout ships with the app."""
    monkeypatch.setenv("REFLEX_DB_URL", sqlite_only_url)
    monkeypatch.delenv("GIFTCERTS_DEMO_CHECKOUT", raising=False)
    ratelimit.reset()
    with db.write_session(sqlite_only_url) as s:
        make_workspace(s, slug="demo")
    before = snapshot(sqlite_only_url)
    state, events = call(DemoCheckoutState, "on_load", token="")
    assert state.phase == "unavailable" and state.problem == "The demo checkout is turned off on this server."
    assert state.widget_src == "" and events == []
    assert snapshot(sqlite_only_url) == before
    with db.read_session(sqlite_only_url) as s:
        assert s.execute(sa.text("SELECT count(*) FROM api_keys")).scalar() == 0

