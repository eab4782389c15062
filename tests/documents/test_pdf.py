"""PDFs are generated automatically when certificates become active; staff and customers
download them by an unguessable link. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import io

import pypdf
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.testclient import TestClient

from giftcerts import db
from giftcerts.core.codes import format_code
from giftcerts.documents import pdf, routes, store
from giftcerts.models import CertificateDocument
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
        path = store.pdf_path(s, cert)
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
        token_a, token_b = store.pdf_path(s, a).rsplit("/", 1)[1], store.pdf_path(s, b).rsplit("/", 1)[1]
        pending_path = store.pdf_path(s, pending)
    assert len(token_a) >= 43 and token_a != token_b
    assert a.code not in token_a and token_a[:8] != token_b[:8]  # random, not derived from id or code
    client = TestClient(Starlette(routes=routes.routes()))
    for path in (store.PDF_PATH + "nope", store.PDF_PATH + tampered(token_a), store.PDF_PATH + str(a.id),
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
