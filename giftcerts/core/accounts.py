"""Staff accounts, sign-in paused after repeated failures, and server-side sessions."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from giftcerts import config, db
from giftcerts.clock import utcnow
from giftcerts.core.errors import NotSignedIn, PermissionDenied, ValidationError
from giftcerts.core.tokens import hash_token
from giftcerts.core.validation import clean_email, clean_text
from giftcerts.models import Job, SignInRecord, StaffRole, StaffSession, StaffUser, Workspace

MIN_PASSWORD = 10
# One answer for every refusal: a wrong password, an unknown email and a paused attempt look
# the same, so that the answer does not tell which accounts exist.
SIGN_IN_FAILED = ("That email and password do not match an account, or signing in is paused after repeated "
                  "failures. Check both and try again in a few minutes.")

# Failures in a row from one address before each further attempt from it waits a while;
# the wait starts at FIRST_PAUSE and doubles up to MAX_PAUSE. A day without failures forgets them.
DELAY_AFTER = 5
FIRST_PAUSE = timedelta(seconds=1)
MAX_PAUSE = timedelta(minutes=15)
FORGET_AFTER = timedelta(days=1)
# Failures of one email from all addresses: at ACCOUNT_CAP within ACCOUNT_WINDOW, attempts are
# paused except from addresses its member signed in from within KNOWN_ADDRESS_FOR, so a
# stranger's flood cannot lock the member out of their usual address.
ACCOUNT_CAP = 20
ACCOUNT_WINDOW = timedelta(hours=1)
KNOWN_ADDRESS_FOR = timedelta(days=30)
# At ALERT_AT failures within the window the member is emailed, at most once per ALERT_EVERY.
ALERT_AT = 10
ALERT_EVERY = timedelta(hours=6)
SIGN_IN_ALERT = "sign_in_alert"  # the job kind (sent by giftcerts.jobs.handlers)
_ANY_ADDRESS = ""  # the SignInRecord that counts an email's failures from every address

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


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
    """A session token, or the error to show (always NotSignedIn with SIGN_IN_FAILED)."""

    token: str | None = None
    error: NotSignedIn | None = None


def pause_after(failures: int) -> timedelta:
    """How long attempts from an address wait after its `failures`-th failure in a row."""
    if failures < DELAY_AFTER:
        return timedelta(0)
    return min(MAX_PAUSE, FIRST_PAUSE * 2 ** min(failures - DELAY_AFTER, 20))


def sign_in(url: str | None, *, email: str, password: str, address: str,
            now: datetime | None = None) -> SignInOutcome:
    """Check a password and open a session; returns the session token (shown to nobody else).

    argon2 is slow on purpose, so it runs with no transaction open: the member and the pause
    records are read in a short read session, the password verified, and only the outcome
    written in a short write session. On SQLite a verify inside the write transaction would
    hold the one write lock, and a flood of failed sign-ins would slow every write.
    Every attempt runs exactly one verify, against a stand-in hash when there is no such
    account or the attempt is paused, so all refusals take the same time and say the same.
    """
    if db.in_write_transaction():
        raise RuntimeError("sign_in must not be called inside a write transaction (it verifies a password)")
    now = now or utcnow()
    email_key = (email or "").strip().lower()[:254]
    address = (address or "unknown")[:64]
    with db.read_session(url) as session:
        user = session.exec(select(StaffUser).where(StaffUser.email == email_key)).first()
        pair = session.get(SignInRecord, (email_key, address))
        overall = session.get(SignInRecord, (email_key, _ANY_ADDRESS))
    paused = _paused(pair, overall, now)
    checking = user is not None and not paused
    matches = _verify(user.password_hash if checking else _DUMMY_HASH, password) and checking
    new_hash = _hasher.hash(password) if matches and _hasher.check_needs_rehash(user.password_hash) else None
    with db.write_session(url) as session:
        if not matches:
            _record_failure(session, email_key, address, now, user=user, counted=not paused)
            return SignInOutcome(error=NotSignedIn(SIGN_IN_FAILED))
        return SignInOutcome(token=_open_session(session, user, address, now, new_hash))


def _paused(pair: SignInRecord | None, overall: SignInRecord | None, now: datetime) -> bool:
    if pair is not None and pair.paused_until is not None and pair.paused_until > now:
        return True
    capped = (overall is not None and overall.window_start is not None
              and overall.window_start > now - ACCOUNT_WINDOW and overall.window_failures >= ACCOUNT_CAP)
    known = pair is not None and pair.last_success_at is not None and pair.last_success_at > now - KNOWN_ADDRESS_FOR
    return capped and not known


def _locked_record(session: Session, email: str, address: str) -> SignInRecord:
    """The record, created if need be, locked until the transaction ends (PostgreSQL; SQLite
    write transactions are serial anyway), so concurrent failures all count."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(SignInRecord).values(email=email, address=address, failures=0, window_failures=0)
                    .on_conflict_do_nothing(index_elements=["email", "address"]))
    query = select(SignInRecord).where(SignInRecord.email == email, SignInRecord.address == address)
    if dialect == "postgresql":
        query = query.with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).one()


def _record_failure(session: Session, email: str, address: str, now: datetime, *, user: StaffUser | None,
                    counted: bool) -> None:
    """Count a failure. A refused (paused) attempt is not counted, but touches the same rows,
    so that it costs what a counted one costs."""
    pair = _locked_record(session, email, address)
    overall = _locked_record(session, email, _ANY_ADDRESS)
    if not counted:
        return
    if pair.last_failure_at is not None and pair.last_failure_at <= now - FORGET_AFTER:
        pair.failures = 0
    pair.failures += 1
    pair.last_failure_at = now
    pause = pause_after(pair.failures)
    pair.paused_until = now + pause if pause else None
    if overall.window_start is None or overall.window_start <= now - ACCOUNT_WINDOW:
        overall.window_start, overall.window_failures = now, 0
    overall.window_failures += 1
    overall.last_failure_at = now
    if (user is not None and overall.window_failures >= ALERT_AT
            and (overall.alerted_at is None or overall.alerted_at <= now - ALERT_EVERY)):
        overall.alerted_at = now
        # A job row of the outbox, written with the failure that caused it (giftcerts.jobs sends it).
        session.add(Job(workspace_id=user.workspace_id, kind=SIGN_IN_ALERT, run_after=now, created_at=now,
                        payload=json.dumps({"staff_id": user.id, "failures": overall.window_failures,
                                            "since": overall.window_start.isoformat()}, sort_keys=True)))
    session.add_all([pair, overall])


def _open_session(session: Session, user: StaffUser, address: str, now: datetime, new_hash: str | None) -> str:
    pair = _locked_record(session, user.email, address)
    pair.failures, pair.paused_until, pair.last_success_at = 0, None, now
    session.add(pair)
    if new_hash is not None:
        session.execute(sa.update(StaffUser).where(StaffUser.id == user.id).values(password_hash=new_hash))
    token = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=hash_token(token), staff_id=user.id, created_at=now, last_seen_at=now,
                             expires_at=now + timedelta(hours=config.SESSION_IDLE_HOURS)))
    return token


def purge_sign_in_records(session: Session, *, now: datetime | None = None) -> int:
    """Forget records that no longer pause, cap, exempt or hold back an alert."""
    now = now or utcnow()
    r = SignInRecord
    stale = sa.and_(
        sa.or_(r.last_failure_at.is_(None), r.last_failure_at <= now - FORGET_AFTER),
        sa.or_(r.paused_until.is_(None), r.paused_until <= now),
        sa.or_(r.last_success_at.is_(None), r.last_success_at <= now - KNOWN_ADDRESS_FOR),
        sa.or_(r.alerted_at.is_(None), r.alerted_at <= now - ALERT_EVERY),
    )
    return session.execute(sa.delete(r).where(stale)).rowcount or 0


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
