"""What each job kind does. Handlers are idempotent: DB-only work commits together with the
job's completion; an email is sent, then "Sent" is recorded together with the completion, so
the only possible duplicate (a crash in between) carries the same Message-ID."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session

from giftcerts import config, db
from giftcerts.core import accounts, action_defaults, activity, documents, outbox, webhooks
from giftcerts.core.activity import ActivityKind
from giftcerts.documents import store
from giftcerts.models import (Action, Certificate, CertificateDocument, GuessingAlert, Job, StaffUser, WebhookDelivery,
                              WebhookEndpoint, Workspace)
from giftcerts.notify import actions, mailer, security, templates
from giftcerts.notify import webhooks as notify_webhooks


class Skip(Exception):
    """The job has nothing left to do (e.g. the certificate was voided before its email went out)."""


@dataclass
class Context:
    url: str | None
    finish: Callable[..., None]  # finish(session, job, note="") marks the job done in the caller's transaction


def render_pdf(job: Job, ctx: Context) -> None:
    with db.read_session(ctx.url) as session:
        cert = session.get(Certificate, job.certificate_id)
        rendered_status = cert.status
        content = store.render_for(session, cert)
    with db.write_session(ctx.url) as session:
        documents.store_pdf(session, cert, content, rendered_status=rendered_status)
        ctx.finish(session, job)


def dispatch(job: Job, ctx: Context) -> None:
    """One send_email job per (enabled action, address), deduplicated by this job's id."""
    payload = json.loads(job.payload)
    trigger = payload["trigger"]
    with db.write_session(ctx.url) as session:
        cert = session.get(Certificate, job.certificate_id) if job.certificate_id is not None else None
        workspace_id = cert.workspace_id if cert is not None else job.workspace_id  # a workspace trigger
        for action in actions.enabled_for(session, workspace_id=workspace_id, trigger=trigger):
            for role, address in actions.addresses(action, cert):
                outbox.enqueue(session, outbox.SEND_EMAIL, workspace_id=workspace_id, certificate_id=job.certificate_id,
                               payload={"action_id": action.id, "to": address, "role": role, "trigger": trigger,
                                        **{k: v for k, v in payload.items() if k != "trigger"}},
                               dedupe_key=f"dispatch:{job.id}:{action.id}:{address}")
        for delivery in webhooks.expand(session, job_id=job.id, workspace_id=workspace_id, trigger=trigger,
                                        certificate_id=job.certificate_id, payload=payload, occurred_at=job.created_at):
            outbox.enqueue(session, outbox.DELIVER_WEBHOOK, workspace_id=workspace_id,
                           payload={"delivery_id": delivery.id}, dedupe_key=f"webhook:{delivery.id}",
                           max_attempts=webhooks.MAX_ATTEMPTS)
        ctx.finish(session, job)


class DeliveryFailed(Exception):
    """The endpoint did not take the event this time: the worker retries with backoff."""


def deliver_webhook(job: Job, ctx: Context) -> None:
    """POST one event to one endpoint; each attempt is recorded in the delivery log."""
    delivery_id = json.loads(job.payload)["delivery_id"]
    with db.read_session(ctx.url) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id) if delivery else None
        if delivery is None or endpoint is None:
            raise Skip("the delivery no longer exists")
        if delivery.status == "delivered":
            raise Skip("already delivered")
        if not endpoint.enabled:
            raise Skip("the endpoint is disabled")
        url, secret, body = endpoint.url, endpoint.secret, delivery.body
        event_id, event_type = delivery.event_id, delivery.event_type
    outcome = notify_webhooks.send(url, body, secret, event_id=event_id, event_type=event_type)
    with db.write_session(ctx.url) as session:
        webhooks.record_attempt(session, delivery_id, status_code=outcome.status_code, error=outcome.error,
                                duration_ms=outcome.duration_ms, delivered=outcome.delivered,
                                gave_up=not outcome.delivered and job.attempts >= job.max_attempts)
        if outcome.delivered:
            ctx.finish(session, job)
    if not outcome.delivered:
        raise DeliveryFailed(outcome.error or f"answered {outcome.status_code}")


# Emails that offer the certificate for use are not sent once it can no longer be used.
NEEDS_ACTIVE = {"activated", "expiring_soon", "resend"}


def why_not_sent(trigger: str, role: str | None, status: str) -> str | None:
    """Why this email should no longer go out, or None. The purchaser's receipt for a payment is
    still owed when the certificate was used before it left, but not once it was voided (refunded)."""
    if trigger == "activated" and role == "purchaser":
        return None if status != "voided" else "not sent: the certificate is voided"
    if trigger in NEEDS_ACTIVE and status != "active":
        return f"not sent: the certificate is {status}"
    return None


def send_email(job: Job, ctx: Context) -> None:
    payload = json.loads(job.payload)
    trigger = payload.get("trigger", "resend")
    if job.certificate_id is None:
        return _send_workspace_email(job, ctx, payload)
    with db.read_session(ctx.url) as session:
        cert = session.get(Certificate, job.certificate_id)
        ws = session.get(Workspace, cert.workspace_id)
        action = session.get(Action, payload["action_id"]) if payload.get("action_id") else None
        refused = why_not_sent(trigger, payload.get("role"), cert.status)
        if refused:
            raise Skip(refused)
        if payload.get("action_id") and action is None:
            raise Skip("not sent: the action was deleted")
        subject, body, attach = _template(session, action, cert)
        doc = session.get(CertificateDocument, cert.id)
        token = doc.token if doc else None
    if token is None and cert.activated_at:  # activated before download links existed: make it, for good
        with db.write_session(ctx.url) as session:
            token = documents.ensure_document(session, session.get(Certificate, cert.id)).token
    pdf_link = (documents.PDF_PATH + token) if token else ""
    rendered = templates.render(subject, body, templates.context(
        cert, ws, pdf_link=config.public_url() + pdf_link if pdf_link else ""))
    attachments = []
    if attach and cert.activated_at:
        attachments.append(mailer.Attachment(documents.filename(cert), store.get_or_render(cert.id, ctx.url)))
    msg = mailer.build(job_id=job.id, sender_name=ws.name, to=payload["to"], subject=rendered.subject,
                       text=rendered.text, html=rendered.html, attachments=attachments)
    mailer.send(msg)
    kind = ActivityKind.REMINDER_SENT if trigger == "expiring_soon" else ActivityKind.SENT
    what = action.name if action else "Certificate email (resent)"
    by = payload.get("requested_by") or activity.SYSTEM_ACTOR
    with db.write_session(ctx.url) as session:
        activity.record(session, session.get(Certificate, cert.id), kind, actor=by,
                        params={"what": what, "to": payload["to"], "with_pdf": bool(attachments)})
        ctx.finish(session, job)


def _send_workspace_email(job: Job, ctx: Context, payload: dict) -> None:
    """An email about the workspace itself (a guessing alert) to staff: no certificate, no log entry on one."""
    with db.read_session(ctx.url) as session:
        ws = session.get(Workspace, job.workspace_id)
        action = session.get(Action, payload["action_id"])
        alert = session.get(GuessingAlert, payload.get("alert_id"))
        if action is None:
            raise Skip("not sent: the action was deleted")
        if alert is None:
            raise Skip("not sent: the alert is gone")
        rendered = templates.render(action.subject_template, action.body_template, templates.alert_context(alert, ws))
    msg = mailer.build(job_id=job.id, sender_name=ws.name, to=payload["to"], subject=rendered.subject,
                       text=rendered.text, html=rendered.html, attachments=[])
    mailer.send(msg)
    with db.write_session(ctx.url) as session:
        ctx.finish(session, job)


def _template(session: Session, action: Action | None, cert: Certificate) -> tuple[str, str, bool]:
    if action is not None:
        return action.subject_template, action.body_template, action.attach_pdf
    # A resend: the workspace's own certificate email if it has one, else the default wording.
    for candidate in actions.list_actions(session, workspace_id=cert.workspace_id):
        if candidate.trigger == "activated" and "recipient" in candidate.recipients.split(","):
            return candidate.subject_template, candidate.body_template, True
    return action_defaults.CERTIFICATE_SUBJECT, action_defaults.CERTIFICATE_BODY, True


def sign_in_alert(job: Job, ctx: Context) -> None:
    """Tell a staff member that their account sees many failed sign-ins (queued by accounts.sign_in)."""
    payload = json.loads(job.payload)
    with db.read_session(ctx.url) as session:
        user = session.get(StaffUser, payload["staff_id"])
        if user is None:
            raise Skip("not sent: the staff account was deleted")
        ws = session.get(Workspace, user.workspace_id)
    subject, text, html = security.sign_in_alert(workspace_name=ws.name, failures=int(payload["failures"]))
    mailer.send(mailer.build(job_id=job.id, sender_name=ws.name, to=user.email, subject=subject, text=text,
                             html=html))
    with db.write_session(ctx.url) as session:
        ctx.finish(session, job)


HANDLERS = {outbox.RENDER_PDF: render_pdf, outbox.DISPATCH: dispatch, outbox.SEND_EMAIL: send_email,
            outbox.DELIVER_WEBHOOK: deliver_webhook, accounts.SIGN_IN_ALERT: sign_in_alert}
