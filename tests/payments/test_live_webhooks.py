"""Stripe webhooks over real HTTP against the app in production mode (the `app_server` fixture),
with localstripe delivering its own signed events to /webhooks/stripe."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import sqlalchemy as sa

from giftcerts import db
from giftcerts.models import Activity, Certificate, CertificateType
from giftcerts.payments import checkout
from tests.payments.conftest import AUTH_CARD, authenticate, card, event, form, signed


@pytest.fixture
def live(app_server, monkeypatch):
    for key, value in app_server["stripe"].items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("REFLEX_DB_URL", app_server["db_url"])
    return app_server


def _authenticated_checkout(live) -> checkout.CheckoutResult:
    """A demo-portal purchase whose customer completed 3-D Secure and then closed the tab."""
    with db.read_session(live["db_url"]) as s:
        type_id = s.execute(sa.select(CertificateType.id).where(CertificateType.name == "Travel credit")).scalar_one()
    result = checkout.pay(slug="demo", form=form(certificate_type=str(type_id)), market="",
                          card=card(live["stripe"], AUTH_CARD), url=live["db_url"])
    assert result.status == "requires_action"
    authenticate(live["stripe"], result.client_secret)
    return result


def _entries(live, cert_id: int) -> list[tuple[str, str]]:
    with db.read_session(live["db_url"]) as s:
        return [tuple(r) for r in s.execute(sa.select(Activity.kind, Activity.actor)
                                            .where(Activity.certificate_id == cert_id).order_by(Activity.id))]


def test_localstripes_own_webhook_activates_a_paid_certificate(live):
    result = _authenticated_checkout(live)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with db.read_session(live["db_url"]) as s:
            if s.get(Certificate, result.certificate_id).status == "active":
                break
        time.sleep(0.25)
    entries = _entries(live, result.certificate_id)
    # (the app's worker may already have sent the activation's two emails: once each at most)
    lifecycle = [(k, actor) for k, actor in entries if k != "Sent"]
    assert [k for k, _ in lifecycle] == [
        "Created", "Purchased", "Purchased from Portal", "Activated from Portal"]
    assert lifecycle[-1][1] == "Stripe webhook"
    assert [k for k, _ in entries].count("Sent") <= 2


def test_20_concurrent_deliveries_of_one_signed_event_activate_once(live):
    result = _authenticated_checkout(live)
    body, headers = signed(event(result.payment_intent_id, event_id=f"evt_live_{result.certificate_id}"),
                           live["stripe"]["STRIPE_WEBHOOK_SECRET"])

    async def main():
        async def one():
            async with httpx.AsyncClient(base_url=live["base"], timeout=30) as client:
                return await client.post("/webhooks/stripe", content=body, headers=headers)
        return await asyncio.gather(*[one() for _ in range(20)])

    answers = asyncio.run(main())
    assert [r.status_code for r in answers] == [200] * 20
    outcomes = sorted(r.json()["outcome"] for r in answers)
    assert outcomes == ["duplicate"] * 19 + ["processed"]
    time.sleep(1.5)  # localstripe's own delivery of the same payment arrives too
    kinds = [k for k, _ in _entries(live, result.certificate_id)]
    # (the app's worker may already have sent the activation's two emails: once each at most)
    assert [k for k in kinds if k != "Sent"] == ["Created", "Purchased", "Purchased from Portal",
                                                 "Activated from Portal"]
    assert kinds.count("Sent") <= 2


@pytest.mark.parametrize("headers", [{}, {"Stripe-Signature": "t=1,v1=00"}])
def test_unsigned_events_are_refused_over_http(live, headers):
    r = httpx.post(live["base"] + "/webhooks/stripe", content=b'{"id": "evt_x"}', headers=headers, timeout=10)
    assert r.status_code == 400
