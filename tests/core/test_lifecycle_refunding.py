"""Refund in progress: while a card refund is with Stripe the certificate is out of circulation.
Voiding a paid portal certificate first moves it Active (or Pending) -> Refunding, commits,
asks Stripe, then either finishes (Refunding -> Voided, refund recorded) or, when Stripe
refused, restores it (Refunding -> Active/Pending, with the reason in the log).
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import activity, delivery, lifecycle, purchases, redemption, search
from giftcerts.core.errors import DomainError, InvalidTransition, ValidationError
from giftcerts.models import Certificate, CertificateStatus
from tests.factories import make_certificate, make_workspace, race


def kinds(session, cert):
    return [a.kind for a in activity.history(session, workspace_id=cert.workspace_id, certificate_id=cert.id)]


def last(session, cert):
    return activity.history(session, workspace_id=cert.workspace_id, certificate_id=cert.id)[-1]


def test_a_certificate_being_refunded_is_refused_by_every_redemption_path(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        order = redemption.create_order(s, ws, reference="BK-1", total_cents=50000)
        lifecycle.begin_refund(s, ws, certificate_id=cert.id, reason="Trip cancelled", actor="a@example.com")
        assert cert.status == "refunding" and cert.refund_requested_at is not None
        assert cert.void_reason == "Trip cancelled" and cert.voided_at is None
        entry = last(s, cert)
        assert (entry.kind, entry.actor) == ("Refund started", "a@example.com")
        assert "Trip cancelled" in activity.describe(entry, ws.timezone)
    for attempt in (redemption.preview, redemption.redeem):
        with db.write_session(db_url) as s, pytest.raises(InvalidTransition) as refused:
            kwargs = {"actor": "desk"} if attempt is redemption.redeem else {}
            attempt(s, ws, code=cert.code, order_id=order.id, **kwargs)
        assert refused.value.code == "not_active" and "refunded" in refused.value.message
    if db_url.startswith("postgresql"):
        with db.write_session(db_url) as s:
            assert redemption.redeem_at_once(s, workspace_id=ws.id, code=cert.code, order_id=order.id,
                                             actor="api") is None
    with db.write_session(db_url) as s:
        assert s.get(Certificate, cert.id).status == "refunding"
        assert redemption.get_order(s, workspace_id=ws.id, order_id=order.id).amount_due_cents == 50000


def test_nothing_but_the_refund_moves_it_on(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        lifecycle.begin_refund(s, ws, certificate_id=cert.id, reason="Trip cancelled", actor="a@example.com")
    attempts = [
        lambda s: lifecycle.void_certificate(s, ws, certificate_id=cert.id, reason="x", actor="api"),
        lambda s: lifecycle.reactivate_certificate(s, ws, certificate_id=cert.id, actor="x"),
        lambda s: lifecycle.begin_refund(s, ws, certificate_id=cert.id, reason="again", actor="x"),
        lambda s: lifecycle.mark_paid(s, ws, certificate_id=cert.id, actor="x"),
        lambda s: lifecycle.expire_certificate(s, ws, certificate_id=cert.id, now=cert.expires_at + timedelta(1)),
        lambda s: delivery.resend_certificate(s, ws, certificate_id=cert.id, send_to="recipient", address=None,
                                             actor="x"),
    ]
    for attempt in attempts:
        with db.write_session(db_url) as s, pytest.raises(DomainError):
            attempt(s)
    with db.write_session(db_url) as s:
        assert lifecycle.expire_due(s, now=cert.expires_at + timedelta(days=1)) == 0
        fresh = s.get(Certificate, cert.id)
        assert fresh.status == "refunding"
        assert kinds(s, fresh) == ["Created", "Purchased", "Refund started"]


def test_finishing_the_refund_voids_it_for_good(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        lifecycle.begin_refund(s, ws, certificate_id=cert.id, reason="Trip cancelled", actor="a@example.com")
    with db.write_session(db_url) as s:
        done = lifecycle.finish_refund(s, ws, certificate_id=cert.id, refund_id="re_123", actor="b@example.com")
        assert done.status == "voided" and done.stripe_refund_id == "re_123" and done.refunded_at is not None
        assert done.void_reason == "Trip cancelled" and done.voided_at is not None
        entry = last(s, done)
        assert (entry.kind, entry.actor) == ("Voided", "b@example.com")
        text = activity.describe(entry, ws.timezone)
        assert "Reason: Trip cancelled" in text and "re_123" in text
    with db.write_session(db_url) as s, pytest.raises(InvalidTransition):  # only once
        lifecycle.finish_refund(s, ws, certificate_id=cert.id, refund_id="re_123", actor="b@example.com")
    with db.write_session(db_url) as s, pytest.raises(InvalidTransition):  # refunded: never back
        lifecycle.reactivate_certificate(s, ws, certificate_id=cert.id, actor="x")


def test_a_refused_refund_puts_it_back_as_it_was(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        active = make_certificate(s, ws)
        pending = make_certificate(s, ws, paid=False)
        before = (active.activated_at, active.expires_at)
        for cert in (active, pending):
            lifecycle.begin_refund(s, ws, certificate_id=cert.id, reason="Trip cancelled", actor="a@example.com")
    with db.write_session(db_url) as s:
        for cert in (active, pending):
            lifecycle.cancel_refund(s, ws, certificate_id=cert.id, actor="a@example.com",
                                    reason="Stripe: This charge has been disputed")
        a, p = s.get(Certificate, active.id), s.get(Certificate, pending.id)
        assert a.status == "active" and (a.activated_at, a.expires_at) == before
        assert p.status == "pending" and p.activated_at is None
        for cert in (a, p):
            assert cert.void_reason is None and cert.refund_requested_at is None and cert.refunded_at is None
            entry = last(s, cert)
            assert entry.kind == "Refund failed"
            assert "This charge has been disputed" in activity.describe(entry, ws.timezone)
        order = redemption.create_order(s, ws, reference="BK-2", total_cents=50000)
        redemption.redeem(s, ws, code=a.code, order_id=order.id, actor="desk")
        assert a.status == "redeemed"


def test_a_refund_needs_a_reason(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        with pytest.raises(ValidationError):
            lifecycle.begin_refund(s, ws, certificate_id=cert.id, reason="  ", actor="a@example.com")
        assert s.get(Certificate, cert.id).status == "active"


def test_simultaneous_refunds_of_one_certificate_let_exactly_one_start(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert_id = make_certificate(s, ws).id
    outcomes = race(db_url, 6, lambda s, n: lifecycle.begin_refund(
        s, ws, certificate_id=cert_id, reason=f"tab {n}", actor="a@example.com"))
    assert outcomes == ["refused"] * 5 + ["won"]
    with db.read_session(db_url) as s:
        assert kinds(s, s.get(Certificate, cert_id)).count("Refund started") == 1


def test_staff_see_refund_in_progress_and_can_find_those(db_url):
    assert CertificateStatus("refunding").label == "Refund in progress"
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        make_certificate(s, ws)
        lifecycle.begin_refund(s, ws, certificate_id=cert.id, reason="Trip cancelled", actor="a@example.com")
        page = search.search_certificates(s, workspace_id=ws.id, status="refunding")
        assert [c.id for c in page.items] == [cert.id]
        stale = purchases.refunds_in_progress(s, older_than=timedelta(minutes=30), now=utcnow())
        assert stale == []
        stale = purchases.refunds_in_progress(s, older_than=timedelta(minutes=30),
                                              now=utcnow() + timedelta(minutes=31))
        assert [c.id for c in stale] == [cert.id]
