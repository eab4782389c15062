"""The one place that talks to Stripe.

The same code runs against real Stripe and against localstripe (a fake Stripe server for
development and tests). Configuration comes from the environment at call time:

  STRIPE_SECRET_KEY        sk_test_... / sk_live_...   (no key: card payments are off)
  STRIPE_PUBLISHABLE_KEY   pk_...                       (given to Stripe.js in the browser)
  STRIPE_WEBHOOK_SECRET    whsec_...                    (verifies /webhooks/stripe)
  STRIPE_API_BASE          http://localhost:8420        (set only for localstripe)
  STRIPE_JS_URL            Stripe.js (default https://js.stripe.com/v3/)

Their single difference for our flow is hidden in `charge_card`: the browser hands us a card
token; real Stripe turns it into a payment method with `payment_method_data`, localstripe
refuses that and takes the token's card id as `payment_method`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import stripe

from giftcerts import jsonbody

DEFAULT_JS_URL = "https://js.stripe.com/v3/"
WEBHOOK_TOLERANCE_SECONDS = 300
MAX_WEBHOOK_BODY = 512 * 1024  # Stripe's events are a few KB
EVENTS = ["payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled"]


class PaymentsNotConfigured(Exception):
    pass


class PaymentFailed(Exception):
    """Stripe refused: `message` is Stripe's own wording, safe to show to the customer."""

    def __init__(self, message: str, *, code: str | None = None, payment_intent_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.payment_intent_id = payment_intent_id


class GatewayError(Exception):
    """Stripe could not be reached or answered with an error that is not the card's fault."""


class RefundUncertain(GatewayError):
    """A refund was sent to Stripe but no answer came back (connection lost, Stripe's own error,
    a concurrent request with the same idempotency key): it may have been made. Only asking
    Stripe again (same idempotency key, existing refunds looked up first) tells."""


@dataclass(frozen=True)
class StripeSettings:
    secret_key: str
    publishable_key: str
    webhook_secret: str
    api_base: str
    js_url: str

    @property
    def enabled(self) -> bool:
        return bool(self.secret_key and self.publishable_key)

    @property
    def local(self) -> bool:
        """localstripe (any API base other than Stripe's own)."""
        return bool(self.api_base) and "api.stripe.com" not in self.api_base


def settings() -> StripeSettings:
    env = os.environ
    return StripeSettings(
        secret_key=env.get("STRIPE_SECRET_KEY", "").strip(),
        publishable_key=env.get("STRIPE_PUBLISHABLE_KEY", "").strip(),
        webhook_secret=env.get("STRIPE_WEBHOOK_SECRET", "").strip(),
        api_base=env.get("STRIPE_API_BASE", "").strip().rstrip("/"),
        js_url=env.get("STRIPE_JS_URL", "").strip() or DEFAULT_JS_URL,
    )


@dataclass(frozen=True)
class CardReference:
    """What Stripe.js `createToken` returned in the browser: the token and its card's id."""

    token_id: str
    card_id: str


@dataclass(frozen=True)
class Intent:
    id: str
    status: str  # succeeded | requires_action | processing | requires_payment_method | canceled | ...
    amount: int
    currency: str
    client_secret: str
    metadata: dict
    error_message: str = ""


def _client(conf: StripeSettings | None = None) -> stripe.StripeClient:
    conf = conf or settings()
    if not conf.secret_key:
        raise PaymentsNotConfigured("Card payments are not configured (STRIPE_SECRET_KEY is not set).")
    kwargs = {"base_addresses": {"api": conf.api_base}} if conf.api_base else {}
    return stripe.StripeClient(conf.secret_key, max_network_retries=2, **kwargs)


def _plain(obj) -> dict:
    if obj is None:
        return {}
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _intent(pi) -> Intent:
    data = _plain(pi)
    error = data.get("last_payment_error") or {}
    return Intent(id=data["id"], status=data["status"], amount=int(data["amount"]),
                  currency=str(data["currency"]).upper(), client_secret=data.get("client_secret") or "",
                  metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
                  error_message=str(error.get("message") or "") if isinstance(error, dict) else "")


def create_intent(*, amount_cents: int, currency: str, card: CardReference, idempotency_key: str,
                  metadata: dict[str, str], description: str, receipt_email: str | None = None) -> Intent:
    """A PaymentIntent for `amount_cents` in `currency`, paid with the browser's card token, not yet
    confirmed (so its id is stored before any money can move).

    This is the one place where localstripe and Stripe differ: Stripe turns the token into a
    payment method (`payment_method_data`), localstripe takes the token's card id."""
    conf = settings()
    params: dict = {
        "amount": int(amount_cents),
        "currency": currency.lower(),
        "payment_method_types": ["card"],
        "metadata": metadata,
    }
    if conf.local:
        params["payment_method"] = card.card_id
    else:
        params["payment_method_data"] = {"type": "card", "card": {"token": card.token_id}}
        params["description"] = description
        if receipt_email:
            params["receipt_email"] = receipt_email
    try:
        pi = _client(conf).v1.payment_intents.create(params=params, options={"idempotency_key": idempotency_key})
    except stripe.CardError as exc:
        raise PaymentFailed(exc.user_message or "Your card was declined.", code=exc.code) from exc
    except stripe.InvalidRequestError as exc:
        # A token that does not exist or was already used: the customer can simply try again.
        raise PaymentFailed("Your card details could not be used. Please check them and try again.",
                            code=exc.code) from exc
    except stripe.StripeError as exc:
        raise GatewayError(str(exc.user_message or exc)) from exc
    return _intent(pi)


def confirm(payment_intent_id: str, *, idempotency_key: str) -> Intent:
    """Charge the card: succeeded, requires_action (3-D Secure, finished in the browser), or
    PaymentFailed with Stripe's reason (declined)."""
    try:
        pi = _client().v1.payment_intents.confirm(payment_intent_id, options={"idempotency_key": idempotency_key})
    except stripe.CardError as exc:
        raise PaymentFailed(exc.user_message or "Your card was declined.", code=exc.code,
                            payment_intent_id=payment_intent_id) from exc
    except stripe.StripeError as exc:
        raise GatewayError(str(exc.user_message or exc)) from exc
    return _intent(pi)


def retrieve(payment_intent_id: str) -> Intent:
    try:
        return _intent(_client().v1.payment_intents.retrieve(payment_intent_id))
    except stripe.StripeError as exc:
        raise GatewayError(str(exc.user_message or exc)) from exc


def cancel(payment_intent_id: str) -> Intent:
    """Cancel an intent that can no longer be paid (abandoned checkout). Already final: returned as is."""
    client = _client()
    try:
        return _intent(client.v1.payment_intents.cancel(payment_intent_id))
    except stripe.InvalidRequestError:
        return retrieve(payment_intent_id)
    except stripe.StripeError as exc:
        raise GatewayError(str(exc.user_message or exc)) from exc


def refund(payment_intent_id: str, *, idempotency_key: str) -> str:
    """Refund the whole payment; returns the refund id. Refunding twice returns the first refund.

    GatewayError: no refund was made (Stripe was not asked to make one, or refused it).
    RefundUncertain: one was asked for and the answer is unknown; call again to find out."""
    client = _client()
    try:
        existing = client.v1.refunds.list(params={"payment_intent": payment_intent_id, "limit": 10})
    except stripe.StripeError as exc:
        raise GatewayError(str(exc.user_message or exc)) from exc
    for r in existing.data:
        if r.status in ("succeeded", "pending"):
            return r.id
    try:
        created = client.v1.refunds.create(params={"payment_intent": payment_intent_id},
                                           options={"idempotency_key": idempotency_key})
    except (stripe.APIConnectionError, stripe.APIError, stripe.IdempotencyError) as exc:
        raise RefundUncertain(str(exc.user_message or exc)) from exc
    except stripe.StripeError as exc:  # an answer from Stripe refusing it (invalid request, auth, rate limit)
        raise GatewayError(str(exc.user_message or exc)) from exc
    if created.status not in ("succeeded", "pending"):
        raise GatewayError(f"Stripe reports the refund as {created.status}.")
    return created.id


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    object_id: str


def verify_webhook(payload: bytes, signature_header: str | None) -> WebhookEvent:
    """The event, if the raw body is signed with STRIPE_WEBHOOK_SECRET within the tolerance.

    Raises ValueError for anything else: bad or missing signature, stale timestamp, a body
    that is not a Stripe event."""
    secret = settings().webhook_secret
    if not secret:
        raise ValueError("webhook secret not configured")
    if not signature_header:
        raise ValueError("missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(payload, signature_header, secret, WEBHOOK_TOLERANCE_SECONDS)
        # stripe-python only refuses old timestamps; one far in the future is as suspect.
        stamps = [int(p.strip()[2:]) for p in signature_header.split(",") if p.strip().startswith("t=")]
        if not stamps or stamps[0] > time.time() + WEBHOOK_TOLERANCE_SECONDS:
            raise ValueError("timestamp outside the tolerance")
        # a signed body is still bounded: Stripe's signature says who sent it, not that it is sane
        body = jsonbody.loads(payload, max_bytes=MAX_WEBHOOK_BODY)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(str(exc)) from exc
    try:
        event_id, event_type, obj = body["id"], body["type"], body["data"]["object"]
        object_id = obj.get("id") if isinstance(obj, dict) else None
    except (KeyError, TypeError) as exc:
        raise ValueError("not a Stripe event") from exc
    if not (isinstance(event_id, str) and event_id and isinstance(event_type, str) and isinstance(object_id, str)):
        raise ValueError("not a Stripe event")
    return WebhookEvent(id=event_id[:255], type=event_type[:100], object_id=object_id[:255])
