"""The certificate lifecycle: one state machine, every transition logged.

    Pending -> Active (payment or staff) -> Redeemed | Voided | Expired
    Pending -> Voided (an unpaid sale cancelled)
    Voided  -> Active (reactivate; refused when it expired meanwhile)
    Redeemed -> Active | Expired (the redemption is released because the booking was cancelled)
    Active | Pending -> Refunding -> Voided | back to Active | Pending
        (a portal sale voided with a card refund: out of circulation while Stripe is asked,
        committed before the call; Voided with the refund, or back as it was if Stripe refused)

Every transition is a conditional UPDATE (`... WHERE status IN (allowed)`), so two
staff members, tabs or API clients racing on one certificate cannot both win, and
exactly one activity entry is written for the change that happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from giftcerts.clock import format_date, utcnow
from giftcerts.core import activity, expiry, money, outbox
from giftcerts.core.activity import ActivityKind
from giftcerts.core.codes import format_code, generate_code
from giftcerts.core.scoped import get_in_workspace
from giftcerts.core.errors import CertificateExpired, InvalidTransition, ValidationError
from giftcerts.core.validation import REASON_MAX, clean_email, clean_message, clean_name, clean_text
from giftcerts.models import Certificate, CertificateSource, CertificateStatus, Workspace

S = CertificateStatus

ALLOWED: dict[CertificateStatus, frozenset[CertificateStatus]] = {
    S.PENDING: frozenset({S.ACTIVE, S.VOIDED, S.REFUNDING}),
    S.ACTIVE: frozenset({S.REDEEMED, S.VOIDED, S.EXPIRED, S.REFUNDING}),
    S.VOIDED: frozenset({S.ACTIVE}),
    S.REDEEMED: frozenset({S.ACTIVE, S.EXPIRED}),  # released: booking cancelled before travel
    S.EXPIRED: frozenset(),
    S.REFUNDING: frozenset({S.VOIDED, S.ACTIVE, S.PENDING}),  # refunded, or refused by Stripe: back as it was
}


def can_transition(current: CertificateStatus | str, target: CertificateStatus | str) -> bool:
    return S(target) in ALLOWED[S(current)]


def _from_states(target: CertificateStatus) -> list[str]:
    return [source.value for source, targets in ALLOWED.items() if target in targets]


# States that staff, the API and the clean-up may void directly. A certificate in Refunding is
# voided only by `finish_refund`, with the refund's outcome, never around it.
VOIDABLE = [state for state in _from_states(S.VOIDED) if state != S.REFUNDING.value]


@dataclass(frozen=True)
class CertificateInput:
    purchaser_name: str
    purchaser_email: str
    recipient_name: str
    recipient_email: str
    amount_cents: int
    message: str


def validate_input(
    workspace: Workspace,
    *,
    purchaser_name: str | None,
    purchaser_email: str | None,
    recipient_name: str | None,
    recipient_email: str | None,
    amount: str | int | None,
    message: str | None,
) -> CertificateInput:
    """Check a sale against the workspace's rules; every problem is reported at once."""
    errors: dict[str, str] = {}
    fields = CertificateInput(
        purchaser_name=clean_name(purchaser_name, "purchaser name", errors, "purchaser_name"),
        purchaser_email=clean_email(purchaser_email, "purchaser email", errors, "purchaser_email"),
        recipient_name=clean_name(recipient_name, "recipient name", errors, "recipient_name"),
        recipient_email=clean_email(recipient_email, "recipient email", errors, "recipient_email"),
        amount_cents=_amount(workspace, amount, errors),
        message=clean_message(message, errors),
    )
    if errors:
        raise ValidationError(errors)
    return fields


def _amount(workspace: Workspace, amount: str | int | None, errors: dict[str, str]) -> int:
    try:
        cents = amount if isinstance(amount, int) and not isinstance(amount, bool) else None
        if cents is None:
            cents = money.parse_amount(None if amount is None else str(amount), workspace.currency,
                                       locale=workspace.locale)
        money.check_bounds(
            cents,
            minimum=workspace.min_amount_cents,
            maximum=workspace.max_amount_cents,
            currency=workspace.currency,
        )
        return cents
    except ValidationError as exc:
        errors["amount"] = exc.message
        return 0


def get_certificate(session: Session, *, workspace_id: int, certificate_id: int) -> Certificate:
    """A certificate of this workspace; another workspace's id is simply not found."""
    return get_in_workspace(session, Certificate, workspace_id, certificate_id, not_found="Certificate not found.")


def issue_certificate(
    session: Session,
    workspace: Workspace,
    *,
    purchaser_name: str | None,
    purchaser_email: str | None,
    recipient_name: str | None,
    recipient_email: str | None,
    amount: str | int | None,
    message: str | None = "",
    source: CertificateSource = CertificateSource.MANUAL,
    paid: bool,
    actor: str,
    now: datetime | None = None,
) -> Certificate:
    """Create a certificate: Pending until paid; Active at once when `paid`."""
    now = now or utcnow()
    data = validate_input(
        workspace,
        purchaser_name=purchaser_name,
        purchaser_email=purchaser_email,
        recipient_name=recipient_name,
        recipient_email=recipient_email,
        amount=amount,
        message=message,
    )
    cert = _insert_with_unique_code(
        session,
        lambda code: Certificate(
            workspace_id=workspace.id,
            code=code,
            status=S.PENDING.value,
            amount_cents=data.amount_cents,
            currency=workspace.currency,
            purchaser_name=data.purchaser_name,
            purchaser_email=data.purchaser_email,
            recipient_name=data.recipient_name,
            recipient_email=data.recipient_email,
            message=data.message,
            source=CertificateSource(source).value,
            created_at=now,
        ),
    )
    amount_text = money.format_money(cert.amount_cents, cert.currency)
    activity.record(session, cert, ActivityKind.CREATED, actor=actor, now=now,
                    details=f"{amount_text} for {cert.recipient_name}, {CertificateSource(source).value} sale")
    outbox.on_created(session, cert)  # the "certificate created" actions, in this transaction
    if paid:
        _activate(session, workspace, cert, actor=actor, now=now, kind=ActivityKind.PURCHASED)
    return cert


def _insert_with_unique_code(session: Session, build) -> Certificate:
    """Insert with a fresh random code; on the (1 in 10^18) collision, draw again."""
    for _ in range(5):
        cert = build(generate_code())
        try:
            with session.begin_nested():
                session.add(cert)
                session.flush()
            return cert
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate a unique certificate code")


def mark_paid(
    session: Session, workspace: Workspace, *, certificate_id: int, actor: str, details: str = "",
    now: datetime | None = None,
) -> Certificate:
    """Pending -> Active once payment is confirmed (phone sale paid later, bank transfer...)."""
    cert = get_certificate(session, workspace_id=workspace.id, certificate_id=certificate_id)
    _activate(session, workspace, cert, actor=actor, now=now or utcnow(), kind=ActivityKind.PURCHASED,
              details=details)
    return cert


def _activate(
    session: Session, workspace: Workspace, cert: Certificate, *, actor: str, now: datetime,
    kind: ActivityKind, details: str = "", preceding: tuple[tuple[ActivityKind, str], ...] = (),
) -> None:
    """Pending -> Active: the one place every activation passes (staff, API, portal payment).

    `preceding` entries (e.g. Purchased, Purchased from Portal) are written after the
    transition succeeded and before the entry of `kind`, in the same transaction."""
    expires_at = now + timedelta(days=workspace.expiry_days)
    _transition(session, cert, S.ACTIVE, allowed_from=[S.PENDING.value],
                values={"activated_at": now, "expires_at": expires_at})
    for earlier_kind, earlier_details in preceding:
        activity.record(session, cert, earlier_kind, actor=actor, now=now, details=earlier_details)
    activity.record(session, cert, kind, actor=actor, now=now,
                    details=details or f"Active until {format_date(expires_at, workspace.timezone)}")


def activate_portal_purchase(
    session: Session, workspace: Workspace, cert: Certificate, *, payment_reference: str, actor: str,
    now: datetime | None = None,
) -> Certificate:
    """A portal certificate's card payment succeeded: Pending -> Active, with the seed's entries
    Purchased (payment completed), Purchased from Portal and Activated from Portal.

    Raises InvalidTransition if it is no longer Pending (already activated by the webhook or
    the confirmation that arrived first): callers treat that as done."""
    now = now or utcnow()
    amount_text = money.format_money(cert.amount_cents, cert.currency)
    _activate(session, workspace, cert, actor=actor, now=now, kind=ActivityKind.ACTIVATED_FROM_PORTAL,
              preceding=((ActivityKind.PURCHASED, f"{amount_text} paid by card ({payment_reference})"),
                         (ActivityKind.PURCHASED_FROM_PORTAL,
                          f"Bought by {cert.purchaser_name} <{cert.purchaser_email}>")))
    return cert


def clean_reason(reason: str | None) -> str:
    """The reason a void needs for the record, cleaned; ValidationError when missing or too long."""
    reason_text = clean_text(reason, multiline=True)
    if not reason_text:
        raise ValidationError({"reason": "Enter a reason for voiding this certificate."})
    if len(reason_text) > REASON_MAX:
        raise ValidationError({"reason": f"The reason must be at most {REASON_MAX} characters."})
    return reason_text


def void_certificate(
    session: Session, workspace: Workspace, *, certificate_id: int, reason: str | None, actor: str,
    now: datetime | None = None, refund_id: str | None = None,
) -> Certificate:
    """Cancel a certificate (refund or correction). A reason is required for the record."""
    now = now or utcnow()
    reason_text = clean_reason(reason)
    cert = get_certificate(session, workspace_id=workspace.id, certificate_id=certificate_id)
    _void(session, cert, allowed_from=VOIDABLE, reason_text=reason_text, actor=actor, now=now, refund_id=refund_id)
    return cert


def _void(session: Session, cert: Certificate, *, allowed_from: list[str], reason_text: str, actor: str,
          now: datetime, refund_id: str | None) -> None:
    refund_values = {"stripe_refund_id": refund_id, "refunded_at": now} if refund_id else {}
    _transition(session, cert, S.VOIDED, allowed_from=allowed_from,
                values={"voided_at": now, "void_reason": reason_text, **refund_values})
    refunded = (f" Payment of {money.format_money(cert.amount_cents, cert.currency)} refunded to the card "
                f"(Stripe {refund_id}).") if refund_id else ""
    activity.record(session, cert, ActivityKind.VOIDED, actor=actor, now=now,
                    details=f"Reason: {reason_text}{refunded}")


# --- voiding with a card refund: Refund in progress while Stripe is asked --------------------
#
# Three transactions around one call to Stripe, none of them open during the call:
#   begin_refund   Active | Pending -> Refunding  (committed first: from here no redemption,
#                                                 activation, expiry or reactivation matches)
#   finish_refund  Refunding -> Voided            (Stripe refunded, or nothing had been paid)
#   cancel_refund  Refunding -> Active | Pending  (Stripe refused: nothing was paid back)
# When Stripe's answer is unknown (a crash, a lost response) the certificate stays Refunding:
# voiding it again or the clean-up asks Stripe (same idempotency key, existing refunds found
# first) and finishes it.

def begin_refund(
    session: Session, workspace: Workspace, *, certificate_id: int, reason: str | None, actor: str,
    now: datetime | None = None,
) -> Certificate:
    """Take a certificate out of circulation before its payment is refunded (the void's reason is
    kept for when it is voided). The caller commits this before calling Stripe."""
    now = now or utcnow()
    reason_text = clean_reason(reason)
    cert = get_certificate(session, workspace_id=workspace.id, certificate_id=certificate_id)
    _transition(session, cert, S.REFUNDING, allowed_from=[S.PENDING.value, S.ACTIVE.value],
                values={"refund_requested_at": now, "void_reason": reason_text})
    doing = ("the card payment is being refunded through Stripe" if cert.activated_at is not None else
             "the checkout is being cancelled at Stripe (and refunded if it was paid)")
    activity.record(session, cert, ActivityKind.REFUND_STARTED, actor=actor, now=now,
                    details=f"Reason: {reason_text}. Voiding: {doing}; the certificate cannot be used meanwhile.")
    return cert


def finish_refund(
    session: Session, workspace: Workspace, *, certificate_id: int, refund_id: str | None, actor: str,
    now: datetime | None = None,
) -> Certificate:
    """Refunding -> Voided once Stripe has answered: with the refund's id, or None when nothing
    had been paid (an unfinished checkout, cancelled at Stripe)."""
    now = now or utcnow()
    cert = get_certificate(session, workspace_id=workspace.id, certificate_id=certificate_id)
    _void(session, cert, allowed_from=[S.REFUNDING.value], reason_text=cert.void_reason or "Refunded",
          actor=actor, now=now, refund_id=refund_id)
    return cert


def cancel_refund(
    session: Session, workspace: Workspace, *, certificate_id: int, reason: str, actor: str,
    now: datetime | None = None,
) -> Certificate:
    """Refunding -> Active (Pending if it was never paid): Stripe refused the refund, so nothing
    was paid back and the certificate returns to circulation as it was; `reason` says why."""
    now = now or utcnow()
    cert = get_certificate(session, workspace_id=workspace.id, certificate_id=certificate_id)
    target = S.ACTIVE if cert.activated_at is not None else S.PENDING
    _transition(session, cert, target, allowed_from=[S.REFUNDING.value],
                values={"refund_requested_at": None, "void_reason": None})
    activity.record(session, cert, ActivityKind.REFUND_FAILED, actor=actor, now=now,
                    details=f"{reason} The certificate was not voided and is {target.label} again.")
    return cert


def record_refund(
    session: Session, workspace: Workspace, *, certificate_id: int, refund_id: str, actor: str, details: str,
    now: datetime | None = None,
) -> Certificate:
    """Keep a refund on record when the certificate could not be voided with it (it was changed
    meanwhile): not a status change, but never a refund without a trace. A refunded certificate
    cannot be reactivated."""
    now = now or utcnow()
    cert = get_certificate(session, workspace_id=workspace.id, certificate_id=certificate_id)
    session.execute(
        sa.update(Certificate)
        .where(Certificate.id == cert.id, Certificate.stripe_refund_id.is_(None))
        .values(stripe_refund_id=refund_id, refunded_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(cert)
    activity.record(session, cert, ActivityKind.REFUNDED, actor=actor, now=now, details=details)
    return cert


def reactivate_certificate(
    session: Session, workspace: Workspace, *, certificate_id: int, actor: str, now: datetime | None = None,
) -> Certificate:
    """Restore a voided certificate, unless it has expired in the meantime or was never paid."""
    now = now or utcnow()
    cert = get_certificate(session, workspace_id=workspace.id, certificate_id=certificate_id)
    if cert.status != S.VOIDED.value:
        raise InvalidTransition(f"Only a voided certificate can be reactivated; this one {_is(cert)}.")
    if cert.activated_at is None:
        raise InvalidTransition("This certificate was voided before it was paid, so there is nothing to restore. "
                                "Create a new certificate instead.")
    if cert.refunded_at is not None:
        raise InvalidTransition("This certificate's payment was refunded when it was voided, so it cannot be "
                                "reactivated. Create a new certificate instead.")
    if cert.expires_at is not None and cert.expires_at <= now:
        raise CertificateExpired(
            f"This certificate expired on {format_date(cert.expires_at, workspace.timezone)} "
            "while it was voided, so it cannot be reactivated."
        )
    _transition(session, cert, S.ACTIVE, allowed_from=[S.VOIDED.value],
                values={"voided_at": None, "void_reason": None},
                extra_where=[sa.or_(Certificate.expires_at.is_(None), Certificate.expires_at > now)])
    activity.record(session, cert, ActivityKind.REACTIVATED, actor=actor, now=now)
    return cert


def expire_certificate(
    session: Session, workspace: Workspace, *, certificate_id: int, now: datetime | None = None,
) -> Certificate:
    """Active -> Expired once `expires_at` has passed (the sweep calls this)."""
    now = now or utcnow()
    cert = get_certificate(session, workspace_id=workspace.id, certificate_id=certificate_id)
    if cert.expires_at is None or cert.expires_at > now:
        raise InvalidTransition("This certificate has not reached its expiry date yet.")
    _transition(session, cert, S.EXPIRED, allowed_from=[S.ACTIVE.value], values={},
                extra_where=[Certificate.expires_at <= now])
    activity.record(session, cert, ActivityKind.EXPIRED, actor=activity.SYSTEM_ACTOR, now=now,
                    details=f"Expired on {format_date(cert.expires_at, workspace.timezone)}")
    return cert


def _transition(
    session: Session,
    cert: Certificate,
    target: CertificateStatus,
    *,
    allowed_from: list[str],
    values: dict,
    extra_where: list | None = None,
) -> None:
    """Move `cert` to `target` only if it is still in an allowed state (checked by the database)."""
    if cert.status not in allowed_from:
        raise InvalidTransition(_refusal(cert, target))
    result = session.execute(
        sa.update(Certificate)
        .where(Certificate.id == cert.id, Certificate.status.in_(allowed_from), *(extra_where or []))
        .values(status=target.value, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(cert)
        raise InvalidTransition(_refusal(cert, target))
    previous = cert.status
    session.refresh(cert)
    outbox.on_transition(session, cert, previous, target)  # PDF and action emails, in this transaction


def _refusal(cert: Certificate, target: CertificateStatus) -> str:
    verb = {S.ACTIVE: "activated", S.VOIDED: "voided", S.REDEEMED: "redeemed", S.EXPIRED: "expired",
            S.REFUNDING: "voided"}.get(target, target.value)
    return f"This certificate {_is(cert)} and cannot be {verb}."


def _is(cert: Certificate) -> str:
    status = S(cert.status)
    return "is being refunded" if status is S.REFUNDING else f"is {status.label}"


def describe(cert: Certificate) -> str:
    return f"{format_code(cert.code)} ({money.format_money(cert.amount_cents, cert.currency)})"


def expire_due(session: Session, *, now: datetime | None = None, batch_size: int = 500) -> int:
    """Move one batch of Active certificates past their expiry date to Expired (the periodic
    sweep; set-based, idempotent, safe with several sweepers: see giftcerts.core.expiry)."""
    return expiry.expire_due(session, now=now, batch_size=batch_size)
