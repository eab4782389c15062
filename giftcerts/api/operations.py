"""The endpoints of /api/v1: one thin function each, over `giftcerts.core`.

Each function gets the open database session and the authenticated, validated call, and
returns a response model. Everything else (authentication, body parsing, idempotency,
throttling of code guesses, errors) is done once, in `giftcerts.api.dispatch`. The list
`OPERATIONS` at the bottom is also what the OpenAPI document and the docs page describe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel
from sqlmodel import Session

from giftcerts import config
from giftcerts.api import schemas
from giftcerts.api.auth import Caller
from giftcerts.core import lifecycle, orders, redemption, search
from giftcerts.core.codes import mask_code
from giftcerts.models import (
    Certificate,
    CertificateSource,
    CertificateStatus,
    Order,
    Redemption,
    RedemptionStatus,
    Workspace,
)


@dataclass
class Call:
    caller: Caller
    ids: dict[str, int]
    body: BaseModel | None = None
    query: BaseModel | None = None

    @property
    def workspace(self) -> Workspace:
        return self.caller.workspace

    @property
    def workspace_id(self) -> int:
        return self.caller.workspace_id

    @property
    def actor(self) -> str:
        return self.caller.actor


def _order(session: Session, order: Order) -> schemas.Order:
    return schemas.Order.of(order, redemption.order_redemptions(session, order))


def _certificate(session: Session, call: Call) -> Certificate:
    return lifecycle.get_certificate(session, workspace_id=call.workspace.id, certificate_id=call.ids["certificate_id"])


# --- orders --------------------------------------------------------------------------------

def create_order(session: Session, call: Call) -> schemas.Order:
    b: schemas.OrderCreate = call.body
    order = redemption.create_order(session, call.workspace, reference=b.reference, total_cents=b.total_cents,
                                    currency=b.currency, customer_email=b.customer_email)
    return _order(session, order)


def get_order(session: Session, call: Call) -> schemas.Order:
    return _order(session, redemption.get_order(session, workspace_id=call.workspace.id,
                                                order_id=call.ids["order_id"]))


def complete_order(session: Session, call: Call) -> schemas.Order:
    return _order(session, orders.complete_order(session, call.workspace, order_id=call.ids["order_id"],
                                                 actor=call.actor))


def cancel_order(session: Session, call: Call) -> schemas.Order:
    b: schemas.OrderCancel = call.body
    return _order(session, orders.cancel_order(session, call.workspace, order_id=call.ids["order_id"],
                                               reason=b.reason, actor=call.actor))


# --- redemptions ---------------------------------------------------------------------------

def preview_redemption(session: Session, call: Call) -> schemas.Preview:
    b: schemas.CodeOnOrder = call.body
    p = redemption.preview(session, call.workspace, code=b.code, order_id=b.order_id)
    return schemas.Preview(order_id=p.order.id, value_cents=p.value_cents, currency=p.certificate.currency,
                           amount_due_after_cents=p.amount_due_after_cents, expires_at=p.certificate.expires_at)


def _redemption(session: Session, red: Redemption) -> schemas.Redemption:
    """The redemption with its order; two queries (the order, then its lines with their certificates)."""
    order = session.get(Order, red.order_id)  # red is already scoped to the caller's workspace
    lines = redemption.order_redemptions(session, order)
    cert = next(c for r, c in lines if r.id == red.id)
    return schemas.Redemption(
        id=red.id, certificate_id=cert.id, code=mask_code(cert.code), value_cents=red.amount_cents,
        currency=cert.currency, status=red.status, certificate_status=cert.status, created_at=red.created_at,
        released_at=red.released_at, order=schemas.Order.of(order, lines),
    )


def redeem(session: Session, call: Call) -> schemas.Redemption:
    b: schemas.CodeOnOrder = call.body
    # The dispatcher has just run `redeem_at_once` (this operation's `fast`), which changed nothing.
    red = redemption.redeem(session, call.workspace, code=b.code, order_id=b.order_id, actor=call.actor,
                            attempted=True)
    return _redemption(session, red)


def redeem_at_once(session: Session, call: Call) -> schemas.Redemption | None:
    """The common case of `redeem` in its fastest form; None: nothing was changed, run
    `redeem` to apply or refuse it precisely. Same response, byte for byte."""
    b: schemas.CodeOnOrder = call.body
    done = redemption.redeem_at_once(session, workspace_id=call.workspace_id, code=b.code, order_id=b.order_id,
                                     actor=call.actor)
    if done is None:
        return None
    return schemas.Redemption(
        id=done.redemption_id, certificate_id=done.certificate_id, code=mask_code(done.code),
        value_cents=done.amount_cents, currency=done.currency, status=RedemptionStatus.APPLIED.value,
        certificate_status=CertificateStatus.REDEEMED.value, created_at=done.created_at, released_at=None,
        order=schemas.Order.with_lines(done.order, [schemas.RedemptionLine.of_line(line) for line in done.lines]),
    )


def release_redemption(session: Session, call: Call) -> schemas.Redemption:
    red = redemption.release(session, call.workspace, redemption_id=call.ids["redemption_id"], actor=call.actor)
    return _redemption(session, red)


# --- certificates --------------------------------------------------------------------------

def list_certificates(session: Session, call: Call) -> schemas.CertificatePage:
    q: schemas.CertificateQuery = call.query
    page = search.search_certificates(session, workspace_id=call.workspace.id, query=q.q, status=q.status,
                                      cursor=None if q.cursor is None else str(q.cursor), limit=q.limit)
    return schemas.CertificatePage(data=[schemas.CertificateSummary.of(c) for c in page.items],
                                   next_cursor=page.next_cursor)


def get_certificate(session: Session, call: Call) -> schemas.Certificate:
    return schemas.Certificate.of(_certificate(session, call))


def create_certificate(session: Session, call: Call) -> schemas.Certificate:
    b: schemas.CertificateCreate = call.body
    cert = lifecycle.issue_certificate(
        session, call.workspace, purchaser_name=b.purchaser_name, purchaser_email=b.purchaser_email,
        recipient_name=b.recipient_name, recipient_email=b.recipient_email, amount=b.amount_cents,
        message=b.message, source=CertificateSource.API, paid=b.status == CertificateStatus.ACTIVE.value,
        actor=call.actor,
    )
    return schemas.Certificate.of(cert)


def void_certificate(session: Session, call: Call) -> schemas.Certificate:
    b: schemas.VoidRequest = call.body
    cert = lifecycle.void_certificate(session, call.workspace, certificate_id=call.ids["certificate_id"],
                                      reason=b.reason, actor=call.actor)
    return schemas.Certificate.of(cert)


def reactivate_certificate(session: Session, call: Call) -> schemas.Certificate:
    cert = lifecycle.reactivate_certificate(session, call.workspace, certificate_id=call.ids["certificate_id"],
                                            actor=call.actor)
    return schemas.Certificate.of(cert)


# --- widget sessions -----------------------------------------------------------------------

def create_widget_session(session: Session, call: Call) -> schemas.WidgetSession:
    b: schemas.WidgetSessionCreate = call.body
    grant, token = redemption.create_widget_session(session, call.workspace, order_id=b.order_id)
    return schemas.WidgetSession(token=token, url=f"{config.public_url()}/widget/redeem?session={token}",
                                 order_id=grant.order_id, expires_at=grant.expires_at)


# --- the registry --------------------------------------------------------------------------

@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    name: str
    summary: str
    run: Callable[[Session, Call], BaseModel]
    response: type[BaseModel]
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[str, ...] = ()
    description: str = ""
    # Looks a code up: failed attempts are budgeted (see giftcerts.web.throttle).
    guesses_codes: bool = False
    # Changes nothing; without an Idempotency-Key it runs in a read-only session.
    read_only: bool = False
    # Core field names that differ on the wire.
    field_aliases: dict[str, str] = field(default_factory=dict)
    # Optional shortcut for the common case: answers like `run` in one go, or returns None
    # having changed nothing, and then `run` is called (see giftcerts.api.dispatch).
    fast: Callable[[Session, Call], BaseModel | None] | None = None

    @property
    def path_params(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]


CODE_ERRORS = ("not_found", "invalid_code", "not_active", "expired", "exceeds_order_total", "currency_mismatch",
               "rate_limited")
V1 = "/api/v1"

OPERATIONS: list[Operation] = [
    Operation("POST", f"{V1}/orders", "createOrder", "Create an order", create_order, schemas.Order, 201,
              body=schemas.OrderCreate, errors=("validation_error", "conflict"),
              description="Register a booking so certificates can be applied to it. `amount_due_cents` starts "
                          "at the total and goes down with every certificate applied."),
    Operation("GET", f"{V1}/orders/{{order_id}}", "getOrder", "Get an order", get_order, schemas.Order,
              errors=("not_found",),
              description="The order with what it still owes and every certificate applied to it (codes masked)."),
    Operation("POST", f"{V1}/orders/{{order_id}}/complete", "completeOrder", "Complete an order (booking confirmed)",
              complete_order, schemas.Order, body=schemas.NoBody, errors=("not_found", "not_active"),
              description="Call when the booking is confirmed and paid. Certificates applied to the order were "
                          "held for it; they are now spent for good, and the order takes no more. Completing a "
                          "completed order changes nothing; a cancelled order cannot be completed."),
    Operation("POST", f"{V1}/orders/{{order_id}}/cancel", "cancelOrder", "Cancel an order (booking did not happen)",
              cancel_order, schemas.Order, body=schemas.OrderCancel, errors=("validation_error", "not_found",
                                                                             "not_active"),
              description="Releases every certificate applied to the order (Active again, or Expired if its date "
                          "passed), with an activity entry naming the booking. Works on open and completed "
                          "orders; cancelling a cancelled order changes nothing."),
    Operation("POST", f"{V1}/redemptions/preview", "previewRedemption", "Check a code against an order",
              preview_redemption, schemas.Preview, body=schemas.CodeOnOrder, errors=CODE_ERRORS,
              guesses_codes=True, read_only=True,
              description="Runs every rule of a redemption without changing anything: the code exists in your "
                          "workspace and is active, has not expired, is worth no more than the order still owes, "
                          "and is in the order's currency."),
    Operation("POST", f"{V1}/redemptions", "redeem", "Redeem a certificate on an order", redeem,
              schemas.Redemption, 201, body=schemas.CodeOnOrder, errors=CODE_ERRORS, guesses_codes=True,
              fast=redeem_at_once,
              description="Applies the certificate's full value as payment on the order; the certificate becomes "
                          "Redeemed. Of simultaneous attempts on one code exactly one succeeds. While the order is "
                          "open the certificate is *held* for it (no other order can use it): complete the order "
                          "when the booking is confirmed, or cancel it; a hold neither completed nor cancelled "
                          "within the workspace's hold time (30 minutes unless changed) is released."),
    Operation("POST", f"{V1}/redemptions/{{redemption_id}}/release", "releaseRedemption",
              "Release a redemption (booking cancelled)", release_redemption, schemas.Redemption,
              body=schemas.NoBody, errors=("not_found", "not_active"),
              description="Undo a redemption: the order owes the amount again and the certificate is Active "
                          "again (or Expired, if its date passed meanwhile)."),
    Operation("GET", f"{V1}/certificates", "listCertificates", "Search certificates", list_certificates,
              schemas.CertificatePage, query=schemas.CertificateQuery, errors=("validation_error",),
              description="Newest first, in pages; codes are masked in the list."),
    Operation("POST", f"{V1}/certificates", "createCertificate", "Issue a certificate", create_certificate,
              schemas.Certificate, 201, body=schemas.CertificateCreate, errors=("validation_error",),
              field_aliases={"amount": "amount_cents"},
              description="A sale made on your side. `status: active` (paid) makes it redeemable at once and "
                          "starts its validity period; `pending` waits for payment."),
    Operation("GET", f"{V1}/certificates/{{certificate_id}}", "getCertificate", "Get a certificate",
              get_certificate, schemas.Certificate, errors=("not_found",),
              description="Everything about one certificate of your workspace, the full code included."),
    Operation("POST", f"{V1}/certificates/{{certificate_id}}/void", "voidCertificate", "Void a certificate",
              void_certificate, schemas.Certificate, body=schemas.VoidRequest,
              errors=("validation_error", "not_found", "not_active"),
              description="Cancel a certificate (refund or correction). It can be reactivated later."),
    Operation("POST", f"{V1}/certificates/{{certificate_id}}/reactivate", "reactivateCertificate",
              "Reactivate a voided certificate", reactivate_certificate, schemas.Certificate, body=schemas.NoBody,
              errors=("not_found", "not_active", "expired"),
              description="Restores a voided certificate, unless it expired meanwhile or was never paid."),
    Operation("POST", f"{V1}/widget-sessions", "createWidgetSession", "Start a redemption widget session",
              create_widget_session, schemas.WidgetSession, 201, body=schemas.WidgetSessionCreate,
              errors=("not_found",),
              description="A short-lived token for the checkout widget, bound to one order. Embed `url` in an "
                          "iframe; the widget never sees your API key."),
]
