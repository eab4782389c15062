"""POST /webhooks/stripe: verified on the raw body, each event acted on once.

Security notes: "verify the signature on the raw body with a 300 s tolerance, store processed
event ids uniquely, re-fetch the PaymentIntent before acting". Stripe "sends duplicates and
out of order" and retries for days.
"""

from __future__ import annotations

import json
import threading
import time
import warnings

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from giftcerts import db
from giftcerts.models import Activity, Certificate, StripeEvent
from giftcerts.payments import checkout, gateway, webhooks
from tests.payments.conftest import AUTH_CARD, authenticate, card, event, form, signed


@pytest.fixture
def client(shop):
    return TestClient(Starlette(routes=webhooks.routes()))


@pytest.fixture
def paid_pending(shop, stripe_env):
    """A portal certificate whose payment succeeded at Stripe but that nothing has activated yet
    (the customer closed the tab right after the authentication step)."""
    result = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                          card=card(stripe_env, AUTH_CARD))
    authenticate(stripe_env, result.client_secret)
    assert gateway.retrieve(result.payment_intent_id).status == "succeeded"
    return result


def state(url: str) -> tuple:
    with db.read_session(url) as s:
        certs = s.execute(sa.select(Certificate.id, Certificate.status)).all()
        acts = s.execute(sa.select(sa.func.count()).select_from(Activity)).scalar_one()
        events = s.execute(sa.select(sa.func.count()).select_from(StripeEvent)).scalar_one()
    return sorted(certs), acts, events


def portal_entries(url: str, cert_id: int) -> list[str]:
    with db.read_session(url) as s:
        return list(s.execute(sa.select(Activity.kind).where(Activity.certificate_id == cert_id)
                              .order_by(Activity.id)).scalars())


def test_the_same_event_delivered_20_times_at_once_activates_once(shop, stripe_env, client, paid_pending):
    # Given one signed payment_intent.succeeded event
    body, headers = signed(event(paid_pending.payment_intent_id, event_id="evt_twenty"),
                           stripe_env["STRIPE_WEBHOOK_SECRET"])
    # When Stripe delivers it 20 times concurrently
    barrier = threading.Barrier(20)
    answers = []

    def deliver():
        with TestClient(Starlette(routes=webhooks.routes())) as own:
            barrier.wait()
            answers.append(own.post("/webhooks/stripe", content=body, headers=headers))

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    # Then every delivery is acknowledged, and the certificate was activated exactly once
    assert sorted(r.status_code for r in answers) == [200] * 20
    outcomes = sorted(r.json()["outcome"] for r in answers)
    assert outcomes.count("processed") == 1 and set(outcomes) <= {"processed", "duplicate"}
    with db.read_session(shop["url"]) as s:
        assert s.get(Certificate, paid_pending.certificate_id).status == "active"
    assert portal_entries(shop["url"], paid_pending.certificate_id) == [
        "Created", "Purchased", "Purchased from Portal", "Activated from Portal"]


def test_a_retry_after_the_confirmation_page_changes_nothing(shop, stripe_env, client, paid_pending):
    checkout.settle_from_stripe(paid_pending.payment_intent_id)  # the customer's confirmation came first
    before = state(shop["url"])
    body, headers = signed(event(paid_pending.payment_intent_id, event_id="evt_late"),
                           stripe_env["STRIPE_WEBHOOK_SECRET"])
    assert client.post("/webhooks/stripe", content=body, headers=headers).status_code == 200
    certs, acts, events = state(shop["url"])
    assert (certs, acts) == before[:2] and events == before[2] + 1


@pytest.mark.parametrize("case", ["bad signature", "other secret", "stale timestamp", "future timestamp",
                                  "no signature", "malformed body", "not an event", "tampered body"])
def test_anything_not_signed_and_fresh_is_refused_and_changes_nothing(shop, stripe_env, client, paid_pending, case):
    secret = stripe_env["STRIPE_WEBHOOK_SECRET"]
    payload = event(paid_pending.payment_intent_id, event_id=f"evt_{case.replace(' ', '_')}")
    body, headers = signed(payload, secret)
    if case == "bad signature":
        headers["Stripe-Signature"] = headers["Stripe-Signature"][:-4] + "0000"
    elif case == "other secret":
        body, headers = signed(payload, "whsec_someone_else")
    elif case == "stale timestamp":
        body, headers = signed(payload, secret, at=int(time.time()) - 301)
    elif case == "future timestamp":
        body, headers = signed(payload, secret, at=int(time.time()) + 3600)
    elif case == "no signature":
        headers.pop("Stripe-Signature")
    elif case == "malformed body":
        body, headers = signed(b'{"id": "evt_x", "type": ', secret)
    elif case == "not an event":
        body, headers = signed(json.dumps([1, 2, 3]).encode(), secret)
    elif case == "tampered body":
        body = body.replace(b"evt_", b"evt_X")
    before = state(shop["url"])
    response = client.post("/webhooks/stripe", content=body, headers=headers)
    if case == "future timestamp" and response.status_code == 200:
        pytest.fail("a timestamp an hour ahead was accepted")
    assert response.status_code == 400, (case, response.text)
    assert state(shop["url"]) == before


@pytest.mark.parametrize("nested", [b"[" * 100_000, b'{"a":' * 100_000,
                                    b"[" * 50_000 + b"]" * 50_000,
                                    b'{"id": "evt_deep", "type": "payment_intent.succeeded", "data": {"object": '
                                    b'{"id": "pi_x", "metadata": ' + b"[" * 40 + b"]" * 40 + b"}}}"])
def test_a_deeply_nested_body_with_a_valid_signature_is_refused_not_a_500(shop, stripe_env, client, nested):
    before = state(shop["url"])
    body, headers = signed(nested, stripe_env["STRIPE_WEBHOOK_SECRET"])
    response = client.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_event"
    assert state(shop["url"]) == before


def test_an_oversized_body_is_413_with_the_usual_error_shape(shop, stripe_env, client):
    body, headers = signed(b'{"id": "evt_big", "pad": "' + b"x" * (webhooks.MAX_BODY + 1) + b'"}',
                           stripe_env["STRIPE_WEBHOOK_SECRET"])
    response = client.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_an_event_for_an_unknown_payment_intent_is_acknowledged_and_ignored(shop, stripe_env, client):
    before = state(shop["url"])
    body, headers = signed(event("pi_not_ours_at_all", event_id="evt_unknown"), stripe_env["STRIPE_WEBHOOK_SECRET"])
    response = client.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    certs, acts, _ = state(shop["url"])
    assert (certs, acts) == before[:2]


def test_the_event_is_never_trusted_over_stripe(shop, stripe_env, client):
    # A correctly signed "succeeded" event for a payment that Stripe says is not paid activates nothing.
    pending = checkout.pay(slug="alpine", form=form(certificate_type=str(shop["open"].id)), market="",
                           card=card(stripe_env, AUTH_CARD))
    body, headers = signed(event(pending.payment_intent_id, event_id="evt_lie"), stripe_env["STRIPE_WEBHOOK_SECRET"])
    assert client.post("/webhooks/stripe", content=body, headers=headers).status_code == 200
    with db.read_session(shop["url"]) as s:
        assert s.get(Certificate, pending.certificate_id).status == "pending"


def test_only_post_is_accepted(client):
    assert client.get("/webhooks/stripe").status_code == 405


def test_a_payment_that_does_not_match_is_acknowledged_but_activates_nothing(shop, stripe_env, client, paid_pending):
    # Given a paid PaymentIntent whose certificate says another amount (never what the server created)
    with db.write_session(shop["url"]) as s:
        s.execute(sa.update(Certificate).where(Certificate.id == paid_pending.certificate_id)
                  .values(amount_cents=99900))
    body, headers = signed(event(paid_pending.payment_intent_id, event_id="evt_mismatch"),
                           stripe_env["STRIPE_WEBHOOK_SECRET"])
    response = client.post("/webhooks/stripe", content=body, headers=headers)
    # Then Stripe is told to stop retrying, and the certificate stays Pending
    assert response.status_code == 200 and response.json()["outcome"] == "mismatch"
    with db.read_session(shop["url"]) as s:
        assert s.get(Certificate, paid_pending.certificate_id).status == "pending"
