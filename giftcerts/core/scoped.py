"""Rows of one workspace, looked up by an id that arrived as text.

Every table a workspace owns is read through `get_in_workspace`, so another workspace's id,
an id that does not exist and one that cannot be an id at all get the same answer: not found.
Nobody learns from it that a row exists elsewhere."""

from __future__ import annotations

from typing import TypeVar

from sqlmodel import Session, SQLModel, select

from giftcerts.core.errors import NotFound
from giftcerts.core.ids import parse_id

Row = TypeVar("Row", bound=SQLModel)


def get_in_workspace(session: Session, model: type[Row], workspace_id: int, raw_id: object, *, not_found: str,
                     lock: bool = False) -> Row:
    """The row of `model` with this id in this workspace, else NotFound(`not_found`).

    `lock`: hold the row until the transaction ends (FOR UPDATE on PostgreSQL)."""
    row_id = parse_id(raw_id)
    if row_id is None:
        raise NotFound(not_found)
    query = select(model).where(model.id == row_id, model.workspace_id == workspace_id)
    row = session.exec(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(not_found)
    return row
