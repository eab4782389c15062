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

This module is the one writer of a certificate's status (tests/test_one_writer.py): each
transition is a `Transition` below, written by `transition` for one certificate and, in
set-based form (`moving`, `entries_from`, `queue_from`), by the expiry sweep and the
redemption's one statement, so every form has the same states, condition, entry and trigger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from giftcerts.clock import format_date, utcnow
from giftcerts.core import activity, money, outbox, rules
from giftcerts.core.activity import ActivityKind
from giftcerts.core.codes import format_code, generate_code
from giftcerts.core.scoped import get_in_workspace
from giftcerts.core.errors import CertificateExpired, InvalidTransition, ValidationError
from giftcerts.core.validation import REASON_MAX, clean_email, clean_message, clean_name, clean_text
from giftcerts.models import Activity, Certificate, CertificateSource, CertificateStatus, Workspace

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

CERTS, ACTIVITIES = Certificate.__table__, Activity.__table__
Entry = tuple  # (kind, params) or (kind, params, actor): a further activity entry of a transition


@dataclass(frozen=True)
class Transition:
    """One transition, defined once for every form it is written in (one certificate through
    `transition`, many through `moving` and `entries_from` in a sweep or the redemption's
    statement): from which states, under which condition (SQL over the certificates table and
    the `now` parameter), the columns it stamps with `now` or clears, its activity entry's
    kind, and the outbox trigger it fires (from outbox.trigger_for)."""

    target: CertificateStatus
    allowed_from: tuple[CertificateStatus, ...]
    kind: ActivityKind
    where: Callable[[], sa.ColumnElement[bool]] | None = None
    stamps: tuple[str, ...] = ()
    clears: tuple[str, ...] = ()
    trigger: str | None = field(init=False)

    def __post_init__(self) -> None:
        if not all(self.target in ALLOWED[source] for source in self.allowed_from):
            raise ValueError(f"not in ALLOWED: {self}")
        triggers = {outbox.trigger_for(source.value, self.target) for source in self.allowed_from}
        if len(triggers) != 1:  # the set-based form queues one trigger for every row it moves
            raise ValueError(f"{self} fires different triggers: {triggers}")
        object.__setattr__(self, "trigger", triggers.pop())

    def condition(self) -> sa.ColumnElement[bool]:
        """Which certificates may make this transition at `now`."""
        states = [source.value for source in self.allowed_from]
        allowed = CERTS.c.status == states[0] if len(states) == 1 else CERTS.c.status.in_(states)
        return sa.and_(allowed, self.where()) if self.where else allowed

    def values(self, now) -> dict:
        """The columns it writes: the status, the stamps (`now`: a value or the SQL parameter)."""
        return {"status": self.target.value, **{name: now for name in self.stamps},
                **{name: None for name in self.clears}}


def _has_been_paid() -> sa.ColumnElement[bool]:
    return CERTS.c.activated_at.is_not(None)


ACTIVATE = Transition(S.ACTIVE, (S.PENDING,), ActivityKind.PURCHASED, stamps=("activated_at",))
ACTIVATE_FROM_PORTAL = Transition(S.ACTIVE, (S.PENDING,), ActivityKind.ACTIVATED_FROM_PORTAL,
                                  stamps=("activated_at",))
VOID = Transition(S.VOIDED, tuple(S(state) for state in VOIDABLE), ActivityKind.VOIDED, stamps=("voided_at",))
BEGIN_REFUND = Transition(S.REFUNDING, (S.PENDING, S.ACTIVE), ActivityKind.REFUND_STARTED,
                          stamps=("refund_requested_at",))
FINISH_REFUND = Transition(S.VOIDED, (S.REFUNDING,), ActivityKind.VOIDED, stamps=("voided_at",))
# Stripe refused: back as it was, Active if it had been paid, Pending if not.
CANCEL_REFUND = Transition(S.ACTIVE, (S.REFUNDING,), ActivityKind.REFUND_FAILED, where=_has_been_paid,
                           clears=("refund_requested_at", "void_reason"))
CANCEL_UNPAID_REFUND = Transition(S.PENDING, (S.REFUNDING,), ActivityKind.REFUND_FAILED,
                                  where=lambda: ~_has_been_paid(), clears=("refund_requested_at", "void_reason"))
REACTIVATE = Transition(S.ACTIVE, (S.VOIDED,), ActivityKind.REACTIVATED,
                        where=lambda: sa.or_(CERTS.c.expires_at.is_(None), rules.unexpired()),
                        clears=("voided_at", "void_reason"))
EXPIRE = Transition(S.EXPIRED, (S.ACTIVE,), ActivityKind.EXPIRED, where=rules.expired)
# The one fast form of it is the redemption's statement (redemption.redeem_at_once), built from this.
REDEEM = Transition(S.REDEEMED, (S.ACTIVE,), ActivityKind.REDEEMED, where=rules.redeemable, stamps=("redeemed_at",))
# A redemption released (booking cancelled): usable again, or Expired if its date passed meanwhile.
RELEASE = Transition(S.ACTIVE, (S.REDEEMED,), ActivityKind.RELEASED, where=rules.unexpired, clears=("redeemed_at",))
RELEASE_EXPIRED = Transition(S.EXPIRED, (S.REDEEMED,), ActivityKind.RELEASED,
                             where=lambda: sa.or_(CERTS.c.expires_at.is_(None), rules.expired()))


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
    activity.record(session, cert, ActivityKind.CREATED, actor=actor, now=now,
                    params={"amount_cents": cert.amount_cents, "currency": cert.currency,
                            "recipient_name": cert.recipient_name, "source": CertificateSource(source).value})
    outbox.on_created(session, cert)  # the "certificate created" actions, in this transaction
    if paid:
        _activate(session, workspace, cert, ACTIVATE, actor=actor, now=now)
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
    _activate(session, workspace, cert, ACTIVATE, actor=actor, now=now or utcnow(), details=details)
    return cert


def _activate(
    session: Session, workspace: Workspace, cert: Certificate, t: Transition, *, actor: str, now: datetime,
    details: str = "", preceding: tuple[Entry, ...] = (),
) -> None:
    """Pending -> Active: the one place every activation passes (staff, API, portal payment).

    `preceding` entries (e.g. Purchased, Purchased from Portal) are written after the
    transition succeeded and before its own entry, in the same transaction."""
    expires_at = now + timedelta(days=workspace.expiry_days)
    transition(session, cert, t, actor=actor, now=now, values={"expires_at": expires_at}, before=preceding,
               params={"note": details} if details else {"expires_at": expires_at})


def activate_portal_purchase(
    session: Session, workspace: Workspace, cert: Certificate, *, payment_reference: str, actor: str,
    now: datetime | None = None,
) -> Certificate:
    """A portal certificate's card payment succeeded: Pending -> Active, with the seed's entries
    Purchased (payment completed), Purchased from Portal and Activated from Portal.

    Raises InvalidTransition if it is no longer Pending (already activated by the webhook or
    the confirmation that arrived first): callers treat that as done."""
    now = now or utcnow()
    paid = {"amount_cents": cert.amount_cents, "currency": cert.currency, "payment_reference": payment_reference}
    _activate(session, workspace, cert, ACTIVATE_FROM_PORTAL, actor=actor, now=now,
              preceding=((ActivityKind.PURCHASED, paid),
                         (ActivityKind.PURCHASED_FROM_PORTAL,
                          {"purchaser_name": cert.purchaser_name, "purchaser_email": cert.purchaser_email})))
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
    _void(session, cert, VOID, reason_text=reason_text, actor=actor, now=now, refund_id=refund_id)
    return cert


def _void(session: Session, cert: Certificate, t: Transition, *, reason_text: str, actor: str,
          now: datetime, refund_id: str | None) -> None:
    refund_values = {"stripe_refund_id": refund_id, "refunded_at": now} if refund_id else {}
    refunded = ({"refund_id": refund_id, "amount_cents": cert.amount_cents, "currency": cert.currency}
                if refund_id else {})
    transition(session, cert, t, actor=actor, now=now, values={"void_reason": reason_text, **refund_values},
               params={"reason": reason_text, **refunded})


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
    transition(session, cert, BEGIN_REFUND, actor=actor, now=now, values={"void_reason": reason_text},
               params={"reason": reason_text, "paid": cert.activated_at is not None})
    return cert


def finish_refund(
    session: Session, workspace: Workspace, *, certificate_id: int, refund_id: str | None, actor: str,
    now: datetime | None = None,
) -> Certificate:
    """Refunding -> Voided once Stripe has answered: with the refund's id, or None when nothing
    had been paid (an unfinished checkout, cancelled at Stripe)."""
    now = now or utcnow()
    cert = get_certificate(session, workspace_id=workspace.id, certificate_id=certificate_id)
    _void(session, cert, FINISH_REFUND, reason_text=cert.void_reason or "Refunded",
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
    t = CANCEL_REFUND if cert.activated_at is not None else CANCEL_UNPAID_REFUND
    transition(session, cert, t, actor=actor, now=now,
               params={"reason": reason, "status_label": t.target.label})
    return cert


def record_refund(
    session: Session, workspace: Workspace, *, certificate_id: int, refund_id: str, actor: str, problem: str,
    now: datetime | None = None,
) -> Certificate:
    """Keep a refund on record when the certificate could not be voided with it (it was changed
    meanwhile, `problem` says how): not a status change, but never a refund without a trace.
    A refunded certificate cannot be reactivated."""
    now = now or utcnow()
    cert = get_certificate(session, workspace_id=workspace.id, certificate_id=certificate_id)
    session.execute(
        sa.update(Certificate)
        .where(Certificate.id == cert.id, Certificate.stripe_refund_id.is_(None))
        .values(stripe_refund_id=refund_id, refunded_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(cert)
    activity.record(session, cert, ActivityKind.REFUNDED, actor=actor, now=now,
                    params={"refund_id": refund_id, "problem": problem})
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
    transition(session, cert, REACTIVATE, actor=actor, now=now)
    return cert


def expire_certificate(
    session: Session, workspace: Workspace, *, certificate_id: int, now: datetime | None = None,
) -> Certificate:
    """Active -> Expired once `expires_at` has passed (the sweep calls this)."""
    now = now or utcnow()
    cert = get_certificate(session, workspace_id=workspace.id, certificate_id=certificate_id)
    if cert.expires_at is None or cert.expires_at > now:
        raise InvalidTransition("This certificate has not reached its expiry date yet.")
    transition(session, cert, EXPIRE, actor=activity.SYSTEM_ACTOR, now=now,
               params={"expires_at": cert.expires_at})
    return cert


def transition(
    session: Session,
    cert: Certificate,
    t: Transition,
    *,
    actor: str,
    now: datetime,
    params: dict | None = None,
    values: dict | None = None,
    before: tuple[Entry, ...] = (),
    after: tuple[Entry, ...] = (),
) -> None:
    """Make `t` happen to `cert`, or raise InvalidTransition: the one way a certificate's status
    changes (outside the set-based forms below).

    A conditional UPDATE (the database checks `t.condition()` against the row as it is), then
    the outbox rows of `t.trigger`, then its activity entry of `t.kind` with `params`, with
    the `before` and `after` entries around it, all in the caller's transaction. `values` are
    further columns this change writes (a void's reason, an activation's expiry date)."""
    if cert.status not in {source.value for source in t.allowed_from}:
        raise InvalidTransition(_refusal(cert, t.target))
    result = session.execute(
        sa.update(CERTS).where(CERTS.c.id == cert.id, t.condition()).values(**t.values(now), **(values or {})),
        {"now": now},
    )
    if result.rowcount != 1:
        session.refresh(cert)
        raise InvalidTransition(_refusal(cert, t.target))
    previous = cert.status
    session.refresh(cert)
    outbox.on_transition(session, cert, previous, t.target)  # PDF and action emails, in this transaction
    for entry in (*before, (t.kind, params or {}), *after):
        kind, entry_params, by = (*entry, actor) if len(entry) == 2 else entry
        activity.record(session, cert, kind, actor=by, now=now, params=entry_params)


# --- the set-based form: many certificates in a statement (sweeps, the redemption's statement) --

def moving(t: Transition, *where: sa.ColumnElement[bool]) -> sa.Update:
    """`t` for every certificate matching `where` that may make it at `now` (add RETURNING to
    feed `entries_from` and `outbox.dispatch_from`, or use the moved rows)."""
    return sa.update(CERTS).where(*where, t.condition()).values(**t.values(rules.NOW))


def entries_from(t: Transition, *, workspace_id, certificate_id, actor, params, source=None,
                 where=()) -> sa.Insert:
    """`t`'s activity entry for each row of `source` (None: the one row of the given values);
    `params` a JSON expression (`json_params`) or parameter."""
    rows = sa.select(workspace_id, certificate_id, sa.literal(t.kind.value, sa.String), actor, rules.NOW, params,
                     sa.literal("", sa.String))
    if source is not None:
        rows = rows.select_from(source)
    return sa.insert(ACTIVITIES).from_select(
        ["workspace_id", "certificate_id", "kind", "actor", "created_at", "params", "details"], rows.where(*where))


def json_params(dialect: str, **values) -> sa.ColumnElement:
    """An entry's parameters built in SQL from column expressions (a moment becomes ISO 8601
    text, as `activity.record` stores it)."""
    build = sa.func.json_build_object if dialect == "postgresql" else sa.func.json_object
    pairs = [part for key, value in values.items() for part in (sa.literal(key, sa.String), value)]
    return sa.type_coerce(build(*pairs), sa.JSON)


def queue_from(t: Transition, *, workspace_id, certificate_id, source=None, where=()) -> sa.Insert | None:
    """`t`'s outbox rows for each row of `source` (None when `t` fires no trigger). Only the
    triggers that need no rendering step (not "activated") are queued this way."""
    if t.trigger is None:
        return None
    assert t.trigger != "activated", "activation renders the PDF first: use transition()"
    return outbox.dispatch_from(t.trigger, workspace_id=workspace_id, certificate_id=certificate_id, now=rules.NOW,
                                source=source, where=where)


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
    from giftcerts.core import expiry  # expiry builds its sweep from EXPIRE above

    return expiry.expire_due(session, now=now, batch_size=batch_size)
