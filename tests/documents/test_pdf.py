"""PDFs are generated automatically when certificates become active; staff and customers
download them by an unguessable link. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import timedelta

import pypdf
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.testclient import TestClient

from giftcerts import db
from giftcerts.clock import format_date, utcnow
from giftcerts.core import certificate_types, delivery, documents, expiry, lifecycle, redemption, workspaces
from giftcerts.core.codes import format_code
from giftcerts.documents import pdf, routes, store
from giftcerts.models import Certificate, CertificateDocument, Workspace
from tests.factories import make_certificate, make_workspace, tampered
from tests.jobs.conftest import drain


def text_of(content: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(content)).pages)


def test_the_pdf_shows_code_amount_recipient_purchaser_message_and_expiry(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, currency="EUR", timezone="Europe/Paris")
        ws.name = "Alpine Tours"
        cert = make_certificate(s, ws, amount="234.5", recipient_name="Robin Traveller", purchaser_name="Pat Buyer",
                                message="Enjoy the mountains!")
        content = store.render_for(s, cert)
    text = text_of(content)
    for expected in ("Alpine Tours", format_code(cert.code), "€234.50", "Robin Traveller", "Pat Buyer",
                     "Enjoy the mountains!", cert.expires_at.astimezone(
                         __import__("zoneinfo").ZoneInfo("Europe/Paris")).strftime("%Y-%m-%d")):
        assert expected in text


def test_html_and_script_in_user_input_are_printed_as_text_and_nothing_is_fetched(db_url, monkeypatch):
    fetched = []
    original = pdf.RefusingFetcher.fetch

    def spy(self, url, headers=None):
        fetched.append(url)
        return original(self, url, headers)

    monkeypatch.setattr(pdf.RefusingFetcher, "fetch", spy)
    with db.write_session(db_url) as s:
        ws = make_workspace(s, booking_url="https://tours.example/book")
        cert = make_certificate(s, ws, recipient_name='<img src="file:///etc/passwd">',
                                message='<script>alert(1)</script><link rel=stylesheet href="http://169.254.169.254/">')
        content = store.render_for(s, cert)
    text = text_of(content)
    assert '<img src="file:///etc/passwd">' in text and "<script>alert(1)</script>" in text
    # escaped: nothing in the input became a resource to fetch; only our own QR image was asked for
    assert fetched == [pdf.QR_URI]
    assert len(pypdf.PdfReader(io.BytesIO(content)).pages[0].images) == 1  # the QR code


def test_without_a_booking_link_the_pdf_has_no_qr_code_to_scan(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)  # booking link left empty in Settings
        cert = make_certificate(s, ws)
        content = store.render_for(s, cert)
    assert pdf.booking_link(ws, format_code(cert.code)) == ""
    assert len(pypdf.PdfReader(io.BytesIO(content)).pages[0].images) == 0
    assert "Scan to book" not in text_of(content) and format_code(cert.code) in text_of(content)


def test_the_fetcher_refuses_local_files_and_remote_urls():
    fetcher = pdf.RefusingFetcher()
    for url in ("file:///etc/passwd", "http://169.254.169.254/latest", "https://example.com/a.png"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)


def test_activation_renders_and_stores_the_pdf_and_a_missing_pdf_is_rendered_again(db_url, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
        path = documents.pdf_path(s, cert)
    monkeypatch.setenv("GIFTCERTS_SMTP_URL", "smtp://127.0.0.1:9")  # emails wait; the PDF does not need them
    drain(db_url, limit=3)
    with db.read_session(db_url) as s:
        assert s.get(CertificateDocument, cert.id).pdf.startswith(b"%PDF")
    client = TestClient(Starlette(routes=routes.routes()))
    first = client.get(path)
    assert first.status_code == 200 and first.headers["content-type"] == "application/pdf"
    assert format_code(cert.code) in text_of(first.content)
    # When the stored PDF goes missing, the link still works: it is rendered again and stored
    with db.write_session(db_url) as s:
        s.execute(sa.update(CertificateDocument).values(pdf=None))
    again = client.get(path + "?download=1")
    assert again.status_code == 200 and "attachment" in again.headers["content-disposition"]
    with db.read_session(db_url) as s:
        assert s.get(CertificateDocument, cert.id).pdf is not None


def test_pdf_links_are_unguessable_and_unpaid_certificates_have_none(db_url, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        a, b = make_certificate(s, ws), make_certificate(s, ws)
        pending = make_certificate(s, ws, paid=False)
        token_a, token_b = documents.pdf_path(s, a).rsplit("/", 1)[1], documents.pdf_path(s, b).rsplit("/", 1)[1]
        pending_path = documents.pdf_path(s, pending)
    assert len(token_a) >= 43 and token_a != token_b
    assert a.code not in token_a and token_a[:8] != token_b[:8]  # random, not derived from id or code
    client = TestClient(Starlette(routes=routes.routes()))
    for path in (documents.PDF_PATH + "nope", documents.PDF_PATH + tampered(token_a), documents.PDF_PATH + str(a.id),
                 pending_path):
        assert client.get(path).status_code == 404


def test_the_qr_code_in_the_pdf_is_exactly_the_booking_link_with_the_code(db_url):
    import segno

    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        ws.booking_url = "https://tours.example/book?lang=en"
        cert = make_certificate(s, ws)
        content = store.render_for(s, cert)
    link = f"https://tours.example/book?lang=en&gift_certificate={format_code(cert.code)}"
    assert pdf.booking_link(ws, format_code(cert.code)) == link
    (image,) = pypdf.PdfReader(io.BytesIO(content)).pages[0].images
    pixels = image.image.convert("L")
    expected = segno.make(link, error="m", mask=0).matrix
    assert pixels.size == (len(expected[0]), len(expected))
    assert [[pixels.getpixel((x, y)) < 128 for x in range(pixels.width)] for y in range(pixels.height)] == \
        [[bool(module) for module in row] for row in expected]


def _served_text(db_url, cert) -> str:
    with db.write_session(db_url) as s:
        path = documents.pdf_path(s, cert)
    response = TestClient(Starlette(routes=routes.routes())).get(path)
    assert response.status_code == 200
    return text_of(response.content)


def _rendered_and_stored(db_url, cert) -> None:
    store.get_or_render(cert.id, db_url)
    with db.read_session(db_url) as s:
        assert s.get(CertificateDocument, cert.id).pdf is not None


def test_the_pdf_link_shows_what_became_of_the_certificate(db_url, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws)
    _rendered_and_stored(db_url, cert)
    assert "VOIDED" not in _served_text(db_url, cert)
    # once voided, the same link says so, rather than serving the clean certificate it first stored
    with db.write_session(db_url) as s:
        lifecycle.void_certificate(s, ws, certificate_id=cert.id, reason="Refunded", actor="a@example.com")
    assert "VOIDED — this certificate cannot be used." in _served_text(db_url, cert)
    # and once reactivated, it is a clean certificate again
    with db.write_session(db_url) as s:
        lifecycle.reactivate_certificate(s, ws, certificate_id=cert.id, actor="a@example.com")
    assert "VOIDED" not in _served_text(db_url, cert)


def test_changing_what_the_pdf_prints_renders_it_again(db_url, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        kind = certificate_types.save_type(s, ws, name="Safari credit", accent_color="#b45309")
        cert = make_certificate(s, ws)
        cert.certificate_type_id = kind.id
        s.add(cert)
        untouched = make_certificate(s, make_workspace(s))  # another workspace's certificate
    for c in (cert, untouched):
        _rendered_and_stored(db_url, c)
    with db.write_session(db_url) as s:
        certificate_types.save_type(s, s.get(Workspace, ws.id), type_id=kind.id, name="Glacier credit",
                                    accent_color="#0f766e")
    assert "Glacier credit" in _served_text(db_url, cert)
    with db.write_session(db_url) as s:
        workspace = s.get(Workspace, ws.id)
        change = workspaces.validate_settings(portal_enabled=True, min_amount="25", max_amount="1000",
                                              expiry_days="365", currency="USD", timezone="Pacific/Auckland",
                                              preset_amounts="")
        workspaces.apply_settings(s, workspace, change)
    expected = format_date(cert.expires_at, "Pacific/Auckland")
    assert expected in _served_text(db_url, cert)
    with db.write_session(db_url) as s:
        errors: dict[str, str] = {}
        delivery.apply(s, s.get(Workspace, ws.id), delivery.validate(
            reminder_days=None, booking_url="https://tours.example/book?v={code}", errors=errors))
        assert errors == {}
    assert "Scan to book" in _served_text(db_url, cert)  # a QR code now that there is a booking page
    with db.read_session(db_url) as s:  # nothing of another workspace was thrown away
        assert s.get(CertificateDocument, untouched.id).pdf is not None


def test_certificates_used_or_expired_by_the_set_based_paths_show_it_too(db_url, monkeypatch):
    """The expiry sweep and the one-statement redemption change many rows without the lifecycle's
    hooks; the stored PDF knows the status it shows, so their links cannot serve a valid-looking one."""
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        spent = make_certificate(s, ws)
        lapsing = make_certificate(s, ws)
        order = redemption.create_order(s, ws, reference="BK-PDF", total_cents=50000)
    for c in (spent, lapsing):
        _rendered_and_stored(db_url, c)
    with db.write_session(db_url) as s:
        if s.get_bind().dialect.name == "postgresql":
            assert redemption.redeem_at_once(s, workspace_id=ws.id, code=spent.code, order_id=order.id, actor="api")
        else:
            redemption.redeem(s, s.get(Workspace, ws.id), code=spent.code, order_id=order.id, actor="api")
        s.get(Certificate, lapsing.id).expires_at = utcnow() - timedelta(seconds=1)
    with db.write_session(db_url) as s:
        assert expiry.expire_due(s) == 1
    assert "Already redeemed." in _served_text(db_url, spent)
    assert "Expired." in _served_text(db_url, lapsing)
    with db.read_session(db_url) as s:  # and the fresh renderings are what is stored now
        assert {s.get(CertificateDocument, c.id).rendered_status for c in (spent, lapsing)} == {"redeemed", "expired"}
