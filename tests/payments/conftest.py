"""Payments against localstripe (the session fixture `localstripe` in tests/conftest.py), once
on SQLite and once on PostgreSQL; portal purchases go through the same functions the portal
page calls."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest

from giftcerts import db, ratelimit
from giftcerts.core import certificate_types, segments
from giftcerts.models import Certificate, Workspace
from giftcerts.payments.gateway import CardReference
from tests.factories import make_workspace

OK_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"
AUTH_CARD = "4000002500003155"


@pytest.fixture
def stripe_env(localstripe, monkeypatch):
    for key, value in localstripe.items():
        monkeypatch.setenv(key, value)
    return localstripe


@pytest.fixture
def shop(db_url, stripe_env, monkeypatch):
    """A tour operator selling an open type and one reserved for a partner group, on its portal."""
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    ratelimit.reset()
    with db.write_session(db_url) as s:
        ws = make_workspace(s, slug="alpine")
        partners = segments.save_segment(s, ws, name="Partners", kind="customer_group",
                                         members_text="partner.example")
        open_type = certificate_types.save_type(s, ws, name="Travel credit", preset_amounts="50, 100")
        partner_type = certificate_types.save_type(s, ws, name="Partner credit", segment_ids=[partners.id])
    return {"url": db_url, "ws": ws, "open": open_type, "partner": partner_type}


def card(stripe_env, number: str = OK_CARD) -> CardReference:
    """What Stripe.js createToken gives the browser, made the same way localstripe's Stripe.js does."""
    r = httpx.post(stripe_env["STRIPE_API_BASE"] + "/v1/tokens", timeout=10,
                   data={"card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2034",
                         "card[cvc]": "123", "key": stripe_env["STRIPE_PUBLISHABLE_KEY"]})
    r.raise_for_status()
    return CardReference(token_id=r.json()["id"], card_id=r.json()["card"]["id"])


def authenticate(stripe_env, client_secret: str, success: bool = True) -> None:
    """What localstripe's Stripe.js does when the customer completes the 3-D Secure step."""
    pi = client_secret.split("_secret_")[0]
    r = httpx.post(f"{stripe_env['STRIPE_API_BASE']}/v1/payment_intents/{pi}/_authenticate?success="
                   f"{'true' if success else 'false'}", timeout=10,
                   json={"key": stripe_env["STRIPE_PUBLISHABLE_KEY"], "client_secret": client_secret})
    r.raise_for_status()


def form(**overrides) -> dict:
    values = {"purchaser_name": "Pat Buyer", "purchaser_email": "pat@example.com", "recipient_name": "Robin",
              "recipient_email": "robin@example.com", "amount": "100", "message": "Enjoy!"}
    values.update(overrides)
    return values


def signed(payload: dict | bytes, secret: str, *, at: int | None = None) -> tuple[bytes, dict]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    t = int(time.time()) if at is None else at
    sig = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={t},v1={sig}", "Content-Type": "application/json"}


def event(pi_id: str, *, event_id: str = "evt_test_1", kind: str = "payment_intent.succeeded") -> dict:
    return {"id": event_id, "object": "event", "type": kind, "created": int(time.time()),
            "api_version": "2017-08-15", "data": {"object": {"id": pi_id, "object": "payment_intent"}}}


def certificates(url: str, ws: Workspace) -> list[Certificate]:
    from sqlmodel import select

    with db.read_session(url) as s:
        return list(s.exec(select(Certificate).where(Certificate.workspace_id == ws.id).order_by(Certificate.id)))
