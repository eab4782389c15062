"""The checkout widget: what a widget session token lets a customer see and do.

The token (from `create_widget_session`, handed to the booking site's server by the API)
is the widget's only authority. Every operation here resolves it again, so an expired
token stops working at once, and only the one order it was issued for is ever touched:
ids coming from the browser are checked against that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from giftcerts.clock import utcnow
from giftcerts.core import redemption, workspaces
from giftcerts.core.tokens import hash_token
from giftcerts.core.errors import DomainError, InvalidTransition
from giftcerts.models import Certificate, Order, Redemption, RedemptionStatus, WidgetSession, Workspace

ACTOR = "Checkout widget"
MESSAGE_TYPE = "giftcerts:redeemed"


class WidgetSessionExpired(DomainError):
    code = "session_expired"

    def __init__(self, message: str = "This checkout session has expired. Reload the booking page to continue."):
        super().__init__(message)


@dataclass(frozen=True)
class Checkout:
    workspace: Workspace
    order: Order
    applied: list[tuple[Redemption, Certificate]]  # redemptions currently applied, oldest first

    @property
    def applied_cents(self) -> int:
        return sum(red.amount_cents for red, _ in self.applied)


def open_checkout(session: Session, token: str | None, *, now: datetime | None = None,
                  with_applied: bool = True) -> Checkout:
    """The checkout of a live widget session. `with_applied=False` leaves out the certificates
    already applied (for a caller about to change them, which reads them afterwards)."""
    grant = redemption.resolve_widget_session(session, token, now=now)
    if grant is None:
        raise WidgetSessionExpired()
    ws, order = grant
    return _checkout(session, ws, order) if with_applied else Checkout(workspace=ws, order=order, applied=[])


def _checkout(session: Session, ws: Workspace, order: Order) -> Checkout:
    applied = [(red, cert) for red, cert in redemption.order_redemptions(session, order)
               if red.status == RedemptionStatus.APPLIED.value]
    return Checkout(workspace=ws, order=order, applied=applied)


def apply_code(session: Session, token: str | None, code: str | None, *, now: datetime | None = None,
               checkout: Checkout | None = None) -> tuple[Checkout, Certificate]:
    """Redeem `code` in full on the session's order (every rule of the seed, race-proof).
    `checkout`: the session's checkout, opened by the caller in this same transaction."""
    now = now or utcnow()
    checkout = checkout or open_checkout(session, token, now=now, with_applied=False)
    applied = redemption.apply(session, checkout.workspace, code=code, order_id=checkout.order.id, actor=ACTOR,
                               now=now)
    after = _checkout(session, checkout.workspace, checkout.order)  # the order was read again by apply
    return after, next(cert for red, cert in after.applied if red.id == applied.redemption_id)


def remove_certificate(session: Session, token: str | None, redemption_id: str | int | None, *,
                       now: datetime | None = None) -> tuple[Checkout, Certificate]:
    """Take an applied certificate off the session's order before paying; it can be used again."""
    now = now or utcnow()
    checkout = open_checkout(session, token, now=now)
    match = [(red, cert) for red, cert in checkout.applied if str(red.id) == str(redemption_id)]
    if not match:
        raise InvalidTransition("This gift certificate is no longer applied to this order.")
    red, cert = match[0]
    redemption.release(session, checkout.workspace, redemption_id=red.id, actor=ACTOR, now=now,
                       reason=f"Removed from order {checkout.order.reference} at checkout")
    session.refresh(cert)
    return open_checkout(session, token, now=now), cert


def message_for_host(checkout: Checkout, cert: Certificate, *, action: str) -> dict:
    """What the widget tells the booking page after a change (no full code, nothing secret)."""
    return {
        "type": MESSAGE_TYPE,
        "action": action,  # "applied" or "removed"
        "order_id": checkout.order.id,
        "amount_applied_cents": checkout.applied_cents,
        "amount_due_cents": checkout.order.amount_due_cents,
        "currency": checkout.order.currency,
        "code_last4": cert.code[-4:],
    }


def host_origins(checkout: Checkout) -> list[str]:
    """The only targets the widget may post to: the workspace's embed origins."""
    return workspaces.embed_origin_list(checkout.workspace)


def frame_ancestors(session: Session, token: str | None) -> str:
    """The CSP `frame-ancestors` source list for a widget page opened with `token`.

    A token that expired still names its workspace, so its "session expired" page shows in
    the booking site's frame; an unknown token, or a workspace with no embed origins, may
    not be framed at all."""
    origins: list[str] = []
    if token and len(token) <= 128:
        ws = session.exec(
            select(Workspace).join(WidgetSession, WidgetSession.workspace_id == Workspace.id)
            .where(WidgetSession.token_hash == hash_token(token))
        ).first()
        if ws is not None:
            origins = workspaces.embed_origin_list(ws)
    return " ".join(origins) if origins else "'none'"
