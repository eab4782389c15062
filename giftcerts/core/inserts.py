"""INSERT ... ON CONFLICT DO NOTHING, written once for both databases."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert_ignore(session: Session, table, values: dict, *, conflict: list[str]) -> bool:
    """INSERT unless a row with the same unique key exists; True if this call inserted it."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict)
    # RETURNING tells reliably whether a row went in (rowcount is not reported for this on every driver).
    return session.execute(stmt.returning(*table.primary_key.columns)).first() is not None
