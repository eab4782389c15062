"""Certificates over the API: issue, find, read, void, reactivate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import activity, lifecycle
from giftcerts.core.codes import format_code
from giftcerts.models import Certificate, Workspace
from tests.api.conftest import assert_error

SALE = {"amount_cents": 10000, "purchaser_name": "Pat Buyer", "purchaser_email": "pat@example.com",
        "recipient_name": "Robin Traveller", "recipient_email": "robin@example.com", "message": "Enjoy!"}


def history(db_url, cert_id):
    with db.read_session(db_url) as s:
        cert = s.get(Certificate, cert_id)
        return [(a.kind, a.actor) for a in activity.history(s, workspace_id=cert.workspace_id, certificate_id=cert_id)]


def test_a_paid_sale_is_active_at_once_with_its_full_code(api, db_url):
    r = api.post("/api/v1/certificates", {**SALE, "status": "active"})
    assert r.status_code == 201
    cert = r.json()
    assert (cert["status"], cert["amount_cents"], cert["currency"], cert["source"]) == ("active", 10000, "USD", "api")
    assert len(cert["code"]) == 14 and cert["code"][4] == cert["code"][9] == "-"
    assert cert["expires_at"] is not None and cert["activated_at"] is not None
    actor = f"API key {api.tenant.key[:12]}…"
    assert history(db_url, cert["id"]) == [("Created", actor), ("Purchased", actor)]
    # and the code works at checkout
    order = api.tenant.order(total=10000)
    assert api.post("/api/v1/redemptions", {"code": cert["code"], "order_id": order.id}).status_code == 201


def test_an_unpaid_sale_is_pending_and_cannot_be_redeemed(api):
    cert = api.post("/api/v1/certificates", {**SALE, "status": "pending"}).json()
    assert (cert["status"], cert["expires_at"], cert["activated_at"]) == ("pending", None, None)
    order = api.tenant.order()
    assert_error(api.post("/api/v1/redemptions", {"code": cert["code"], "order_id": order.id}), 409, "not_active")


def test_status_defaults_to_active(api):
    assert api.post("/api/v1/certificates", SALE).json()["status"] == "active"


def test_the_workspace_rules_apply_and_name_the_api_fields(api):
    # the demo factory workspace sells between 25.00 and 1,000.00
    error = assert_error(api.post("/api/v1/certificates", {**SALE, "amount_cents": 100, "recipient_email": "nope"}),
                         422, "validation_error")
    assert set(error["fields"]) == {"amount_cents", "recipient_email"}
    assert "minimum" in error["fields"]["amount_cents"]
    error = assert_error(api.post("/api/v1/certificates", {**SALE, "status": "redeemed"}), 422, "validation_error")
    assert set(error["fields"]) == {"status"}


def test_reading_a_certificate_shows_the_full_code(api):
    cert = api.tenant.certificate(amount="75")
    body = api.get(f"/api/v1/certificates/{cert.id}").json()
    assert (body["id"], body["code"], body["amount_cents"], body["message"]) == (
        cert.id, format_code(cert.code), 7500, "Happy travels!")
    assert_error(api.get("/api/v1/certificates/99999999"), 404, "not_found")


def test_lists_mask_codes_and_page_with_a_cursor(api):
    certs = [api.tenant.certificate(amount="50") for _ in range(5)]
    seen, cursor = [], None
    while True:
        r = api.get("/api/v1/certificates", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200
        page = r.json()
        assert len(page["data"]) <= 2
        seen += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [c["id"] for c in seen] == sorted((c.id for c in certs), reverse=True)
    for row, cert in zip(seen, reversed(certs)):
        assert row["code"] == "••••-••••-" + cert.code[-4:]
    assert not any(cert.code in str(seen) or format_code(cert.code) in str(seen) for cert in certs)


def test_lists_filter_by_status_and_search_by_email_or_code(api):
    active = api.tenant.certificate(amount="50", recipient_email="ana@example.com")
    pending = api.tenant.certificate(amount="50", paid=False)
    ids = lambda **params: [c["id"] for c in api.get("/api/v1/certificates", params=params).json()["data"]]  # noqa: E731
    assert ids(status="pending") == [pending.id]
    assert ids(q="ANA@example.com") == [active.id]
    assert ids(q=format_code(active.code).lower()) == [active.id]
    assert ids(q="nobody@example.com") == []


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"status": "lost"},
                                    {"cursor": "abc"}, {"cursor": "99999999999"}, {"q": "x" * 255},
                                    {"statuss": "active"}])
def test_bad_list_parameters_are_validation_errors(api, params):
    error = assert_error(api.get("/api/v1/certificates", params=params), 422, "validation_error")
    assert set(error["fields"]) == set(params)


def test_void_needs_a_reason_and_reactivate_restores(api, db_url):
    cert = api.tenant.certificate(amount="50")
    assert assert_error(api.post(f"/api/v1/certificates/{cert.id}/void", {"reason": "  "}), 422,
                        "validation_error")["fields"] == {"reason": "Enter a reason for voiding this certificate."}
    # when voided
    r = api.post(f"/api/v1/certificates/{cert.id}/void", {"reason": "Customer refund"})
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["void_reason"]) == ("voided", "Customer refund")
    assert_error(api.post(f"/api/v1/certificates/{cert.id}/void", {"reason": "again"}), 409, "not_active")
    # then reactivated
    r = api.post(f"/api/v1/certificates/{cert.id}/reactivate")
    assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["void_reason"] is None
    assert_error(api.post(f"/api/v1/certificates/{cert.id}/reactivate"), 409, "not_active")
    assert [kind for kind, _ in history(db_url, cert.id)][-2:] == ["Voided", "Reactivated"]


def test_a_certificate_that_expired_while_voided_cannot_be_reactivated(api):
    cert = api.tenant.certificate(amount="50", now=utcnow() - timedelta(days=400))
    with db.write_session(api.tenant.db_url) as s:
        lifecycle.void_certificate(s, s.get(Workspace, api.tenant.workspace.id), certificate_id=cert.id,
                                   reason="refund", actor="staff", now=utcnow() - timedelta(days=300))
    assert_error(api.post(f"/api/v1/certificates/{cert.id}/reactivate"), 409, "expired")
