"""The activity log: one described constant per kind, one function that writes an entry and
one that words it (`describe`).

Kinds use the seed's words; they are shown to staff exactly as written here. An entry stores
its kind and structured parameters (amounts, moments, the order's reference, a reason), and is
worded when shown, in the timezone of whoever looks: a moment is kept as a moment, not as the
date it was in one timezone when written. Entries written before parameters existed (params
NULL) keep their English `details`, shown as they are: the moments they name were already
formatted to local dates and cannot be recovered exactly.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session, select

from giftcerts.clock import format_date, utcnow
from giftcerts.core import money
from giftcerts.models import Activity, Certificate


class ActivityKind(str, enum.Enum):
    CREATED = "Created"
    PURCHASED = "Purchased"
    REDEEMED = "Redeemed"
    VOIDED = "Voided"
    REACTIVATED = "Reactivated"
    SENT = "Sent"
    PURCHASED_FROM_PORTAL = "Purchased from Portal"
    ACTIVATED_FROM_PORTAL = "Activated from Portal"
    EXPIRED = "Expired"
    RELEASED = "Released"
    REFUNDED = "Refunded"
    REMINDER_SENT = "Reminder sent"
    REFUND_STARTED = "Refund started"
    REFUND_FAILED = "Refund failed"
    CAPTURED = "Booking confirmed"


MEANINGS: dict[ActivityKind, str] = {
    ActivityKind.CREATED: "Certificate record was created",
    ActivityKind.PURCHASED: "Payment was completed",
    ActivityKind.REDEEMED: "Certificate was used on a booking",
    ActivityKind.VOIDED: "Certificate was cancelled",
    ActivityKind.REACTIVATED: "Voided certificate was restored",
    ActivityKind.SENT: "Certificate email was sent",
    ActivityKind.PURCHASED_FROM_PORTAL: "Purchase came from the public portal",
    ActivityKind.ACTIVATED_FROM_PORTAL: "Certificate became active via portal purchase",
    ActivityKind.EXPIRED: "Certificate passed its expiration date",
    ActivityKind.RELEASED: "Redemption was undone: the booking was cancelled or its checkout abandoned",
    ActivityKind.REFUNDED: "The card payment was refunded to the purchaser",
    ActivityKind.REMINDER_SENT: "The holder was reminded that the certificate expires soon",
    ActivityKind.REFUND_STARTED: "Voiding began: out of use while the card refund is with Stripe",
    ActivityKind.REFUND_FAILED: "Stripe refused the refund; the certificate was put back as it was",
    ActivityKind.CAPTURED: "The booking it was held for was confirmed: the redemption is final",
}

SYSTEM_ACTOR = "system"


def record(
    session: Session,
    certificate: Certificate,
    kind: ActivityKind,
    *,
    actor: str,
    params: dict | None = None,
    details: str = "",
    now: datetime | None = None,
) -> Activity:
    """Add an entry to the caller's transaction: `params` are worded by `describe` (moments
    are stored in ISO 8601); `details` only for a free text that has no parameters."""
    entry = Activity(
        workspace_id=certificate.workspace_id,
        certificate_id=certificate.id,
        kind=kind.value,
        actor=actor[:254],
        params=stored_params(params if params is not None else ({"note": details[:2000]} if details else {})),
        created_at=now or utcnow(),
    )
    session.add(entry)
    return entry


def stored_params(params: dict) -> dict:
    """`params` as stored in the JSON column: moments as ISO 8601 text, the rest as given."""
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in params.items()}


def _date(value: str | None, timezone: str) -> str:
    return format_date(datetime.fromisoformat(value), timezone) if value else ""


def _amount(p: dict) -> str:
    return money.format_money(p["amount_cents"], p["currency"])


def _reason(p: dict) -> str:
    return f"Reason: {p['reason']}"


def _voided(p: dict, tz: str) -> str:
    refunded = (f" Payment of {_amount(p)} refunded to the card (Stripe {p['refund_id']})."
                if p.get("refund_id") else "")
    return f"{_reason(p)}{refunded}"


def _refund_started(p: dict, tz: str) -> str:
    doing = ("the card payment is being refunded through Stripe" if p.get("paid") else
             "the checkout is being cancelled at Stripe (and refunded if it was paid)")
    return f"{_reason(p)}. Voiding: {doing}; the certificate cannot be used meanwhile."


def _released(p: dict, tz: str) -> str:
    why = p.get("reason") or f"Order {p['order_reference']} cancelled"
    if p.get("expires_at") and not p.get("usable"):
        return f"{why}; the certificate expired on {_date(p['expires_at'], tz)}"
    return f"{why}; the certificate can be used again"


def _purchased(p: dict, tz: str) -> str:
    if "payment_reference" in p:
        return f"{_amount(p)} paid by card ({p['payment_reference']})"
    return _active_until(p, tz)


def _active_until(p: dict, tz: str) -> str:
    return f"Active until {_date(p.get('expires_at'), tz)}" if p.get("expires_at") else ""


def _sent(p: dict, tz: str) -> str:
    return f"{p['what']} to {p['to']}" + (" with the PDF" if p.get("with_pdf") else "")


# How each kind's parameters read; an entry with a `note` (free text staff or a caller gave) reads as it.
WORDINGS: dict[ActivityKind, Callable[[dict, str], str]] = {
    ActivityKind.CREATED: lambda p, tz: f"{_amount(p)} for {p['recipient_name']}, {p['source']} sale",
    ActivityKind.PURCHASED: _purchased,
    ActivityKind.PURCHASED_FROM_PORTAL: lambda p, tz: f"Bought by {p['purchaser_name']} <{p['purchaser_email']}>",
    ActivityKind.ACTIVATED_FROM_PORTAL: _active_until,
    ActivityKind.REDEEMED: lambda p, tz: f"Order {p['order_reference']}",
    ActivityKind.VOIDED: _voided,
    ActivityKind.REACTIVATED: lambda p, tz: "",
    ActivityKind.SENT: _sent,
    ActivityKind.REMINDER_SENT: _sent,
    ActivityKind.EXPIRED: lambda p, tz: f"Expired on {_date(p['expires_at'], tz)}",
    ActivityKind.RELEASED: _released,
    ActivityKind.CAPTURED: lambda p, tz: f"Order {p['order_reference']} completed; the certificate is spent for good",
    ActivityKind.REFUNDED: lambda p, tz: (f"Payment refunded (Stripe {p['refund_id']}), but the certificate could "
                                          f"not be voided: {p['problem']}"),
    ActivityKind.REFUND_STARTED: _refund_started,
    ActivityKind.REFUND_FAILED: lambda p, tz: (f"{p['reason']} The certificate was not voided and is "
                                               f"{p['status_label']} again."),
}


def describe(entry: Activity, timezone: str) -> str:
    """What staff read for an entry (the dashboard, exports, emails), its moments in `timezone`."""
    params = entry.params
    if params is None:  # written before entries had parameters: its English text as written
        return entry.details
    if "note" in params:
        return params["note"]
    try:
        return WORDINGS[ActivityKind(entry.kind)](params, timezone)
    except (ValueError, KeyError):  # a kind or parameters this code does not know: what was written, if anything
        return entry.details


def history(session: Session, *, workspace_id: int, certificate_id: int) -> list[Activity]:
    """A certificate's activity, oldest first, scoped to its workspace."""
    return list(
        session.exec(
            select(Activity)
            .where(Activity.workspace_id == workspace_id, Activity.certificate_id == certificate_id)
            .order_by(Activity.id)
        )
    )
