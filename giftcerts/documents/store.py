"""Rendering certificate PDFs and serving the stored ones (the rows themselves, token and
stored PDF, are giftcerts.core.documents)."""

from __future__ import annotations

from sqlmodel import Session

from giftcerts import config, db
from giftcerts.core import documents
from giftcerts.models import Certificate, CertificateDocument, CertificateType, Workspace


def pdf_url(session: Session, cert: Certificate) -> str:
    return config.public_url() + documents.pdf_path(session, cert)


def render_for(session: Session, cert: Certificate) -> bytes:
    from giftcerts.documents.pdf import render_pdf  # WeasyPrint is slow to import: load on demand

    ws = session.get(Workspace, cert.workspace_id)
    cert_type = session.get(CertificateType, cert.certificate_type_id) if cert.certificate_type_id else None
    return render_pdf(cert, ws, cert_type)


def get_or_render(cert_id: int, url: str | None = None) -> bytes:
    """The stored PDF if it shows the certificate as it is now; otherwise rendered (outside any
    transaction) and stored. A rendering overtaken by a status change while it ran is served
    once but not stored."""
    with db.read_session(url) as session:
        cert = session.get(Certificate, cert_id)
        doc = session.get(CertificateDocument, cert_id)
        if doc is not None and doc.pdf and doc.rendered_status == cert.status:
            return doc.pdf
        rendered_status = cert.status
        content = render_for(session, cert)
    with db.write_session(url) as session:
        current = session.get(Certificate, cert_id)
        if current.status == rendered_status:
            documents.store_pdf(session, current, content, rendered_status=rendered_status)
    return content
