"""Idempotency-Key: a retried POST is answered with the first response, never applied twice.

The record, response included, is inserted *last*, in the same write transaction as the
operation: one statement. Two requests with one key therefore meet at the unique index
(workspace_id, key): on PostgreSQL the second `INSERT ... ON CONFLICT DO NOTHING` waits
until the first transaction commits and then inserts nothing; on SQLite write
transactions are serialised, so the second finds the committed row. Either way the loser
rolls back everything it did and replays the stored response. A twin that commits first
can also make the operation itself fail (on PostgreSQL, a unique order reference it just
inserted): a failed request whose key has a record by then replays it too. The operation
runs inside a SAVEPOINT, so a refusal (a domain error) is stored and replayed just like a
success.
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
# Built once per dialect (the statement runs on every write request that carries a key).
_RECORD = {
    dialect.__name__.rsplit(".", 1)[-1]: dialect.insert(_records)
    .values(workspace_id=sa.bindparam("workspace_id"), key=sa.bindparam("key"),
            request_fingerprint=sa.bindparam("fingerprint"), created_at=sa.bindparam("now"),
            response_status=sa.bindparam("status"), response_body=sa.bindparam("body"))
    .on_conflict_do_nothing(index_elements=["workspace_id", "key"])
    .returning(_records.c.id)
    for dialect in (postgresql, sqlite)
}


def record(session: Session, reply: Reply, *, workspace_id: int, key: str, request_fingerprint: str) -> None:
    """Store the answer as the key's, at the end of the operation's transaction; raises
    Duplicate if the key is taken (on PostgreSQL, waits first for a concurrent twin to
    commit), and the caller must then roll the transaction back."""
    inserted = db.execute_hot(session, _RECORD[session.get_bind().dialect.name], {
        "workspace_id": workspace_id, "key": key, "fingerprint": request_fingerprint, "now": utcnow(),
        "status": reply.status, "body": reply.body,
    })
    if not inserted:
        raise Duplicate(workspace_id=workspace_id, key=key, request_fingerprint=request_fingerprint)


def replay(session: Session, twin: Duplicate) -> Reply:
    """The stored answer (committed: the twin's INSERT only failed once the first one committed)."""
    reply = find(session, twin)
    if reply is None:
        raise LookupError(f"no idempotency record for key {twin.key!r}")
    return reply


def find(session: Session, twin: Duplicate) -> Reply | None:
    """The stored answer for the key, if there is one; IdempotencyKeyReused if it answered another request."""
    record = session.exec(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.workspace_id == twin.workspace_id, IdempotencyRecord.key == twin.key)
    ).first()
    if record is None:
        return None
    if record.request_fingerprint != twin.request_fingerprint:
        raise IdempotencyKeyReused()
    return Reply(record.response_status, record.response_body, {REPLAYED_HEADER: "true"})
