"""Staff-edited email templates: `{{ placeholder }}` rendered in Jinja2's sandbox.

Staff write the subject and body as plain text. The HTML part is that text escaped as a whole
(a purchaser's message containing `<script>` arrives as text), and unknown placeholders are
refused when the action is saved, not when an email is due.

The sandbox stops a template reaching Python's internals but not from running for hours
(two nested `range(100000)` loops) or building gigabytes (`code * 10**9`) on the app server
and the worker. So a template may only fill in placeholders, choose with `if`/`else` and
comparisons, and apply a few case filters: its rendering time is linear in its length.

Jinja also defines names of its own (`lipsum`, `cycler`, `range`, `namespace`, `self`...), which
would render as function objects with memory addresses. A name is accepted only if it is one of
PLACEHOLDERS, and the environment has no globals, filters or tests beyond what the rule allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from functools import lru_cache

from jinja2 import StrictUndefined, Template, TemplateError, nodes
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
    "failed_attempts": "Code guessing: failed codes counted",
    "detected_at": "Code guessing: when it was detected",
    "guarded_until": "Code guessing: until when the widget is stricter",
}
# Only these mean something for a workspace trigger (code guessing); the others are empty.
ALERT_PLACEHOLDERS = ("workspace_name", "failed_attempts", "detected_at", "guarded_until")

SAMPLE: dict[str, str] = {
    "recipient_name": "Robin Traveller", "recipient_email": "robin@example.com",
    "purchaser_name": "Pat Buyer", "purchaser_email": "pat@example.com",
    "amount": "$250.00", "code": "7K3M-Q9XD-K7QP", "code_masked": "••••-••••-K7QP",
    "expires_on": "2027-06-30", "days_left": "30", "expires_in": "in 30 days",
    "message": "Happy birthday! Enjoy an adventure on us.",
    "workspace_name": "Alpine Tours", "status": "Active",
    "booking_link": "https://booking.example.com/?gift_certificate=7K3M-Q9XD-K7QP",
    "pdf_link": "https://gifts.example.com/certificates/pdf/…",
    "failed_attempts": "1000 within 1 hour", "detected_at": "2027-06-01 14:05 (Europe/Zurich)",
    "guarded_until": "2027-06-02 14:05 (Europe/Zurich)",
}

_text_env = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False)

# What a template may be made of (jinja2.nodes): text, placeholders, if/else, comparisons, constants.
_ALLOWED_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.If,
                  nodes.CondExpr, nodes.Not, nodes.And, nodes.Or, nodes.Compare, nodes.Operand, nodes.Filter)
_ALLOWED_FILTERS = {"upper", "lower", "title", "capitalize", "trim"}
_ALLOWED_COMPARISONS = {"eq", "ne"}
# Nothing but the context a template is rendered with is reachable from it.
_text_env.globals.clear()
_text_env.filters = {name: f for name, f in _text_env.filters.items() if name in _ALLOWED_FILTERS}
_text_env.tests = {}
RULE = ("Use {{ placeholders }}, {% if placeholder %}…{% else %}…{% endif %}, == and != comparisons and the "
        "filters " + ", ".join(sorted(_ALLOWED_FILTERS)) + "; loops, calls, arithmetic and variables are not available.")


class TemplateRefused(TemplateError):
    """The template uses something beyond placeholders and if/else (see RULE)."""


class UnknownPlaceholder(TemplateRefused):
    """The template names something that is not one of PLACEHOLDERS."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(unknown_placeholder_message(name))


def unknown_placeholder_message(name: str) -> str:
    return f"Unknown placeholder “{name[:40]}”. Use one of: " + ", ".join(PLACEHOLDERS) + "."


def _refusal(node: nodes.Node) -> str | None:
    for child in node.find_all(nodes.Node):
        if not isinstance(child, _ALLOWED_NODES):
            return type(child).__name__
        if isinstance(child, nodes.Filter) and (child.name not in _ALLOWED_FILTERS or child.args or child.kwargs):
            return f"filter {child.name}"
        if isinstance(child, nodes.Operand) and child.op not in _ALLOWED_COMPARISONS:
            return f"comparison {child.op}"
        if isinstance(child, nodes.Name) and child.ctx != "load":
            return "assignment"
    return None


def _unknown_name(node: nodes.Node) -> str | None:
    for name in node.find_all(nodes.Name):
        if name.name not in PLACEHOLDERS:
            return name.name
    return None


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    """The template, checked against the rule and compiled once per process."""
    parsed = _text_env.parse(source)
    if _refusal(parsed):
        raise TemplateRefused(RULE)
    unknown = _unknown_name(parsed)
    if unknown is not None:
        raise UnknownPlaceholder(unknown)
    return _text_env.from_string(source)


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
        "failed_attempts": "", "detected_at": "", "guarded_until": "",
    }


def alert_context(alert, workspace: Workspace) -> dict[str, str]:
    """For the `guessing_detected` emails: the alert's placeholders; certificate ones are empty."""
    from giftcerts.clock import format_local

    when = lambda moment: f"{format_local(moment, workspace.timezone, '%Y-%m-%d %H:%M')} ({workspace.timezone})"  # noqa: E731
    return {**{name: "" for name in PLACEHOLDERS}, "workspace_name": workspace.name,
            "failed_attempts": f"{alert.failures} within {alert.window}",
            "detected_at": when(alert.detected_at), "guarded_until": when(alert.guarded_until)}


def check(template: str, field: str, errors: dict[str, str]) -> None:
    """Record in `errors` why a template cannot be used (syntax, unknown placeholder)."""
    try:
        _compiled(template).render(**SAMPLE)
    except UnknownPlaceholder as exc:
        errors[field] = unknown_placeholder_message(exc.name)
    except TemplateRefused:
        errors[field] = RULE
    except TemplateError as exc:
        message = str(exc.message or exc)
        unknown = re.search(r"'(\w+)' is undefined", message)
        errors[field] = (unknown_placeholder_message(unknown.group(1)) if unknown
                         else f"This template cannot be read: {message[:200]}")
    except Exception as exc:  # the sandbox refuses unsafe attribute access with SecurityError
        errors[field] = f"This template cannot be used: {str(exc)[:200]}"


def render(subject: str, body: str, ctx: dict[str, str]) -> Rendered:
    subject_text = " ".join(_compiled(subject).render(**ctx).split())[:300]
    text = _compiled(body).render(**ctx).strip() + "\n"
    links = [ctx.get("booking_link", ""), ctx.get("pdf_link", "")]
    return Rendered(subject=subject_text, text=text, html=_html_body(text, links))


def _html_body(text: str, links: list[str]) -> str:
    """The HTML part is the plain text, escaped as a whole (staff's wording and every value are
    text, never markup), in paragraphs. Only our own links (the booking page, the PDF) are made
    clickable: a web address typed into a personal message stays text, so nobody can send a
    phishing link in a branded email."""
    ours = sorted({str(escape(link)) for link in links if link.startswith(("https://", "http://"))},
                  key=len, reverse=True)
    linkable = re.compile("|".join(map(re.escape, ours))) if ours else None
    paragraphs = [str(escape(p.strip())) for p in re.split(r"\n\s*\n", text) if p.strip()]
    parts = "".join(f"<p>{_link(p, linkable).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return ('<!doctype html><html><body style="font-family: Arial, sans-serif; font-size: 15px; '
            f'line-height: 1.5; color: #1f2328; max-width: 600px;">{parts}</body></html>')


def _link(escaped: str, linkable: re.Pattern | None) -> str:
    if linkable is None:
        return escaped
    return linkable.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)


def preview(subject: str, body: str) -> tuple[Rendered | None, dict[str, str]]:
    """The email as it would look for a sample certificate, or why it cannot be rendered."""
    errors: dict[str, str] = {}
    check(subject, "subject", errors)
    check(body, "body", errors)
    if errors:
        return None, errors
    return render(subject, body, SAMPLE), {}

