"""Redemptions over the API: preview, redeem, release — the seed's rules with stable error codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import activity, lifecycle, redemption
from giftcerts.core.codes import format_code
from giftcerts.models import Certificate, Order, Redemption, Workspace
from tests.api.conftest import assert_error


def state(db_url, cert_id, order_id):
    with db.read_session(db_url) as s:
        cert = s.get(Certificate, cert_id)
        order = s.get(Order, order_id)
        kinds = [a.kind for a in activity.history(s, workspace_id=cert.workspace_id, certificate_id=cert_id)]
        return cert.status, order.amount_due_cents, kinds


def test_preview_tells_what_would_happen_and_changes_nothing(api, db_url):
    cert = api.tenant.certificate(amount="100")
    order = api.tenant.order(total=30000)
    before = state(db_url, cert.id, order.id)
    # when
    r = api.post("/api/v1/redemptions/preview", {"code": format_code(cert.code).lower(), "order_id": order.id})
    # then
    assert r.status_code == 200
    body = r.json()
    assert {k: body[k] for k in ("order_id", "value_cents", "currency", "amount_due_after_cents")} == {
        "order_id": order.id, "value_cents": 10000, "currency": "USD", "amount_due_after_cents": 20000}
    assert body["expires_at"].startswith(cert.expires_at.strftime("%Y-%m-%dT"))
    assert state(db_url, cert.id, order.id) == before


def test_redeeming_applies_the_full_value_and_logs_who_did_it(api, db_url):
    cert = api.tenant.certificate(amount="150")
    order = api.tenant.order(total=40000, reference="BK-2001")
    # when the customer types the code loosely
    r = api.post("/api/v1/redemptions", {"code": " " + cert.code[:6].lower() + " " + cert.code[6:], "order_id": order.id})
    # then
    assert r.status_code == 201
    body = r.json()
    assert (body["value_cents"], body["status"], body["certificate_status"], body["certificate_id"]) == (
        15000, "applied", "redeemed", cert.id)
    assert body["code"] == "••••-••••-" + cert.code[-4:]
    assert body["order"]["amount_due_cents"] == 25000
    assert body["order"]["redemptions"][0]["id"] == body["id"]
    status, due, kinds = state(db_url, cert.id, order.id)
    assert (status, due, kinds[-1]) == ("redeemed", 25000, "Redeemed")
    with db.read_session(db_url) as s:
        entry = activity.history(s, workspace_id=cert.workspace_id, certificate_id=cert.id)[-1]
        key_prefix = api.tenant.key[:12]
        assert (entry.actor, activity.describe(entry, "UTC")) == (f"API key {key_prefix}…", "Order BK-2001")


def _setup(tenant, case):
    """A certificate and an order that break exactly one rule."""
    ws_id = tenant.workspace.id
    order = tenant.order(total=20000)
    if case == "redeemed":
        cert, elsewhere = tenant.certificate(amount="100"), tenant.order()
        with db.write_session(tenant.db_url) as s:
            redemption.redeem(s, s.get(Workspace, ws_id), code=cert.code, order_id=elsewhere.id, actor="t")
    elif case == "voided":
        cert = tenant.certificate(amount="100")
        with db.write_session(tenant.db_url) as s:
            lifecycle.void_certificate(s, s.get(Workspace, ws_id), certificate_id=cert.id, reason="r", actor="t")
    elif case == "pending":
        cert = tenant.certificate(amount="100", paid=False)
    elif case == "expired":
        cert = tenant.certificate(amount="100", now=utcnow() - timedelta(days=400))
    elif case == "too_big":
        cert = tenant.certificate(amount="300")
    elif case == "currency":
        cert = tenant.certificate(amount="100")
        order = tenant.order(total=20000, currency="EUR")
    return cert, order


REFUSALS = [
    ("redeemed", 409, "not_active"),
    ("voided", 409, "not_active"),
    ("pending", 409, "not_active"),
    ("expired", 409, "expired"),
    ("too_big", 409, "exceeds_order_total"),
    ("currency", 409, "currency_mismatch"),
]


@pytest.mark.parametrize("path", ["/api/v1/redemptions/preview", "/api/v1/redemptions"])
@pytest.mark.parametrize("case,status,code", REFUSALS)
def test_each_rule_has_its_own_error_code_and_a_refusal_changes_nothing(api, db_url, path, case, status, code):
    cert, order = _setup(api.tenant, case)
    before = state(db_url, cert.id, order.id)
    assert_error(api.post(path, {"code": cert.code, "order_id": order.id}), status, code)
    assert state(db_url, cert.id, order.id) == before


@pytest.mark.parametrize("path", ["/api/v1/redemptions/preview", "/api/v1/redemptions"])
@pytest.mark.parametrize("code", ["ZZZZ-ZZZZ-ZZZZ", "nonsense", "", "0" * 64 + "1"])
def test_unknown_or_malformed_codes_are_invalid_code(api, path, code):
    order = api.tenant.order()
    assert_error(api.post(path, {"code": code, "order_id": order.id}), 404, "invalid_code")


def test_an_unknown_order_is_not_found_before_the_code_is_considered(api):
    cert = api.tenant.certificate()
    assert_error(api.post("/api/v1/redemptions", {"code": cert.code, "order_id": 987654}), 404, "not_found")


def test_releasing_restores_the_certificate_and_the_amount_due(api, db_url):
    cert = api.tenant.certificate(amount="100")
    order = api.tenant.order(total=30000)
    red = api.post("/api/v1/redemptions", {"code": cert.code, "order_id": order.id}).json()
    # when the booking is cancelled
    r = api.post(f"/api/v1/redemptions/{red['id']}/release")
    # then
    assert r.status_code == 200
    body = r.json()
    assert (body["id"], body["status"], body["certificate_status"]) == (red["id"], "released", "active")
    assert body["released_at"] is not None
    assert body["order"]["amount_due_cents"] == 30000
    assert api.get(f"/api/v1/certificates/{cert.id}").json()["status"] == "active"
    assert state(db_url, cert.id, order.id)[2][-2:] == ["Redeemed", "Released"]
    # a second release is refused; the certificate can be spent again
    assert_error(api.post(f"/api/v1/redemptions/{red['id']}/release"), 409, "not_active")
    assert api.post("/api/v1/redemptions", {"code": cert.code, "order_id": order.id}).status_code == 201


def test_releasing_accepts_an_empty_object_but_no_fields(api):
    cert = api.tenant.certificate(amount="100")
    order = api.tenant.order()
    red = api.post("/api/v1/redemptions", {"code": cert.code, "order_id": order.id}).json()
    assert_error(api.post(f"/api/v1/redemptions/{red['id']}/release", {"force": True}), 422, "validation_error")
    assert api.post(f"/api/v1/redemptions/{red['id']}/release", {}).status_code == 200


def test_an_unknown_redemption_is_not_found(api):
    assert_error(api.post("/api/v1/redemptions/424242/release"), 404, "not_found")


def test_one_certificate_pays_one_order_only(api, db_url):
    cert = api.tenant.certificate(amount="100")
    first, second = api.tenant.order(), api.tenant.order()
    assert api.post("/api/v1/redemptions", {"code": cert.code, "order_id": first.id}).status_code == 201
    assert_error(api.post("/api/v1/redemptions", {"code": cert.code, "order_id": second.id}), 409, "not_active")
    with db.read_session(db_url) as s:
        assert len(s.exec(select(Redemption).where(Redemption.certificate_id == cert.id)).all()) == 1


def test_widget_sessions_give_a_token_and_the_widget_url_for_one_order(api):
    order = api.tenant.order()
    r = api.post("/api/v1/widget-sessions", {"order_id": order.id})
    assert r.status_code == 201
    body = r.json()
    assert body["token"].startswith("gcw_") and body["order_id"] == order.id
    assert body["url"] == f"https://gifts.example.com/widget/redeem?session={body['token']}"
    assert body["expires_at"].endswith("Z")
    with db.read_session(api.tenant.db_url) as s:
        assert redemption.resolve_widget_session(s, body["token"])[1].id == order.id
    assert_error(api.post("/api/v1/widget-sessions", {"order_id": 555555}), 404, "not_found")
