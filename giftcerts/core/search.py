"""Finding certificates: by code, purchaser or recipient email, status, or a mix.

Pages are keyset-paginated on the primary key (newest first), so the thousandth page
costs the same as the first. Each query shape has an index that serves it in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from giftcerts.core.codes import normalize_code
from giftcerts.core.ids import parse_id
from giftcerts.core.validation import clean_text
from giftcerts.models import Certificate, CertificateStatus

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page:
    items: list[Certificate]
    next_cursor: str | None


def parse_status(value: str | None) -> CertificateStatus | None:
    if not value or value == "all":
        return None
    try:
        return CertificateStatus(value.lower())
    except ValueError:
        return None


def _parse_cursor(cursor: str | None) -> int | None:
    return parse_id(cursor)


def _unicode_lower(session: Session):
    """SQL lower() that folds every letter like Python does, so "Élodie" finds "élodie".

    PostgreSQL's lower() already does; SQLite's built-in one only folds A-Z, so there a
    Python function is registered on the connection (cheap, and idempotent).
    """
    if session.get_bind().dialect.name != "sqlite":
        return sa.func.lower
    session.connection().connection.driver_connection.create_function(
        "unicode_lower", 1, lambda v: v.lower() if isinstance(v, str) else v, deterministic=True
    )
    return sa.func.unicode_lower


def search_certificates(
    session: Session,
    *,
    workspace_id: int,
    query: str | None = None,
    status: str | CertificateStatus | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page:
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    return _page(session, workspace_id=workspace_id, query=query, status=status, cursor=cursor, limit=limit)


def _matching_ids(session: Session, *, workspace_id: int, query: str | None,
                  status: str | CertificateStatus | None, cursor: str | None, limit: int | None):
    """The ids a search matches, newest first, after `cursor`; `limit` None for all of them."""
    status_value = parse_status(status.value if isinstance(status, CertificateStatus) else status)
    before = _parse_cursor(cursor)
    # Cleaned like stored names (NFC, no control characters: PostgreSQL refuses NUL in text).
    text = clean_text(query)[:254]

    def scoped(*conditions):
        stmt = select(Certificate.id).where(Certificate.workspace_id == workspace_id, *conditions)
        if status_value is not None:
            stmt = stmt.where(Certificate.status == status_value.value)
        if before is not None:
            stmt = stmt.where(Certificate.id < before)
        stmt = stmt.order_by(Certificate.id.desc())
        return stmt if limit is None else stmt.limit(limit + 1)

    if not text:
        id_query = scoped()
    elif "@" in text:
        email = text.lower()
        # Two index-ordered scans merged, rather than an OR that defeats both indexes.
        by_purchaser = scoped(Certificate.purchaser_email == email).subquery()
        by_recipient = scoped(Certificate.recipient_email == email).subquery()
        id_query = sa.union(select(by_purchaser.c.id), select(by_recipient.c.id))
    elif (code := normalize_code(text)) is not None:
        id_query = scoped(Certificate.code == code)
    else:
        lower = _unicode_lower(session)
        pattern = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        id_query = scoped(
            sa.or_(
                Certificate.purchaser_email.like(pattern, escape="\\"),
                Certificate.recipient_email.like(pattern, escape="\\"),
                lower(Certificate.purchaser_name).like(pattern, escape="\\"),
                lower(Certificate.recipient_name).like(pattern, escape="\\"),
            )
        )

    return id_query


def _page(session: Session, *, workspace_id: int, query: str | None, status: str | CertificateStatus | None,
          cursor: str | None, limit: int) -> Page:
    ids = _matching_ids(session, workspace_id=workspace_id, query=query, status=status, cursor=cursor,
                        limit=limit).subquery()
    rows = list(
        session.exec(
            select(Certificate)
            .where(Certificate.id.in_(select(ids.c.id)))
            .order_by(Certificate.id.desc())
            .limit(limit + 1)
        )
    )
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return Page(items=rows[:limit], next_cursor=next_cursor)


def count_certificates(session: Session, *, workspace_id: int, query: str | None = None,
                       status: str | CertificateStatus | None = None) -> int:
    """How many certificates a search matches (what an export of it will contain)."""
    ids = _matching_ids(session, workspace_id=workspace_id, query=query, status=status, cursor=None,
                        limit=None).subquery()
    return int(session.execute(select(sa.func.count()).select_from(ids)).scalar_one())


def iter_certificates(open_session, *, workspace_id: int, query: str | None = None,
                      status: str | CertificateStatus | None = None,
                      batch_size: int = 1000) -> Iterator[list[Certificate]]:
    """Every certificate a search matches, newest first, in keyset batches of `batch_size`:
    one short read transaction per batch, so an export of a million rows holds one batch in
    memory and never a long-running transaction. `open_session()` is e.g. `db.read_session`."""
    cursor = None
    while True:
        with open_session() as session:
            page = _page(session, workspace_id=workspace_id, query=query, status=status, cursor=cursor,
                         limit=batch_size)
        if page.items:
            yield page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def find_by_code(session: Session, *, workspace_id: int, raw_code: str) -> Certificate | None:
    code = normalize_code(raw_code)
    if code is None:
        return None
    return session.exec(
        select(Certificate).where(Certificate.code == code, Certificate.workspace_id == workspace_id)
    ).first()
