"""Build and send emails over SMTP (`GIFTCERTS_SMTP_URL`, e.g. `smtp://127.0.0.1:1025`,
`smtp://user:pass@mail.example.com:587?starttls=1`, `smtps://...:465`).

The Message-ID is derived from the job that sends the email, so if a worker crashes after
the server accepted a message but before the job was marked done, the copy sent on retry
carries the same Message-ID and is recognisable as a duplicate.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_SMTP_URL = "smtp://127.0.0.1:1025"


def smtp_url() -> str:
    return os.environ.get("GIFTCERTS_SMTP_URL") or DEFAULT_SMTP_URL


def from_address() -> str:
    return os.environ.get("GIFTCERTS_MAIL_FROM") or "certificates@giftcerts.localhost"


def message_id(job_id: int) -> str:
    domain = from_address().rsplit("@", 1)[-1] or "giftcerts.localhost"
    return f"<giftcerts-job-{job_id}@{domain}>"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "pdf"


def build(*, job_id: int, sender_name: str, to: str, subject: str, text: str, html: str,
          attachments: list[Attachment] = ()) -> EmailMessage:
    msg = EmailMessage()
    # The workspace is the sender's display name; header injection is impossible through
    # Address (it quotes the name, and newlines are refused).
    display = " ".join(sender_name.split())[:100] or "Gift certificates"
    user, _, domain = from_address().partition("@")
    msg["From"] = Address(display_name=display, username=user, domain=domain or "giftcerts.localhost")
    msg["To"] = to
    msg["Subject"] = " ".join(subject.split())
    msg["Message-ID"] = message_id(job_id)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    for att in attachments:
        msg.add_attachment(att.content, maintype=att.maintype, subtype=att.subtype, filename=att.filename)
    return msg


BAD_SMTP_URL = ("GIFTCERTS_SMTP_URL is not a valid smtp:// or smtps:// address (percent-encode any / # ? @ : "
                "in its user name and password)")


def _server(url: str):
    """The parsed URL and its port. Python's own errors quote the URL, and so its password,
    into the job's error that staff see and the log: this one says what is wrong, never what was there."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(BAD_SMTP_URL) from None
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(BAD_SMTP_URL)
    return parts, port


def send(msg: EmailMessage, url: str | None = None, timeout: float = 20) -> None:
    """Hand one message to the SMTP server; raises on any refusal (the job is retried)."""
    parts, port = _server(url or smtp_url())
    query = parse_qs(parts.query)
    host = parts.hostname or "127.0.0.1"
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(host, port or 465, timeout=timeout, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, port or 25, timeout=timeout)
    with client:
        if query.get("starttls", ["0"])[0] in ("1", "true", "yes"):
            client.starttls(context=ssl.create_default_context())
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        refused = client.send_message(msg)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
