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

Voiding a paid portal certificate (`void_with_refund`) is the same kind of sequence: the
certificate is taken out of circulation (Refund in progress) and committed, then Stripe is
asked for the refund, then it is voided, or put back if Stripe refused. A void whose answer
from Stripe never arrived is finished by voiding again or by `finish_stale_refunds`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import lifecycle, money, purchases
from giftcerts.core.errors import DomainError, InvalidTransition
from giftcerts.core.validation import REASON_MAX
from giftcerts.models import Certificate, CertificateSource, CertificateStatus, Workspace
from giftcerts.payments import gateway
from giftcerts.payments.gateway import CardReference, GatewayError, PaymentFailed

log = logging.getLogger(__name__)
S = CertificateStatus
UNREACHABLE = ("The payment could not be completed right now. You have not been charged for this attempt; "
               "please try again in a moment.")


class RefundFailed(DomainError):
    code = "refund_failed"  # 502 in the API (giftcerts.api.errors.STATUS)


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


def finish_stale_refunds(*, older_than: timedelta, now: datetime | None = None, url: str | None = None) -> dict:
    """Finish voids left in Refund in progress for longer than `older_than` (the void's process
    died while Stripe was asked, or Stripe's answer never came): ask Stripe with the same
    idempotency key, as voiding again would. Refunded (or nothing to refund): Voided with the
    reason staff gave; refused by Stripe: back as it was, with the reason in the log; still no
    answer: left for the next round. Runs with `cleanup_abandoned`, after the same timeout."""
    now = now or utcnow()
    counts = {"voided": 0, "restored": 0, "skipped": 0}
    with db.read_session(url) as session:
        stale = [(c.workspace_id, c.id, c.stripe_payment_intent_id)
                 for c in purchases.refunds_in_progress(session, now=now, older_than=older_than)]
    for ws_id, cert_id, pi_id in stale:
        try:
            _refund_and_void(ws_id, cert_id, pi_id, purchases.CLEANUP_ACTOR, url)
        except DomainError as exc:  # RefundFailed, or settled meanwhile by someone else
            log.warning("clean-up: refund of certificate %s: %s", cert_id, exc.message)
        with db.read_session(url) as session:
            status = session.get(Certificate, cert_id).status
        counts["voided" if status == S.VOIDED.value else "skipped" if status == S.REFUNDING.value
               else "restored"] += 1
    return counts


def void_with_refund(*, workspace_id: int, certificate_id: int, reason: str | None, actor: str,
                     url: str | None = None) -> Certificate:
    """Staff void a certificate; a paid portal certificate's payment is refunded through Stripe.

    The certificate is taken out of circulation first (lifecycle.begin_refund: Refund in
    progress, committed), so no redemption can land while Stripe is asked; then it is voided
    with the refund, or put back as it was if Stripe refused (staff see Stripe's reason). No
    transaction is open during the call. If Stripe's answer is unknown (lost, or a crash), it
    stays Refund in progress: voiding it again (no new reason needed), or `finish_stale_refunds`
    after the timeout, asks Stripe again (same idempotency key, existing refunds found first)
    and finishes."""
    with db.read_session(url) as session:
        cert = lifecycle.get_certificate(session, workspace_id=workspace_id, certificate_id=certificate_id)
    if cert.status == S.REFUNDING.value:
        # A refund left in progress: ask Stripe again and finish, with the reason given when it started.
        return _refund_and_void(workspace_id, cert.id, cert.stripe_payment_intent_id, actor, url)
    text = lifecycle.clean_reason(reason)
    if not (cert.source == CertificateSource.PORTAL.value and cert.stripe_payment_intent_id
            and cert.refunded_at is None and cert.status in (S.ACTIVE.value, S.PENDING.value)):
        with db.write_session(url) as session:
            ws = session.get(Workspace, workspace_id)
            return lifecycle.void_certificate(session, ws, certificate_id=cert.id, reason=text, actor=actor)
    with db.write_session(url) as session:
        ws = session.get(Workspace, workspace_id)
        lifecycle.begin_refund(session, ws, certificate_id=cert.id, reason=text, actor=actor)
    return _refund_and_void(workspace_id, cert.id, cert.stripe_payment_intent_id, actor, url)


def _refund_and_void(workspace_id: int, cert_id: int, pi_id: str, actor: str, url: str | None) -> Certificate:
    """The Stripe half of voiding a certificate in Refund in progress, and its outcome."""
    refund_id = None
    try:
        intent = gateway.retrieve(pi_id)
        if intent.status not in ("succeeded", "canceled", "requires_payment_method"):
            intent = gateway.cancel(pi_id)  # an unfinished checkout: make sure it cannot be paid later
        if intent.status == "succeeded":
            refund_id = gateway.refund(pi_id, idempotency_key=_idempotency(cert_id, "refund"))
    except gateway.RefundUncertain as exc:
        log.warning("refund of certificate %s: no answer from Stripe (%s); left in progress", cert_id, exc)
        raise RefundFailed(f"Stripe did not confirm the refund ({exc}). The certificate stays out of use "
                           "(Refund in progress) until Stripe's answer is known: void it again to finish; "
                           "otherwise the clean-up finishes it.") from exc
    except (GatewayError, gateway.PaymentsNotConfigured) as exc:
        # No refund was made: back in circulation as it was, and the log says why (unless a
        # second void settled it meanwhile).
        try:
            with db.write_session(url) as session:
                ws = session.get(Workspace, workspace_id)
                lifecycle.cancel_refund(session, ws, certificate_id=cert_id, actor=actor,
                                        reason=f"The refund through Stripe failed: {exc}."[:REASON_MAX])
        except InvalidTransition:
            pass
        raise RefundFailed(f"The refund through Stripe failed ({exc}). The certificate was not voided; "
                           "please try again.") from exc
    try:
        with db.write_session(url) as session:
            ws = session.get(Workspace, workspace_id)
            return lifecycle.finish_refund(session, ws, certificate_id=cert_id, refund_id=refund_id, actor=actor)
    except InvalidTransition as exc:
        # Someone else settled it meanwhile (a second void, the clean-up).
        with db.write_session(url) as session:
            ws = session.get(Workspace, workspace_id)
            fresh = lifecycle.get_certificate(session, workspace_id=workspace_id, certificate_id=cert_id)
            if fresh.status == S.VOIDED.value and (refund_id is None or fresh.stripe_refund_id == refund_id):
                return fresh
            if refund_id is None:
                raise
            lifecycle.record_refund(session, ws, certificate_id=cert_id, refund_id=refund_id, actor=actor,
                                    problem=exc.message)
        raise RefundFailed(f"The payment was refunded (Stripe {refund_id}), but the certificate could not be "
                           f"voided: {exc.message}") from exc
