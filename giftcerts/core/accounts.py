"""Staff accounts, sign-in with lockout, and server-side sessions."""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from giftcerts import config
from giftcerts.clock import utcnow, wait_phrase
from giftcerts.core.errors import NotSignedIn, PermissionDenied, RateLimited, ValidationError
from giftcerts.core.validation import clean_email, clean_text
from giftcerts.models import StaffRole, StaffSession, StaffUser, Workspace

MIN_PASSWORD = 10
LOCKOUT_AFTER = 5
LOCKOUT_MINUTES = 15
SIGN_IN_FAILED = "That email and password do not match an account."

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in staff member and the one workspace they act in."""

    staff_id: int
    email: str
    role: StaffRole
    workspace_id: int
    workspace_slug: str
    workspace_name: str

    @property
    def can_write(self) -> bool:
        return self.role in (StaffRole.OWNER, StaffRole.STAFF)

    @property
    def is_owner(self) -> bool:
        return self.role == StaffRole.OWNER

    def require_write(self) -> None:
        if not self.can_write:
            raise PermissionDenied("Your role is read-only: ask an owner or staff member to make this change.")

    def require_owner(self) -> None:
        if not self.is_owner:
            raise PermissionDenied("Only an owner of this workspace can change this.")


def create_staff(
    session: Session, workspace: Workspace, *, email: str, password: str, role: StaffRole | str = StaffRole.STAFF,
    name: str = "",
) -> StaffUser:
    errors: dict[str, str] = {}
    email_norm = clean_email(email, "email", errors, "email")
    if len(password or "") < MIN_PASSWORD:
        errors["password"] = f"Use a password of at least {MIN_PASSWORD} characters."
    try:
        role_value = StaffRole(role).value
    except ValueError:
        errors["role"] = "Choose owner, staff or viewer."
        role_value = StaffRole.VIEWER.value
    if not errors and session.exec(select(StaffUser).where(StaffUser.email == email_norm)).first():
        errors["email"] = "A staff account with this email already exists."
    if errors:
        raise ValidationError(errors)
    user = StaffUser(workspace_id=workspace.id, email=email_norm, name=clean_text(name)[:200],
                     password_hash=_hasher.hash(password), role=role_value)
    session.add(user)
    session.flush()
    return user


@dataclass(frozen=True)
class SignInOutcome:
    """A session token, or the error to show. Failures are returned, not raised, so that the
    caller commits the failure count that drives the lockout."""

    token: str | None = None
    error: NotSignedIn | RateLimited | None = None


def sign_in(session: Session, *, email: str, password: str, now: datetime | None = None) -> SignInOutcome:
    try:
        return SignInOutcome(token=_sign_in(session, email=email, password=password, now=now))
    except (NotSignedIn, RateLimited) as exc:
        return SignInOutcome(error=exc)


def _sign_in(session: Session, *, email: str, password: str, now: datetime | None) -> str:
    """Check the password and open a session; returns the session token (shown to nobody else).

    After LOCKOUT_AFTER consecutive failures the account is locked for LOCKOUT_MINUTES.
    """
    now = now or utcnow()
    address = (email or "").strip().lower()[:254]
    user = session.exec(select(StaffUser).where(StaffUser.email == address)).first()
    if user is None:
        _verify(_DUMMY_HASH, password)
        raise NotSignedIn(SIGN_IN_FAILED)
    if user.locked_until and user.locked_until > now:
        wait = math.ceil((user.locked_until - now).total_seconds())
        raise RateLimited(f"Too many failed attempts. Try again in {wait_phrase(wait)}.", retry_after=wait)
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= LOCKOUT_AFTER:
            user.locked_until = now + timedelta(minutes=LOCKOUT_MINUTES)
            user.failed_logins = 0
        session.add(user)
        raise NotSignedIn(SIGN_IN_FAILED)
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    session.add(user)
    token = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=hash_token(token), staff_id=user.id, created_at=now, last_seen_at=now,
                             expires_at=now + timedelta(hours=config.SESSION_IDLE_HOURS)))
    return token


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def resolve_session(session: Session, token: str | None, *, now: datetime | None = None) -> Principal | None:
    """The principal behind a session token, or None if it is unknown or expired."""
    if not token or len(token) > 128:
        return None
    now = now or utcnow()
    row = session.exec(
        select(StaffSession, StaffUser, Workspace)
        .join(StaffUser, StaffUser.id == StaffSession.staff_id)
        .join(Workspace, Workspace.id == StaffUser.workspace_id)
        .where(StaffSession.token_hash == hash_token(token), StaffSession.expires_at > now)
    ).first()
    if row is None:
        return None
    _, user, workspace = row
    return Principal(staff_id=user.id, email=user.email, role=StaffRole(user.role), workspace_id=workspace.id,
                     workspace_slug=workspace.slug, workspace_name=workspace.name)


def touch_session(session: Session, token: str, *, now: datetime | None = None) -> None:
    """Slide the idle timeout forward, never past the absolute maximum lifetime."""
    now = now or utcnow()
    stored = session.exec(select(StaffSession).where(StaffSession.token_hash == hash_token(token))).first()
    if stored is None or stored.expires_at <= now:
        return
    hard_limit = stored.created_at + timedelta(days=config.SESSION_MAX_DAYS)
    stored.expires_at = min(hard_limit, now + timedelta(hours=config.SESSION_IDLE_HOURS))
    stored.last_seen_at = now
    session.add(stored)


def sign_out(session: Session, token: str | None) -> None:
    if token:
        session.execute(sa.delete(StaffSession).where(StaffSession.token_hash == hash_token(token)))


def purge_expired_sessions(session: Session, *, now: datetime | None = None) -> int:
    result = session.execute(sa.delete(StaffSession).where(StaffSession.expires_at <= (now or utcnow())))
    return result.rowcount or 0
