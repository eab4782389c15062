"""Purchase Flow on the portal, paid by card (localstripe), through giftcerts.payments.checkout:
the functions the portal page calls after Stripe.js has tokenised the card.

Seed: "When purchasing a certificate, customers choose an amount within your configured minimum
and maximum, enter purchaser information, recipient information, optionally a personal message,
complete payment." "Pending: created but payment hasn't been completed yet." "Active: paid."
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import activity, certificate_types, lifecycle, purchases
from giftcerts.core.errors import InvalidTransition, ValidationError
from giftcerts.models import Certificate, Workspace
from giftcerts.payments import checkout, gateway
from tests.payments.conftest import AUTH_CARD, DECLINED_CARD, authenticate, card, certificates, form
from tests.factories import tampered

PORTAL_KINDS = ["Created", "Purchased", "Purchased from Portal", "Activated from Portal"]


def kinds(url: str, cert_id: int) -> list[str]:
    with db.read_session(url) as s:
        cert = s.get(Certificate, cert_id)
        return [a.kind for a in activity.history(s, workspace_id=cert.workspace_id, certificate_id=cert_id)]


def get(url: str, cert_id: int) -> Certificate:
    with db.read_session(url) as s:
        return s.get(Certificate, cert_id)


def test_a_card_payment_activates_the_certificate_with_the_seeds_activity(shop, stripe_env):
    # Given a portal with an open certificate type
    # When a customer pays $100 with the 4242 test card
    result = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                          card=card(stripe_env))
    # Then the payment succeeded and the certificate is Active, good for the workspace's expiry period
    assert result.status == "succeeded", result
    cert = get(shop["url"], result.certificate_id)
    assert cert.status == "active" and cert.amount_cents == 10000 and cert.currency == "USD"
    assert cert.source == "portal" and cert.certificate_type_id == shop["open"].id
    assert cert.expires_at - cert.activated_at == timedelta(days=shop["ws"].expiry_days)
    # and Stripe charged exactly what the server decided, for this certificate
    intent = gateway.retrieve(cert.stripe_payment_intent_id)
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 10000, "USD")
    assert intent.metadata["certificate_id"] == str(cert.id)
    # and the activity log tells the story in the seed's words
    assert kinds(shop["url"], cert.id) == PORTAL_KINDS
    # and the confirmation link finds it, only in its own shop
    with db.read_session(shop["url"]) as s:
        assert purchases.confirmation(s, slug="alpine", token=result.confirmation_token)[1].id == cert.id
        with pytest.raises(Exception):
            purchases.confirmation(s, slug="other-shop", token=result.confirmation_token)
        with pytest.raises(Exception):
            purchases.confirmation(s, slug="alpine", token=tampered(result.confirmation_token))


def test_a_declined_card_shows_stripes_reason_and_leaves_nothing_active(shop, stripe_env):
    result = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                          card=card(stripe_env, DECLINED_CARD))
    assert result.status == "declined"
    assert result.message == "Your card was declined."
    certs = certificates(shop["url"], shop["ws"])
    assert [c.status for c in certs] == ["voided"]  # cancelled at once, with the reason on record
    assert "Your card was declined." in certs[0].void_reason
    assert certs[0].activated_at is None


def test_a_card_that_needs_authentication_is_completed_after_the_step(shop, stripe_env):
    result = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                          card=card(stripe_env, AUTH_CARD))
    assert result.status == "requires_action" and result.client_secret
    assert get(shop["url"], result.certificate_id).status == "pending"
    # the customer completes localstripe's "Complete authentication" step in the browser
    authenticate(stripe_env, result.client_secret)
    done = checkout.finish(certificate_id=result.certificate_id, payment_intent_id=result.payment_intent_id,
                           confirmation_token=result.confirmation_token)
    assert done.status == "succeeded"
    assert get(shop["url"], result.certificate_id).status == "active"
    assert kinds(shop["url"], result.certificate_id) == PORTAL_KINDS


def test_a_failed_authentication_leaves_nothing_active(shop, stripe_env):
    result = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                          card=card(stripe_env, AUTH_CARD))
    authenticate(stripe_env, result.client_secret, success=False)
    done = checkout.finish(certificate_id=result.certificate_id, payment_intent_id=result.payment_intent_id,
                           confirmation_token=result.confirmation_token)
    assert done.status == "declined" and "authentication" in done.message
    assert get(shop["url"], result.certificate_id).status == "voided"


@pytest.mark.parametrize("tampered, field", [
    ({"amount": "1"}, "amount"),            # below the minimum
    ({"amount": "1000000"}, "amount"),      # above the maximum
    ({"amount": "100.001"}, "amount"),      # more decimals than the currency has
    ({"purchaser_email": "not-an-email"}, "purchaser_email"),
    ({"recipient_email": "<script>@x"}, "recipient_email"),
    ({"message": "x" * 1001}, "message"),
])
def test_the_server_validates_every_purchase_whatever_the_page_sent(shop, stripe_env, tampered, field):
    with pytest.raises(ValidationError) as refused:
        checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id), **tampered), market="",
                     card=card(stripe_env))
    assert field in refused.value.errors
    assert certificates(shop["url"], shop["ws"]) == []  # nothing created, nothing charged


def test_a_crafted_purchase_of_a_restricted_type_is_refused(shop, stripe_env):
    with pytest.raises(certificate_types.NotEligible) as refused:
        checkout.pay(slug="alpine", form=form(certificate_type=str(shop["partner"].id)), market="",
                     card=card(stripe_env))
    assert "reserved for selected customers" in refused.value.message
    assert certificates(shop["url"], shop["ws"]) == []
    # while a member of the group can buy it
    ok = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["partner"].id),
                                               purchaser_email="ana@partner.example"), market="", card=card(stripe_env))
    assert ok.status == "succeeded"


def test_a_type_of_another_workspace_cannot_be_bought_here(shop, stripe_env):
    with db.write_session(shop["url"]) as s:
        from tests.factories import make_workspace
        theirs = certificate_types.save_type(s, make_workspace(s, slug="elsewhere"), name="Theirs")
    with pytest.raises(certificate_types.NotEligible):
        checkout.pay(slug="alpine", form=form(certificate_type=str(theirs.id)), market="", card=card(stripe_env))


def test_a_disabled_portal_refuses_a_handmade_purchase(shop, stripe_env):
    with db.write_session(shop["url"]) as s:
        s.get(Workspace, shop["ws"].id).portal_enabled = False
    with pytest.raises(purchases.PortalUnavailable):
        checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                     card=card(stripe_env))
    assert certificates(shop["url"], shop["ws"]) == []


def test_the_amount_charged_is_the_servers_whatever_the_browser_claims(shop, stripe_env):
    # A crafted form carrying its own idea of the price in extra fields changes nothing.
    result = checkout.pay(slug="alpine", form={**form(certificate_type=str(shop["open"].id), amount="75"),
                                               "amount_cents": "1", "currency": "JPY"},
                          market="", card=card(stripe_env))
    intent = gateway.retrieve(result.payment_intent_id)
    assert (intent.amount, intent.currency) == (7500, "USD")


def test_confirmations_racing_the_webhook_activate_once(shop, stripe_env):
    # Given a portal certificate whose payment succeeded at Stripe
    result = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                          card=card(stripe_env, AUTH_CARD))
    authenticate(stripe_env, result.client_secret)
    intent = gateway.retrieve(result.payment_intent_id)
    # When eight settlements (webhooks, confirmations) arrive at the same moment
    barrier = threading.Barrier(8)
    errors = []

    def settle():
        barrier.wait()
        try:
            with db.write_session(shop["url"]) as s:
                purchases.settle_succeeded(s, payment_intent_id=intent.id, amount=intent.amount,
                                           currency=intent.currency, metadata=intent.metadata, actor="test")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=settle) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    # Then it is active once, with one set of activity entries
    assert errors == []
    assert get(shop["url"], result.certificate_id).status == "active"
    assert kinds(shop["url"], result.certificate_id) == PORTAL_KINDS


def test_a_payment_that_does_not_match_its_certificate_never_activates(shop, stripe_env):
    result = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                          card=card(stripe_env, AUTH_CARD))
    with db.write_session(shop["url"]) as s, pytest.raises(purchases.PaymentMismatch):
        purchases.settle_succeeded(s, payment_intent_id=result.payment_intent_id, amount=1, currency="USD",
                                   metadata={"certificate_id": str(result.certificate_id)}, actor="test")
    assert get(shop["url"], result.certificate_id).status == "pending"


def test_abandoned_checkouts_are_cleaned_up_after_the_configured_time(shop, stripe_env):
    # Given a checkout left at the authentication step, and one paid whose webhook was lost
    left = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                        card=card(stripe_env, AUTH_CARD))
    paid = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                        card=card(stripe_env, AUTH_CARD))
    authenticate(stripe_env, paid.client_secret)
    # When the clean-up runs before the timeout, nothing changes
    assert checkout.cleanup_abandoned(older_than=timedelta(minutes=30))["cancelled"] == 0
    assert get(shop["url"], left.certificate_id).status == "pending"
    # and after it, the abandoned one is cancelled (at Stripe too) with an activity entry saying why
    later = utcnow() + timedelta(minutes=31)
    counts = checkout.cleanup_abandoned(older_than=timedelta(minutes=30), now=later)
    assert counts == {"activated": 1, "cancelled": 1, "skipped": 0}
    cancelled = get(shop["url"], left.certificate_id)
    assert cancelled.status == "voided" and "not completed within 30 minutes" in cancelled.void_reason
    assert kinds(shop["url"], left.certificate_id) == ["Created", "Voided"]
    assert gateway.retrieve(left.payment_intent_id).status == "canceled"
    # and the paid one is activated, not cancelled
    assert get(shop["url"], paid.certificate_id).status == "active"


def test_voiding_a_paid_portal_certificate_refunds_it_through_stripe(shop, stripe_env):
    result = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                          card=card(stripe_env))
    cert = checkout.void_with_refund(workspace_id=shop["ws"].id, certificate_id=result.certificate_id,
                                     reason="Customer changed their mind", actor="owner@example.com")
    assert cert.status == "voided" and cert.stripe_refund_id.startswith("re_") and cert.refunded_at
    entries = kinds(shop["url"], cert.id)
    assert entries[-1] == "Voided"
    with db.read_session(shop["url"]) as s:
        last = activity.history(s, workspace_id=shop["ws"].id, certificate_id=cert.id)[-1]
    text = activity.describe(last, shop["ws"].timezone)
    assert cert.stripe_refund_id in text and "refunded" in text
    # a refunded certificate cannot be brought back to life for free
    with db.write_session(shop["url"]) as s, pytest.raises(InvalidTransition):
        lifecycle.reactivate_certificate(s, s.get(Workspace, shop["ws"].id), certificate_id=cert.id, actor="x")


def test_a_failed_refund_is_visible_and_leaves_the_certificate_active(shop, stripe_env, monkeypatch):
    result = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                          card=card(stripe_env))
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")  # Stripe unreachable
    with pytest.raises(checkout.RefundFailed) as failed:
        checkout.void_with_refund(workspace_id=shop["ws"].id, certificate_id=result.certificate_id,
                                  reason="Refund please", actor="owner@example.com")
    assert "not voided" in failed.value.message
    cert = get(shop["url"], result.certificate_id)
    assert cert.status == "active" and cert.refunded_at is None
    # and trying again once Stripe answers does the whole thing
    monkeypatch.setenv("STRIPE_API_BASE", stripe_env["STRIPE_API_BASE"])
    assert checkout.void_with_refund(workspace_id=shop["ws"].id, certificate_id=cert.id, reason="Refund please",
                                     actor="owner@example.com").stripe_refund_id


def test_a_manual_certificate_is_voided_without_any_refund(shop, stripe_env):
    with db.write_session(shop["url"]) as s:
        from tests.factories import make_certificate
        manual = make_certificate(s, s.get(Workspace, shop["ws"].id))
    cert = checkout.void_with_refund(workspace_id=shop["ws"].id, certificate_id=manual.id, reason="Typo",
                                     actor="owner@example.com")
    assert cert.status == "voided" and cert.stripe_refund_id is None


def test_without_stripe_keys_no_certificate_is_left_behind(shop, stripe_env, monkeypatch):
    monkeypatch.delenv("STRIPE_SECRET_KEY")
    result = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                          card=card(stripe_env))
    assert result.status == "error"
    with db.read_session(shop["url"]) as s:
        active = s.execute(sa.select(sa.func.count()).select_from(Certificate)
                           .where(Certificate.status == "active")).scalar_one()
    assert active == 0
