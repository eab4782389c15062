"""The activity log: one described constant per kind, one function that writes an entry.

Kinds use the seed's words; they are shown to staff exactly as written here.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlmodel import Session, select

from giftcerts.clock import utcnow
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
    ActivityKind.RELEASED: "Redemption was undone because the booking was cancelled",
    ActivityKind.REFUNDED: "The card payment was refunded to the purchaser",
    ActivityKind.REMINDER_SENT: "The holder was reminded that the certificate expires soon",
    ActivityKind.REFUND_STARTED: "Voiding began: out of use while the card refund is with Stripe",
    ActivityKind.REFUND_FAILED: "Stripe refused the refund; the certificate was put back as it was",
}

SYSTEM_ACTOR = "system"


def record(
    session: Session,
    certificate: Certificate,
    kind: ActivityKind,
    *,
    actor: str,
    details: str = "",
    now: datetime | None = None,
) -> Activity:
    entry = Activity(
        workspace_id=certificate.workspace_id,
        certificate_id=certificate.id,
        kind=kind.value,
        actor=actor[:254],
        details=details[:2000],
        created_at=now or utcnow(),
    )
    session.add(entry)
    return entry


def history(session: Session, *, workspace_id: int, certificate_id: int) -> list[Activity]:
    """A certificate's activity, oldest first, scoped to its workspace."""
    return list(
        session.exec(
            select(Activity)
            .where(Activity.workspace_id == workspace_id, Activity.certificate_id == certificate_id)
            .order_by(Activity.id)
        )
    )
