"""Turn domain objects into the plain strings a page shows (in the workspace's timezone)."""

from __future__ import annotations

from datetime import datetime

from giftcerts.clock import format_date, format_local, utcnow
from giftcerts.core import money, orders, reports
from giftcerts.core import activity
from giftcerts.core.activity import MEANINGS, ActivityKind
from giftcerts.core.codes import format_code, mask_code
from giftcerts.models import Activity, Certificate, CertificateStatus, Workspace


def status_label(status: str) -> str:
    return CertificateStatus(status).label


def certificate_row(cert: Certificate, ws: Workspace) -> dict[str, str]:
    """A list row: the code is masked, a full code is shown only on the detail page."""
    return {
        "id": str(cert.id),
        "code": mask_code(cert.code),
        "status": cert.status,
        "status_label": status_label(cert.status),
        "amount": money.format_money(cert.amount_cents, cert.currency),
        "recipient": cert.recipient_name,
        "recipient_email": cert.recipient_email,
        "purchaser_email": cert.purchaser_email,
        "created": format_date(cert.created_at, ws.timezone),
        "expires": format_date(cert.expires_at, ws.timezone) or "—",
    }


def certificate_detail(cert: Certificate, ws: Workspace) -> dict[str, str]:
    when = lambda moment: format_local(moment, ws.timezone) or "—"  # noqa: E731
    return {
        **certificate_row(cert, ws),
        "code": format_code(cert.code),
        "purchaser_name": cert.purchaser_name,
        "message": cert.message or "",
        "source": reports.SOURCES.get(cert.source, cert.source),
        "created_at": when(cert.created_at),
        "activated_at": when(cert.activated_at),
        "expires_at": when(cert.expires_at),
        "redeemed_at": when(cert.redeemed_at),
        "voided_at": when(cert.voided_at),
        "void_reason": cert.void_reason or "",
        "timezone": ws.timezone,
        # Portal sales paid by card: the Stripe references, and whether voiding refunds.
        "payment": f"Stripe {cert.stripe_payment_intent_id}" if cert.stripe_payment_intent_id else "",
        "refund": (f"Stripe {cert.stripe_refund_id}, {when(cert.refunded_at)}" if cert.stripe_refund_id else ""),
        "refundable": "yes" if (cert.source == "portal" and cert.stripe_payment_intent_id
                                and cert.status in ("active", "refunding") and cert.refunded_at is None) else "",
        # Voiding with a refund that has not finished (Stripe's answer lost, or a crash): since when.
        "refund_requested_at": when(cert.refund_requested_at) if cert.status == "refunding" else "",
    }


def activity_row(entry: Activity, ws: Workspace) -> dict[str, str]:
    try:
        meaning = MEANINGS[ActivityKind(entry.kind)]
    except ValueError:
        meaning = ""
    return {
        "id": str(entry.id),
        "kind": entry.kind,
        "meaning": meaning,
        "actor": entry.actor,
        "when": format_local(entry.created_at, ws.timezone),
        "details": activity.describe(entry, ws.timezone),
    }


def amount_input(cents: int, currency: str, locale: str = money.DEFAULT_LOCALE) -> str:
    """An amount pre-filled in a form, written in the workspace's number format."""
    return money.format_plain(cents, currency, locale=locale)


def order_row(order, ws: Workspace) -> dict[str, str]:
    return {
        "id": str(order.id),
        "reference": order.reference,
        "customer_email": order.customer_email or "—",
        "total": money.format_money(order.total_cents, order.currency),
        "amount_due": money.format_money(order.amount_due_cents, order.currency),
        "status": order.status,
        "status_label": order.status.capitalize(),
        "created": format_local(order.created_at, ws.timezone),
        "closed": format_local(order.completed_at or order.cancelled_at, ws.timezone),
        "cancel_reason": order.cancel_reason or "",
    }


def hold_text(red, order, ws: Workspace, now: datetime | None = None) -> str:
    """What a redemption's hold looks like to staff: "Held until 14:35 (12 min left)", "Final"..."""
    if red.status != "applied":
        return ""
    if red.captured_at is not None:
        return "Final: booking confirmed " + format_local(red.captured_at, ws.timezone)
    until = orders.hold_expires_at(ws, red, order)
    if until is None:
        return "Held until the order is completed or cancelled"
    left = max(0, int((until - (now or utcnow())).total_seconds() // 60))
    return f"Held for this checkout until {format_local(until, ws.timezone)} ({left} min left)"


def redemption_row(red, cert: Certificate, ws: Workspace, order=None) -> dict[str, str]:
    """One certificate applied to an order, seen from the order (masked code)."""
    return {
        "id": str(red.id),
        "certificate_id": str(cert.id),
        "code": mask_code(cert.code),
        "amount": money.format_money(red.amount_cents, cert.currency),
        "status": red.status,
        "status_label": red.status.capitalize(),
        "when": format_local(red.created_at, ws.timezone),
        "released": format_local(red.released_at, ws.timezone),
        "hold": hold_text(red, order, ws) if order is not None else "",
    }


def certificate_use_row(red, order, ws: Workspace) -> dict[str, str]:
    """One order a certificate was applied to, seen from the certificate."""
    return {
        "id": str(red.id),
        "order_id": str(order.id),
        "reference": order.reference,
        "amount": money.format_money(red.amount_cents, order.currency),
        "status": red.status,
        "when": format_local(red.created_at, ws.timezone),
        "released": format_local(red.released_at, ws.timezone),
        "hold": hold_text(red, order, ws),
    }
