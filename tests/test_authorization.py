"""Every state-changing dashboard event handler checks who is asking.

Any browser can call any public State method over the websocket, whatever the page
shows. These tests call every event handler of every dashboard State directly, as an
anonymous client, with a forged token, as a viewer, and as the owner of another
workspace, and check that nothing of the target workspace changes or leaks into the
state that would be sent to that browser. Handlers are discovered, not listed, so a
new handler is covered as soon as it exists.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os

import pytest
import reflex as rx
import sqlalchemy as sa
from reflex.istate.data import RouterData
from sqlmodel import SQLModel

from giftcerts import db
from giftcerts.web.sessions import SESSION_COOKIE
from giftcerts.core import accounts
from giftcerts.models import StaffRole, Workspace
from giftcerts.ui.auth_state import AuthState
from tests.factories import PASSWORD, make_certificate, make_staff, make_workspace

import giftcerts.giftcerts  # noqa: F401  (registers every page State)

# staff_users is left out: signing in (done before each call) updates it.
BUSINESS_TABLES = ["workspaces", "certificates", "activities", "api_keys", "orders", "redemptions",
                   "certificate_types", "segments", "segment_members", "certificate_type_segments", "actions", "jobs",
                   "webhook_endpoints", "webhook_deliveries"]
# The sign-in page's handlers run for anonymous visitors by design (signing in itself is a form
# POST, tested in tests/api/test_staff_sessions.py); the other two of them are still called below.
PUBLIC_HANDLERS = {("LoginState", "redirect_if_signed_in")}
FORM = {
    "reason": "hostile", "purchaser_name": "Mallory", "purchaser_email": "m@example.com",
    "recipient_name": "Mallory", "recipient_email": "m@example.com", "amount": "100", "message": "hi",
    "paid": "on", "portal_enabled": "on", "min_amount": "1", "max_amount": "5", "expiry_days": "1",
    "currency": "EUR", "timezone": "UTC", "preset_amounts": "2", "email": "x@example.com", "password": "x",
    "embed_origins": "https://evil.example", "name": "Mallory's key",
}


def dashboard_states() -> list[type[rx.State]]:
    found, todo = [], [AuthState]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.get_substates())
    return found


def handlers():
    for cls in dashboard_states():
        for name, handler in cls.event_handlers.items():
            if name == "setvar" or (cls.__name__, name) in PUBLIC_HANDLERS:
                continue
            yield cls, name, handler


def args_for(fn) -> list:
    args = []
    for param in list(inspect.signature(fn).parameters.values())[1:]:
        annotation = str(param.annotation)
        args.append(dict(FORM) if "dict" in annotation else True if "bool" in annotation else "1")
    return args


def snapshot(url: str) -> dict:
    """Every row of the target workspace (another workspace may legitimately change its own)."""
    with db.read_session(url) as s:
        target = s.execute(sa.text("SELECT id FROM workspaces WHERE slug = 'target'")).scalar_one()
        rows = {t: s.execute(sa.text(f"SELECT * FROM {t} WHERE workspace_id = :w"), {"w": target}).all()
                for t in BUSINESS_TABLES if t != "workspaces"}
        rows["workspaces"] = s.execute(sa.text("SELECT * FROM workspaces WHERE id = :w"), {"w": target}).all()
        return {t: sorted(map(tuple, r), key=repr) for t, r in rows.items()}


@pytest.fixture
def world(sqlite_only_url, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", sqlite_only_url)
    monkeypatch.setenv("PYTEST_CURRENT_TEST", os.environ.get("PYTEST_CURRENT_TEST", "authz"))
    with db.write_session(sqlite_only_url) as s:
        target = make_workspace(s, slug="target")
        make_staff(s, target, email="owner@target.example")
        make_staff(s, target, email="viewer@target.example", role=StaffRole.VIEWER)
        certs = {
            "active": make_certificate(s, target, recipient_email="secret.recipient@target.example"),
            "pending": make_certificate(s, target, paid=False),
            "voided": make_certificate(s, target),
        }
        from giftcerts.core import apikeys, lifecycle, redemption
        lifecycle.void_certificate(s, target, certificate_id=certs["voided"].id, reason="x", actor="t")
        # An order with a certificate applied, and an API key: what the Orders and API keys pages show.
        spent = make_certificate(s, target)
        order = redemption.create_order(s, target, reference="BK-SECRET", total_cents=50000,
                                        customer_email="secret.customer@target.example")
        redemption.redeem(s, target, code=spent.code, order_id=order.id, actor="api")
        apikeys.create_api_key(s, target, name="Target key")
        # The portal catalogue: a segment with a member and a type restricted to it.
        from giftcerts.core import certificate_types, segments
        group = segments.save_segment(s, target, name="Target group", kind="customer_group",
                                      members_text="secret.member@target.example")
        certificate_types.save_type(s, target, name="Target type", segment_ids=[group.id])
        certs["redeemed"] = spent
        other = make_workspace(s, slug="other")
        make_staff(s, other, email="owner@other.example")

    def sign_in(email: str) -> str:
        """A fresh session for each call: a handler such as sign_out may end the previous one."""
        return accounts.sign_in(sqlite_only_url, email=email, password=PASSWORD, address="192.0.2.9").token

    return {"url": sqlite_only_url, "certs": certs, "sign_in": sign_in, "order_id": order.id}


def call(cls, name, handler, *, token: str, cert_id: int, order_id: int | None = None):
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data(
        {"query": {"cert_id": str(cert_id), "order_id": str(order_id or cert_id)},
         "pathname": "/dashboard/certificates/[cert_id]",
         "asPath": f"/dashboard/certificates/{cert_id}", "headers": {"cookie": f"{SESSION_COOKIE}={token}"},
         "ip": "203.0.113.9"}
    )
    state = root.get_substate(cls.get_full_name().split("."))
    result = handler.fn(state, *args_for(handler.fn))
    if inspect.iscoroutine(result):
        asyncio.run(result)
    elif inspect.isasyncgen(result):
        async def drain():
            async for _ in result:
                pass
        asyncio.run(drain())
    return root


def leaked(root, certs) -> list[str]:
    sent = json.dumps(root.dict(), default=str)
    secrets = [c.code for c in certs.values()] + [c.code[-4:] + '"' for c in certs.values()]
    secrets += ["secret.recipient@target.example", "secret.customer@target.example", "BK-SECRET",
                "secret.member@target.example"]
    return [s for s in secrets if s in sent]


INTRUDERS = {
    "anonymous": lambda sign_in: "",
    "forged token": lambda sign_in: "forged-" + "x" * 40,
    "owner of another workspace": lambda sign_in: sign_in("owner@other.example"),
    "viewer of this workspace": lambda sign_in: sign_in("viewer@target.example"),
}


@pytest.mark.parametrize("intruder", list(INTRUDERS))
def test_no_handler_writes_anything_for_an_unauthorised_caller(world, intruder):
    before = snapshot(world["url"])
    called = 0
    token = INTRUDERS[intruder](world["sign_in"])
    for cls, name, handler in handlers():
        for cert in world["certs"].values():
            root = call(cls, name, handler, token=token, cert_id=cert.id, order_id=world["order_id"])
            if name == "sign_out":  # that call ended the session: start a new one
                token = INTRUDERS[intruder](world["sign_in"])
            called += 1
            assert snapshot(world["url"]) == before, f"{cls.__name__}.{name} wrote data for {intruder}"
            if intruder != "viewer of this workspace":
                assert leaked(root, world["certs"]) == [], f"{cls.__name__}.{name} leaked data to {intruder}"
    assert called >= 30


def test_the_same_handlers_do_write_for_the_owner(world):
    """The harness can see a write: the workspace's own owner really voids and creates."""
    token = world["sign_in"]("owner@target.example")
    before = snapshot(world["url"])
    by_name = {(cls.__name__, name): (cls, handler) for cls, name, handler in handlers()}
    cls, handler = by_name[("CertificateState", "void")]
    call(cls, "void", handler, token=token, cert_id=world["certs"]["active"].id)
    after = snapshot(world["url"])
    assert after["certificates"] != before["certificates"]
    assert len(after["activities"]) == len(before["activities"]) + 1


def test_the_session_token_is_never_a_public_var():
    """Only the HttpOnly cookie holds the token; no state sent to the browser carries it."""
    public = {name for cls in dashboard_states() for name in cls.base_vars if not name.startswith("_")}
    assert "session_token" not in public
    assert not {"password", "token", "api_key", "password_hash", "workspace_id"} & public


def test_automatic_setters_are_off():
    """A generated setter would let a client set any var; only hand-written ones may exist."""
    from reflex.config import get_config

    assert get_config().state_auto_setters is False
    for cls in dashboard_states():
        written = {name for klass in cls.__mro__ for name in vars(klass) if name.startswith("set_")}
        generated = {name for name in cls.event_handlers if name.startswith("set_")} - written
        assert generated == set(), f"{cls.__name__} has generated setters {generated}"


def test_tables_are_known():
    assert set(BUSINESS_TABLES) <= set(SQLModel.metadata.tables)


def test_the_owner_does_see_orders_and_manage_api_keys(world):
    """The harness reaches the new pages: the owner sees the order and creates/revokes a key."""
    token = world["sign_in"]("owner@target.example")
    by_name = {(cls.__name__, name): (cls, handler) for cls, name, handler in handlers()}

    def run(cls_name, name, **kw):
        cls, handler = by_name[(cls_name, name)]
        root = call(cls, name, handler, token=token, cert_id=world["certs"]["redeemed"].id,
                    order_id=world["order_id"])
        return root.get_substate(cls.get_full_name().split("."))

    order = run("OrderState", "on_load")
    assert order.order["reference"] == "BK-SECRET" and len(order.lines) == 1
    cert = run("CertificateState", "on_load")
    assert [u["reference"] for u in cert.uses] == ["BK-SECRET"]

    before = snapshot(world["url"])
    created = run("ApiKeysState", "create")
    assert created.created_key.startswith("gc_live_") and created.key_dialog_open
    assert len(snapshot(world["url"])["api_keys"]) == len(before["api_keys"]) + 1


def test_the_owner_does_manage_segments_and_certificate_types(world):
    """The harness reaches the catalogue pages: the owner really saves a segment and a type."""
    token = world["sign_in"]("owner@target.example")
    by_name = {(cls.__name__, name): (cls, handler) for cls, name, handler in handlers()}
    before = snapshot(world["url"])

    def run(cls_name, name, *args):
        cls, handler = by_name[(cls_name, name)]
        root = rx.State(_reflex_internal_init=True)
        root.router = RouterData.from_router_data({"query": {}, "pathname": "/dashboard/segments",
                                                   "asPath": "/dashboard/segments",
                                                   "headers": {"cookie": f"{SESSION_COOKIE}={token}"}, "ip": "1.2.3.4"})
        state = root.get_substate(cls.get_full_name().split("."))
        handler.fn(state, *args)
        return state

    seg = run("SegmentsState", "save", {"name": "Press", "kind": "customer_group", "members": "press.example"})
    assert seg.errors == {}
    typ = run("CertificateTypesState", "save", {"name": "Press trips", "active": "on"})
    assert typ.errors == {}
    after = snapshot(world["url"])
    assert len(after["segments"]) == len(before["segments"]) + 1
    assert len(after["certificate_types"]) == len(before["certificate_types"]) + 1


def test_the_owner_switches_the_number_format_and_the_form_shows_amounts_in_it(world):
    """Settings → Number format: the amounts on the form are read in the format they were shown
    in, then shown (and read back) in the new one."""
    token = world["sign_in"]("owner@target.example")
    by_name = {(cls.__name__, name): (cls, handler) for cls, name, handler in handlers()}

    def run(name, *args):
        cls, handler = by_name[("SettingsState", name)]
        root = rx.State(_reflex_internal_init=True)
        root.router = RouterData.from_router_data({"query": {}, "pathname": "/dashboard/settings",
                                                   "asPath": "/dashboard/settings",
                                                   "headers": {"cookie": f"{SESSION_COOKIE}={token}"}, "ip": "1.2.3.4"})
        state = root.get_substate(cls.get_full_name().split("."))
        handler.fn(state, *args)
        return state

    page = run("on_load")
    assert page.number_format == "en_US"
    shown = {"portal_enabled": "on", "min_amount": "25.50", "max_amount": "1,000.00", "expiry_days": "365",
             "currency": page.currency, "timezone": page.timezone, "preset_amounts": "50, 100.50"}
    page = run("save", {**shown, "number_format": "de_DE"})
    assert page.errors == {} and page.number_format == "de_DE"
    assert (page.min_amount, page.max_amount, page.preset_amounts) == ("25,50", "1000,00", "50,00; 100,50")
    page = run("save", {**shown, "min_amount": "25.50", "number_format": "de_DE"})
    assert "Write the minimum amount as 25,50" in page.errors["min_amount"]
    page = run("save", {**shown, "min_amount": "30,00", "max_amount": "1.000", "preset_amounts": "50; 100,50",
                        "number_format": "xx"})
    assert "Choose a number format" in page.errors["number_format"]
    with db.read_session(world["url"]) as s:
        ws = s.execute(sa.select(Workspace).where(Workspace.locale == "de_DE")).scalars().one()
        assert ws.min_amount_cents == 2550
