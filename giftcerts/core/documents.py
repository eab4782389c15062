"""Certificate documents' rows: the download link's token and the stored PDF.

The link is `/certificates/pdf/<token>` with 256 random bits: unguessable, and unrelated to
the certificate's id or code, so links cannot be enumerated. The PDF itself is kept in the
database and rendered again (by giftcerts.documents) whenever it is missing.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlmodel import Session, select

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core.codes import format_code
from giftcerts.core.inserts import insert_ignore
from giftcerts.models import Certificate, CertificateDocument

PDF_PATH = "/certificates/pdf/"


def ensure_document(session: Session, cert: Certificate) -> CertificateDocument:
    doc = session.get(CertificateDocument, cert.id)
    if doc is None:
        insert_ignore(session, CertificateDocument.__table__,
                      {"certificate_id": cert.id, "token": secrets.token_urlsafe(32)}, conflict=["certificate_id"])
        doc = session.get(CertificateDocument, cert.id)
    return doc


def pdf_path(session: Session, cert: Certificate) -> str:
    """The download path of a certificate's PDF (the link is created on first use)."""
    return PDF_PATH + ensure_document(session, cert).token


def filename(cert: Certificate) -> str:
    return f"gift-certificate-{format_code(cert.code)}.pdf"


def store_pdf(session: Session, cert: Certificate, content: bytes, *, rendered_status: str) -> None:
    ensure_document(session, cert)
    session.execute(sa.update(CertificateDocument).where(CertificateDocument.certificate_id == cert.id)
                    .values(pdf=content, generated_at=utcnow(), rendered_status=rendered_status))


def forget_pdfs(session: Session, *, workspace_id: int, certificate_type_id: int | None = None) -> None:
    """Drop the stored PDFs of a workspace (or of one of its certificate types) whose printed
    details just changed: its timezone or booking link, the type's name or colour. Each is
    rendered again on its next download or email. (A status change needs nothing: a PDF
    rendered for another status is never served, see `giftcerts.documents.store.get_or_render`.)"""
    ids = sa.select(Certificate.id).where(Certificate.workspace_id == workspace_id)
    if certificate_type_id is not None:
        ids = ids.where(Certificate.certificate_type_id == certificate_type_id)
    session.execute(sa.update(CertificateDocument)
                    .where(CertificateDocument.certificate_id.in_(ids), CertificateDocument.pdf.is_not(None))
                    .values(pdf=None, generated_at=None, rendered_status=None))


def find_by_token(token: str, url: str | None = None) -> Certificate | None:
    """The certificate whose PDF link this is; None for unknown tokens and unpaid certificates."""
    if not token or len(token) > 64:
        return None
    with db.read_session(url) as session:
        cert = session.exec(
            select(Certificate).join(CertificateDocument, CertificateDocument.certificate_id == Certificate.id)
            .where(CertificateDocument.token == token)
        ).first()
    if cert is None or cert.activated_at is None:
        return None
    return cert
