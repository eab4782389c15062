"""Gift certificates move through statuses: Pending, Active, Redeemed, Voided, Expired.
Every change is tracked in the activity log. Runs on SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
from sqlmodel import select

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import activity, lifecycle
from giftcerts.core.errors import CertificateExpired, InvalidTransition, NotFound, ValidationError
from giftcerts.models import Certificate
from tests.factories import make_certificate, make_workspace, race, redeem


def kinds(session, cert):
    return [a.kind for a in activity.history(session, workspace_id=cert.workspace_id, certificate_id=cert.id)]


def test_a_manual_sale_that_is_paid_is_active_with_an_expiry_from_activation(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=90)
        now = utcnow()
        cert = make_certificate(s, ws, paid=True, amount="150", now=now)
        assert cert.status == "active"
        assert cert.amount_cents == 15000 and cert.currency == "USD"
        assert cert.activated_at == now
        assert cert.expires_at == now + timedelta(days=90)
        assert kinds(s, cert) == ["Created", "Purchased"]


def test_an_unpaid_sale_stays_pending_until_marked_as_paid(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws, paid=False)
        assert cert.status == "pending" and cert.expires_at is None
        assert kinds(s, cert) == ["Created"]
        lifecycle.mark_paid(s, ws, certificate_id=cert.id, actor="staff@example.com")
        assert cert.status == "active" and cert.expires_at is not None
        assert kinds(s, cert) == ["Created", "Purchased"]


def test_void_needs_a_reason_and_is_recorded_with_it(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        with pytest.raises(ValidationError, match="reason"):
            lifecycle.void_certificate(s, ws, certificate_id=cert.id, reason="   ", actor="a@example.com")
        assert cert.status == "active"
        lifecycle.void_certificate(s, ws, certificate_id=cert.id, reason="Customer refund", actor="a@example.com")
        assert cert.status == "voided" and cert.void_reason == "Customer refund"
        last = activity.history(s, workspace_id=ws.id, certificate_id=cert.id)[-1]
        assert (last.kind, last.actor, activity.describe(last, ws.timezone)) == (
            "Voided", "a@example.com", "Reason: Customer refund")


def test_a_voided_certificate_can_be_reactivated_later(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        lifecycle.void_certificate(s, ws, certificate_id=cert.id, reason="Mistake", actor="a@example.com")
        lifecycle.reactivate_certificate(s, ws, certificate_id=cert.id, actor="b@example.com")
        assert cert.status == "active" and cert.void_reason is None and cert.voided_at is None
        assert kinds(s, cert) == ["Created", "Purchased", "Voided", "Reactivated"]


def test_reactivation_is_refused_when_it_expired_while_voided(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=30)
        start = utcnow() - timedelta(days=40)
        cert = make_certificate(s, ws, now=start)
        lifecycle.void_certificate(s, ws, certificate_id=cert.id, reason="Refund", actor="a@example.com",
                                   now=start + timedelta(days=1))
        with pytest.raises(CertificateExpired, match="expired on"):
            lifecycle.reactivate_certificate(s, ws, certificate_id=cert.id, actor="a@example.com")
        assert cert.status == "voided"
        assert kinds(s, cert)[-1] == "Voided"


def test_expired_certificates_cannot_be_redeemed_even_before_the_sweep_runs(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=10)
        cert = make_certificate(s, ws, now=utcnow() - timedelta(days=11))
        assert cert.status == "active"  # the sweep has not run
        with pytest.raises(CertificateExpired):
            redeem(s, ws, cert, reference="B-1")
        assert cert.status == "active"
        lifecycle.expire_certificate(s, ws, certificate_id=cert.id)
        assert cert.status == "expired" and kinds(s, cert)[-1] == "Expired"


def test_a_redeemed_certificate_cannot_be_used_again(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        redeem(s, ws, cert, reference="B-77")
        assert cert.status == "redeemed" and cert.redeemed_at is not None
        with pytest.raises(InvalidTransition, match="already been used"):
            redeem(s, ws, cert, reference="B-78")
        with pytest.raises(InvalidTransition):
            lifecycle.void_certificate(s, ws, certificate_id=cert.id, reason="x", actor="a@example.com")
        assert kinds(s, cert) == ["Created", "Purchased", "Redeemed"]


def test_another_workspaces_certificate_is_not_found(db_url):
    with db.write_session(db_url) as s:
        ours, theirs = make_workspace(s), make_workspace(s)
        cert = make_certificate(s, theirs)
        with pytest.raises(NotFound):
            lifecycle.void_certificate(s, ours, certificate_id=cert.id, reason="x", actor="a@example.com")
        assert cert.status == "active"


def test_simultaneous_voids_of_one_certificate_let_exactly_one_win(db_url):
    """Staff in several tabs press Void at once: one succeeds, the rest are refused cleanly."""
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert_id = make_certificate(s, ws).id
    outcomes = race(db_url, 8, lambda s, n: lifecycle.void_certificate(
        s, ws, certificate_id=cert_id, reason=f"tab {n}", actor="a@example.com"))
    assert outcomes == ["refused"] * 7 + ["won"]
    with db.read_session(db_url) as s:
        cert = s.get(Certificate, cert_id)
        assert kinds(s, cert).count("Voided") == 1


@pytest.mark.parametrize("field,value,message", [
    ("purchaser_email", "", "Enter the purchaser email"),
    ("purchaser_email", "not-an-email", "valid purchaser email"),
    ("recipient_email", "a@b", "valid recipient email"),
    ("purchaser_name", "   ", "Enter the purchaser name"),
    ("recipient_name", "x" * 201, "at most 200"),
    ("amount", "10", "minimum amount is"),
    ("amount", "100000", "maximum amount is"),
    ("amount", "-50", "greater than zero"),
    ("amount", "fifty", "as a number"),
    ("amount", "9" * 40, "too large"),
    ("message", "x" * 1001, "at most 1000"),
])
def test_bad_input_gets_a_clear_message_and_writes_nothing(db_url, field, value, message):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        ws_id = ws.id
        with pytest.raises(ValidationError) as err:
            make_certificate(s, ws, **{field: value})
        assert field in err.value.errors and message in err.value.errors[field]
    with db.read_session(db_url) as s:
        assert s.exec(select(Certificate).where(Certificate.workspace_id == ws_id)).all() == []


def test_a_manual_sale_reads_the_amount_in_the_workspaces_number_format(db_url):
    with db.write_session(db_url) as s:
        german = make_workspace(s, locale="de_DE")
        assert make_certificate(s, german, amount="50,00").amount_cents == 5000
        assert make_certificate(s, german, amount="1.000,00").amount_cents == 100000
        american = make_workspace(s)
        assert make_certificate(s, american, amount="1,000.00").amount_cents == 100000
        with pytest.raises(ValidationError) as err:  # not five thousand dollars
            make_certificate(s, american, amount="50,00")
        assert "Write the amount as 50.00" in err.value.errors["amount"]


def test_html_in_names_and_messages_is_kept_as_plain_text(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws, purchaser_name="<b>Bob</b>", message="<script>alert(1)</script>")
        assert cert.purchaser_name == "<b>Bob</b>"
        assert cert.message == "<script>alert(1)</script>"


def test_emails_are_stored_lower_case_for_search(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws, purchaser_email="Pat.Buyer@Example.COM")
        assert cert.purchaser_email == "pat.buyer@example.com"


@pytest.mark.parametrize("raw", ["2147483648", "99999999999999999", "0", "-1", "²", "1e3", "", None, True])
def test_ids_that_cannot_exist_are_simply_not_found(db_url, raw):
    """Ids arrive as text from URLs and forms; out-of-range ones must not reach the database."""
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        with pytest.raises(NotFound):
            lifecycle.get_certificate(s, workspace_id=ws.id, certificate_id=raw)
