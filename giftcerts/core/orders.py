"""The order lifecycle: what happened to a booking, and what it means for its certificates.

    open -> completed (the booking was confirmed: its certificates are spent for good)
    open | completed -> cancelled (the booking did not happen: its certificates are released)

A certificate applied to an open order is *held* for it: Redeemed, so no other order can take
it, but not final. Completing the order captures its holds; cancelling it releases them; a
hold the booking platform neither completes nor cancels within the workspace's hold time is
released by the worker (`release_abandoned_holds`), as Checkfront releases a voucher when the
customer leaves the checkout.

This module is the one writer of an order's status. Every change locks the order's row first
(PostgreSQL; SQLite serialises writers), then touches its redemptions and certificates, the
same order as a redemption takes, so a completion racing the hold's timeout or a cancellation
has exactly one outcome.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from giftcerts.clock import utcnow
from giftcerts.core import activity, outbox
from giftcerts.core.activity import ActivityKind
from giftcerts.core.errors import InvalidTransition, ValidationError
from giftcerts.core.redemption import get_order, release
from giftcerts.core.validation import clean_text
from giftcerts.models import Certificate, Order, OrderStatus, Redemption, RedemptionStatus, Workspace

O = OrderStatus
CANCEL_REASON_MAX = 500
HOLD_MINUTES_MAX = 7 * 24 * 60  # a week: the models' CHECK constraint
HOLD_SWEEP_BATCH = 200


def hold_expires_at(workspace: Workspace, red: Redemption, order: Order) -> datetime | None:
    """When the worker releases this redemption if its order is not completed first; None when
    it is not held (released, final) or the workspace holds until completion."""
    if red.status != RedemptionStatus.APPLIED.value or red.captured_at is not None or order.status != O.OPEN.value:
        return None
    if not workspace.hold_minutes:
        return None
    return red.created_at + timedelta(minutes=workspace.hold_minutes)


def is_held(red: Redemption) -> bool:
    return red.status == RedemptionStatus.APPLIED.value and red.captured_at is None


def _move(session: Session, order: Order, target: OrderStatus, sources: list[OrderStatus], **values) -> bool:
    """The order's status, with a conditional UPDATE: False if it was no longer in `sources`."""
    moved = session.execute(
        sa.update(Order).where(Order.id == order.id, Order.status.in_([s.value for s in sources]))
        .values(status=target.value, **values).execution_options(synchronize_session=False)
    )
    session.refresh(order)
    return moved.rowcount == 1


def complete_order(session: Session, workspace: Workspace, *, order_id: int | str | None, actor: str,
                   now: datetime | None = None) -> Order:
    """The booking was confirmed: the order takes no more certificates and every certificate
    held for it is spent for good. Completing a completed order changes nothing."""
    now = now or utcnow()
    order = get_order(session, workspace_id=workspace.id, order_id=order_id, lock=True)
    if order.status == O.COMPLETED.value:
        return order
    if order.status == O.CANCELLED.value or not _move(session, order, O.COMPLETED, [O.OPEN], completed_at=now):
        raise InvalidTransition("This order has been cancelled, so it cannot be completed.")
    captured = session.execute(
        sa.update(Redemption)
        .where(Redemption.order_id == order.id, Redemption.workspace_id == workspace.id,
               Redemption.status == RedemptionStatus.APPLIED.value, Redemption.captured_at.is_(None))
        .values(captured_at=now).returning(Redemption.certificate_id, Redemption.id)
        .execution_options(synchronize_session=False)
    ).all()
    redemption_of = dict(captured)
    for cert in _certificates(session, workspace, list(redemption_of)):
        activity.record(session, cert, ActivityKind.CAPTURED, actor=actor, now=now,
                        params={"order_reference": order.reference})
        outbox.dispatch(session, cert, "captured", redemption_id=redemption_of[cert.id])
    outbox.dispatch_ids(session, workspace_id=workspace.id, certificate_id=None, trigger="order_completed",
                        order_id=order.id)
    return order


def cancel_order(session: Session, workspace: Workspace, *, order_id: int | str | None, actor: str,
                 reason: str | None = None, now: datetime | None = None) -> Order:
    """The booking will not happen (before or after it was confirmed): every certificate
    applied to it is released, with an entry naming the booking. Cancelling a cancelled order
    changes nothing."""
    now = now or utcnow()
    text = clean_text(reason)
    if len(text) > CANCEL_REASON_MAX:
        raise ValidationError({"reason": f"The reason must be at most {CANCEL_REASON_MAX} characters."})
    order = get_order(session, workspace_id=workspace.id, order_id=order_id, lock=True)
    if order.status == O.CANCELLED.value:
        return order
    if not _move(session, order, O.CANCELLED, [O.OPEN, O.COMPLETED], cancelled_at=now, cancel_reason=text):
        raise InvalidTransition("This order changed meanwhile. Try again.")
    why = f"Order {order.reference} cancelled" + (f": {text}" if text else "")
    for red in _applied(session, order):
        release(session, workspace, redemption_id=red.id, actor=actor, now=now, reason=why)
    outbox.dispatch_ids(session, workspace_id=workspace.id, certificate_id=None, trigger="order_cancelled",
                        order_id=order.id)
    session.refresh(order)
    return order


def release_abandoned_holds(session: Session, *, now: datetime | None = None,
                            batch_size: int = HOLD_SWEEP_BATCH) -> int:
    """The worker's sweep: release every certificate held longer than its workspace's hold time
    for an order that is still open (the customer left the checkout). Returns how many.

    Each order is locked and looked at again before anything is released, so a completion or
    a cancellation that got there first wins, and the hold is released once."""
    now = now or utcnow()
    released = 0
    for workspace in session.exec(select(Workspace).where(Workspace.hold_minutes > 0)).all():
        cutoff = now - timedelta(minutes=workspace.hold_minutes)
        order_ids = session.exec(
            select(Redemption.order_id).distinct()
            .join(Order, Order.id == Redemption.order_id)
            .where(Redemption.workspace_id == workspace.id, Redemption.status == RedemptionStatus.APPLIED.value,
                   Redemption.captured_at.is_(None), Redemption.created_at <= cutoff,
                   Order.status == O.OPEN.value)
            .limit(batch_size)
        ).all()
        for order_id in order_ids:
            order = get_order(session, workspace_id=workspace.id, order_id=order_id, lock=True)
            session.refresh(order)
            if order.status != O.OPEN.value:
                continue
            why = (f"Checkout abandoned: order {order.reference} was not completed within "
                   f"{_minutes(workspace.hold_minutes)}")
            for red in _applied(session, order):
                if red.captured_at is None and red.created_at <= cutoff:
                    release(session, workspace, redemption_id=red.id, actor=activity.SYSTEM_ACTOR, now=now,
                            reason=why)
                    released += 1
    return released


HOLD_MINUTES_MESSAGE = ("Enter the hold time in whole minutes, from 1 to 10080 (a week), or 0 to hold until the "
                        "order is completed or cancelled.")


def clean_hold_minutes(raw: int | str | None, errors: dict[str, str]) -> int | None:
    """Settings' hold time, or None with the problem in `errors["hold_minutes"]`."""
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        value = -1
    if not 0 <= value <= HOLD_MINUTES_MAX:
        errors["hold_minutes"] = HOLD_MINUTES_MESSAGE
        return None
    return value


def set_hold_minutes(session: Session, workspace: Workspace, minutes: int | str | None) -> Workspace:
    """How long a checkout may hold a certificate (0: until the order is completed or cancelled)."""
    errors: dict[str, str] = {}
    value = clean_hold_minutes(minutes, errors)
    if value is None:
        raise ValidationError(errors)
    workspace.hold_minutes = value
    session.add(workspace)
    session.flush()
    return workspace


def _minutes(n: int) -> str:
    if n % 60 == 0:
        hours = n // 60
        return f"{hours} hour" + ("s" if hours != 1 else "")
    return f"{n} minute" + ("s" if n != 1 else "")


def _applied(session: Session, order: Order) -> list[Redemption]:
    return list(session.exec(
        select(Redemption).where(Redemption.order_id == order.id, Redemption.workspace_id == order.workspace_id,
                                 Redemption.status == RedemptionStatus.APPLIED.value)
        .order_by(Redemption.id)
    ).all())


def _certificates(session: Session, workspace: Workspace, ids: list[int]) -> list[Certificate]:
    if not ids:
        return []
    return list(session.exec(
        select(Certificate).where(Certificate.workspace_id == workspace.id, Certificate.id.in_(ids))
        .order_by(Certificate.id)
    ).all())
