"""Workspace API keys: random, shown once, stored as SHA-256 (they carry 256 random bits,
so a fast hash is the right tool; passwords get argon2)."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlmodel import Session, select

from giftcerts.clock import utcnow
from giftcerts.core.accounts import hash_token
from giftcerts.core.errors import NotFound
from giftcerts.core.validation import clean_text
from giftcerts.models import ApiKey, Workspace

PREFIX = "gc_live_"


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


def revoke(session: Session, workspace: Workspace, *, key_id: int, now: datetime | None = None) -> ApiKey:
    key = session.exec(select(ApiKey).where(ApiKey.id == key_id, ApiKey.workspace_id == workspace.id)).first()
    if key is None:
        raise NotFound("API key not found.")
    if key.revoked_at is None:
        key.revoked_at = now or utcnow()
        session.add(key)
    return key


def list_keys(session: Session, workspace_id: int) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(ApiKey.workspace_id == workspace_id).order_by(ApiKey.id)))
