"""Idempotency-Key: a retried POST is answered with the first response, never applied twice.

The record is inserted *first*, in the same write transaction as the operation. Two
requests with one key therefore meet at the unique index (workspace_id, key): on
PostgreSQL the second `INSERT ... ON CONFLICT DO NOTHING` waits until the first
transaction commits and then inserts nothing; on SQLite write transactions are
serialised, so the second simply finds the committed row. Either way the loser rolls
back and replays the stored response. The operation runs inside a SAVEPOINT, so a
refusal (a domain error) is stored and replayed just like a success, while the record
itself survives. Claim and store are one statement each.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from giftcerts import db
from giftcerts.api.errors import IdempotencyKeyReused
from giftcerts.clock import utcnow
from giftcerts.core.errors import ValidationError
from giftcerts.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[!-~]+$"  # visible ASCII, what parse_key accepts
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass
class Reply:
    """A response as stored and replayed: status and the exact body text."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class Duplicate(Exception):
    """Another request with this key got there first; replay its answer."""

    def __init__(self, *, workspace_id: int, key: str, request_fingerprint: str):
        super().__init__(key)
        self.workspace_id = workspace_id
        self.key = key
        self.request_fingerprint = request_fingerprint


def parse_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all("!" <= ch <= "~" for ch in value):
        raise ValidationError({HEADER: f"Use 1 to {MAX_KEY_LENGTH} visible ASCII characters (no spaces), "
                                       "e.g. a UUID."})
    return value


def fingerprint(method: str, path: str, canonical_body: str) -> str:
    """What makes two requests "the same": method, path and the validated body."""
    return hashlib.sha256(f"{method} {path}\n{canonical_body}".encode()).hexdigest()


_records = IdempotencyRecord.__table__
# Built once per dialect (the statements run on every write request that carries a key).
_CLAIM = {
    dialect.__name__.rsplit(".", 1)[-1]: dialect.insert(_records)
    .values(workspace_id=sa.bindparam("workspace_id"), key=sa.bindparam("key"),
            request_fingerprint=sa.bindparam("fingerprint"), created_at=sa.bindparam("now"),
            response_status=0, response_body="")
    .on_conflict_do_nothing(index_elements=["workspace_id", "key"])
    .returning(_records.c.id)
    for dialect in (postgresql, sqlite)
}
_STORE = (
    sa.update(_records).where(_records.c.id == sa.bindparam("record_id"))
    .values(response_status=sa.bindparam("status"), response_body=sa.bindparam("body"))
)


def claim(session: Session, *, workspace_id: int, key: str, request_fingerprint: str) -> int:
    """Insert the record before doing anything else and return its id; raises Duplicate if
    the key is taken (on PostgreSQL, waits first for a concurrent twin to commit)."""
    inserted = db.execute_hot(session, _CLAIM[session.get_bind().dialect.name], {
        "workspace_id": workspace_id, "key": key, "fingerprint": request_fingerprint, "now": utcnow(),
    })
    if not inserted:
        raise Duplicate(workspace_id=workspace_id, key=key, request_fingerprint=request_fingerprint)
    return inserted[0][0]


def store(session: Session, record_id: int, reply: Reply) -> None:
    db.execute_hot(session, _STORE, {"record_id": record_id, "status": reply.status, "body": reply.body})


def replay(session: Session, twin: Duplicate) -> Reply:
    """The stored answer (committed: the twin's INSERT only failed once the first one committed)."""
    record = session.exec(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.workspace_id == twin.workspace_id, IdempotencyRecord.key == twin.key)
    ).one()
    if record.request_fingerprint != twin.request_fingerprint:
        raise IdempotencyKeyReused()
    return Reply(record.response_status, record.response_body, {REPLAYED_HEADER: "true"})
