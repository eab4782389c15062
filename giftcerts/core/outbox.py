"""The transactional outbox: jobs are rows written in the same transaction as the change that
causes them, so an activation is never committed without its PDF and emails, nor emails
queued for a change that was rolled back.

`on_transition` / `on_created` are the only hooks the lifecycle calls. This is the data side
(which rows to write); giftcerts.jobs runs them.
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from giftcerts.clock import utcnow
from giftcerts.core import documents, webhooks
from giftcerts.core.inserts import insert_ignore
from giftcerts.core.scoped import get_in_workspace
from giftcerts.models import Action, Certificate, CertificateStatus, Job, WebhookDelivery

S = CertificateStatus

# Job kinds and what they do (handlers in giftcerts.jobs.handlers).
RENDER_PDF = "render_pdf"   # render and store a certificate's PDF
DISPATCH = "dispatch"       # expand a trigger into one send_email job per action and address,
                            # and one deliver_webhook job per subscribed endpoint and event
SEND_EMAIL = "send_email"   # send one email, record "Sent"
DELIVER_WEBHOOK = "deliver_webhook"  # send one event to one endpoint, signed; retried for a day
DEFAULT_MAX_ATTEMPTS = 8


def enqueue(session: Session, kind: str, *, workspace_id: int | None, certificate_id: int | None = None,
            payload: dict | None = None, dedupe_key: str | None = None, run_after: datetime | None = None,
            max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> bool:
    """Add a job to the caller's transaction. With a `dedupe_key`, a second enqueue is a no-op."""
    now = utcnow()
    values = dict(workspace_id=workspace_id, certificate_id=certificate_id, kind=kind,
                  payload=_payload(payload or {}), status="queued", dedupe_key=dedupe_key,
                  attempts=0, max_attempts=max_attempts, run_after=run_after or now, last_error="",
                  created_at=now)
    if dedupe_key is None:
        session.add(Job(**values))
        return True
    return insert_ignore(session, Job.__table__, values, conflict=["dedupe_key"])


def trigger_for(previous: str, target: CertificateStatus) -> str | None:
    """Which trigger a status change fires (releasing a redemption fires "released" from the
    redemption's side; "reactivated" has no actions, only webhooks)."""
    if target == S.ACTIVE:
        return {S.PENDING.value: "activated", S.VOIDED.value: "reactivated"}.get(previous)
    return {S.REDEEMED: "redeemed", S.VOIDED: "voided", S.EXPIRED: "expired"}.get(target)


def on_transition(session: Session, cert: Certificate, previous: str, target: CertificateStatus) -> None:
    """Called by the lifecycle right after a status change, inside its transaction."""
    trigger = trigger_for(previous, target)
    if trigger == "activated":
        documents.ensure_document(session, cert)  # the download link exists from the moment it is active
        enqueue(session, RENDER_PDF, workspace_id=cert.workspace_id, certificate_id=cert.id)
    if trigger:
        dispatch(session, cert, trigger)


def on_created(session: Session, cert: Certificate) -> None:
    dispatch(session, cert, "created")


def dispatch_from(trigger: str, *, workspace_id, certificate_id, now, source=None, where=()) -> sa.Insert:
    """`dispatch` in set-based form, for statements that move many certificates (or one, in SQL):
    the same dispatch job for each row of `source` (None: the one row of the given values),
    queued only if the row's workspace has an enabled action for `trigger` or a webhook endpoint."""
    rows = sa.select(workspace_id, certificate_id, sa.literal(DISPATCH), sa.literal(_payload({"trigger": trigger})),
                     sa.literal("queued"), sa.literal(0), sa.literal(DEFAULT_MAX_ATTEMPTS), now, sa.literal(""), now)
    if source is not None:
        rows = rows.select_from(source)
    return sa.insert(Job.__table__).from_select(
        ["workspace_id", "certificate_id", "kind", "payload", "status", "attempts", "max_attempts", "run_after",
         "last_error", "created_at"],
        rows.where(*where, sa.or_(sa.exists().where(Action.workspace_id == workspace_id, Action.trigger == trigger,
                                                    Action.enabled.is_(True)),
                                  webhooks.has_endpoints(workspace_id))))


def _payload(payload: dict) -> str:
    return json.dumps(payload, sort_keys=True)


def dispatch(session: Session, cert: Certificate, trigger: str, *, dedupe_key: str | None = None,
             **payload) -> bool:
    """Queue the emails of every enabled action for `trigger` (expanded by the worker).
    False when no enabled action asks for an email on this trigger."""
    return dispatch_ids(session, workspace_id=cert.workspace_id, certificate_id=cert.id, trigger=trigger,
                        dedupe_key=dedupe_key, **payload)


def dispatch_ids(session: Session, *, workspace_id: int, certificate_id: int, trigger: str,
                 dedupe_key: str | None = None, **payload) -> bool:
    if not has_enabled(session, workspace_id=workspace_id, trigger=trigger):
        return False
    enqueue(session, DISPATCH, workspace_id=workspace_id, certificate_id=certificate_id,
            payload={"trigger": trigger, **payload}, dedupe_key=dedupe_key)
    return True


def has_enabled(session: Session, *, workspace_id: int, trigger: str) -> bool:
    """Whether any enabled action of the workspace fires on `trigger`, or a webhook endpoint
    may want to hear of it."""
    action = sa.exists().where(Action.workspace_id == workspace_id, Action.trigger == trigger, Action.enabled)
    if trigger in webhooks.TRIGGER_EVENTS:
        action = sa.or_(action, webhooks.has_endpoints(workspace_id))
    return bool(session.execute(sa.select(action)).scalar())


def resend_webhook(session: Session, *, workspace_id: int, delivery_id) -> WebhookDelivery:
    """Staff's "Resend": the delivery is sent again (same event id and body), retried as before."""
    delivery = get_in_workspace(session, WebhookDelivery, workspace_id, delivery_id, not_found="Delivery not found.")
    delivery.status = "pending"
    session.add(delivery)
    enqueue(session, DELIVER_WEBHOOK, workspace_id=workspace_id, payload={"delivery_id": delivery.id},
            max_attempts=webhooks.MAX_ATTEMPTS)
    session.flush()
    return delivery
