"""The rules of a redemption, each written once as a SQL expression over the certificates
table and an order, and what a customer is told when one does not hold.

Shared by the redemption (which requires them all at once, then diagnoses) and the lifecycle
(whose Active -> Redeemed transition is "redeemable at now", and whose expiry is its opposite).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from giftcerts.clock import format_date
from giftcerts.core import money
from giftcerts.core.errors import (
    CertificateExpired,
    CurrencyMismatch,
    DomainError,
    ExceedsOrderTotal,
    InvalidTransition,
)
from giftcerts.models import Certificate, CertificateStatus, Order, OrderStatus, Workspace

S = CertificateStatus
CERTS, ORDERS = Certificate.__table__, Order.__table__
# The moment the rules are judged at: every statement built on them takes a `now` parameter
# (typed like the columns it meets, so SQLite stores it alike).
NOW = sa.bindparam("now", type_=CERTS.c.created_at.type)
_now = NOW


def _status_refusal(cert: Certificate, order: Order, workspace: Workspace) -> DomainError:
    match cert.status:
        case S.REDEEMED.value:
            return InvalidTransition("This gift certificate has already been used.")
        case S.EXPIRED.value:
            return _expired(cert, order, workspace)
        case S.VOIDED.value:
            return InvalidTransition("This gift certificate has been cancelled and cannot be used.")
        case S.PENDING.value:
            return InvalidTransition("This gift certificate has not been paid for yet, so it cannot be used.")
        case S.REFUNDING.value:
            return InvalidTransition("This gift certificate is being cancelled and refunded, so it cannot be used.")
    return InvalidTransition("This gift certificate cannot be used.")


def _expired(cert: Certificate, order: Order, workspace: Workspace) -> DomainError:
    return CertificateExpired(f"This gift certificate expired on {format_date(cert.expires_at, workspace.timezone)}.")


def _too_much(cert: Certificate, order: Order, workspace: Workspace) -> DomainError:
    return ExceedsOrderTotal(
        f"This gift certificate is worth {money.format_money(cert.amount_cents, cert.currency)}, more than the "
        f"{money.format_money(order.amount_due_cents, order.currency)} still due on this order. "
        "It must be used in full on a single booking.")


@dataclass(frozen=True)
class Rule:
    """One rule of the seed: when it holds (a SQL expression over the certificate and an order,
    which may be the orders table or a row of it selected earlier in the same statement), and
    what a customer is told when it does not."""

    name: str
    holds: Callable[[Any], sa.ColumnElement[bool]]
    refusal: Callable[[Certificate, Order, Workspace], DomainError]


# In the order a refusal is reported. The attempt requires all of them at once; when it changed
# nothing, the diagnosis evaluates each, from the same expressions, and reports the first broken.
RULES = (
    Rule("order_open", lambda order: order.status == OrderStatus.OPEN.value,
         lambda cert, order, ws: InvalidTransition(
             f"This order has been {'completed' if order.status == OrderStatus.COMPLETED.value else 'cancelled'}, "
             "so nothing more can be applied to it.")),
    Rule("active", lambda order: CERTS.c.status == S.ACTIVE.value, _status_refusal),
    Rule("unexpired", lambda order: CERTS.c.expires_at > _now, _expired),
    Rule("same_currency", lambda order: CERTS.c.currency == order.currency,
         lambda cert, order, ws: CurrencyMismatch(
             f"This gift certificate is in {cert.currency} but the order is in {order.currency}.")),
    Rule("within_amount_due", lambda order: CERTS.c.amount_cents <= order.amount_due_cents, _too_much),
)
_ORDER_RULES = ("order_open", "same_currency", "within_amount_due")


def redeemable() -> sa.ColumnElement[bool]:
    """The one definition of "this certificate can be spent at `now`" (the statement's `now`
    parameter): Active, and not past its expiry date by the clock (never waiting for the sweep)."""
    return sa.and_(*(rule.holds(ORDERS.c) for rule in RULES if rule.name not in _ORDER_RULES))


def can_take(order) -> sa.ColumnElement[bool]:
    """The order side of the rules, for the certificate being redeemed: the order is open, in the
    certificate's currency, and still owes at least its whole value."""
    return sa.and_(*(rule.holds(order) for rule in RULES if rule.name in _ORDER_RULES))


def _rule(name: str) -> Rule:
    return next(rule for rule in RULES if rule.name == name)


def expired() -> sa.ColumnElement[bool]:
    """Past its expiry date at `now`: the opposite of the "unexpired" rule (rendered
    `expires_at <= :now`, so the Active-only index on expires_at serves it)."""
    return ~_rule("unexpired").holds(ORDERS.c)


def unexpired() -> sa.ColumnElement[bool]:
    return _rule("unexpired").holds(ORDERS.c)
