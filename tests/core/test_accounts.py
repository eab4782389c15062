"""Staff sign in to manage the entire lifecycle from purchase to redemption; the booking
platform's servers use workspace API keys. Runs on SQLite and PostgreSQL.

Sign-in: one message for every wrong email/password pair, a pause after repeated
failures (tests/core/test_sign_in_throttling.py has the rest), server-side sessions with an idle timeout and an absolute lifetime, roles that
decide who may change what, argon2 password hashes, and no usable secret stored at rest.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from giftcerts import config, db
from giftcerts.core import accounts, apikeys
from giftcerts.core.errors import NotFound, NotSignedIn, PermissionDenied, ValidationError
from giftcerts.core.tokens import hash_token
from giftcerts.models import ApiKey, StaffRole, StaffSession, StaffUser
from tests.factories import PASSWORD, make_staff, make_workspace

T0 = datetime(2031, 6, 1, 8, 0, tzinfo=timezone.utc)
IDLE = timedelta(hours=config.SESSION_IDLE_HOURS)
MAX_LIFE = timedelta(days=config.SESSION_MAX_DAYS)


ADDRESS = "192.0.2.10"


def sign_in(url, email, password, now=T0) -> accounts.SignInOutcome:
    """One sign-in attempt, as the login page makes it (the core opens its own transactions)."""
    return accounts.sign_in(url, email=email, password=password, address=ADDRESS, now=now)


def resolve(url, token, now):
    with db.read_session(url) as s:
        return accounts.resolve_session(s, token, now=now)


PRODUCTION_HASHER = accounts._hasher


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    """Production argon2 takes a quarter of a second per hash by design; these tests hash and
    verify dozens of times, so they use the same algorithm with the cheapest parameters.
    `test_production_passwords_use_argon2id_with_strong_parameters` checks the real ones."""
    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", quick)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", quick.hash("not-a-real-password"))


@pytest.fixture
def staff(db_url):
    """An owner of "Alpine Tours" who signs in as pat@alpine.example."""
    with db.write_session(db_url) as s:
        ws = make_workspace(s, slug="alpine-tours")
        user = make_staff(s, ws, role=StaffRole.OWNER, email="pat@alpine.example")
        return ws, user


# ------------------------------------------------------------------- signing in


def test_the_right_password_opens_a_session_for_that_staff_member_and_workspace(db_url, staff):
    ws, user = staff
    # When Pat signs in (the address typed in any case)
    outcome = sign_in(db_url, " Pat@Alpine.Example ", PASSWORD)
    # Then a session token is returned, and it stands for Pat in Alpine Tours
    assert outcome.error is None and outcome.token
    principal = resolve(db_url, outcome.token, T0 + timedelta(minutes=1))
    assert principal == accounts.Principal(staff_id=user.id, email="pat@alpine.example", role=StaffRole.OWNER,
                                           workspace_id=ws.id, workspace_slug="alpine-tours",
                                           workspace_name="Alpine Tours")


def test_each_sign_in_gets_its_own_session(db_url, staff):
    first = sign_in(db_url, "pat@alpine.example", PASSWORD).token
    second = sign_in(db_url, "pat@alpine.example", PASSWORD).token
    assert first != second
    assert resolve(db_url, first, T0) and resolve(db_url, second, T0)


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(db_url, staff):
    wrong_password = sign_in(db_url, "pat@alpine.example", "not the password").error
    unknown_email = sign_in(db_url, "nobody@alpine.example", PASSWORD).error
    empty = sign_in(db_url, "", "").error
    for error in (wrong_password, unknown_email, empty):
        assert type(error) is NotSignedIn
        assert error.message == accounts.SIGN_IN_FAILED == (
            "That email and password do not match an account, or signing in is paused after repeated "
            "failures. Check both and try again in a few minutes.")
    assert sign_in(db_url, "pat@alpine.example", "not the password").token is None


def test_five_failures_in_a_row_pause_sign_in_even_against_the_right_password(db_url, staff):
    # Given four failed attempts, the account still opens with the right password...
    for n in range(accounts.DELAY_AFTER - 1):
        assert isinstance(sign_in(db_url, "pat@alpine.example", f"guess {n}", now=T0).error, NotSignedIn)
    # When the fifth consecutive attempt fails too
    fifth = sign_in(db_url, "pat@alpine.example", "guess 5", now=T0)
    assert isinstance(fifth.error, NotSignedIn)
    # Then the right password is refused, with the same answer as a wrong one, while the pause lasts
    paused = sign_in(db_url, "pat@alpine.example", PASSWORD, now=T0 + timedelta(milliseconds=999))
    assert paused.token is None
    assert type(paused.error) is NotSignedIn and paused.error.message == accounts.SIGN_IN_FAILED
    # And once it has passed, the right password works again
    unpaused = sign_in(db_url, "pat@alpine.example", PASSWORD, now=T0 + timedelta(seconds=1))
    assert unpaused.error is None and unpaused.token


def test_a_successful_sign_in_resets_the_failure_count(db_url, staff):
    for n in range(accounts.DELAY_AFTER - 1):
        sign_in(db_url, "pat@alpine.example", f"guess {n}")
    assert sign_in(db_url, "pat@alpine.example", PASSWORD).token
    for n in range(accounts.DELAY_AFTER - 1):
        sign_in(db_url, "pat@alpine.example", f"guess {n}")
    # four more failures after a success: not five in a row, so still open
    assert sign_in(db_url, "pat@alpine.example", PASSWORD).token


def test_failures_on_one_account_do_not_pause_another(db_url, staff):
    ws, _ = staff
    with db.write_session(db_url) as s:
        make_staff(s, ws, role=StaffRole.STAFF, email="sam@alpine.example")
    for n in range(accounts.DELAY_AFTER):
        sign_in(db_url, "pat@alpine.example", f"guess {n}")
    assert sign_in(db_url, "pat@alpine.example", PASSWORD).token is None
    assert sign_in(db_url, "sam@alpine.example", PASSWORD).token


# ------------------------------------------------------------------- sessions


def test_a_session_ends_after_the_idle_timeout(db_url, staff):
    token = sign_in(db_url, "pat@alpine.example", PASSWORD, now=T0).token
    assert resolve(db_url, token, T0 + IDLE - timedelta(seconds=1)) is not None
    assert resolve(db_url, token, T0 + IDLE) is None
    assert resolve(db_url, token, T0 + IDLE + timedelta(days=1)) is None


def test_activity_slides_the_idle_timeout_forward(db_url, staff):
    token = sign_in(db_url, "pat@alpine.example", PASSWORD, now=T0).token
    # When Pat is still working shortly before the idle timeout
    seen = T0 + IDLE - timedelta(hours=1)
    with db.write_session(db_url) as s:
        accounts.touch_session(s, token, now=seen)
    # Then the session lasts a full idle period from that moment
    assert resolve(db_url, token, T0 + IDLE + timedelta(hours=1)) is not None
    assert resolve(db_url, token, seen + IDLE - timedelta(seconds=1)) is not None
    assert resolve(db_url, token, seen + IDLE) is None


def test_activity_never_extends_a_session_past_its_maximum_lifetime(db_url, staff):
    token = sign_in(db_url, "pat@alpine.example", PASSWORD, now=T0).token
    # Given Pat is active every hour, around the clock
    now = T0
    while now < T0 + MAX_LIFE + timedelta(days=1):
        now += timedelta(hours=1)
        with db.write_session(db_url) as s:
            accounts.touch_session(s, token, now=now)
            stored = s.exec(select(StaffSession).where(StaffSession.token_hash == hash_token(token))).one()
            assert stored.expires_at <= T0 + MAX_LIFE
    # Then the session still ends at its maximum lifetime
    assert resolve(db_url, token, T0 + MAX_LIFE - timedelta(seconds=1)) is not None
    assert resolve(db_url, token, T0 + MAX_LIFE) is None


def test_touching_an_expired_session_does_not_revive_it(db_url, staff):
    token = sign_in(db_url, "pat@alpine.example", PASSWORD, now=T0).token
    with db.write_session(db_url) as s:
        accounts.touch_session(s, token, now=T0 + IDLE + timedelta(minutes=5))
    assert resolve(db_url, token, T0 + IDLE + timedelta(minutes=6)) is None


def test_signing_out_ends_that_session_only(db_url, staff):
    laptop = sign_in(db_url, "pat@alpine.example", PASSWORD).token
    phone = sign_in(db_url, "pat@alpine.example", PASSWORD).token
    with db.write_session(db_url) as s:
        accounts.sign_out(s, laptop)
        accounts.sign_out(s, None)  # signing out without a session is harmless
    assert resolve(db_url, laptop, T0) is None
    assert resolve(db_url, phone, T0) is not None


@pytest.mark.parametrize("token", [None, "", "x", "not-a-token", "a" * 129, "' OR '1'='1", "\x00"])
def test_made_up_session_tokens_resolve_to_nobody(db_url, staff, token):
    sign_in(db_url, "pat@alpine.example", PASSWORD)
    assert resolve(db_url, token, T0) is None


def test_expired_sessions_can_be_purged(db_url, staff):
    old = sign_in(db_url, "pat@alpine.example", PASSWORD, now=T0).token
    fresh = sign_in(db_url, "pat@alpine.example", PASSWORD, now=T0 + IDLE).token
    with db.write_session(db_url) as s:
        assert accounts.purge_expired_sessions(s, now=T0 + IDLE + timedelta(minutes=1)) == 1
    assert resolve(db_url, old, T0) is None  # gone, not just expired
    assert resolve(db_url, fresh, T0 + IDLE + timedelta(minutes=2)) is not None


# ------------------------------------------------------------------- roles


def _principal_for(db_url, ws, role):
    email = f"{role.value}@alpine.example"
    with db.write_session(db_url) as s:
        make_staff(s, ws, role=role, email=email)
    return resolve(db_url, sign_in(db_url, email, PASSWORD).token, T0)


def test_a_viewer_can_look_but_not_change_anything(db_url, staff):
    viewer = _principal_for(db_url, staff[0], StaffRole.VIEWER)
    assert viewer.role is StaffRole.VIEWER
    assert not viewer.can_write and not viewer.is_owner
    with pytest.raises(PermissionDenied, match="read-only"):
        viewer.require_write()
    with pytest.raises(PermissionDenied):
        viewer.require_owner()


def test_staff_can_change_certificates_but_not_owner_settings(db_url, staff):
    member = _principal_for(db_url, staff[0], StaffRole.STAFF)
    assert member.can_write and not member.is_owner
    member.require_write()
    with pytest.raises(PermissionDenied, match="Only an owner"):
        member.require_owner()


def test_an_owner_can_do_everything(db_url, staff):
    owner = resolve(db_url, sign_in(db_url, "pat@alpine.example", PASSWORD).token, T0)
    assert owner.can_write and owner.is_owner
    owner.require_write()
    owner.require_owner()


def test_a_staff_member_only_ever_acts_in_their_own_workspace(db_url, staff):
    ws, _ = staff
    with db.write_session(db_url) as s:
        other = make_workspace(s, slug="rival-tours")
        make_staff(s, other, role=StaffRole.OWNER, email="rival@rival.example")
    ours = resolve(db_url, sign_in(db_url, "pat@alpine.example", PASSWORD).token, T0)
    theirs = resolve(db_url, sign_in(db_url, "rival@rival.example", PASSWORD).token, T0)
    assert (ours.workspace_id, ours.workspace_slug) == (ws.id, "alpine-tours")
    assert (theirs.workspace_id, theirs.workspace_slug) == (other.id, "rival-tours")


# ------------------------------------------------------------------- creating accounts


def test_passwords_shorter_than_ten_characters_are_refused(db_url, staff):
    ws, _ = staff
    with db.write_session(db_url) as s:
        with pytest.raises(ValidationError) as err:
            accounts.create_staff(s, ws, email="short@alpine.example", password="123456789")
        assert err.value.errors == {"password": "Use a password of at least 10 characters."}
        assert accounts.create_staff(s, ws, email="ok@alpine.example", password="1234567890")


def test_an_email_can_belong_to_only_one_staff_account(db_url, staff):
    ws, _ = staff
    with db.write_session(db_url) as s:
        other = make_workspace(s)
    for email in ("pat@alpine.example", "PAT@Alpine.Example", " pat@alpine.example "):
        for workspace in (ws, other):
            with db.write_session(db_url) as s:
                with pytest.raises(ValidationError) as err:
                    accounts.create_staff(s, workspace, email=email, password=PASSWORD)
                assert err.value.errors == {"email": "A staff account with this email already exists."}


def test_a_staff_account_needs_a_valid_email_and_role(db_url, staff):
    ws, _ = staff
    with db.write_session(db_url) as s:
        with pytest.raises(ValidationError) as err:
            accounts.create_staff(s, ws, email="not-an-email", password="short", role="admin")
        assert set(err.value.errors) == {"email", "password", "role"}


def test_passwords_are_stored_as_argon2_hashes(db_url, staff):
    _, user = staff
    with db.read_session(db_url) as s:
        stored = s.get(StaffUser, user.id)
        assert stored.password_hash.startswith("$argon2")
        assert PASSWORD not in stored.password_hash


def test_production_passwords_use_argon2id_with_strong_parameters(db_url, staff, monkeypatch):
    # OWASP's minimum for argon2id is 19 MiB of memory and 2 iterations.
    assert PRODUCTION_HASHER.type.name == "ID"
    assert PRODUCTION_HASHER.memory_cost >= 19 * 1024 and PRODUCTION_HASHER.time_cost >= 2
    monkeypatch.setattr(accounts, "_hasher", PRODUCTION_HASHER)
    ws, _ = staff
    with db.write_session(db_url) as s:
        user = accounts.create_staff(s, ws, email="real@alpine.example", password=PASSWORD)
        assert user.password_hash.startswith(f"$argon2id$v=19$m={PRODUCTION_HASHER.memory_cost},")
    assert sign_in(db_url, "real@alpine.example", PASSWORD).token


def test_no_session_token_is_stored_only_its_sha256(db_url, staff):
    token = sign_in(db_url, "pat@alpine.example", PASSWORD).token
    with db.read_session(db_url) as s:
        rows = s.exec(select(StaffSession)).all()
        assert len(rows) == 1
        assert rows[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert all(token not in str(value) for value in rows[0].model_dump().values())
    # and the hash itself is not a usable token
    assert resolve(db_url, rows[0].token_hash, T0) is None


# ------------------------------------------------------------------- API keys


def test_an_api_key_is_shown_once_and_stored_hashed(db_url, staff):
    ws, _ = staff
    with db.write_session(db_url) as s:
        key, plaintext = apikeys.create_api_key(s, ws, name="Booking site")
        key_id = key.id
    assert plaintext.startswith("gc_live_") and len(plaintext) >= 40
    with db.read_session(db_url) as s:
        stored = s.get(ApiKey, key_id)
        assert stored.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
        assert stored.prefix == plaintext[:12] and stored.name == "Booking site"
        assert all(plaintext not in str(value) for value in stored.model_dump().values())
        # nothing can give the key back: listing shows the record, not the key
        assert [k.id for k in apikeys.list_keys(s, ws.id)] == [key_id]


def test_an_api_key_authenticates_as_its_workspace(db_url, staff):
    ws, _ = staff
    with db.write_session(db_url) as s:
        _, plaintext = apikeys.create_api_key(s, ws)
    with db.read_session(db_url) as s:
        assert apikeys.authenticate(s, plaintext).workspace_id == ws.id


@pytest.mark.parametrize("presented", [None, "", "gc_live_", "gc_live_wrong", "Bearer gc_live_x", "sk_live_abc",
                                       "gc_live_" + "a" * 200])
def test_a_wrong_api_key_authenticates_nobody(db_url, staff, presented):
    with db.write_session(db_url) as s:
        apikeys.create_api_key(s, staff[0])
    with db.read_session(db_url) as s:
        assert apikeys.authenticate(s, presented) is None


def test_a_revoked_api_key_stops_working(db_url, staff):
    ws, _ = staff
    with db.write_session(db_url) as s:
        key, plaintext = apikeys.create_api_key(s, ws)
        kept, kept_plaintext = apikeys.create_api_key(s, ws)
    with db.write_session(db_url) as s:
        revoked = apikeys.revoke(s, ws, key_id=key.id, now=T0)
        assert revoked.revoked_at == T0
    with db.write_session(db_url) as s:
        # revoking twice keeps the first revocation time
        assert apikeys.revoke(s, ws, key_id=key.id, now=T0 + timedelta(days=1)).revoked_at == T0
    with db.read_session(db_url) as s:
        assert apikeys.authenticate(s, plaintext) is None
        assert apikeys.authenticate(s, kept_plaintext).id == kept.id


def test_another_workspace_cannot_revoke_our_api_key(db_url, staff):
    ws, _ = staff
    with db.write_session(db_url) as s:
        rival = make_workspace(s)
        key, plaintext = apikeys.create_api_key(s, ws)
    with db.write_session(db_url) as s:
        with pytest.raises(NotFound):
            apikeys.revoke(s, rival, key_id=key.id)
        with pytest.raises(NotFound):
            apikeys.revoke(s, ws, key_id=key.id + 1000)
    with db.read_session(db_url) as s:
        assert s.get(ApiKey, key.id).revoked_at is None
        assert apikeys.authenticate(s, plaintext).id == key.id
        assert apikeys.list_keys(s, rival.id) == []
