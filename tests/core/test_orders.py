"""The order lifecycle and checkout holds: a certificate applied to an open order is held for
it, made final when the order completes, released when it is cancelled or when the checkout
is abandoned for longer than the workspace's hold time. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import orders, redemption
from giftcerts.core.activity import ActivityKind, describe
from giftcerts.core.errors import InvalidTransition, NotFound, ValidationError
from giftcerts.models import Activity, Certificate, Order, Redemption, Workspace
from tests.factories import make_certificate, make_workspace, race

T0 = utcnow().replace(microsecond=0)


def _setup(db_url, *, hold_minutes=30, total=20000):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, hold_minutes=hold_minutes)
        cert = make_certificate(s, ws, amount="100", now=T0 - timedelta(days=1))
        order = redemption.create_order(s, ws, reference="BK-77", total_cents=total, now=T0)
        red = redemption.redeem(s, ws, code=cert.code, order_id=order.id, actor="api", now=T0)
    return ws.id, cert.id, order.id, red.id


def _state(db_url, cert_id, order_id, red_id):
    with db.read_session(db_url) as s:
        cert, order, red = s.get(Certificate, cert_id), s.get(Order, order_id), s.get(Redemption, red_id)
        kinds = [a.kind for a in s.exec(select(Activity).where(Activity.certificate_id == cert_id)
                                       .order_by(Activity.id)).all()]
        return cert.status, order.status, order.amount_due_cents, red.status, red.captured_at, kinds


def _sweep(db_url, now):
    with db.write_session(db_url) as s:
        return orders.release_abandoned_holds(s, now=now)


def _ws(s, ws_id):
    return s.get(Workspace, ws_id)


def _entries(db_url, cert_id, kind):
    with db.read_session(db_url) as s:
        rows = s.exec(select(Activity).where(Activity.certificate_id == cert_id, Activity.kind == kind.value)).all()
        return [describe(a, "UTC") for a in rows]


def test_a_hold_on_an_abandoned_order_is_released_exactly_at_the_hold_time(db_url):
    ws_id, cert_id, order_id, red_id = _setup(db_url, hold_minutes=30)
    # a second before the hold time: still held
    assert _sweep(db_url, T0 + timedelta(minutes=30) - timedelta(seconds=1)) == 0
    assert _state(db_url, cert_id, order_id, red_id)[:4] == ("redeemed", "open", 10000, "applied")
    # at the hold time: released, usable again, one "Released" entry saying why
    assert _sweep(db_url, T0 + timedelta(minutes=30)) == 1
    status, order_status, due, red_status, _, kinds = _state(db_url, cert_id, order_id, red_id)
    assert (status, order_status, due, red_status) == ("active", "open", 20000, "released")
    assert kinds.count(ActivityKind.RELEASED.value) == 1
    [text] = _entries(db_url, cert_id, ActivityKind.RELEASED)
    assert "Checkout abandoned: order BK-77 was not completed within 30 minutes" in text
    assert "can be used again" in text
    # and a later sweep finds nothing more
    assert _sweep(db_url, T0 + timedelta(hours=2)) == 0
    assert _state(db_url, cert_id, order_id, red_id)[5].count(ActivityKind.RELEASED.value) == 1


def test_completing_the_order_first_makes_the_redemption_final(db_url):
    ws_id, cert_id, order_id, red_id = _setup(db_url)
    with db.write_session(db_url) as s:
        order = orders.complete_order(s, _ws(s, ws_id), order_id=order_id, actor="api", now=T0 + timedelta(minutes=5))
        assert order.status == "completed" and order.completed_at == T0 + timedelta(minutes=5)
    assert _sweep(db_url, T0 + timedelta(days=3)) == 0
    status, order_status, due, red_status, captured_at, kinds = _state(db_url, cert_id, order_id, red_id)
    assert (status, order_status, due, red_status) == ("redeemed", "completed", 10000, "applied")
    assert captured_at == T0 + timedelta(minutes=5)
    assert ActivityKind.RELEASED.value not in kinds
    [text] = _entries(db_url, cert_id, ActivityKind.CAPTURED)
    assert text == "Order BK-77 completed; the certificate is spent for good"


def test_a_certificate_held_on_one_order_is_refused_on_another_until_that_order_is_cancelled(db_url):
    ws_id, cert_id, order_id, red_id = _setup(db_url)
    with db.write_session(db_url) as s:
        ws = _ws(s, ws_id)
        code = s.get(Certificate, cert_id).code
        other = redemption.create_order(s, ws, reference="BK-78", total_cents=20000, now=T0)
        other_id = other.id
    with db.write_session(db_url) as s, pytest.raises(InvalidTransition, match="already been used"):
        redemption.redeem(s, _ws(s, ws_id), code=code, order_id=other_id, actor="api", now=T0)
    with db.write_session(db_url) as s:
        cancelled = orders.cancel_order(s, _ws(s, ws_id), order_id=order_id, reason="Guest changed plans",
                                        actor="api", now=T0 + timedelta(minutes=1))
        assert (cancelled.status, cancelled.cancel_reason, cancelled.amount_due_cents) == (
            "cancelled", "Guest changed plans", 20000)
    [text] = _entries(db_url, cert_id, ActivityKind.RELEASED)
    assert text.startswith("Order BK-77 cancelled: Guest changed plans")
    with db.write_session(db_url) as s:
        red = redemption.redeem(s, _ws(s, ws_id), code=code, order_id=other_id, actor="api",
                                now=T0 + timedelta(minutes=2))
        assert red.order_id == other_id


def test_completing_an_order_never_frees_its_certificate(db_url):
    ws_id, cert_id, order_id, red_id = _setup(db_url, hold_minutes=1)
    with db.write_session(db_url) as s:
        orders.complete_order(s, _ws(s, ws_id), order_id=order_id, actor="api", now=T0)
        code = s.get(Certificate, cert_id).code
        other_id = redemption.create_order(s, _ws(s, ws_id), reference="BK-79", total_cents=20000).id
    _sweep(db_url, T0 + timedelta(days=30))
    with db.write_session(db_url) as s, pytest.raises(InvalidTransition, match="already been used"):
        redemption.redeem(s, _ws(s, ws_id), code=code, order_id=other_id, actor="api")
    assert _state(db_url, cert_id, order_id, red_id)[:2] == ("redeemed", "completed")


def test_a_completed_order_takes_no_more_certificates_and_a_cancelled_one_cannot_be_completed(db_url):
    ws_id, cert_id, order_id, red_id = _setup(db_url, total=30000)
    with db.write_session(db_url) as s:
        ws = _ws(s, ws_id)
        orders.complete_order(s, ws, order_id=order_id, actor="api")
        another = make_certificate(s, ws, amount="50")
    with db.write_session(db_url) as s, pytest.raises(InvalidTransition, match="has been completed"):
        redemption.redeem(s, _ws(s, ws_id), code=another.code, order_id=order_id, actor="api")
    with db.write_session(db_url) as s:
        ws = _ws(s, ws_id)
        cancelled_id = redemption.create_order(s, ws, reference="BK-80", total_cents=100).id
        orders.cancel_order(s, ws, order_id=cancelled_id, actor="api")
    with db.write_session(db_url) as s, pytest.raises(InvalidTransition, match="cancelled, so it cannot be completed"):
        orders.complete_order(s, _ws(s, ws_id), order_id=cancelled_id, actor="api")
    with db.write_session(db_url) as s, pytest.raises(InvalidTransition, match="has been cancelled"):
        redemption.redeem(s, _ws(s, ws_id), code=another.code, order_id=cancelled_id, actor="api")


def test_completing_or_cancelling_twice_changes_nothing_the_second_time(db_url):
    ws_id, cert_id, order_id, red_id = _setup(db_url)
    for _ in range(2):
        with db.write_session(db_url) as s:
            assert orders.complete_order(s, _ws(s, ws_id), order_id=order_id, actor="api").status == "completed"
    assert _state(db_url, cert_id, order_id, red_id)[5].count(ActivityKind.CAPTURED.value) == 1
    # a confirmed booking cancelled later releases the certificate, once
    for _ in range(2):
        with db.write_session(db_url) as s:
            assert orders.cancel_order(s, _ws(s, ws_id), order_id=order_id, actor="api").status == "cancelled"
    status, order_status, due, red_status, _, kinds = _state(db_url, cert_id, order_id, red_id)
    assert (status, order_status, due, red_status) == ("active", "cancelled", 20000, "released")
    assert kinds.count(ActivityKind.RELEASED.value) == 1


def test_with_no_hold_time_a_certificate_stays_held_until_the_order_is_completed_or_cancelled(db_url):
    ws_id, cert_id, order_id, red_id = _setup(db_url, hold_minutes=0)
    assert _sweep(db_url, T0 + timedelta(days=365)) == 0
    assert _state(db_url, cert_id, order_id, red_id)[:4] == ("redeemed", "open", 10000, "applied")


def test_a_hold_released_after_the_certificate_expired_leaves_it_expired(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, hold_minutes=30)
        cert = make_certificate(s, ws, amount="100")
        cert.expires_at = T0 + timedelta(minutes=10)
        s.add(cert)
        order = redemption.create_order(s, ws, reference="BK-81", total_cents=20000, now=T0)
        red = redemption.redeem(s, ws, code=cert.code, order_id=order.id, actor="api", now=T0)
        ids = cert.id, order.id, red.id
    assert _sweep(db_url, T0 + timedelta(minutes=31)) == 1
    assert _state(db_url, *ids)[:4] == ("expired", "open", 20000, "released")


def test_another_workspaces_order_is_not_found(db_url):
    ws_id, cert_id, order_id, red_id = _setup(db_url)
    with db.write_session(db_url) as s:
        stranger = make_workspace(s)
    for act in (orders.complete_order, orders.cancel_order):
        with db.write_session(db_url) as s, pytest.raises(NotFound):
            act(s, s.get(Workspace, stranger.id), order_id=order_id, actor="api")
    assert _state(db_url, cert_id, order_id, red_id)[:2] == ("redeemed", "open")


def test_the_hold_time_setting_is_validated(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        assert ws.hold_minutes == 30  # the default
        for bad in ("-1", "abc", "10081", None):
            with pytest.raises(ValidationError) as raised:
                orders.set_hold_minutes(s, ws, bad)
            assert "hold_minutes" in raised.value.errors
        assert orders.set_hold_minutes(s, ws, " 45 ").hold_minutes == 45
        assert orders.set_hold_minutes(s, ws, 0).hold_minutes == 0


def test_the_time_left_on_a_hold(db_url):
    ws_id, cert_id, order_id, red_id = _setup(db_url, hold_minutes=45)
    with db.read_session(db_url) as s:
        ws, red, order = _ws(s, ws_id), s.get(Redemption, red_id), s.get(Order, order_id)
        assert orders.is_held(red)
        assert orders.hold_expires_at(ws, red, order) == T0 + timedelta(minutes=45)
        ws.hold_minutes = 0
        assert orders.hold_expires_at(ws, red, order) is None


def test_fifty_concurrent_complete_cancel_and_timeout_attempts_leave_one_consistent_outcome(db_url):
    ws_id, cert_id, order_id, red_id = _setup(db_url, hold_minutes=30)
    late = T0 + timedelta(minutes=31)  # the hold has run out: the sweep competes too

    def attempt(s, n):
        ws = _ws(s, ws_id)
        match n % 3:
            case 0:
                orders.complete_order(s, ws, order_id=order_id, actor="api", now=late)
            case 1:
                orders.cancel_order(s, ws, order_id=order_id, actor="api", now=late)
            case 2:
                orders.release_abandoned_holds(s, now=late)

    outcomes = race(db_url, 50, attempt)
    assert set(outcomes) <= {"won", "refused"}
    status, order_status, due, red_status, captured_at, kinds = _state(db_url, cert_id, order_id, red_id)
    released, captured = kinds.count(ActivityKind.RELEASED.value), kinds.count(ActivityKind.CAPTURED.value)
    assert released <= 1 and captured <= 1
    if order_status == "cancelled":
        assert (status, due, red_status, released) == ("active", 20000, "released", 1)
    elif red_status == "released":  # the timeout won; the order may have been completed afterwards, empty
        assert (status, due, released, captured) == ("active", 20000, 1, 0)
        assert order_status in ("open", "completed")
    else:  # the completion won and nothing released it
        assert (status, order_status, due, captured, released) == ("redeemed", "completed", 10000, 1, 0)
        assert captured_at == late
