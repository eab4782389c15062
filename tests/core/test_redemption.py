"""Redemption: "System validates the code exists and is active, checks the certificate hasn't
expired, verifies the certificate value doesn't exceed the order total; the value is applied
as payment toward the order; status changes to Redeemed." Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlmodel import select

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import activity, lifecycle, redemption
from giftcerts.core.codes import format_code
from giftcerts.core.errors import (
    CertificateExpired,
    Conflict,
    CurrencyMismatch,
    ExceedsOrderTotal,
    InvalidCode,
    InvalidTransition,
    NotFound,
    ValidationError,
)
from giftcerts.models import Certificate, Order, Redemption
from tests.factories import make_certificate, make_workspace


def order(s, ws, total=50000, ref=None, currency=None):
    return redemption.create_order(s, ws, reference=ref or f"BK-{utcnow().timestamp()}-{total}",
                                   total_cents=total, currency=currency, customer_email="guest@example.com")


def kinds(s, cert):
    return [a.kind for a in activity.history(s, workspace_id=cert.workspace_id, certificate_id=cert.id)]


def test_a_valid_code_is_applied_in_full_and_the_certificate_becomes_redeemed(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws, amount="150")
        o = order(s, ws, total=40000, ref="BK-1001")
        red = redemption.redeem(s, ws, code=format_code(cert.code).lower(), order_id=o.id, actor="api")
        assert (red.amount_cents, red.status, red.order_id) == (15000, "applied", o.id)
        assert o.amount_due_cents == 25000
        s.refresh(cert)
        assert cert.status == "redeemed"
        last = activity.history(s, workspace_id=ws.id, certificate_id=cert.id)[-1]
        assert (last.kind, activity.describe(last, ws.timezone)) == ("Redeemed", "Order BK-1001")


def test_preview_changes_nothing(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws, amount="100")
        o = order(s, ws, total=30000)
        p = redemption.preview(s, ws, code=cert.code, order_id=o.id)
        assert (p.value_cents, p.amount_due_after_cents) == (10000, 20000)
        s.refresh(cert)
        s.refresh(o)
        assert cert.status == "active" and o.amount_due_cents == 30000


def test_unknown_malformed_and_other_workspace_codes_get_one_identical_answer(db_url):
    with db.write_session(db_url) as s:
        ours, theirs = make_workspace(s), make_workspace(s)
        foreign = make_certificate(s, theirs)
        o = order(s, ours)
        messages = set()
        for code in [foreign.code, "ZZZZ-ZZZZ-ZZZZ", "nonsense", "", None]:
            with pytest.raises(InvalidCode) as err:
                redemption.redeem(s, ours, code=code, order_id=o.id, actor="api")
            messages.add(err.value.message)
        assert len(messages) == 1
        s.refresh(foreign)
        assert foreign.status == "active"


@pytest.mark.parametrize("setup,error,message", [
    ("redeemed", InvalidTransition, "already been used"),
    ("voided", InvalidTransition, "cancelled"),
    ("pending", InvalidTransition, "not been paid"),
    ("expired_by_clock", CertificateExpired, "expired on"),
    ("expired_by_sweep", CertificateExpired, "expired on"),
    ("too_big", ExceedsOrderTotal, "more than the"),
    ("currency", CurrencyMismatch, "EUR"),
])
def test_each_refusal_explains_itself_and_changes_nothing(db_url, setup, error, message):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=30)
        o = order(s, ws, total=20000)
        old = utcnow() - timedelta(days=31)
        cert = make_certificate(s, ws, amount="300" if setup == "too_big" else "100",
                                paid=setup != "pending", now=old if setup.startswith("expired") else None)
        if setup == "redeemed":
            redemption.redeem(s, ws, code=cert.code, order_id=order(s, ws, total=90000).id, actor="api")
        if setup == "voided":
            lifecycle.void_certificate(s, ws, certificate_id=cert.id, reason="refund", actor="a")
        if setup == "expired_by_sweep":
            lifecycle.expire_due(s)
        if setup == "currency":
            o = order(s, ws, total=20000, currency="EUR")
        s.refresh(cert)
        before = (cert.status, len(kinds(s, cert)), o.amount_due_cents)
        with pytest.raises(error, match=message):
            redemption.redeem(s, ws, code=cert.code, order_id=o.id, actor="api")
        s.refresh(cert)
        s.refresh(o)
        assert (cert.status, len(kinds(s, cert)), o.amount_due_cents) == before


def test_an_expired_certificate_names_its_expiry_date(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=10)
        cert = make_certificate(s, ws, now=utcnow() - timedelta(days=11))
        with pytest.raises(CertificateExpired, match=cert.expires_at.strftime("%Y-%m-%d")):
            redemption.redeem(s, ws, code=cert.code, order_id=order(s, ws).id, actor="api")


def test_several_certificates_may_pay_one_order_up_to_its_total(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        o = order(s, ws, total=25000)
        a, b, c = (make_certificate(s, ws, amount=v) for v in ("100", "150", "25"))
        redemption.redeem(s, ws, code=a.code, order_id=o.id, actor="api")
        redemption.redeem(s, ws, code=b.code, order_id=o.id, actor="api")
        assert o.amount_due_cents == 0
        with pytest.raises(ExceedsOrderTotal):
            redemption.redeem(s, ws, code=c.code, order_id=o.id, actor="api")
        assert [r.amount_cents for r, _ in redemption.order_redemptions(s, o)] == [10000, 15000]


def test_releasing_restores_the_certificate_and_the_amount_due(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws, amount="100")
        o = order(s, ws, total=30000, ref="BK-CANCEL")
        red = redemption.redeem(s, ws, code=cert.code, order_id=o.id, actor="api")
        redemption.release(s, ws, redemption_id=red.id, actor="api")
        s.refresh(cert)
        s.refresh(o)
        assert (cert.status, cert.redeemed_at, o.amount_due_cents, red.status) == ("active", None, 30000, "released")
        assert kinds(s, cert)[-2:] == ["Redeemed", "Released"]
        with pytest.raises(InvalidTransition, match="already been released"):
            redemption.release(s, ws, redemption_id=red.id, actor="api")
        # and it can be spent again
        redemption.redeem(s, ws, code=cert.code, order_id=o.id, actor="api")


def test_releasing_after_the_expiry_date_leaves_the_certificate_expired(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=10)
        start = utcnow() - timedelta(days=9)
        cert = make_certificate(s, ws, now=start)
        o = order(s, ws)
        red = redemption.redeem(s, ws, code=cert.code, order_id=o.id, actor="api", now=start + timedelta(days=1))
        redemption.release(s, ws, redemption_id=red.id, actor="api", now=start + timedelta(days=11))
        s.refresh(cert)
        s.refresh(o)
        assert cert.status == "expired" and o.amount_due_cents == o.total_cents
        assert kinds(s, cert)[-2:] == ["Released", "Expired"]


def test_orders_validate_their_input_and_references_are_unique(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        with pytest.raises(ValidationError) as err:
            redemption.create_order(s, ws, reference="", total_cents=-5, currency="XXX", customer_email="nope")
        assert set(err.value.errors) == {"reference", "total_cents", "currency", "customer_email"}
        order(s, ws, ref="BK-9")
        with pytest.raises(Conflict):
            order(s, ws, ref="BK-9")


def test_another_workspaces_order_or_redemption_is_not_found(db_url):
    with db.write_session(db_url) as s:
        ours, theirs = make_workspace(s), make_workspace(s)
        their_order = order(s, theirs)
        their_red = redemption.redeem(s, theirs, code=make_certificate(s, theirs).code, order_id=their_order.id,
                                      actor="api")
        with pytest.raises(NotFound):
            redemption.redeem(s, ours, code=make_certificate(s, ours).code, order_id=their_order.id, actor="api")
        with pytest.raises(NotFound):
            redemption.release(s, ours, redemption_id=their_red.id, actor="api")


def test_widget_sessions_grant_one_order_for_a_short_time(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        o = order(s, ws)
        _, token = redemption.create_widget_session(s, ws, order_id=o.id)
        assert redemption.resolve_widget_session(s, token)[1].id == o.id
        assert redemption.resolve_widget_session(s, token, now=utcnow() + timedelta(hours=1)) is None
        assert redemption.resolve_widget_session(s, "gcw_forged") is None


def _race(db_url, attempts):
    barrier = threading.Barrier(len(attempts))

    def run(attempt):
        barrier.wait()
        try:
            with db.write_session(db_url) as s:
                attempt(s)
            return "won"
        except (InvalidTransition, ExceedsOrderTotal):
            return "refused"

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(run, attempts))


def test_simultaneous_redemptions_of_one_code_let_exactly_one_win(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws, amount="50")
        orders = [order(s, ws, total=10000, ref=f"R-{i}").id for i in range(20)]
    outcomes = _race(db_url, [
        (lambda s, oid=oid: redemption.redeem(s, ws, code=cert.code, order_id=oid, actor="api")) for oid in orders
    ])
    assert sorted(outcomes) == ["refused"] * 19 + ["won"]
    with db.read_session(db_url) as s:
        assert len(s.exec(select(Redemption).where(Redemption.certificate_id == cert.id)).all()) == 1
        assert kinds(s, s.get(Certificate, cert.id)).count("Redeemed") == 1
        assert sum(o.total_cents - o.amount_due_cents for o in s.exec(select(Order)).all()) == 5000


def test_simultaneous_certificates_on_one_order_never_exceed_its_total(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        o = order(s, ws, total=25000)
        codes = [make_certificate(s, ws, amount="50").code for _ in range(12)]
    outcomes = _race(db_url, [
        (lambda s, code=code: redemption.redeem(s, ws, code=code, order_id=o.id, actor="api")) for code in codes
    ])
    assert outcomes.count("won") == 5
    with db.read_session(db_url) as s:
        fresh = s.get(Order, o.id)
        assert fresh.amount_due_cents == 0
        applied = s.exec(select(Redemption).where(Redemption.order_id == o.id)).all()
        assert sum(r.amount_cents for r in applied) == 25000
        assert len(s.exec(select(Certificate).where(Certificate.status == "redeemed")).all()) == 5
