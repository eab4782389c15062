"""Staff-edited email templates: `{{ placeholder }}` rendered in Jinja2's sandbox.

Staff write the subject and body as plain text. The HTML part is that text escaped as a whole
(a purchaser's message containing `<script>` arrives as text), and unknown placeholders are
refused when the action is saved, not when an email is due.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import escape

from giftcerts import config
from giftcerts.clock import days_until, format_date, in_days, utcnow
from giftcerts.core import money
from giftcerts.core.codes import format_code, mask_code
from giftcerts.models import Certificate, Workspace

PLACEHOLDERS: dict[str, str] = {
    "recipient_name": "Recipient's name",
    "recipient_email": "Recipient's email",
    "purchaser_name": "Purchaser's name",
    "purchaser_email": "Purchaser's email",
    "amount": "Value in the workspace currency",
    "code": "Full redemption code",
    "code_masked": "Code with only its last 4 characters",
    "expires_on": "Expiry date",
    "days_left": "Days until expiry (a number)",
    "expires_in": "“today”, “tomorrow” or “in 12 days”",
    "message": "Personal message",
    "workspace_name": "Your workspace's name",
    "status": "Certificate status",
    "booking_link": "Booking page with the code filled in",
    "pdf_link": "Link to download the PDF",
}

SAMPLE: dict[str, str] = {
    "recipient_name": "Robin Traveller", "recipient_email": "robin@example.com",
    "purchaser_name": "Pat Buyer", "purchaser_email": "pat@example.com",
    "amount": "$250.00", "code": "7K3M-Q9XD-K7QP", "code_masked": "••••-••••-K7QP",
    "expires_on": "2027-06-30", "days_left": "30", "expires_in": "in 30 days",
    "message": "Happy birthday! Enjoy an adventure on us.",
    "workspace_name": "Alpine Tours", "status": "Active",
    "booking_link": "https://booking.example.com/?gift_certificate=7K3M-Q9XD-K7QP",
    "pdf_link": "https://gifts.example.com/certificates/pdf/…",
}

_text_env = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def context(cert: Certificate, workspace: Workspace, *, pdf_link: str = "", now=None) -> dict[str, str]:
    from giftcerts.documents.pdf import booking_link  # documents imports WeasyPrint: load on demand

    now = now or utcnow()
    days = days_until(cert.expires_at, workspace.timezone, now) if cert.expires_at else 0
    return {
        "recipient_name": cert.recipient_name, "recipient_email": cert.recipient_email,
        "purchaser_name": cert.purchaser_name, "purchaser_email": cert.purchaser_email,
        "amount": money.format_money(cert.amount_cents, cert.currency),
        "code": format_code(cert.code), "code_masked": mask_code(cert.code),
        "expires_on": format_date(cert.expires_at, workspace.timezone) or "no expiry date",
        "days_left": str(days), "expires_in": in_days(days),
        "message": cert.message or "", "workspace_name": workspace.name,
        "status": cert.status.capitalize(),
        "booking_link": booking_link(workspace, format_code(cert.code)),
        "pdf_link": pdf_link or config.public_url(),
    }


def check(template: str, field: str, errors: dict[str, str]) -> None:
    """Record in `errors` why a template cannot be used (syntax, unknown placeholder)."""
    try:
        _text_env.from_string(template).render(**SAMPLE)
    except TemplateError as exc:
        message = str(exc.message or exc)
        unknown = re.search(r"'(\w+)' is undefined", message)
        errors[field] = (f"Unknown placeholder “{unknown.group(1)}”. Use one of: "
                         + ", ".join(PLACEHOLDERS) + "." if unknown
                         else f"This template cannot be read: {message[:200]}")
    except Exception as exc:  # the sandbox refuses unsafe attribute access with SecurityError
        errors[field] = f"This template cannot be used: {str(exc)[:200]}"


def render(subject: str, body: str, ctx: dict[str, str]) -> Rendered:
    subject_text = " ".join(_text_env.from_string(subject).render(**ctx).split())[:300]
    text = _text_env.from_string(body).render(**ctx).strip() + "\n"
    return Rendered(subject=subject_text, text=text, html=_html_body(text))


def _html_body(text: str) -> str:
    """The HTML part is the plain text, escaped as a whole (staff's wording and every value are
    text, never markup), in paragraphs, with its links made clickable."""
    paragraphs = [str(escape(p.strip())) for p in re.split(r"\n\s*\n", text) if p.strip()]
    parts = "".join(f"<p>{_link(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return ('<!doctype html><html><body style="font-family: Arial, sans-serif; font-size: 15px; '
            f'line-height: 1.5; color: #1f2328; max-width: 600px;">{parts}</body></html>')


_URL = re.compile(r"https?://[^\s<>\"']+")


def _link(escaped: str) -> str:
    """Make the (already escaped) URLs of a paragraph clickable."""
    return _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)


def preview(subject: str, body: str) -> tuple[Rendered | None, dict[str, str]]:
    """The email as it would look for a sample certificate, or why it cannot be rendered."""
    errors: dict[str, str] = {}
    check(subject, "subject", errors)
    check(body, "body", errors)
    if errors:
        return None, errors
    return render(subject, body, SAMPLE), {}

