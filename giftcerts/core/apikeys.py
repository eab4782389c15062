"""Workspace API keys: random, shown once, stored as SHA-256 (they carry 256 random bits,
so a fast hash is the right tool; passwords get argon2)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core.tokens import hash_token
from giftcerts.core.scoped import get_in_workspace
from giftcerts.core.validation import clean_text
from giftcerts.models import ApiKey, Workspace

PREFIX = "gc_live_"
# `last_used_at` is what the dashboard shows; it is written at most this often per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def create_api_key(session: Session, workspace: Workspace, *, name: str = "") -> tuple[ApiKey, str]:
    """Returns the stored record and the plaintext key, which is never retrievable again."""
    plaintext = PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(workspace_id=workspace.id, name=clean_text(name)[:100] or "API key",
                 prefix=plaintext[: len(PREFIX) + 4], key_hash=hash_token(plaintext))
    session.add(key)
    session.flush()
    return key, plaintext


def authenticate(session: Session, plaintext: str | None, *, now: datetime | None = None) -> ApiKey | None:
    if not plaintext or not plaintext.startswith(PREFIX) or len(plaintext) > 128:
        return None
    key = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_token(plaintext))).first()
    if key is None or key.revoked_at is not None:
        return None
    return key


@dataclass(frozen=True)
class KeyIdentity:
    """Who a valid, unrevoked key is: what a request needs, without loading the ORM objects."""

    id: int
    prefix: str
    workspace_id: int
    last_used_at: datetime | None

    def needs_touch(self, now: datetime) -> bool:
        return self.last_used_at is None or now - self.last_used_at >= LAST_USED_RESOLUTION


_keys = ApiKey.__table__
# Built once: composing a statement costs more than running it on this, the hottest query.
_IDENTIFY = (
    sa.select(_keys.c.id, _keys.c.prefix, _keys.c.workspace_id, _keys.c.last_used_at)
    .where(_keys.c.key_hash == sa.bindparam("key_hash"), _keys.c.revoked_at.is_(None))
)


def identify(session: Session, plaintext: str | None) -> KeyIdentity | None:
    """The key's identity, in one indexed query (the API runs this on every request)."""
    if not plaintext or not plaintext.startswith(PREFIX) or len(plaintext) > 128:
        return None
    rows = db.execute_hot(session, _IDENTIFY, {"key_hash": hash_token(plaintext)})
    return KeyIdentity(*rows[0]) if rows else None


def touch(session: Session, *, key_id: int, now: datetime | None = None) -> None:
    """Record that the key was used (at most once per LAST_USED_RESOLUTION; concurrent callers
    meet at the conditional UPDATE and only one writes)."""
    now = now or utcnow()
    session.execute(
        sa.update(ApiKey)
        .where(ApiKey.id == key_id,
               sa.or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_RESOLUTION))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def revoke(session: Session, workspace: Workspace, *, key_id: int | str, now: datetime | None = None) -> ApiKey:
    key = get_in_workspace(session, ApiKey, workspace.id, key_id, not_found="API key not found.")
    if key.revoked_at is None:
        key.revoked_at = now or utcnow()
        session.add(key)
    return key


def list_keys(session: Session, workspace_id: int) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(ApiKey.workspace_id == workspace_id).order_by(ApiKey.id)))
