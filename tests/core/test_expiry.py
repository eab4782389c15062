"""Expired certificates cannot be redeemed. Certificates expire automatically; staff see
upcoming expirations and customers are reminded before their certificates expire.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import activity, expiry, lifecycle, redemption, rules
from giftcerts.core.errors import CertificateExpired, InvalidTransition
from giftcerts.models import Certificate, ExpiryReminder, Job
from tests.factories import make_certificate, make_workspace


def kinds(session, cert):
    return [a.kind for a in activity.history(session, workspace_id=cert.workspace_id, certificate_id=cert.id)]


def dispatches(session, trigger: str) -> list[Job]:
    return [j for j in session.exec(select(Job).where(Job.kind == "dispatch")) if f'"{trigger}"' in j.payload]


def test_a_certificate_one_second_past_its_date_cannot_be_redeemed_even_before_the_sweep(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=30)
        cert = make_certificate(s, ws, amount="100", now=utcnow() - timedelta(days=30, seconds=1))
        assert cert.status == "active"  # the sweep has not run
        order = redemption.create_order(s, ws, reference="BK-1", total_cents=50000, customer_email="c@example.com")
        with pytest.raises(CertificateExpired, match="expired on"):
            redemption.redeem(s, ws, code=cert.code, order_id=order.id, actor="api")
        with pytest.raises(CertificateExpired):
            redemption.preview(s, ws, code=cert.code, order_id=order.id)
        # the one definition of "redeemable", as the database evaluates it
        assert not s.execute(sa.select(rules.redeemable()).where(Certificate.id == cert.id),
                             {"now": utcnow()}).scalar_one()
        assert s.get(Certificate, cert.id).status == "active"


def test_a_voided_certificate_one_second_past_its_date_cannot_be_reactivated_before_the_sweep(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=30)
        start = utcnow() - timedelta(days=30, seconds=1)
        cert = make_certificate(s, ws, now=start)
        lifecycle.void_certificate(s, ws, certificate_id=cert.id, reason="Refund", actor="a@example.com",
                                   now=start + timedelta(hours=1))
        with pytest.raises(CertificateExpired):
            lifecycle.reactivate_certificate(s, ws, certificate_id=cert.id, actor="a@example.com")
        assert cert.status == "voided"


def test_the_sweep_expires_due_certificates_once_with_an_activity_entry_and_is_idempotent(db_url):
    now = utcnow()
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=10, timezone="Pacific/Auckland")
        due = [make_certificate(s, ws, now=now - timedelta(days=11)) for _ in range(3)]
        fresh = make_certificate(s, ws, now=now)
        voided = make_certificate(s, ws, now=now - timedelta(days=11))
        lifecycle.void_certificate(s, ws, certificate_id=voided.id, reason="x", actor="a@example.com",
                                   now=now - timedelta(days=5))
    # When the sweep runs in small batches, then again
    with db.write_session(db_url) as s:
        assert lifecycle.expire_due(s, now=now, batch_size=2) == 2
    with db.write_session(db_url) as s:
        assert lifecycle.expire_due(s, now=now, batch_size=2) == 1
    with db.write_session(db_url) as s:
        assert lifecycle.expire_due(s, now=now) == 0
    # Then each due certificate is Expired with exactly one entry, dated in the workspace's timezone
    with db.read_session(db_url) as s:
        for cert in due:
            c = s.get(Certificate, cert.id)
            assert c.status == "expired"
            entries = [a for a in activity.history(s, workspace_id=ws.id, certificate_id=c.id) if a.kind == "Expired"]
            local = c.expires_at.astimezone(__import__("zoneinfo").ZoneInfo("Pacific/Auckland")).strftime("%Y-%m-%d")
            shown = [(e.actor, activity.describe(e, ws.timezone)) for e in entries]
            assert shown == [("system", f"Expired on {local}")]
        assert s.get(Certificate, fresh.id).status == "active"
        assert s.get(Certificate, voided.id).status == "voided"


def test_the_expired_trigger_queues_its_action_emails(db_url):
    from giftcerts.notify import actions

    now = utcnow()
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=10)
        quiet = make_workspace(s, expiry_days=10)
        actions.save_action(s, ws, actions.validate(
            name="Expired", trigger="expired", recipients=["purchaser"], staff_emails="", subject="Expired",
            body="{{ code_masked }} expired", attach_pdf=False, enabled=True))
        loud_cert = make_certificate(s, ws, now=now - timedelta(days=11))
        make_certificate(s, quiet, now=now - timedelta(days=11))
    with db.write_session(db_url) as s:
        assert lifecycle.expire_due(s, now=now) == 2
    with db.read_session(db_url) as s:
        jobs = dispatches(s, "expired")
        assert [j.certificate_id for j in jobs] == [loud_cert.id]


def test_two_sweepers_at_once_expire_each_certificate_once(db_url):
    from concurrent.futures import ThreadPoolExecutor

    now = utcnow()
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=10)
        for _ in range(40):
            make_certificate(s, ws, now=now - timedelta(days=11))

    def sweep():
        total = 0
        while True:
            with db.write_session(db_url) as s:
                n = lifecycle.expire_due(s, now=now, batch_size=5)
            total += n
            if n == 0:
                return total

    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(lambda _: sweep(), range(2)))
    assert sum(counts) == 40
    with db.read_session(db_url) as s:
        n = s.execute(sa.text("SELECT count(*) FROM activities WHERE kind = 'Expired'")).scalar()
        assert n == 40


def test_reminders_go_out_once_per_threshold(db_url):
    now = utcnow()
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=100, reminder_days="30,7")
        # expires in 25 days: inside 30, not 7
        cert = make_certificate(s, ws, now=now - timedelta(days=75))
        # expires in 5 days when first seen: inside both; reminded once, not twice
        late = make_certificate(s, ws, now=now - timedelta(days=95))
        # expires in 60 days: not yet
        make_certificate(s, ws, now=now - timedelta(days=40))
    with db.write_session(db_url) as s:
        assert expiry.send_due_reminders(s, now=now) == 2
    with db.write_session(db_url) as s:
        assert expiry.send_due_reminders(s, now=now) == 0  # idempotent
    # 20 days later the first one crosses the 7-day threshold: one more reminder
    with db.write_session(db_url) as s:
        assert expiry.send_due_reminders(s, now=now + timedelta(days=20)) == 1
        assert expiry.send_due_reminders(s, now=now + timedelta(days=20)) == 0
        rows = s.exec(select(ExpiryReminder.certificate_id, ExpiryReminder.threshold_days)).all()
        assert sorted(rows) == sorted([(cert.id, 30), (cert.id, 7), (late.id, 7), (late.id, 30)])
        assert len(dispatches(s, "expiring_soon")) == 3


def test_no_reminders_without_an_enabled_reminder_action_or_thresholds(db_url):
    from giftcerts.notify import actions

    now = utcnow()
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=100, reminder_days="")
        make_certificate(s, ws, now=now - timedelta(days=95))
        other = make_workspace(s, expiry_days=100)
        for a in actions.list_actions(s, workspace_id=other.id):
            actions.set_enabled(s, other, action_id=a.id, enabled=False)
        make_certificate(s, other, now=now - timedelta(days=95))
    with db.write_session(db_url) as s:
        assert expiry.send_due_reminders(s, now=now) == 0


def test_upcoming_expirations_list_the_window_with_total_value_and_staff_can_notify(db_url):
    now = utcnow()
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=100)
        soon = make_certificate(s, ws, amount="100", now=now - timedelta(days=80))   # 20 days left
        later = make_certificate(s, ws, amount="50", now=now - timedelta(days=50))   # 50 days left
        make_certificate(s, ws, amount="70", now=now)                                # 100 days left
        other = make_workspace(s, expiry_days=100)
        foreign = make_certificate(s, other, now=now - timedelta(days=80))
    with db.write_session(db_url) as s:
        rows, count, total = expiry.upcoming(s, workspace_id=ws.id, days=30, now=now)
        assert [c.id for c in rows] == [soon.id] and (count, total) == (1, 10000)
        rows, count, total = expiry.upcoming(s, workspace_id=ws.id, days=60, now=now)
        assert [c.id for c in rows] == [soon.id, later.id] and (count, total) == (2, 15000)
        # "Notify" ignores another workspace's certificate
        assert expiry.notify_expiring(s, ws, certificate_ids=[soon.id, foreign.id], actor="staff@example.com") == 1
        assert [j.certificate_id for j in dispatches(s, "expiring_soon")] == [soon.id]


def test_notify_explains_when_no_reminder_action_is_enabled(db_url):
    from giftcerts.notify import actions

    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        for a in actions.list_actions(s, workspace_id=ws.id):
            actions.set_enabled(s, ws, action_id=a.id, enabled=False)
        with pytest.raises(InvalidTransition, match="Actions"):
            expiry.notify_expiring(s, ws, certificate_ids=[cert.id], actor="staff@example.com")


@pytest.mark.parametrize("sweepers", [1, 3])
def test_the_backlog_sweep_expires_every_due_certificate_once_whatever_the_sweepers(db_url, sweepers):
    """The worker's sweep: batch after batch until nothing is due, several sweepers at once on
    PostgreSQL (one on SQLite); certificates not yet due stay Active."""
    now = utcnow()
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=10)
        due = [make_certificate(s, ws, now=now - timedelta(days=11)).id for _ in range(23)]
        fresh = make_certificate(s, ws, now=now).id
    assert expiry.expire_backlog(db_url, now=now, batch_size=4, sweepers=sweepers) == 23
    assert expiry.expire_backlog(db_url, now=now, batch_size=4, sweepers=sweepers) == 0
    with db.read_session(db_url) as s:
        statuses = dict(s.execute(sa.select(Certificate.id, Certificate.status)
                                  .where(Certificate.workspace_id == ws.id)).all())
        logged = s.execute(sa.text("SELECT certificate_id FROM activities WHERE kind = 'Expired' AND workspace_id = :ws"),
                           {"ws": ws.id}).scalars().all()
    assert {statuses[i] for i in due} == {"expired"} and statuses[fresh] == "active"
    assert sorted(logged) == sorted(due)
