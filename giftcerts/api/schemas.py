"""Request and response bodies of the JSON API, as pydantic models.

They are the single description of the wire format: requests are validated with them,
responses are serialised with them, and the OpenAPI document is generated from them.
Requests are strict (no "5" for 5, no 5.0, no unknown fields); business rules (amount
bounds, email syntax, reference length...) are left to `giftcerts.core`, so the schema
only states types and what the storage can hold.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from giftcerts.core import redemption
from giftcerts.core.codes import format_code, mask_code
from giftcerts.models import STATUS_VALUES, RedemptionStatus
from giftcerts.models import Certificate as CertificateRow
from giftcerts.models import Order as OrderRow
from giftcerts.models import Redemption as RedemptionRow

INT32_MAX = 2_147_483_647  # ids and amounts are 32-bit integer columns



def _whole_number(value):
    """JSON has one number type: 2500.0 is the integer 2500 (as JSON Schema's `integer` says);
    2500.5, "2500" and true are not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Id = Annotated[int, Field(strict=True, ge=1, le=INT32_MAX), BeforeValidator(_whole_number)]
Cents = Annotated[int, Field(strict=True, ge=1, le=INT32_MAX,
                             description="Amount in minor units of the currency (cents for USD, yen for JPY)."),
                  BeforeValidator(_whole_number)]
Text = Annotated[str, Field(strict=True)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ------------------------------------------------------------------------------

class OrderCreate(Request):
    reference: Text = Field(description="Your booking reference, unique in the workspace (at most 100 characters).",
                            examples=["BK-10482"])
    total_cents: Cents = Field(examples=[45000])
    currency: Text | None = Field(None, description="ISO 4217 code; defaults to the workspace currency.",
                                  examples=["USD"])
    customer_email: Text | None = Field(None, examples=["guest@example.com"])


class CodeOnOrder(Request):
    code: Text = Field(description="The certificate code as the customer typed it: case, spaces and dashes "
                                   "do not matter.", examples=["K7QP-2M9D-X4TB"])
    order_id: Id = Field(examples=[1])


class CertificateCreate(Request):
    amount_cents: Cents = Field(examples=[10000])
    purchaser_name: Text = Field(examples=["Pat Buyer"])
    purchaser_email: Text = Field(examples=["pat@example.com"])
    recipient_name: Text = Field(examples=["Robin Traveller"])
    recipient_email: Text = Field(examples=["robin@example.com"])
    message: Text = Field("", description="Optional personal message (at most 1000 characters).",
                          examples=["Happy travels!"])
    status: Literal["active", "pending"] = Field(
        "active", description="`active`: already paid, redeemable now. `pending`: awaiting payment.")


class VoidRequest(Request):
    reason: Text = Field(description="Why it is cancelled (refund, correction...); kept in the activity log.",
                         examples=["Customer refund"])


class WidgetSessionCreate(Request):
    order_id: Id = Field(examples=[1])


class OrderCancel(Request):
    reason: Text | None = Field(None, description="Why the booking did not happen (at most 500 characters); "
                                                  "kept on the order and in each released certificate's activity.",
                                examples=["Customer cancelled the tour"])


class NoBody(Request):
    """The endpoint takes no body; an empty body or `{}` is accepted."""


class CertificateQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt filter is an error, not silently ignored

    q: str | None = Field(None, max_length=254,
                          description="A code, an email (purchaser or recipient), or the start of a name or email.")
    status: Literal[STATUS_VALUES] | None = Field(None, description="Only certificates in this status.")  # type: ignore[valid-type]
    cursor: int | None = Field(None, ge=1, le=INT32_MAX, description="`next_cursor` of the previous page.")
    limit: int = Field(25, ge=1, le=100)


# --- responses -----------------------------------------------------------------------------

class RedemptionLine(Response):
    id: int
    certificate_id: int
    code: str = Field(description="Masked certificate code (last four symbols).", examples=["••••-••••-X4TB"])
    amount_cents: int
    currency: str
    status: Literal["applied", "released"]
    held: bool = Field(description="Applied to the open order and held for it until the order is completed "
                                   "(then final) or cancelled, or the workspace's hold time passes (released).")
    created_at: datetime
    released_at: datetime | None
    captured_at: datetime | None = Field(description="When the order's completion made it final.")

    @classmethod
    def of(cls, red: RedemptionRow, cert: CertificateRow) -> RedemptionLine:
        return cls(id=red.id, certificate_id=cert.id, code=mask_code(cert.code), amount_cents=red.amount_cents,
                   currency=cert.currency, status=red.status, held=_held(red.status, red.captured_at),
                   created_at=red.created_at, released_at=red.released_at, captured_at=red.captured_at)

    @classmethod
    def of_line(cls, line: redemption.Line) -> RedemptionLine:
        return cls(id=line.id, certificate_id=line.certificate_id, code=mask_code(line.code),
                   amount_cents=line.amount_cents, currency=line.currency, status=line.status,
                   held=_held(line.status, line.captured_at), created_at=line.created_at,
                   released_at=line.released_at, captured_at=line.captured_at)


def _held(status: str, captured_at: datetime | None) -> bool:
    return status == RedemptionStatus.APPLIED.value and captured_at is None


class Order(Response):
    id: int
    reference: str
    status: Literal["open", "completed", "cancelled"] = Field(
        description="`open` while the booking is in progress (certificates applied to it are held), `completed` "
                    "once you confirmed it (they are final), `cancelled` if it did not happen (they were released).")
    currency: str
    total_cents: int
    amount_due_cents: int = Field(description="What the order still owes after the certificates applied to it.")
    customer_email: str
    created_at: datetime
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str = ""
    redemptions: list[RedemptionLine]

    @classmethod
    def of(cls, order: OrderRow, lines: list[tuple[RedemptionRow, CertificateRow]]) -> Order:
        return cls.with_lines(order, [RedemptionLine.of(red, cert) for red, cert in lines])

    @classmethod
    def with_lines(cls, order: OrderRow | redemption.OrderAfter, lines: list[RedemptionLine]) -> Order:
        return cls(id=order.id, reference=order.reference, status=order.status, currency=order.currency,
                   total_cents=order.total_cents, amount_due_cents=order.amount_due_cents,
                   customer_email=order.customer_email, created_at=order.created_at,
                   completed_at=order.completed_at, cancelled_at=order.cancelled_at,
                   cancel_reason=order.cancel_reason, redemptions=lines)


class Preview(Response):
    order_id: int
    value_cents: int = Field(description="What the certificate would pay (always its full value).")
    currency: str
    amount_due_after_cents: int
    expires_at: datetime | None


class Redemption(Response):
    id: int
    certificate_id: int
    code: str = Field(description="Masked certificate code.", examples=["••••-••••-X4TB"])
    value_cents: int
    currency: str
    status: Literal["applied", "released"]
    certificate_status: Literal[STATUS_VALUES]  # type: ignore[valid-type]
    created_at: datetime
    released_at: datetime | None
    order: Order


class CertificateSummary(Response):
    id: int
    code: str = Field(description="Masked in lists; fetch the certificate by id for the full code.",
                      examples=["••••-••••-X4TB"])
    status: Literal[STATUS_VALUES]  # type: ignore[valid-type]
    amount_cents: int
    currency: str
    purchaser_name: str
    purchaser_email: str
    recipient_name: str
    recipient_email: str
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, cert: CertificateRow) -> CertificateSummary:
        return cls(**_common(cert), code=mask_code(cert.code))


class Certificate(Response):
    id: int
    code: str = Field(description="The full code, formatted XXXX-XXXX-XXXX.", examples=["K7QP-2M9D-X4TB"])
    status: Literal[STATUS_VALUES]  # type: ignore[valid-type]
    amount_cents: int
    currency: str
    purchaser_name: str
    purchaser_email: str
    recipient_name: str
    recipient_email: str
    message: str
    source: Literal["portal", "manual", "api"]
    created_at: datetime
    activated_at: datetime | None
    expires_at: datetime | None
    redeemed_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None

    @classmethod
    def of(cls, cert: CertificateRow) -> Certificate:
        return cls(**_common(cert), code=format_code(cert.code), message=cert.message, source=cert.source,
                   activated_at=cert.activated_at, redeemed_at=cert.redeemed_at, voided_at=cert.voided_at,
                   void_reason=cert.void_reason)


def _common(cert: CertificateRow) -> dict:
    return dict(id=cert.id, status=cert.status, amount_cents=cert.amount_cents, currency=cert.currency,
                purchaser_name=cert.purchaser_name, purchaser_email=cert.purchaser_email,
                recipient_name=cert.recipient_name, recipient_email=cert.recipient_email,
                created_at=cert.created_at, expires_at=cert.expires_at)


class CertificatePage(Response):
    data: list[CertificateSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class WidgetSession(Response):
    token: str = Field(description="Short-lived grant for the checkout widget; it can redeem on this order only.")
    url: str = Field(description="Open this URL in an iframe on your checkout page.")
    order_id: int
    expires_at: datetime


class ErrorDetail(Response):
    code: str = Field(examples=["invalid_code"])
    message: str = Field(description="Safe to show to the customer.")
    fields: dict[str, str] | None = Field(None, description="validation_error only: field -> problem.")


class Error(Response):
    error: ErrorDetail


class Health(Response):
    status: Literal["ok"]
