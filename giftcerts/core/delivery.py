"""Workspace settings for documents and email: reminder days and the booking link the
certificate's QR code opens; and staff's "Resend email"."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlmodel import Session

from giftcerts.core import expiry, outbox
from giftcerts.core.documents import forget_pdfs
from giftcerts.core.errors import InvalidTransition, ValidationError
from giftcerts.core.lifecycle import get_certificate
from giftcerts.core.validation import clean_email, clean_text
from giftcerts.models import Certificate, CertificateStatus, Workspace


@dataclass(frozen=True)
class DeliverySettings:
    reminder_days: str | None  # None: leave unchanged
    booking_url: str | None


def validate(*, reminder_days: str | None, booking_url: str | None, errors: dict[str, str]) -> DeliverySettings:
    """Check the two fields, adding any problem to `errors` (merged with the other settings')."""
    days = None if reminder_days is None else expiry.clean_thresholds(reminder_days, errors)
    url = None if booking_url is None else clean_text(booking_url)
    if url:
        parts = urlsplit(url.replace("{code}", "CODE"))
        local = (parts.hostname or "") in ("localhost", "127.0.0.1")
        if len(url) > 500 or parts.scheme not in ("https", "http") or not parts.hostname or \
                (parts.scheme == "http" and not local) or "@" in parts.netloc:
            errors["booking_url"] = ("Enter your booking page's address starting with https://, "
                                     "e.g. https://booking.example.com/?voucher={code}")
    return DeliverySettings(reminder_days=days, booking_url=url)


def apply(session: Session, workspace: Workspace, change: DeliverySettings) -> None:
    if change.reminder_days is not None:
        workspace.reminder_days = change.reminder_days
    if change.booking_url is not None and change.booking_url != workspace.booking_url:
        workspace.booking_url = change.booking_url
        forget_pdfs(session, workspace_id=workspace.id)  # their QR codes open the old page
    session.add(workspace)


RESEND_CHOICES = {"recipient": "Recipient", "purchaser": "Purchaser", "other": "Another address"}


def resend_certificate(session: Session, workspace: Workspace, *, certificate_id, send_to: str,
                       address: str | None, actor: str) -> str:
    """Queue the certificate email (with its PDF) again; returns the address it goes to."""
    cert: Certificate = get_certificate(session, workspace_id=workspace.id, certificate_id=certificate_id)
    if cert.status != CertificateStatus.ACTIVE.value:
        raise InvalidTransition(f"This certificate is {CertificateStatus(cert.status).label}: "
                                "only an active certificate can be sent.")
    errors: dict[str, str] = {}
    if send_to == "recipient":
        to = cert.recipient_email
    elif send_to == "purchaser":
        to = cert.purchaser_email
    elif send_to == "other":
        to = clean_email(address, "email address", errors, "address")
    else:
        errors["send_to"] = "Choose who receives the email."
        to = ""
    if errors:
        raise ValidationError(errors)
    outbox.enqueue(session, outbox.SEND_EMAIL, workspace_id=workspace.id, certificate_id=cert.id,
                   payload={"to": to, "trigger": "resend", "requested_by": actor[:254]})
    return to
