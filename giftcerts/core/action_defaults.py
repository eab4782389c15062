"""The actions every workspace starts with (certificate to recipient, receipt, expiry
reminder). Kept in core because creating a workspace writes them; giftcerts.notify edits
and runs actions."""

from __future__ import annotations

from sqlmodel import Session

from giftcerts.clock import utcnow
from giftcerts.models import Action, Workspace

CERTIFICATE_SUBJECT = "Your {{ amount }} gift certificate from {{ workspace_name }}"
CERTIFICATE_BODY = """Hello {{ recipient_name }},

{{ purchaser_name }} has given you a {{ amount }} gift certificate for {{ workspace_name }}.

{{ message }}

Your code: {{ code }}
Valid until: {{ expires_on }}

Enter the code when you book{% if booking_link %}, or open {{ booking_link }}{% endif %}.
Your certificate is attached as a PDF; you can also download it at {{ pdf_link }}"""

RECEIPT_SUBJECT = "Receipt: {{ amount }} gift certificate for {{ recipient_name }}"
RECEIPT_BODY = """Hello {{ purchaser_name }},

Thank you for your purchase. Here is your receipt.

Gift certificate: {{ amount }}
For: {{ recipient_name }} ({{ recipient_email }})
Code: {{ code_masked }}
Valid until: {{ expires_on }}

We have emailed the certificate to {{ recipient_name }}.

{{ workspace_name }}"""

REMINDER_SUBJECT = "Your {{ workspace_name }} gift certificate expires on {{ expires_on }}"
REMINDER_BODY = """Hello {{ recipient_name }},

A friendly reminder: your {{ amount }} gift certificate expires {{ expires_in }}, on {{ expires_on }}.

Your code: {{ code }}

{% if booking_link %}Book your next trip at {{ booking_link }}{% else %}Enter the code when you book your next trip.{% endif %}

{{ workspace_name }}"""

DEFAULTS = [
    dict(name="Certificate to recipient", trigger="activated", recipients="recipient", attach_pdf=True,
         subject_template=CERTIFICATE_SUBJECT, body_template=CERTIFICATE_BODY),
    dict(name="Receipt to purchaser", trigger="activated", recipients="purchaser", attach_pdf=False,
         subject_template=RECEIPT_SUBJECT, body_template=RECEIPT_BODY),
    dict(name="Reminder before expiry", trigger="expiring_soon", recipients="recipient", attach_pdf=False,
         subject_template=REMINDER_SUBJECT, body_template=REMINDER_BODY),
]


def create_defaults(session: Session, workspace: Workspace) -> list[Action]:
    now = utcnow()
    created = [Action(workspace_id=workspace.id, enabled=True, staff_emails="", created_at=now, updated_at=now,
                      **values) for values in DEFAULTS]
    session.add_all(created)
    session.flush()
    return created
