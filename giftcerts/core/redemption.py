"""Orders and redemptions: where certificates are spent.

The seed's rules, in order: the code exists in this workspace and is Active; it has not
expired (checked against the clock, never the sweep); its value is not greater than what
the order still owes; same currency. It is applied in full on that one order and the
certificate becomes Redeemed.

Each rule is written once, as a SQL expression (`RULES`). `redeem`, the one function every
channel calls, makes the attempt from all of them at once (`redeem_at_once`): on PostgreSQL
one statement that locks the order and then moves the certificate, on SQLite a few
statements inside BEGIN IMMEDIATE. Only when it changed nothing are the same expressions
evaluated one by one, read-only, to tell the customer which rule was broken.

No double spending: the certificate moves with a conditional UPDATE (Active and unexpired,
and the order can take it) and the order's amount due with another (`amount_due_cents >=
value`), in one transaction. Of any number of simultaneous attempts on one code exactly one
UPDATE matches; simultaneous certificates on one order can never take the amount due below
zero (a CHECK constraint backs this up). A partial unique index allows one applied
redemption per certificate.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import activity, lifecycle, money, outbox
from giftcerts.core.tokens import hash_token
from giftcerts.core.activity import ActivityKind
from giftcerts.core.codes import normalize_code
from giftcerts.core.ids import parse_id
from giftcerts.core.scoped import get_in_workspace
from giftcerts.core.errors import (
    Conflict,
    DomainError,
    InvalidCode,
    InvalidTransition,
    NotFound,
    ValidationError,
)
from giftcerts.core.rules import NOW, RULES, can_take
from giftcerts.core.validation import clean_email, clean_text
from giftcerts.models import (
    Certificate,
    CertificateStatus,
    Order,
    OrderStatus,
    Redemption,
    RedemptionStatus,
    WidgetSession,
    Workspace,
)

S = CertificateStatus
WIDGET_SESSION_MINUTES = 30
REFERENCE_MAX = 100


# --- orders -------------------------------------------------------------------------------

def create_order(
    session: Session, workspace: Workspace, *, reference: str | None, total_cents: int | str | None,
    currency: str | None = None, customer_email: str | None = "", now: datetime | None = None,
) -> Order:
    errors: dict[str, str] = {}
    ref = clean_text(reference)
    if not ref:
        errors["reference"] = "Enter the booking reference."
    elif len(ref) > REFERENCE_MAX:
        errors["reference"] = f"The booking reference must be at most {REFERENCE_MAX} characters."
    currency = (currency or workspace.currency).strip().upper()
    if not money.valid_currency(currency):
        errors["currency"] = "Choose a valid ISO 4217 currency code, such as USD or EUR."
    total = total_cents if isinstance(total_cents, int) and not isinstance(total_cents, bool) else None
    if total is None or not 0 < total <= money.ABSOLUTE_MAX_CENTS:
        errors["total_cents"] = "The order total must be a positive whole number of minor units."
    email = ""
    if customer_email:
        email = clean_email(customer_email, "customer email", errors, "customer_email")
    if not errors and session.exec(
        select(Order.id).where(Order.workspace_id == workspace.id, Order.reference == ref)
    ).first():
        raise Conflict(f"An order with the reference “{ref}” already exists.", field="reference")
    if errors:
        raise ValidationError(errors)
    order = Order(workspace_id=workspace.id, reference=ref, total_cents=total, amount_due_cents=total,
                  currency=currency, customer_email=email, created_at=now or utcnow())
    session.add(order)
    session.flush()
    return order


def get_order(session: Session, *, workspace_id: int, order_id: int | str | None, lock: bool = False) -> Order:
    """An order of this workspace; another workspace's id is simply not found.

    `lock`: hold the order's row until the transaction ends (PostgreSQL; SQLite serialises
    writers anyway), so that every redemption locks the order before the certificate."""
    return get_in_workspace(session, Order, workspace_id, order_id, not_found="Order not found.", lock=lock)


def order_redemptions(session: Session, order: Order) -> list[tuple[Redemption, Certificate]]:
    return list(session.exec(
        select(Redemption, Certificate)
        .join(Certificate, Certificate.id == Redemption.certificate_id)
        .where(Redemption.order_id == order.id, Redemption.workspace_id == order.workspace_id)
        .order_by(Redemption.id)
    ).all())


def certificate_redemptions(session: Session, cert: Certificate) -> list[tuple[Redemption, Order]]:
    return list(session.exec(
        select(Redemption, Order)
        .join(Order, Order.id == Redemption.order_id)
        .where(Redemption.certificate_id == cert.id, Redemption.workspace_id == cert.workspace_id)
        .order_by(Redemption.id.desc())
    ).all())


def list_orders(session: Session, *, workspace_id: int, cursor: str | None = None, limit: int = 25,
                query: str | None = None, status: str | None = None) -> tuple[list[Order], str | None]:
    """Newest first, in keyset pages; `status`: only open, completed or cancelled orders."""
    stmt = select(Order).where(Order.workspace_id == workspace_id)
    if status in {s.value for s in OrderStatus}:
        stmt = stmt.where(Order.status == status)
    if (before := parse_id(cursor)) is not None:
        stmt = stmt.where(Order.id < before)
    text = clean_text(query)[:100]
    if text:
        stmt = stmt.where(sa.or_(Order.reference == text, Order.customer_email == text.lower()))
    rows = list(session.exec(stmt.order_by(Order.id.desc()).limit(limit + 1)))
    return rows[:limit], (str(rows[limit - 1].id) if len(rows) > limit else None)


# --- the tables and parameters of the statements below (the rules: giftcerts.core.rules) ------

CERTS, ORDERS, REDEMPTIONS = Certificate.__table__, Order.__table__, Redemption.__table__
# The statements' parameters (typed like the columns they meet, so SQLite stores them alike).
_now = NOW
_ws = sa.bindparam("p_workspace_id", type_=sa.Integer)
_order_id = sa.bindparam("p_order_id", type_=sa.Integer)


# --- redemption ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Preview:
    certificate: Certificate
    order: Order
    value_cents: int
    amount_due_after_cents: int


def _broken_rule(session: Session, workspace: Workspace, *, code: str | None, order: Order,
                 now: datetime) -> tuple[Certificate, DomainError | None]:
    """Read-only: the certificate for `code` and the first rule it breaks on `order` (None if
    it breaks none), each rule evaluated by the database from its one expression."""
    normalized = normalize_code(code)
    row = None
    if normalized is not None:
        row = session.execute(
            sa.select(Certificate, *(rule.holds(ORDERS.c).label(rule.name) for rule in RULES))
            .select_from(CERTS.join(ORDERS, ORDERS.c.id == order.id))
            .where(CERTS.c.code == normalized, CERTS.c.workspace_id == workspace.id),
            {"now": now},
        ).first()
    if row is None:
        raise InvalidCode()
    cert = row[0]
    for rule, holds in zip(RULES, row[1:]):
        if not holds:
            return cert, rule.refusal(cert, order, workspace)
    return cert, None


def preview(session: Session, workspace: Workspace, *, code: str | None, order_id: int | str | None,
            now: datetime | None = None) -> Preview:
    """What would happen, without changing anything."""
    order = get_order(session, workspace_id=workspace.id, order_id=order_id)
    cert, refusal = _broken_rule(session, workspace, code=code, order=order, now=now or utcnow())
    if refusal:
        raise refusal
    return Preview(certificate=cert, order=order, value_cents=cert.amount_cents,
                   amount_due_after_cents=order.amount_due_cents - cert.amount_cents)


# A diagnosis that finds every rule holding means the certificate or the order changed between
# the attempt and the diagnosis (a release, say): the attempt is run again, a few times at most.
ATTEMPTS = 3


def redeem(session: Session, workspace: Workspace, *, code: str | None, order_id: int | str | None, actor: str,
           now: datetime | None = None, attempted: bool = False) -> Redemption:
    """Apply a certificate in full as payment on an order: the one way every channel redeems.
    The new redemption, as an ORM object (see `apply` for what it did)."""
    applied = apply(session, workspace, code=code, order_id=order_id, actor=actor, now=now, attempted=attempted)
    return session.get(Redemption, applied.redemption_id)


def apply(session: Session, workspace: Workspace, *, code: str | None, order_id: int | str | None, actor: str,
          now: datetime | None = None, attempted: bool = False) -> Applied:
    """`redeem`, answering with what the attempt returned (the redemption, the order after it
    and its lines) rather than reading the redemption back.

    `redeem_at_once` makes the attempt, race-proof and all or nothing; only when it changed
    nothing is the reason looked for, read-only, and raised. `attempted`: the caller has just
    made the attempt itself and it changed nothing, so the diagnosis comes first."""
    now = now or utcnow()
    oid = parse_id(order_id)
    if oid is None:
        raise NotFound("Order not found.")
    for n in range(ATTEMPTS):
        if n or not attempted:
            applied = redeem_at_once(session, workspace_id=workspace.id, code=code, order_id=oid, actor=actor,
                                     now=now)
            if applied is not None:
                _forget_loaded(session, applied)
                return applied
        order = get_order(session, workspace_id=workspace.id, order_id=oid)
        session.refresh(order)
        _, refusal = _broken_rule(session, workspace, code=code, order=order, now=now)
        if refusal:
            raise refusal
    raise Conflict("This gift certificate or the order changed while it was being applied. Try again.")


def _forget_loaded(session: Session, applied: Applied) -> None:
    """Objects this session loaded before the attempt's Core statements changed their rows take
    the values the attempt wrote (no second read), so callers holding them see the redemption."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Order) and obj.id == applied.order.id:
            set_committed_value(obj, "amount_due_cents", applied.order.amount_due_cents)
            set_committed_value(obj, "status", applied.order.status)
        elif isinstance(obj, Certificate) and obj.id == applied.certificate_id:
            set_committed_value(obj, "status", S.REDEEMED.value)
            set_committed_value(obj, "redeemed_at", applied.created_at)


# --- the attempt, in the fewest statements (both databases) ----------------------------------

@dataclass(frozen=True)
class Line:
    """One redemption on an order, with its certificate's code and currency."""

    id: int
    certificate_id: int
    code: str
    amount_cents: int
    currency: str
    status: str
    created_at: datetime
    released_at: datetime | None
    captured_at: datetime | None = None  # None while the certificate is held for the open order


@dataclass(frozen=True)
class OrderAfter:
    """An order as it stands after a redemption (the fields the API shows)."""

    id: int
    reference: str
    status: str
    currency: str
    total_cents: int
    amount_due_cents: int
    customer_email: str
    created_at: datetime
    # Only an open order takes a certificate, so after a redemption these are always unset.
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str = ""


@dataclass(frozen=True)
class Applied:
    """What `redeem_at_once` did: the new redemption, the order after it, and its lines."""

    redemption_id: int
    certificate_id: int
    code: str
    amount_cents: int
    currency: str
    created_at: datetime
    order: OrderAfter
    lines: list[Line]


def _spend(order_takes_it: sa.ColumnElement[bool]) -> sa.Update:
    """Active -> Redeemed for the code, only if every rule holds and the order can take it: the
    certificate's half of a redemption, lifecycle's REDEEM in its set-based form."""
    return (lifecycle.moving(lifecycle.REDEEM, CERTS.c.code == sa.bindparam("p_code", type_=sa.String),
                             CERTS.c.workspace_id == _ws, order_takes_it)
            .returning(CERTS.c.id, CERTS.c.amount_cents, CERTS.c.currency))


def _log_and_queue(cert_id, reference, source, dialect: str) -> tuple[sa.Insert, sa.Insert]:
    """REDEEM's activity entry and outbox row (the "redeemed" actions' job, only if the
    workspace has an enabled action for it), for the certificate just spent."""
    entry = lifecycle.entries_from(lifecycle.REDEEM, workspace_id=_ws, certificate_id=cert_id,
                                   actor=sa.bindparam("p_actor", type_=sa.String),
                                   params=lifecycle.json_params(dialect, order_reference=reference), source=source)
    job = lifecycle.queue_from(lifecycle.REDEEM, workspace_id=_ws, certificate_id=cert_id, source=source)
    return entry, job


_ORDER_COLUMNS = ("reference", "status", "currency", "total_cents", "amount_due_cents", "customer_email",
                  "created_at")


def _postgres_statement() -> sa.Select:
    """PostgreSQL: the whole redemption in one statement.

    The order row is locked first (FOR UPDATE returns its latest committed version), then the
    certificate moves only if every rule holds against that locked order. The certificate's
    conditional UPDATE is re-checked by PostgreSQL against its latest version, so of
    simultaneous attempts on one code exactly one matches. The order's UPDATE, the redemption,
    the activity entry and the job are fed by the certificate's RETURNING row, so they happen
    exactly when it moved: all or nothing. Lock order (order, then certificate) is the same as
    in `redeem` and `release`, so a mix of paths cannot deadlock."""
    o = (sa.select(ORDERS.c.id, *(ORDERS.c[name] for name in _ORDER_COLUMNS), sa.literal_column("xmin").label("version"))
         .where(ORDERS.c.id == _order_id, ORDERS.c.workspace_id == _ws).with_for_update()
         .cte("o").prefix_with("MATERIALIZED"))
    c = _spend(can_take(o.c)).cte("c")
    paid = (sa.update(ORDERS)
            .where(ORDERS.c.id == _order_id, ORDERS.c.amount_due_cents >= c.c.amount_cents)
            .values(amount_due_cents=ORDERS.c.amount_due_cents - c.c.amount_cents)
            .returning(ORDERS.c.amount_due_cents).cte("paid"))
    r = (sa.insert(REDEMPTIONS).from_select(
            ["workspace_id", "order_id", "certificate_id", "amount_cents", "status", "created_at"],
            sa.select(_ws, _order_id, c.c.id, c.c.amount_cents, sa.literal(RedemptionStatus.APPLIED.value), _now))
         .returning(REDEMPTIONS.c.id).cte("r"))
    entry, job = _log_and_queue(c.c.id, o.c.reference, sa.join(c, o, sa.true()), "postgresql")
    a = entry.returning(entry.table.c.id).cte("a")
    q = job.returning(job.table.c.id).cte("q")
    earlier = (sa.select(sa.func.count()).select_from(REDEMPTIONS)
               .where(REDEMPTIONS.c.order_id == _order_id, REDEMPTIONS.c.workspace_id == _ws).scalar_subquery())
    current_version = sa.select(sa.literal_column("xmin")).select_from(ORDERS).where(ORDERS.c.id == _order_id)
    # The last two columns spare the common case a second query for the order's lines: the
    # statement's snapshot saw no earlier redemption on the order, and the order row it locked
    # is the one that snapshot saw (every redemption and release updates the order row).
    return (sa.select(r.c.id, c.c.id, c.c.amount_cents, c.c.currency,
                      sa.select(sa.func.count()).select_from(paid).scalar_subquery(),
                      sa.select(sa.func.count()).select_from(a).scalar_subquery(),
                      *(paid.c.amount_due_cents if name == "amount_due_cents" else o.c[name]
                        for name in _ORDER_COLUMNS),
                      earlier, o.c.version == current_version.scalar_subquery())
            .select_from(c.join(r, sa.true()).join(o, sa.true()).outerjoin(paid, sa.true()))
            .add_cte(q))


class _SQLite:
    """SQLite: the same writes as a few statements in the caller's BEGIN IMMEDIATE transaction
    (one writer at a time, so nothing can change between them): the certificate first, only if
    the order can take it; then the order, the redemption, the activity entry and the job."""

    spend = _spend(sa.exists().where(ORDERS.c.id == _order_id, ORDERS.c.workspace_id == _ws, can_take(ORDERS.c)))
    pay = (sa.update(ORDERS)
           .where(ORDERS.c.id == _order_id, ORDERS.c.amount_due_cents >= sa.bindparam("p_amount", type_=sa.Integer))
           .values(amount_due_cents=ORDERS.c.amount_due_cents - sa.bindparam("p_amount", type_=sa.Integer))
           .returning(*(ORDERS.c[name] for name in _ORDER_COLUMNS)))
    record = sa.insert(REDEMPTIONS).values(
        workspace_id=_ws, order_id=_order_id, certificate_id=sa.bindparam("p_certificate_id"),
        amount_cents=sa.bindparam("p_amount"), status=RedemptionStatus.APPLIED.value, created_at=_now,
    ).returning(REDEMPTIONS.c.id)
    entry, job = _log_and_queue(sa.bindparam("p_certificate_id", type_=sa.Integer),
                                sa.bindparam("p_reference", type_=sa.String), None, "sqlite")


_POSTGRES = _postgres_statement()
_ORDER_LINES = (sa.select(REDEMPTIONS.c.id, REDEMPTIONS.c.certificate_id, CERTS.c.code, REDEMPTIONS.c.amount_cents,
                          CERTS.c.currency, REDEMPTIONS.c.status, REDEMPTIONS.c.created_at, REDEMPTIONS.c.released_at,
                          REDEMPTIONS.c.captured_at)
                .join(CERTS, CERTS.c.id == REDEMPTIONS.c.certificate_id)
                .where(REDEMPTIONS.c.order_id == _order_id, REDEMPTIONS.c.workspace_id == _ws)
                .order_by(REDEMPTIONS.c.id))


def redeem_at_once(session: Session, *, workspace_id: int, code: str | None, order_id: int, actor: str,
                   now: datetime | None = None) -> Applied | None:
    """`redeem` for the common case, in its fastest correct form for the database in use.

    Returns None, having changed nothing, whenever the certificate cannot be applied as
    asked (unknown code, not active, expired, wrong currency, too much, order closed or
    not this workspace's...): `redeem` then tells exactly why. Writes exactly what
    `redeem` writes (tests/core/test_redemption_at_once.py compares the two).
    """
    normalized = normalize_code(code)
    if normalized is None:
        return None
    now = now or utcnow()
    params = {"p_order_id": order_id, "p_workspace_id": workspace_id, "p_code": normalized, "now": now,
              "p_actor": actor[:254]}
    if session.get_bind().dialect.name == "postgresql":
        return _at_once_postgres(session, params)
    return _at_once_sqlite(session, params)


def _at_once_postgres(session: Session, params: dict) -> Applied | None:
    rows = db.execute_hot(session, _POSTGRES, params)
    if not rows:
        return None
    redemption_id, certificate_id, amount_cents, currency, paid, logged, *order_columns, earlier, unchanged = rows[0]
    if paid != 1 or logged != 1:  # cannot happen under the lock; never commit half a redemption
        raise RuntimeError(f"redemption of certificate {certificate_id} on order {params['p_order_id']} "
                           "was not all-or-nothing")
    order = OrderAfter(params["p_order_id"], *order_columns)
    if earlier == 0 and unchanged:
        lines = [Line(redemption_id, certificate_id, params["p_code"], amount_cents, currency,
                      RedemptionStatus.APPLIED.value, params["now"], None)]
    else:
        lines = _lines(session, params)
    return Applied(redemption_id, certificate_id, params["p_code"], amount_cents, currency, params["now"], order, lines)


def _at_once_sqlite(session: Session, params: dict) -> Applied | None:
    spent = db.execute_hot(session, _SQLite.spend, params)
    if not spent:
        return None
    certificate_id, amount_cents, currency = spent[0]
    params = {**params, "p_certificate_id": certificate_id, "p_amount": amount_cents}
    paid = db.execute_hot(session, _SQLite.pay, params)
    if not paid:  # cannot happen inside BEGIN IMMEDIATE; never commit half a redemption
        raise RuntimeError(f"redemption of certificate {certificate_id} on order {params['p_order_id']} "
                           "was not all-or-nothing")
    order = OrderAfter(params["p_order_id"], *paid[0])
    [(redemption_id,)] = db.execute_hot(session, _SQLite.record, params)
    db.execute_hot(session, _SQLite.entry, {**params, "p_reference": order.reference})
    db.execute_hot(session, _SQLite.job, params)
    return Applied(redemption_id, certificate_id, params["p_code"], amount_cents, currency, params["now"], order,
                   _lines(session, params))


def _lines(session: Session, params: dict) -> list[Line]:
    return [Line(*row) for row in db.execute_hot(session, _ORDER_LINES, params)]


def get_redemption(session: Session, *, workspace_id: int, redemption_id: int | str | None) -> Redemption:
    return get_in_workspace(session, Redemption, workspace_id, redemption_id, not_found="Redemption not found.")


def release(session: Session, workspace: Workspace, *, redemption_id: int | str | None, actor: str,
            now: datetime | None = None, reason: str | None = None) -> Redemption:
    """Undo a redemption (booking cancelled before travel): the order owes the amount again and
    the certificate is Active again, or Expired if its date has passed meanwhile.

    `reason` replaces "Order X cancelled" in the activity log (e.g. the customer removed the
    certificate at checkout before paying)."""
    now = now or utcnow()
    red = get_redemption(session, workspace_id=workspace.id, redemption_id=redemption_id)
    done = session.execute(
        sa.update(Redemption)
        .where(Redemption.id == red.id, Redemption.status == RedemptionStatus.APPLIED.value)
        .values(status=RedemptionStatus.RELEASED.value, released_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise InvalidTransition("This redemption has already been released.")
    session.execute(
        sa.update(Order).where(Order.id == red.order_id)
        .values(amount_due_cents=Order.amount_due_cents + red.amount_cents)
        .execution_options(synchronize_session=False)
    )
    order = session.get(Order, red.order_id)
    session.refresh(order)
    cert = session.get(Certificate, red.certificate_id)
    released = {"order_reference": order.reference, **({"reason": reason} if reason else {})}
    if cert.expires_at is not None and cert.expires_at > now:
        lifecycle.transition(session, cert, lifecycle.RELEASE, actor=actor, now=now,
                             params={**released, "usable": True})
    else:
        lifecycle.transition(session, cert, lifecycle.RELEASE_EXPIRED, actor=actor, now=now,
                             params={**released, "usable": False, "expires_at": cert.expires_at},
                             after=((ActivityKind.EXPIRED, {"expires_at": cert.expires_at}, activity.SYSTEM_ACTOR),))
    outbox.dispatch_ids(session, workspace_id=workspace.id, certificate_id=cert.id, trigger="released",
                        redemption_id=red.id, **({"reason": reason} if reason else {}))
    session.refresh(red)
    return red


# --- widget sessions ----------------------------------------------------------------------

def create_widget_session(session: Session, workspace: Workspace, *, order_id: int | str | None,
                          now: datetime | None = None) -> tuple[WidgetSession, str]:
    """A short-lived token that lets the checkout widget redeem on one order only."""
    now = now or utcnow()
    order = get_order(session, workspace_id=workspace.id, order_id=order_id)
    token = "gcw_" + secrets.token_urlsafe(32)
    grant = WidgetSession(token_hash=hash_token(token), workspace_id=workspace.id, order_id=order.id,
                          created_at=now, expires_at=now + timedelta(minutes=WIDGET_SESSION_MINUTES))
    session.add(grant)
    session.flush()
    return grant, token


def resolve_widget_session(session: Session, token: str | None, *, now: datetime | None = None
                           ) -> tuple[Workspace, Order] | None:
    if not token or len(token) > 128:
        return None
    row = session.exec(
        select(Workspace, Order)
        .select_from(WidgetSession)
        .join(Workspace, Workspace.id == WidgetSession.workspace_id)
        .join(Order, Order.id == WidgetSession.order_id)
        .where(WidgetSession.token_hash == hash_token(token), WidgetSession.expires_at > (now or utcnow()))
    ).first()
    if row is None:
        return None
    workspace, order = row
    return workspace, order
