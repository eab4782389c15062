"""Portal checkout and the other payment flows that cross Stripe and the database.

No database transaction is held open across a call to Stripe. The order of steps is what
keeps money and certificates consistent:

  1. the Pending certificate is committed (with its confirmation-link token hash);
  2. a PaymentIntent is created for it, not yet confirmed, and its id committed on the
     certificate: from here on the webhook, the confirmation and the clean-up can all find it;
  3. the PaymentIntent is confirmed (the card is charged);
  4. on success the certificate is activated (core.purchases.settle_succeeded), exactly once
     whichever of the synchronous answer, the browser's return from 3-D Secure or the webhook
     comes first.

A declined card cancels the Pending certificate at once with Stripe's reason. A checkout that
is never finished is resolved by `cleanup_abandoned`, which asks Stripe first, so a payment that
did succeed activates its certificate instead of being cancelled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import activity, lifecycle, money, purchases
from giftcerts.core.activity import ActivityKind
from giftcerts.core.errors import DomainError, InvalidTransition, ValidationError
from giftcerts.core.validation import REASON_MAX, clean_text
from giftcerts.models import Certificate, CertificateSource, CertificateStatus, Workspace
from giftcerts.payments import gateway
from giftcerts.payments.gateway import CardReference, GatewayError, PaymentFailed

log = logging.getLogger(__name__)
S = CertificateStatus
UNREACHABLE = ("The payment could not be completed right now. You have not been charged for this attempt; "
               "please try again in a moment.")


class RefundFailed(DomainError):
    code = "refund_failed"
    http_status = 502


@dataclass(frozen=True)
class CheckoutResult:
    status: str  # succeeded | requires_action | declined | error
    message: str = ""
    certificate_id: int = 0
    payment_intent_id: str = ""
    client_secret: str = ""
    confirmation_token: str = ""


def _idempotency(cert_id: int, step: str) -> str:
    return f"giftcerts-certificate-{cert_id}-{step}"


def pay(*, slug: str, form: dict, market: str, card: CardReference, url: str | None = None) -> CheckoutResult:
    """Validate the purchase on the server, create the Pending certificate and charge the card."""
    with db.write_session(url) as session:
        ws = purchases.portal_workspace(session, slug)
        request = purchases.validate_purchase(
            session, ws, certificate_type_id=form.get("certificate_type"), amount=form.get("amount"),
            purchaser_name=form.get("purchaser_name"), purchaser_email=form.get("purchaser_email"),
            recipient_name=form.get("recipient_name"), recipient_email=form.get("recipient_email"),
            message=form.get("message"), market=market)
        cert, token = purchases.create_pending(session, ws, request)
        cert_id, amount, currency = cert.id, cert.amount_cents, cert.currency
        description = f"{ws.name} gift certificate {money.format_money(amount, currency)}"
        purchaser_email = cert.purchaser_email
    try:
        intent = gateway.create_intent(
            amount_cents=amount, currency=currency, card=card, idempotency_key=_idempotency(cert_id, "intent"),
            metadata={"certificate_id": str(cert_id), "workspace": slug}, description=description,
            receipt_email=purchaser_email)
    except PaymentFailed as exc:
        _cancel(cert_id, f"Card payment failed: {exc.message}", url)
        return CheckoutResult("declined", exc.message, certificate_id=cert_id)
    except (GatewayError, gateway.PaymentsNotConfigured) as exc:
        log.warning("creating a PaymentIntent for certificate %s failed: %s", cert_id, exc)
        _cancel(cert_id, "The payment provider could not be reached; the customer was not charged.", url)
        return CheckoutResult("error", UNREACHABLE, certificate_id=cert_id)
    with db.write_session(url) as session:
        purchases.attach_payment_intent(session, certificate_id=cert_id, payment_intent_id=intent.id)
    try:
        intent = gateway.confirm(intent.id, idempotency_key=_idempotency(cert_id, "confirm"))
    except PaymentFailed as exc:
        _cancel(cert_id, f"Card payment declined: {exc.message}", url)
        return CheckoutResult("declined", exc.message, certificate_id=cert_id, payment_intent_id=intent.id)
    except GatewayError as exc:
        # The charge may or may not have happened: the certificate stays Pending and the webhook
        # or the clean-up (which asks Stripe) settles it.
        log.warning("confirming %s failed: %s", intent.id, exc)
        return CheckoutResult("error", "We could not confirm your payment yet. If you were charged, your "
                              "certificate will be sent to you by email.", certificate_id=cert_id,
                              payment_intent_id=intent.id)
    return _outcome(cert_id, intent, token, url)


def finish(*, certificate_id: int, payment_intent_id: str, confirmation_token: str,
           url: str | None = None) -> CheckoutResult:
    """The browser is back from the card's authentication step: ask Stripe how it went."""
    try:
        intent = gateway.retrieve(payment_intent_id)
    except GatewayError:
        return CheckoutResult("error", "We could not confirm your payment yet. If you were charged, your "
                              "certificate will be sent to you by email.", certificate_id=certificate_id)
    if intent.status == "requires_action":
        intent = gateway.cancel(payment_intent_id)
    return _outcome(certificate_id, intent, confirmation_token, url)


def _outcome(cert_id: int, intent: gateway.Intent, token: str, url: str | None) -> CheckoutResult:
    common = dict(certificate_id=cert_id, payment_intent_id=intent.id, confirmation_token=token)
    if intent.status == "succeeded":
        _settle(intent, purchases.PORTAL_ACTOR, url)
        return CheckoutResult("succeeded", **common)
    if intent.status == "processing":
        return CheckoutResult("succeeded", **common)  # the confirmation page waits for the webhook
    if intent.status == "requires_action":
        return CheckoutResult("requires_action", client_secret=intent.client_secret, **common)
    message = intent.error_message or "The payment was not completed."
    _cancel(cert_id, f"Card payment not completed: {message}", url)
    return CheckoutResult("declined", message, **common)


def _settle(intent: gateway.Intent, actor: str, url: str | None) -> Certificate | None:
    with db.write_session(url) as session:
        return purchases.settle_succeeded(session, payment_intent_id=intent.id, amount=intent.amount,
                                          currency=intent.currency, metadata=intent.metadata, actor=actor)


def _cancel(cert_id: int, reason: str, url: str | None) -> None:
    with db.write_session(url) as session:
        purchases.cancel_unpaid(session, certificate_id=cert_id, reason=reason[:REASON_MAX])


def settle_from_stripe(payment_intent_id: str, *, url: str | None = None) -> Certificate | None:
    """Ask Stripe about a Pending certificate's payment (confirmation page, clean-up)."""
    intent = gateway.retrieve(payment_intent_id)
    if intent.status == "succeeded":
        return _settle(intent, purchases.PORTAL_ACTOR, url)
    return None


def handle_event(event: gateway.WebhookEvent, *, url: str | None = None) -> str:
    """Act on a verified Stripe event once. Returns what happened (for the log and tests)."""
    with db.read_session(url) as session:
        if purchases.event_seen(session, event.id):
            return "duplicate"
        ours = event.type.startswith("payment_intent.") and \
            purchases.certificate_for_intent(session, event.object_id) is not None
    if not ours or event.type != "payment_intent.succeeded":
        with db.write_session(url) as session:
            fresh = purchases.record_event(session, event_id=event.id, event_type=event.type)
        return "ignored" if fresh else "duplicate"
    # Never trust the event's copy: read the PaymentIntent back from Stripe before acting.
    intent = gateway.retrieve(event.object_id)
    with db.write_session(url) as session:
        if not purchases.record_event(session, event_id=event.id, event_type=event.type):
            return "duplicate"
        if intent.status == "succeeded":
            try:
                purchases.settle_succeeded(session, payment_intent_id=intent.id, amount=intent.amount,
                                           currency=intent.currency, metadata=intent.metadata,
                                           actor=purchases.WEBHOOK_ACTOR)
            except purchases.PaymentMismatch:
                return "mismatch"  # logged; acknowledged so that Stripe stops retrying what will never match
    return "processed"


def cleanup_abandoned(*, older_than: timedelta, now: datetime | None = None, url: str | None = None) -> dict:
    """Resolve portal checkouts left Pending for longer than `older_than`.

    Each one's PaymentIntent is read from Stripe first: a payment that succeeded activates the
    certificate (its webhook was lost); one that cannot succeed any more is cancelled at Stripe
    and the certificate voided with an activity entry saying why."""
    now = now or utcnow()
    counts = {"activated": 0, "cancelled": 0, "skipped": 0}
    with db.read_session(url) as session:
        stale = [(c.id, c.stripe_payment_intent_id) for c in purchases.abandoned(session, now=now,
                                                                                 older_than=older_than)]
    minutes = int(older_than.total_seconds() // 60)
    for cert_id, pi_id in stale:
        try:
            if pi_id:
                intent = gateway.retrieve(pi_id)
                if intent.status == "succeeded":
                    _settle(intent, purchases.CLEANUP_ACTOR, url)
                    counts["activated"] += 1
                    continue
                if intent.status == "processing":
                    counts["skipped"] += 1
                    continue
                if intent.status != "canceled":
                    intent = gateway.cancel(pi_id)
                    if intent.status == "succeeded":
                        _settle(intent, purchases.CLEANUP_ACTOR, url)
                        counts["activated"] += 1
                        continue
        except (GatewayError, gateway.PaymentsNotConfigured) as exc:
            log.warning("clean-up: could not check %s with Stripe (%s); trying again later", pi_id, exc)
            counts["skipped"] += 1
            continue
        with db.write_session(url) as session:
            done = purchases.cancel_unpaid(session, certificate_id=cert_id, now=now,
                                           reason=f"Payment not completed within {minutes} minutes of checkout")
        counts["cancelled" if done else "skipped"] += 1
    return counts


def void_with_refund(*, workspace_id: int, certificate_id: int, reason: str | None, actor: str,
                     url: str | None = None) -> Certificate:
    """Staff void a certificate; a paid portal certificate is refunded through Stripe first.

    Refund, then void: if the refund fails nothing changes and staff see Stripe's reason. The
    refund's idempotency key (and a look for an existing refund) makes trying again safe. If the
    void then fails (the certificate changed meanwhile), the refund is recorded in the activity
    log and the error says so: never a silent half-done state."""
    text = clean_text(reason, multiline=True)
    if not text:
        raise ValidationError({"reason": "Enter a reason for voiding this certificate."})
    if len(text) > REASON_MAX:
        raise ValidationError({"reason": f"The reason must be at most {REASON_MAX} characters."})
    with db.read_session(url) as session:
        cert = lifecycle.get_certificate(session, workspace_id=workspace_id, certificate_id=certificate_id)
        ws = session.get(Workspace, workspace_id)
    pi_id = cert.stripe_payment_intent_id
    refund_id = None
    if cert.source == CertificateSource.PORTAL.value and pi_id and cert.refunded_at is None and \
            cert.status in (S.ACTIVE.value, S.PENDING.value):
        if not lifecycle.can_transition(cert.status, S.VOIDED):
            raise InvalidTransition(f"This certificate is {S(cert.status).label} and cannot be voided.")
        try:
            intent = gateway.retrieve(pi_id)
            if intent.status not in ("succeeded", "canceled", "requires_payment_method"):
                intent = gateway.cancel(pi_id)  # an unfinished checkout: make sure it cannot be paid later
            if intent.status == "succeeded":
                refund_id = gateway.refund(pi_id, idempotency_key=_idempotency(cert.id, "refund"))
        except (GatewayError, gateway.PaymentsNotConfigured) as exc:
            raise RefundFailed(f"The refund through Stripe failed ({exc}). The certificate was not voided; "
                               "please try again.") from exc
    try:
        with db.write_session(url) as session:
            ws = session.get(Workspace, workspace_id)
            return lifecycle.void_certificate(session, ws, certificate_id=cert.id, reason=text, actor=actor,
                                              refund_id=refund_id)
    except DomainError as exc:
        if refund_id is None:
            raise
        with db.write_session(url) as session:
            fresh = session.get(Certificate, cert.id)
            fresh.stripe_refund_id, fresh.refunded_at = refund_id, utcnow()
            session.add(fresh)
            activity.record(session, fresh, ActivityKind.REFUNDED, actor=actor,
                            details=f"Payment refunded (Stripe {refund_id}), but the certificate could not be "
                                    f"voided: {exc.message}")
        raise RefundFailed(f"The payment was refunded (Stripe {refund_id}), but the certificate could not be "
                           f"voided: {exc.message}") from exc
