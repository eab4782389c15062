"""Actions: per-workspace automation rules ("when a certificate is activated, email the
recipient the certificate"; "when code guessing is detected, email the office"). Each
workspace starts with sensible defaults (giftcerts.core.action_defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from giftcerts.clock import utcnow
from giftcerts.core.errors import ValidationError
from giftcerts.core.scoped import get_in_workspace
from giftcerts.core.validation import clean_email, clean_text
from giftcerts.models import ACTION_TRIGGERS, Action, Workspace
from giftcerts.notify import templates

TRIGGERS: dict[str, str] = {
    "created": "Certificate created",
    "activated": "Certificate activated",
    "redeemed": "Certificate redeemed",
    "voided": "Certificate voided",
    "expiring_soon": "Certificate expiring soon",
    "expired": "Certificate expired",
    "guessing_detected": "Code guessing detected",
}
# Triggers about the workspace, not a certificate: only staff addresses can be emailed.
WORKSPACE_TRIGGERS = {"guessing_detected"}
assert tuple(TRIGGERS) == ACTION_TRIGGERS
ROLES: dict[str, str] = {"recipient": "Recipient", "purchaser": "Purchaser", "staff": "Staff addresses"}
MAX_STAFF_EMAILS = 10


def list_actions(session: Session, *, workspace_id: int) -> list[Action]:
    return list(session.exec(select(Action).where(Action.workspace_id == workspace_id).order_by(Action.id)))


def enabled_for(session: Session, *, workspace_id: int, trigger: str) -> list[Action]:
    return list(session.exec(
        select(Action).where(Action.workspace_id == workspace_id, Action.trigger == trigger, Action.enabled)
        .order_by(Action.id)
    ))


def get_action(session: Session, *, workspace_id: int, action_id) -> Action:
    return get_in_workspace(session, Action, workspace_id, action_id, not_found="Action not found.")


@dataclass(frozen=True)
class ActionInput:
    name: str
    trigger: str
    recipients: str
    staff_emails: str
    subject_template: str
    body_template: str
    attach_pdf: bool
    enabled: bool


def validate(*, name, trigger, recipients: list[str], staff_emails, subject, body, attach_pdf, enabled) -> ActionInput:
    errors: dict[str, str] = {}
    name = clean_text(name)[:100]
    if not name:
        errors["name"] = "Give the action a name, e.g. “Certificate to recipient”."
    if trigger not in TRIGGERS:
        errors["trigger"] = "Choose when this action runs."
    roles = [r for r in ROLES if r in set(recipients or [])]
    if not roles:
        errors["recipients"] = "Choose who receives the email."
    addresses: list[str] = []
    raw = [a for a in str(staff_emails or "").replace(";", ",").replace("\n", ",").split(",") if a.strip()]
    if len(raw) > MAX_STAFF_EMAILS:
        errors["staff_emails"] = f"List at most {MAX_STAFF_EMAILS} staff addresses."
    else:
        for entry in raw:
            one: dict[str, str] = {}
            address = clean_email(entry, "staff address", one, "staff_emails")
            if one:
                errors["staff_emails"] = f"“{entry.strip()[:60]}” is not an email address."
                break
            addresses.append(address)
    if trigger in WORKSPACE_TRIGGERS and set(roles) - {"staff"}:
        errors["recipients"] = "This happens to the workspace, not a certificate: send it to staff addresses."
    if "staff" in roles and not addresses and "staff_emails" not in errors:
        errors["staff_emails"] = "Enter at least one staff address, or untick “Staff addresses”."
    subject = clean_text(subject)
    body = str(body or "").replace("\r\n", "\n").strip()
    if not subject:
        errors["subject"] = "Enter a subject."
    elif len(subject) > 300:
        errors["subject"] = "The subject must be at most 300 characters."
    else:
        templates.check(subject, "subject", errors)
    if not body:
        errors["body"] = "Enter the email's text."
    elif len(body) > 5000:
        errors["body"] = "The text must be at most 5000 characters."
    else:
        templates.check(body, "body", errors)
    if errors:
        raise ValidationError(errors)
    return ActionInput(name=name, trigger=trigger, recipients=",".join(roles), staff_emails=", ".join(addresses),
                       subject_template=subject, body_template=body, attach_pdf=bool(attach_pdf),
                       enabled=bool(enabled))


def save_action(session: Session, workspace: Workspace, data: ActionInput, *, action_id=None) -> Action:
    if action_id:
        action = get_action(session, workspace_id=workspace.id, action_id=action_id)
    else:
        action = Action(workspace_id=workspace.id, created_at=utcnow(), name="", trigger="activated",
                        subject_template="", body_template="")
    for field, value in data.__dict__.items():
        setattr(action, field, value)
    action.updated_at = utcnow()
    session.add(action)
    session.flush()
    return action


def set_enabled(session: Session, workspace: Workspace, *, action_id, enabled: bool) -> Action:
    action = get_action(session, workspace_id=workspace.id, action_id=action_id)
    action.enabled = bool(enabled)
    action.updated_at = utcnow()
    session.add(action)
    session.flush()
    return action


def delete_action(session: Session, workspace: Workspace, *, action_id) -> None:
    action = get_action(session, workspace_id=workspace.id, action_id=action_id)
    session.delete(action)
    session.flush()


def addresses(action: Action, cert) -> list[tuple[str, str]]:
    """(role, address) pairs this action emails for a certificate (None for a workspace
    trigger: staff only), without duplicates."""
    found: list[tuple[str, str]] = []
    for role in action.recipients.split(","):
        if role == "recipient":
            candidates = [cert.recipient_email] if cert is not None else []
        elif role == "purchaser":
            candidates = [cert.purchaser_email] if cert is not None else []
        elif role == "staff":
            candidates = [a.strip() for a in action.staff_emails.split(",") if a.strip()]
        else:
            candidates = []
        for address in candidates:
            if address and address.lower() not in {a for _, a in found}:
                found.append((role, address.lower()))
    return found
