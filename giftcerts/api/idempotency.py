"""Idempotency-Key: a retried POST is answered with the first response, never applied twice.

The record is inserted *first*, in the same write transaction as the operation. Two
requests with one key therefore meet at the unique index (workspace_id, key): on
PostgreSQL the second INSERT waits until the first transaction commits and then fails
with IntegrityError; on SQLite write transactions are serialised, so the second simply
finds the committed row. Either way the loser rolls back and replays the stored
response. The operation runs inside a SAVEPOINT, so a refusal (a domain error) is
stored and replayed just like a success, while the record itself survives.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

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


def claim(session: Session, *, workspace_id: int, key: str, request_fingerprint: str) -> IdempotencyRecord:
    """Insert the record before doing anything else; raises Duplicate if the key is taken."""
    record = IdempotencyRecord(workspace_id=workspace_id, key=key, request_fingerprint=request_fingerprint,
                               created_at=utcnow())
    session.add(record)
    try:
        session.flush()  # PostgreSQL: blocks here behind a concurrent twin until it commits
    except IntegrityError:
        raise Duplicate(workspace_id=workspace_id, key=key, request_fingerprint=request_fingerprint) from None
    return record


def store(session: Session, record: IdempotencyRecord, reply: Reply) -> None:
    record.response_status = reply.status
    record.response_body = reply.body
    session.add(record)
    session.flush()


def replay(session: Session, twin: Duplicate) -> Reply:
    """The stored answer (committed: the twin's INSERT only failed once the first one committed)."""
    record = session.exec(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.workspace_id == twin.workspace_id, IdempotencyRecord.key == twin.key)
    ).one()
    if record.request_fingerprint != twin.request_fingerprint:
        raise IdempotencyKeyReused()
    return Reply(record.response_status, record.response_body, {REPLAYED_HEADER: "true"})
