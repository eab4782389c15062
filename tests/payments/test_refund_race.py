"""Voiding a paid portal certificate refunds the card through Stripe. While Stripe is being
asked, the certificate is out of circulation (Refund in progress): a redemption landing in
that window is refused on every path, so a customer is never both refunded and credited.
A refund Stripe refuses puts the certificate back; one whose outcome is unknown (a crash, a
lost answer) keeps it out until a retry or the clean-up finishes it.

Runs against localstripe, once on SQLite and once on PostgreSQL (`shop` in conftest.py)."""

from __future__ import annotations

import threading
import uuid
import warnings
from datetime import timedelta

import pytest
from sqlmodel import select
from starlette.applications import Starlette

from giftcerts import db, ratelimit
from giftcerts.api.routes import routes
from giftcerts.clock import utcnow
from giftcerts.core import activity, apikeys, lifecycle, purchases, redemption, widget
from giftcerts.core.errors import DomainError
from giftcerts.models import Certificate, Order, Redemption, Workspace
from giftcerts.payments import checkout, gateway
from tests.payments.conftest import AUTH_CARD, authenticate, card, form

with warnings.catch_warnings():  # Starlette 1.x prefers the `httpx2` fork; plain httpx works the same here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

OWNER = "owner@example.com"


def paid_certificate(shop, stripe_env) -> Certificate:
    result = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                          card=card(stripe_env))
    assert result.status == "succeeded", result
    return get(shop["url"], result.certificate_id)


def get(url: str, cert_id: int) -> Certificate:
    with db.read_session(url) as s:
        return s.get(Certificate, cert_id)


def entries(url: str, cert: Certificate):
    with db.read_session(url) as s:
        return activity.history(s, workspace_id=cert.workspace_id, certificate_id=cert.id)


def new_order(url: str, ws_id: int, total: int = 50000) -> Order:
    with db.write_session(url) as s:
        return redemption.create_order(s, s.get(Workspace, ws_id), reference=f"BK-{uuid.uuid4().hex[:8]}",
                                       total_cents=total)


def stripe_refunds(payment_intent_id: str) -> list:
    return list(gateway._client().v1.refunds.list(params={"payment_intent": payment_intent_id}).data)


class SlowRefund:
    """gateway.refund, held up until the test lets it go: Stripe taking its time."""

    def __init__(self, real):
        self.real = real
        self.in_flight = threading.Event()
        self.go = threading.Event()

    def __call__(self, *args, **kwargs):
        if not self.in_flight.is_set():  # the first call waits; any later one goes straight through
            self.in_flight.set()
            assert self.go.wait(60), "the test never let the refund go"
        return self.real(*args, **kwargs)


def void_in_background(shop, cert_id: int) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run():
        try:
            outcome["cert"] = checkout.void_with_refund(workspace_id=shop["ws"].id, certificate_id=cert_id,
                                                        reason="Customer cancelled the trip", actor=OWNER)
        except Exception as exc:  # noqa: BLE001
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def redeem_through(path: str, shop, cert: Certificate, order: Order) -> tuple[bool, str]:
    """Try to spend `cert` on `order` through one of the ways codes are spent: (applied?, error code)."""
    url, ws_id = shop["url"], shop["ws"].id
    if path == "core":
        try:
            with db.write_session(url) as s:
                redemption.redeem(s, s.get(Workspace, ws_id), code=cert.code, order_id=order.id, actor="desk")
            return True, ""
        except DomainError as exc:
            return False, exc.code
    if path == "widget":
        with db.write_session(url) as s:
            _, token = redemption.create_widget_session(s, s.get(Workspace, ws_id), order_id=order.id)
        try:
            with db.write_session(url) as s:
                widget.apply_code(s, token, cert.code)
            return True, ""
        except DomainError as exc:
            return False, exc.code
    assert path == "api"  # on PostgreSQL this is the one-statement _REDEEM_AT_ONCE first
    with db.write_session(url) as s:
        _, key = apikeys.create_api_key(s, s.get(Workspace, ws_id), name="Booking platform")
    ratelimit.reset()
    client = TestClient(Starlette(routes=routes()), client=("203.0.113.10", 50000))
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex}
    preview = client.post("/api/v1/redemptions/preview", json={"code": cert.code, "order_id": order.id},
                          headers={"Authorization": f"Bearer {key}"})
    assert preview.status_code == 409 and preview.json()["error"]["code"] == "not_active", preview.text
    r = client.post("/api/v1/redemptions", json={"code": cert.code, "order_id": order.id}, headers=headers)
    if r.status_code == 201:
        return True, ""
    assert r.status_code == 409, r.text
    return False, r.json()["error"]["code"]


@pytest.mark.parametrize("path", ["core", "widget", "api"])
def test_a_redemption_while_stripe_refunds_is_refused_and_the_certificate_ends_voided(shop, stripe_env,
                                                                                       monkeypatch, path):
    # Given a paid portal certificate, and a Stripe that is slow to refund
    cert = paid_certificate(shop, stripe_env)
    order = new_order(shop["url"], shop["ws"].id)
    slow = SlowRefund(gateway.refund)
    monkeypatch.setattr(gateway, "refund", slow)
    # When staff void it and, while the refund is in flight, the code is presented at a checkout
    thread, outcome = void_in_background(shop, cert.id)
    try:
        assert slow.in_flight.wait(30), outcome
        during = get(shop["url"], cert.id)
        applied, code = redeem_through(path, shop, cert, order)
    finally:
        slow.go.set()
        thread.join(60)
    # Then the redemption was refused because the certificate was not in circulation
    assert (applied, code) == (False, "not_active")
    assert during.status == "refunding"
    # and the void finished: Voided, with the refund recorded, and one refund at Stripe
    assert "error" not in outcome, outcome
    final = get(shop["url"], cert.id)
    assert final.status == "voided" and final.refunded_at is not None
    assert [r.id for r in stripe_refunds(cert.stripe_payment_intent_id)] == [final.stripe_refund_id]
    # and the order owes what it did, with nothing applied to it
    with db.read_session(shop["url"]) as s:
        assert s.get(Order, order.id).amount_due_cents == order.total_cents
        assert s.exec(select(Redemption).where(Redemption.certificate_id == cert.id)).all() == []
    kinds = [e.kind for e in entries(shop["url"], cert)]
    assert kinds[-2:] == ["Refund started", "Voided"] and "Redeemed" not in kinds


def test_nothing_else_moves_a_certificate_while_its_refund_is_in_flight(shop, stripe_env, monkeypatch):
    cert = paid_certificate(shop, stripe_env)
    slow = SlowRefund(gateway.refund)
    monkeypatch.setattr(gateway, "refund", slow)
    thread, outcome = void_in_background(shop, cert.id)
    try:
        assert slow.in_flight.wait(30), outcome
        # the API's plain void (which would void without the refund) and reactivation are refused
        with db.write_session(shop["url"]) as s, pytest.raises(DomainError) as plain:
            lifecycle.void_certificate(s, s.get(Workspace, shop["ws"].id), certificate_id=cert.id,
                                       reason="API void", actor="api")
        assert plain.value.code == "not_active"
        with db.write_session(shop["url"]) as s, pytest.raises(DomainError) as reactivation:
            lifecycle.reactivate_certificate(s, s.get(Workspace, shop["ws"].id), certificate_id=cert.id, actor="x")
        assert reactivation.value.code == "not_active"
        # the expiry sweep leaves it alone, even past its date
        with db.write_session(shop["url"]) as s:
            lifecycle.expire_due(s, now=cert.expires_at + timedelta(days=1))
        assert get(shop["url"], cert.id).status == "refunding"
        # a second void (another tab) finishes the same refund instead of making a second one
        again = checkout.void_with_refund(workspace_id=shop["ws"].id, certificate_id=cert.id, reason="Again",
                                          actor="colleague@example.com")
        assert again.status == "voided"
    finally:
        slow.go.set()
        thread.join(60)
    # and the first void, back from Stripe, finds it done with that same refund
    assert "error" not in outcome, outcome
    final = get(shop["url"], cert.id)
    assert final.status == "voided" and outcome["cert"].stripe_refund_id == final.stripe_refund_id
    assert [r.id for r in stripe_refunds(cert.stripe_payment_intent_id)] == [final.stripe_refund_id]
    assert [e.kind for e in entries(shop["url"], cert)].count("Voided") == 1


def test_a_refund_stripe_refuses_puts_the_certificate_back_and_says_why(shop, stripe_env, monkeypatch):
    # Given a paid portal certificate, and Stripe refusing its refund
    cert = paid_certificate(shop, stripe_env)

    def refused(*_args, **_kwargs):
        raise gateway.GatewayError("This charge has been disputed")

    monkeypatch.setattr(gateway, "refund", refused)
    # When staff void it
    with pytest.raises(checkout.RefundFailed) as failed:
        checkout.void_with_refund(workspace_id=shop["ws"].id, certificate_id=cert.id,
                                  reason="Customer cancelled the trip", actor=OWNER)
    # Then staff see Stripe's reason, and the certificate is Active again, not refunded
    assert "This charge has been disputed" in failed.value.message and "not voided" in failed.value.message
    back = get(shop["url"], cert.id)
    assert back.status == "active" and back.refunded_at is None and back.stripe_refund_id is None
    assert back.void_reason is None and back.voided_at is None and back.expires_at == cert.expires_at
    # and the activity log says so
    last = entries(shop["url"], cert)[-2:]
    assert [e.kind for e in last] == ["Refund started", "Refund failed"]
    assert "This charge has been disputed" in activity.describe(last[1], "UTC") and last[1].actor == OWNER
    # and it can be spent as before
    order = new_order(shop["url"], shop["ws"].id)
    assert redeem_through("core", shop, cert, order) == (True, "")
    assert get(shop["url"], cert.id).status == "redeemed"


def test_a_refund_whose_outcome_is_unknown_keeps_the_certificate_out_until_a_retry(shop, stripe_env, monkeypatch):
    # Given a paid portal certificate, and Stripe's answer to the refund lost on the way back
    cert = paid_certificate(shop, stripe_env)
    real = gateway.refund

    def lost_answer(payment_intent_id, *, idempotency_key):
        real(payment_intent_id, idempotency_key=idempotency_key)  # Stripe did refund
        raise gateway.RefundUncertain("Stripe did not answer in time")

    monkeypatch.setattr(gateway, "refund", lost_answer)
    with pytest.raises(checkout.RefundFailed) as failed:
        checkout.void_with_refund(workspace_id=shop["ws"].id, certificate_id=cert.id,
                                  reason="Customer cancelled the trip", actor=OWNER)
    # Then it is not put back in circulation (the money may be gone), and staff are told
    assert "Refund in progress" in failed.value.message
    assert get(shop["url"], cert.id).status == "refunding"
    assert redeem_through("core", shop, cert, new_order(shop["url"], shop["ws"].id)) == (False, "not_active")
    # and voiding again finds the refund Stripe made and finishes, without a second refund
    monkeypatch.setattr(gateway, "refund", real)
    done = checkout.void_with_refund(workspace_id=shop["ws"].id, certificate_id=cert.id,
                                     reason="Customer cancelled the trip", actor=OWNER)
    assert done.status == "voided"
    assert [r.id for r in stripe_refunds(cert.stripe_payment_intent_id)] == [done.stripe_refund_id]


def test_a_crash_while_stripe_is_asked_is_finished_by_the_clean_up(shop, stripe_env, monkeypatch):
    # Given a void whose process died after taking the certificate out, before Stripe was asked
    cert = paid_certificate(shop, stripe_env)
    real = gateway.refund

    class Died(BaseException):
        pass

    def crash(*_args, **_kwargs):
        raise Died()

    monkeypatch.setattr(gateway, "refund", crash)
    with pytest.raises(Died):
        checkout.void_with_refund(workspace_id=shop["ws"].id, certificate_id=cert.id,
                                  reason="Customer cancelled the trip", actor=OWNER)
    monkeypatch.setattr(gateway, "refund", real)
    assert get(shop["url"], cert.id).status == "refunding"
    # When the clean-up runs before the timeout, it is left to the void that may still be running
    assert checkout.finish_stale_refunds(older_than=timedelta(minutes=30)) == {"voided": 0, "restored": 0,
                                                                               "skipped": 0}
    assert get(shop["url"], cert.id).status == "refunding"
    # and after it, the refund is finished: voided, refunded once, with the reason staff gave
    later = utcnow() + timedelta(minutes=31)
    assert checkout.finish_stale_refunds(older_than=timedelta(minutes=30), now=later) == {"voided": 1, "restored": 0,
                                                                                          "skipped": 0}
    final = get(shop["url"], cert.id)
    assert final.status == "voided" and final.void_reason == "Customer cancelled the trip"
    assert [r.id for r in stripe_refunds(cert.stripe_payment_intent_id)] == [final.stripe_refund_id]
    last = entries(shop["url"], cert)[-1]
    assert last.kind == "Voided" and last.actor == purchases.CLEANUP_ACTOR
    assert final.stripe_refund_id in activity.describe(last, "UTC")


def test_a_payment_settling_while_a_pending_certificate_is_voided_does_not_activate_it(shop, stripe_env,
                                                                                        monkeypatch):
    # Given a portal checkout paid at Stripe whose webhook has not arrived: still Pending here
    result = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                          card=card(stripe_env, AUTH_CARD))
    authenticate(stripe_env, result.client_secret)
    intent = gateway.retrieve(result.payment_intent_id)
    slow = SlowRefund(gateway.refund)
    monkeypatch.setattr(gateway, "refund", slow)
    # When staff void it and the webhook lands while the refund is in flight
    thread, outcome = void_in_background(shop, result.certificate_id)
    try:
        assert slow.in_flight.wait(30), outcome
        with db.write_session(shop["url"]) as s:
            purchases.settle_succeeded(s, payment_intent_id=intent.id, amount=intent.amount,
                                       currency=intent.currency, metadata=intent.metadata, actor="webhook")
        during = get(shop["url"], result.certificate_id)
    finally:
        slow.go.set()
        thread.join(60)
    # Then it never became Active (its code could have been spent), and ends voided and refunded
    assert during.status == "refunding" and during.activated_at is None
    assert "error" not in outcome, outcome
    final = get(shop["url"], result.certificate_id)
    assert final.status == "voided" and final.stripe_refund_id and final.activated_at is None
