"""Purchases on the public portal: what may be bought, the Pending certificate, and its
activation once the card payment succeeded.

The amount and currency charged always come from here (the workspace, the type and the
validated form), never from the browser. Activation goes through lifecycle's single
activation point and happens exactly once, whichever arrives first: Stripe's webhook, the
synchronous confirmation, or the clean-up of abandoned checkouts. Card payments themselves
are made by giftcerts.payments.checkout, which calls these functions around each Stripe call.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from giftcerts.clock import utcnow
from giftcerts.core import certificate_types, lifecycle, money, segments, workspaces
from giftcerts.core.errors import DomainError, InvalidTransition, NotFound, ValidationError
from giftcerts.core.lifecycle import CertificateInput
from giftcerts.core.segments import Visitor
from giftcerts.core.tokens import hash_token
from giftcerts.models import Certificate, CertificateSource, CertificateStatus, CertificateType, StripeEvent, Workspace

log = logging.getLogger(__name__)
S = CertificateStatus
PORTAL_ACTOR = "portal checkout"
WEBHOOK_ACTOR = "Stripe webhook"
CLEANUP_ACTOR = "system"


class PortalUnavailable(DomainError):
    code = "portal_disabled"

    def __init__(self, message: str = "Gift certificates are not on sale here at the moment."):
        super().__init__(message)


class PaymentMismatch(DomainError):
    """A payment whose amount, currency or certificate does not match ours: never activates."""

    code = "payment_mismatch"


@dataclass(frozen=True)
class PurchaseRequest:
    fields: CertificateInput
    certificate_type_id: int | None
    type_name: str
    market: str

    @property
    def amount_cents(self) -> int:
        return self.fields.amount_cents


def portal_workspace(session: Session, slug: str | None) -> Workspace:
    ws = workspaces.find_workspace(session, (slug or "").strip().lower()[:63]) if slug else None
    if ws is None:
        raise NotFound("There is no gift certificate shop at this address.")
    return ws


def validate_purchase(
    session: Session, workspace: Workspace, *, certificate_type_id=None, amount: str | int | None,
    purchaser_name: str | None, purchaser_email: str | None, recipient_name: str | None,
    recipient_email: str | None, message: str | None = "", market: str | None = "",
) -> PurchaseRequest:
    """Everything the server checks before any money moves (the page checks the same things
    for convenience; this is the check that counts)."""
    if not workspace.portal_enabled:
        raise PortalUnavailable()
    offered = certificate_types.list_types(session, workspace.id, active_only=True)
    errors: dict[str, str] = {}
    try:
        fields = lifecycle.validate_input(
            workspace, purchaser_name=purchaser_name, purchaser_email=purchaser_email,
            recipient_name=recipient_name, recipient_email=recipient_email, amount=amount, message=message)
    except ValidationError as exc:
        errors = dict(exc.errors)
        fields = None
    ctype: CertificateType | None = None
    market_code = segments.normalize_market(market)
    if offered:
        if certificate_type_id in (None, "", 0, "0"):
            errors.setdefault("certificate_type", "Choose a gift certificate.")
        elif "purchaser_email" not in errors:
            email = fields.purchaser_email if fields else (purchaser_email or "")
            ctype = certificate_types.check_can_buy(session, workspace, certificate_type_id,
                                                    Visitor(email=email, market=market_code))
    elif certificate_type_id not in (None, "", 0, "0"):
        raise certificate_types.NotEligible(
            "This certificate is not available. Please choose one of the certificates shown.")
    if ctype is not None and "amount" not in errors and fields is not None:
        low, high = certificate_types.bounds(workspace, ctype)
        try:
            money.check_bounds(fields.amount_cents, minimum=low, maximum=high, currency=workspace.currency)
        except ValidationError as exc:
            errors["amount"] = f"{exc.message[:-1]} for {ctype.name}."
    if errors:
        raise ValidationError(errors)
    return PurchaseRequest(fields=fields, certificate_type_id=ctype.id if ctype else None,
                           type_name=ctype.name if ctype else "", market=market_code)


def create_pending(session: Session, workspace: Workspace, request: PurchaseRequest, *,
                   now: datetime | None = None) -> tuple[Certificate, str]:
    """The Pending certificate for a checkout, and the secret of its confirmation link."""
    f = request.fields
    cert = lifecycle.issue_certificate(
        session, workspace, purchaser_name=f.purchaser_name, purchaser_email=f.purchaser_email,
        recipient_name=f.recipient_name, recipient_email=f.recipient_email, amount=f.amount_cents,
        message=f.message, source=CertificateSource.PORTAL, paid=False, actor=f.purchaser_email, now=now)
    token = secrets.token_urlsafe(24)
    cert.certificate_type_id = request.certificate_type_id
    cert.portal_token_hash = hash_token(token)
    session.add(cert)
    session.flush()
    return cert, token


def attach_payment_intent(session: Session, *, certificate_id: int, payment_intent_id: str) -> None:
    session.execute(sa.update(Certificate).where(Certificate.id == certificate_id,
                                                 Certificate.stripe_payment_intent_id.is_(None))
                    .values(stripe_payment_intent_id=payment_intent_id)
                    .execution_options(synchronize_session=False))


def certificate_for_intent(session: Session, payment_intent_id: str) -> Certificate | None:
    if not payment_intent_id:
        return None
    return session.exec(select(Certificate).where(Certificate.stripe_payment_intent_id == payment_intent_id)).first()


def settle_succeeded(
    session: Session, *, payment_intent_id: str, amount: int, currency: str, metadata: dict, actor: str,
    now: datetime | None = None,
) -> Certificate | None:
    """The PaymentIntent succeeded (as re-read from Stripe): activate its certificate, once.

    Returns None for a PaymentIntent that is not ours. Idempotent: an already active
    certificate is returned unchanged, and of two racing callers only one activates
    (lifecycle's conditional update), so one set of activity entries is written."""
    cert = certificate_for_intent(session, payment_intent_id)
    if cert is None:
        return None
    if (int(amount) != cert.amount_cents or (currency or "").upper() != cert.currency
            or str((metadata or {}).get("certificate_id", "")) != str(cert.id)):
        log.error("PaymentIntent %s does not match certificate %s; not activated", payment_intent_id, cert.id)
        raise PaymentMismatch("This payment does not match the certificate it names.")
    if cert.status != S.PENDING.value:
        if cert.status == S.VOIDED.value and cert.activated_at is None:
            log.error("PaymentIntent %s succeeded for certificate %s, which was already cancelled",
                      payment_intent_id, cert.id)
        return cert
    ws = session.get(Workspace, cert.workspace_id)
    try:
        lifecycle.activate_portal_purchase(session, ws, cert, payment_reference=f"Stripe {payment_intent_id}",
                                           actor=actor, now=now)
    except InvalidTransition:
        session.refresh(cert)  # someone else activated it first: that is the one activation
    return cert


def record_event(session: Session, *, event_id: str, event_type: str, now: datetime | None = None) -> bool:
    """Remember a Stripe event id; False if it was processed before (or is being processed now)."""
    try:
        with session.begin_nested():
            session.add(StripeEvent(event_id=event_id, type=event_type, received_at=now or utcnow()))
            session.flush()
        return True
    except IntegrityError:
        return False


def event_seen(session: Session, event_id: str) -> bool:
    return session.exec(select(StripeEvent.id).where(StripeEvent.event_id == event_id)).first() is not None


def cancel_unpaid(session: Session, *, certificate_id: int, reason: str, actor: str = CLEANUP_ACTOR,
                  now: datetime | None = None) -> Certificate | None:
    """Cancel a portal certificate whose payment did not complete (declined, abandoned).

    Only a Pending certificate is touched; one paid meanwhile is left alone (returns None)."""
    cert = session.get(Certificate, certificate_id)
    if cert is None or cert.status != S.PENDING.value:
        return None
    ws = session.get(Workspace, cert.workspace_id)
    try:
        return lifecycle.void_certificate(session, ws, certificate_id=cert.id, reason=reason, actor=actor, now=now)
    except InvalidTransition:
        return None


def confirmation(session: Session, *, slug: str, token: str) -> tuple[Workspace, Certificate]:
    """The purchaser's certificate for a confirmation link; the same not-found for anything else."""
    not_found = NotFound("This confirmation link is not valid.")
    if not token or len(token) > 100:
        raise not_found
    cert = session.exec(select(Certificate).where(Certificate.portal_token_hash == hash_token(token))).first()
    ws = session.get(Workspace, cert.workspace_id) if cert else None
    if cert is None or ws is None or ws.slug != (slug or "").lower():
        raise not_found
    return ws, cert


def abandoned(session: Session, *, now: datetime | None = None, older_than: timedelta,
              limit: int = 200) -> list[Certificate]:
    """Pending portal certificates created more than `older_than` ago: checkouts nobody finished."""
    cutoff = (now or utcnow()) - older_than
    return list(session.exec(
        select(Certificate).where(Certificate.status == S.PENDING.value,
                                  Certificate.source == CertificateSource.PORTAL.value,
                                  Certificate.portal_token_hash.is_not(None),
                                  Certificate.created_at < cutoff)
        .order_by(Certificate.created_at).limit(limit)))


def refunds_in_progress(session: Session, *, now: datetime | None = None, older_than: timedelta,
                        limit: int = 200) -> list[Certificate]:
    """Certificates taken out of circulation for a refund more than `older_than` ago and still
    waiting for Stripe's answer: the void's process died or never heard back."""
    cutoff = (now or utcnow()) - older_than
    return list(session.exec(
        select(Certificate).where(Certificate.status == S.REFUNDING.value,
                                  Certificate.refund_requested_at < cutoff)
        .order_by(Certificate.refund_requested_at).limit(limit)))


def type_label(session: Session, cert: Certificate) -> str:
    if cert.certificate_type_id is None:
        return ""
    ctype = session.get(CertificateType, cert.certificate_type_id)
    return ctype.name if ctype else ""

