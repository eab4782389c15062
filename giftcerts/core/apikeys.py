"""Workspace API keys: random, shown once, stored as SHA-256 (they carry 256 random bits,
so a fast hash is the right tool; passwords get argon2)."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import object_session
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
# A valid key is remembered this long per process, so most API requests need no query for
# it. Below 5 s: every process refuses a revoked key within 5 s of the revocation (and the
# revoking process at once, see `revoke`).
CACHE_SECONDS = 4.0
CACHE_SIZE = 1024


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


_cache: dict[str, tuple[float, KeyIdentity]] = {}  # key hash -> (monotonic time read, identity)
_cache_lock = threading.Lock()
_generation = 0  # bumped by every revocation: a look-up that started before one is not cached
_clock = time.monotonic  # a module attribute so that tests can move it


def cached(plaintext: str | None) -> KeyIdentity | None:
    """The key's identity if this process read it less than CACHE_SECONDS ago, else None."""
    if not plaintext or not plaintext.startswith(PREFIX) or len(plaintext) > 128:
        return None
    hit = _cache.get(hash_token(plaintext))
    return hit[1] if hit is not None and _clock() - hit[0] < CACHE_SECONDS else None


def identify(session: Session, plaintext: str | None) -> KeyIdentity | None:
    """The key's identity: from this process's cache (see CACHE_SECONDS), else in one indexed
    query (the API runs this on every request)."""
    if not plaintext or not plaintext.startswith(PREFIX) or len(plaintext) > 128:
        return None
    key_hash = hash_token(plaintext)
    read_at = _clock()
    hit = _cache.get(key_hash)
    if hit is not None and read_at - hit[0] < CACHE_SECONDS:
        return hit[1]
    generation = _generation
    rows = db.execute_hot(session, _IDENTIFY, {"key_hash": key_hash})
    if not rows:  # unknown and revoked keys are not cached: a new key works at once
        return None
    key = KeyIdentity(*rows[0])
    with _cache_lock:
        if generation == _generation:
            if len(_cache) >= CACHE_SIZE:
                _cache.clear()
            _cache[key_hash] = (read_at, key)
    return key


def forget_cached(*_args) -> None:
    """Drop every cached key identity (after a revocation, so this process refuses it at once)."""
    global _generation
    with _cache_lock:
        _generation += 1
        _cache.clear()


def forget_on_commit(session: Session) -> None:
    """For a transaction that changes keys: forget them now, and again once it commits (a
    look-up racing the commit may have read a key as still valid)."""
    forget_cached()
    sa.event.listen(session, "after_commit", forget_cached, once=True)


@sa.event.listens_for(ApiKey, "after_update")
def _changed(_mapper, _connection, key: ApiKey) -> None:
    """Any change to a key through the ORM (a revocation above all) is seen by this process at once."""
    session = object_session(key)
    if session is not None:
        forget_on_commit(session)
    else:
        forget_cached()


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
    with _cache_lock:  # else every request until the entry expires would touch again
        for key_hash, (read_at, key) in list(_cache.items()):
            if key.id == key_id:
                _cache[key_hash] = (read_at, replace(key, last_used_at=now))


def revoke(session: Session, workspace: Workspace, *, key_id: int | str, now: datetime | None = None) -> ApiKey:
    key = get_in_workspace(session, ApiKey, workspace.id, key_id, not_found="API key not found.")
    if key.revoked_at is None:
        key.revoked_at = now or utcnow()
        session.add(key)  # this process forgets it at the flush (see _changed)
    return key


def list_keys(session: Session, workspace_id: int) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(ApiKey.workspace_id == workspace_id).order_by(ApiKey.id)))
