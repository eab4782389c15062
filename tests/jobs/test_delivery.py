"""Every activation produces a PDF and the emails its actions ask for, exactly once, surviving
SMTP outages. Runs on SQLite and PostgreSQL against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import io
import json

import pypdf
import sqlalchemy as sa
from sqlmodel import select

from giftcerts import db
from giftcerts.core import activity, delivery, documents, lifecycle, outbox, redemption
from giftcerts.core.codes import format_code
from giftcerts.jobs import worker as worker_module
from giftcerts.jobs.worker import Worker, retry_job
from giftcerts.models import CertificateDocument, Job, Workspace
from giftcerts.notify import actions
from tests.factories import make_certificate, make_workspace
from tests.jobs.conftest import drain


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def attachment(msg):
    parts = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
    return parts[0].get_content() if parts else None


def kinds(url, cert):
    with db.read_session(url) as s:
        return [a.kind for a in activity.history(s, workspace_id=cert.workspace_id, certificate_id=cert.id)]


def test_an_activated_certificate_is_emailed_to_the_recipient_with_its_pdf_and_a_receipt_to_the_purchaser(
        db_url, mail_sink):
    # Given a workspace with its default actions
    with db.write_session(db_url) as s:
        ws = make_workspace(s, name="Alpine Tours", timezone="Europe/Paris")
        # When a certificate is sold and paid
        cert = make_certificate(s, ws, amount="250", recipient_name="Robin Traveller",
                                recipient_email="robin@example.com", purchaser_email="pat@example.com")
    # Then the worker sends the recipient the certificate with the PDF and the purchaser a receipt
    drain(db_url)
    messages = {m["To"]: m for m in mail_sink.messages()}
    assert set(messages) == {"robin@example.com", "pat@example.com"}
    to_recipient = messages["robin@example.com"]
    assert "Alpine Tours" in str(to_recipient["From"])
    assert "$250.00" in to_recipient["Subject"]
    assert f"Your code: {format_code(cert.code)}" in to_recipient.get_body(("plain",)).get_content()
    assert to_recipient.get_body(("html",)) is not None
    text = pdf_text(attachment(to_recipient))
    assert format_code(cert.code) in text and "$250.00" in text and "Robin Traveller" in text
    assert cert.expires_at.astimezone().strftime("%Y") in text
    receipt = messages["pat@example.com"]
    assert attachment(receipt) is None
    assert format_code(cert.code) not in receipt.get_body(("plain",)).get_content()  # masked in the receipt
    # And each sent email is in the activity log, with a distinct Message-ID
    assert kinds(db_url, cert).count("Sent") == 2
    assert len({m["Message-ID"] for m in messages.values()}) == 2
    # And the PDF is stored
    with db.read_session(db_url) as s:
        assert s.get(CertificateDocument, cert.id).pdf.startswith(b"%PDF")
    # And running the worker again sends nothing more
    assert drain(db_url) == 0
    assert len(mail_sink.messages()) == 2


def test_html_in_a_personal_message_arrives_as_text_in_the_email_and_the_pdf(db_url, mail_sink):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws, message='<script>alert("x")</script><b>Bon voyage</b>',
                                recipient_email="robin@example.com")
    drain(db_url)
    msg = next(m for m in mail_sink.messages() if m["To"] == "robin@example.com")
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>Bon" not in html
    assert '<script>alert("x")</script>' in msg.get_body(("plain",)).get_content()
    assert '<script>alert("x")</script><b>Bon voyage</b>' in pdf_text(attachment(msg))


def test_a_pending_certificate_is_emailed_only_once_it_is_marked_as_paid(db_url, mail_sink):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws, paid=False)
    drain(db_url)
    assert mail_sink.messages() == []
    with db.write_session(db_url) as s:
        lifecycle.mark_paid(s, ws, certificate_id=cert.id, actor="staff@example.com")
    drain(db_url)
    assert len(mail_sink.messages()) == 2


def test_with_the_smtp_server_down_the_email_is_retried_and_delivered_when_it_returns(db_url, mail_sink):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
    # Given the SMTP server is down
    mail_sink.stop()
    drain(db_url, limit=6)
    with db.read_session(db_url) as s:
        waiting = s.exec(select(Job).where(Job.kind == "send_email")).all()
    # Then the emails wait for a retry with the failure visible, and nothing was recorded as sent
    assert waiting and all(j.status == "queued" and j.attempts >= 1 and "Connection" in j.last_error
                           for j in waiting)
    assert "Sent" not in kinds(db_url, cert)
    # When it is back, they are delivered, once each
    mail_sink.start()
    drain(db_url)
    assert sorted(m["To"] for m in mail_sink.messages()) == sorted([cert.recipient_email, cert.purchaser_email])
    assert kinds(db_url, cert).count("Sent") == 2


def test_a_job_that_keeps_failing_is_marked_failed_with_its_error_and_staff_can_retry_it(db_url, mail_sink):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        s.execute(sa.update(Job).values(max_attempts=2))
    mail_sink.stop()
    drain(db_url, limit=20)
    with db.read_session(db_url) as s:
        failed = s.exec(select(Job).where(Job.status == "failed")).all()
    assert len(failed) == 2 and all(j.last_error for j in failed)
    mail_sink.start()
    assert drain(db_url) == 0  # failed jobs stay failed...
    with db.write_session(db_url) as s:
        for job in failed:
            retry_job(s, workspace_id=ws.id, job_id=job.id)
    drain(db_url)  # ...until staff retry them
    assert len(mail_sink.messages()) == 2
    assert kinds(db_url, cert).count("Sent") == 2


def test_retrying_is_scoped_to_the_workspace(db_url):
    from giftcerts.core.errors import NotFound
    import pytest

    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        other = make_workspace(s)
        make_certificate(s, ws)
        job = s.exec(select(Job)).first()
        with pytest.raises(NotFound):
            retry_job(s, workspace_id=other.id, job_id=job.id)


def test_actions_fire_on_redeemed_voided_and_created_when_enabled(db_url, mail_sink):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        for trigger in ("created", "voided"):
            data = actions.validate(name=f"Tell staff: {trigger}", trigger=trigger, recipients=["staff"],
                                    staff_emails="office@example.com", subject="{{ code_masked }} " + trigger,
                                    body="{{ amount }} for {{ recipient_name }}", attach_pdf=False, enabled=True)
            actions.save_action(s, ws, data)
        cert = make_certificate(s, ws, paid=False)
        lifecycle.void_certificate(s, ws, certificate_id=cert.id, reason="Duplicate", actor="staff@example.com")
    drain(db_url)
    subjects = sorted(m["Subject"] for m in mail_sink.messages() if m["To"] == "office@example.com")
    assert subjects == sorted([f"••••-••••-{cert.code[-4:]} created", f"••••-••••-{cert.code[-4:]} voided"])


def test_a_certificate_voided_before_its_email_went_out_is_not_emailed(db_url, mail_sink):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        lifecycle.void_certificate(s, ws, certificate_id=cert.id, reason="Wrong amount", actor="a@example.com")
    drain(db_url)
    assert mail_sink.messages() == []
    with db.read_session(db_url) as s:
        jobs = s.exec(select(Job).where(Job.kind == "send_email")).all()
    assert jobs and all(j.status == "done" and "voided" in j.last_error for j in jobs)


def test_a_certificate_used_before_its_emails_went_out_still_gets_the_purchaser_their_receipt(db_url, mail_sink):
    # The worker was down: the recipient was given the code by phone and used it before any email left.
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws, amount="100", recipient_email="robin@example.com",
                                purchaser_email="pat@example.com")
        order = redemption.create_order(s, ws, reference="BK-1", total_cents=20000)
        redemption.redeem(s, ws, code=cert.code, order_id=order.id, actor="api")
    drain(db_url)
    # The purchaser paid, so the receipt goes; the certificate email would offer a spent code, so it does not.
    assert [m["To"] for m in mail_sink.messages()] == ["pat@example.com"]


def test_an_email_for_a_certificate_without_a_download_link_yet_carries_one_that_works(db_url, mail_sink):
    """Certificates activated before PDFs existed have no document row; the first email makes it, for good."""
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws, recipient_email="robin@example.com")
        action = next(a for a in actions.list_actions(s, workspace_id=ws.id) if a.trigger == "activated"
                      and "recipient" in a.recipients)
        action.body_template = "Download: {{ pdf_link }}"
        s.add(action)
    drain(db_url)
    with db.write_session(db_url) as s:
        s.execute(sa.delete(CertificateDocument).where(CertificateDocument.certificate_id == cert.id))
        delivery.resend_certificate(s, s.get(Workspace, ws.id), certificate_id=cert.id, send_to="recipient",
                                    address=None, actor="staff@example.com")
    before = len(mail_sink.messages())
    drain(db_url)
    resent = mail_sink.messages()[before:]
    assert [m["To"] for m in resent] == ["robin@example.com"]
    token = resent[0].get_body(("plain",)).get_content().split(documents.PDF_PATH, 1)[1].split()[0]
    found = documents.find_by_token(token, db_url)
    assert found is not None and found.id == cert.id


def test_a_disabled_action_sends_nothing(db_url, mail_sink):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        for action in actions.list_actions(s, workspace_id=ws.id):
            actions.set_enabled(s, ws, action_id=action.id, enabled=False)
        make_certificate(s, ws)
    drain(db_url)
    assert mail_sink.messages() == []


def test_a_lost_lease_cannot_mark_the_job_done_twice(db_url, mail_sink):
    # Given a worker whose lease on a job ran out and another worker took the job over
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        make_certificate(s, ws, paid=False)  # no jobs
    with db.write_session(db_url) as s:
        outbox.enqueue(s, "render_pdf", workspace_id=ws.id, certificate_id=None)
    slow, fast = Worker(db_url, name="slow", lease_seconds=0.001), Worker(db_url, name="fast")
    job = slow.claim()
    import time
    time.sleep(0.01)
    taken = fast.claim()
    assert taken.id == job.id and taken.attempts == 2
    # Then the first worker's completion is refused
    import pytest
    with pytest.raises(worker_module.LeaseLost):
        with db.write_session(db_url) as s:
            slow.finish(s, job)
    with db.write_session(db_url) as s:
        fast.finish(s, taken)
        assert s.get(Job, job.id).status == "done"


def test_the_periodic_sweep_expires_reminds_and_purges_old_idempotency_records(db_url):
    from datetime import timedelta

    from giftcerts.clock import utcnow
    from giftcerts.models import Certificate, IdempotencyRecord

    now = utcnow()
    with db.write_session(db_url) as s:
        ws = make_workspace(s, expiry_days=100, reminder_days="30")
        due = make_certificate(s, ws, now=now - timedelta(days=101))
        soon = make_certificate(s, ws, now=now - timedelta(days=80))
        s.add(IdempotencyRecord(workspace_id=ws.id, key="old", request_fingerprint="x",
                                created_at=now - timedelta(days=8)))
        s.add(IdempotencyRecord(workspace_id=ws.id, key="recent", request_fingerprint="x",
                                created_at=now - timedelta(days=1)))
    result = Worker(db_url).sweep(force=True)
    assert result["expired"] == 1 and result["reminders"] == 1 and result["purged"] >= 1
    with db.read_session(db_url) as s:
        assert s.get(Certificate, due.id).status == "expired"
        assert [r.key for r in s.exec(select(IdempotencyRecord))] == ["recent"]
    assert Worker(db_url).sweep(force=True) == {"expired": 0, "released": 0, "reminders": 0, "purged": 0}



def test_a_malformed_smtp_url_is_reported_without_its_password(db_url, monkeypatch):
    # "/" in an unencoded password ends the address early: Python would quote "s3cr" as the port
    monkeypatch.setenv("GIFTCERTS_SMTP_URL", "smtp://mailer:s3cr/et#x@smtp.example.com:587")
    with db.write_session(db_url) as s:
        make_certificate(s, make_workspace(s))
    drain(db_url, limit=20)
    with db.read_session(db_url) as s:
        errors = [j.last_error for j in s.exec(select(Job).where(Job.kind == "send_email")).all()]
    assert errors and all(e.startswith("ValueError: GIFTCERTS_SMTP_URL is not a valid") for e in errors)
    assert not any("s3cr" in e or "et#x" in e for e in errors)  # nor any part of the password
