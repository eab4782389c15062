"""The guessing alert: what happens when strangers' failed codes in a workspace's widget
cross the workspace-wide threshold (giftcerts.web.throttle explains the budgets and numbers).

Nobody is refused for it. A GuessingAlert row records it (every app process sees it in the
database): while it lasts the widget adds the tight per-address budget, the staff of that
workspace see it on the Overview, and the workspace's actions on `guessing_detected` email
it through the outbox. The threshold check itself (throttle.widget_failure_crossed_threshold)
lets one process through per workspace and ALERT_EVERY, so the email is queued once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import outbox
from giftcerts.models import GuessingAlert
from giftcerts.web import throttle

log = logging.getLogger("giftcerts.web.guessing")
TRIGGER = "guessing_detected"


def current(session: Session, workspace_id: int, *, now: datetime | None = None) -> GuessingAlert | None:
    """The workspace's latest alert if it still lasts."""
    now = now or utcnow()
    return session.exec(
        select(GuessingAlert).where(GuessingAlert.workspace_id == workspace_id,
                                    GuessingAlert.detected_at > now - timedelta(hours=throttle.GUARD_HOURS))
        .order_by(GuessingAlert.detected_at.desc()).limit(1)
    ).first()


def guarded(session: Session, workspace_id: int, *, now: datetime | None = None) -> bool:
    """Does an alert still last? (What the widget asks on every Apply: one probe of the index.)"""
    now = now or utcnow()
    return bool(session.execute(sa.select(sa.exists().where(
        GuessingAlert.workspace_id == workspace_id,
        GuessingAlert.detected_at > now - timedelta(hours=throttle.GUARD_HOURS)))).scalar())


def record(session: Session, workspace_id: int, *, now: datetime | None = None) -> GuessingAlert:
    """Record the alert and queue its emails, in the caller's transaction."""
    now = now or utcnow()
    threshold = throttle.budget("WORKSPACE")
    alert = GuessingAlert(workspace_id=workspace_id, detected_at=now,
                          guarded_until=now + timedelta(hours=throttle.GUARD_HOURS),
                          failures=threshold.amount, threshold=_describe(threshold))
    session.add(alert)
    session.flush()
    if outbox.has_enabled(session, workspace_id=workspace_id, trigger=TRIGGER):
        outbox.enqueue(session, outbox.DISPATCH, workspace_id=workspace_id,
                       payload={"trigger": TRIGGER, "alert_id": alert.id}, dedupe_key=f"guessing-alert:{alert.id}")
    log.warning("code guessing detected in workspace %s: %s failed codes in the widget within %s; "
                "per-address widget budget now %s until %s", workspace_id, alert.failures, alert.threshold,
                _describe(throttle.budget("GUARDED")), alert.guarded_until.isoformat())
    return alert


def widget_failed(workspace_id: int) -> None:
    """After an `invalid_code` in the widget: count it workspace-wide; past the threshold, alert."""
    if throttle.widget_failure_crossed_threshold(workspace_id):
        with db.write_session() as session:
            record(session, workspace_id)


def _describe(item) -> str:
    if item.multiples == 1:
        return f"{item.amount}/{item.GRANULARITY.name}"
    return f"{item.amount}/{item.multiples} {item.GRANULARITY.name}s"
