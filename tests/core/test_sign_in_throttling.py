"""Sign-in under attack (runs on SQLite and PostgreSQL).

Every refusal looks the same: a wrong password, an unknown email and an attempt while sign-in
is paused get one answer, and each runs exactly one argon2 verify (against a stand-in hash
when there is no account or the attempt is paused), so neither the answer nor its timing tells
which accounts exist. Repeated failures pause attempts from that (email, address) for a delay
that grows, not a lock a stranger can set: an account that fails from everywhere is capped,
but its member still gets in from an address they signed in from recently, and is told by email.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from statistics import median

import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from giftcerts import db
from giftcerts.core import accounts
from giftcerts.core.errors import NotSignedIn
from giftcerts.models import Job, StaffRole
from tests.factories import PASSWORD, make_staff, make_workspace

T0 = datetime(2031, 6, 1, 8, 0, tzinfo=timezone.utc)
HOME = "198.51.100.7"
STRANGER = "203.0.113.66"
PAT = "pat@alpine.example"


class CountingHasher(PasswordHasher):
    """The cheapest argon2 parameters, recording for each verify whether a write transaction
    was open in this thread at the time."""

    calls: list[bool]

    def verify(self, hash, password):  # noqa: A002 (argon2's own parameter name)
        type(self).calls.append(db.in_write_transaction())
        return super().verify(hash, password)


@pytest.fixture(autouse=True)
def counting_hasher(monkeypatch):
    CountingHasher.calls = []
    hasher = CountingHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", hasher)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", hasher.hash("not-a-real-password"))
    return CountingHasher


@pytest.fixture
def pat(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, slug="alpine-tours")
        return make_staff(s, ws, role=StaffRole.OWNER, email=PAT)


def attempt(url, email=PAT, password=PASSWORD, *, address=HOME, now=T0) -> accounts.SignInOutcome:
    return accounts.sign_in(url, email=email, password=password, address=address, now=now)


def alerts(url) -> list[Job]:
    with db.read_session(url) as s:
        return list(s.exec(select(Job).where(Job.kind == accounts.SIGN_IN_ALERT).order_by(Job.id)))


# ------------------------------------------------------------------- one answer


def test_a_wrong_password_an_unknown_email_and_a_paused_attempt_get_the_same_answer(db_url, pat):
    wrong = attempt(db_url, password="not the password")
    unknown = attempt(db_url, "nobody@alpine.example")
    for n in range(accounts.DELAY_AFTER):
        attempt(db_url, password=f"guess {n}", address=STRANGER)
    paused_with_the_right_password = attempt(db_url, address=STRANGER)
    for n in range(accounts.DELAY_AFTER):
        attempt(db_url, "nobody@alpine.example", f"guess {n}", address=STRANGER)
    paused_unknown = attempt(db_url, "nobody@alpine.example", address=STRANGER)
    answers = [wrong, unknown, paused_with_the_right_password, paused_unknown]
    for outcome in answers:
        assert outcome.token is None
        assert type(outcome.error) is NotSignedIn
        assert outcome.error.message == accounts.SIGN_IN_FAILED
    assert "do not match" in accounts.SIGN_IN_FAILED and "paused" in accounts.SIGN_IN_FAILED
    # nothing else about the refusal differs either (no wait, no other field)
    assert len({(type(o.error), o.error.message, vars(o.error).get("retry_after")) for o in answers}) == 1


def test_every_attempt_runs_one_password_verify_and_none_inside_a_write_transaction(db_url, pat, counting_hasher):
    cases = {
        "right": lambda: attempt(db_url),
        "wrong": lambda: attempt(db_url, password="nope"),
        "unknown": lambda: attempt(db_url, "nobody@alpine.example"),
        "paused": lambda: attempt(db_url, address=STRANGER),
    }
    for n in range(accounts.DELAY_AFTER):
        attempt(db_url, password=f"guess {n}", address=STRANGER)
    for name, run in cases.items():
        counting_hasher.calls.clear()
        run()
        # one verify each, so each takes about as long; and argon2 never holds the write lock
        assert counting_hasher.calls == [False], name


def test_the_write_transaction_helper_knows_when_one_is_open(db_url):
    assert not db.in_write_transaction()
    with db.write_session(db_url):
        assert db.in_write_transaction()
    with db.read_session(db_url):
        assert not db.in_write_transaction()
    assert not db.in_write_transaction()


def test_signing_in_inside_a_write_transaction_is_refused_as_a_bug(db_url, pat):
    with db.write_session(db_url):
        with pytest.raises(RuntimeError, match="write transaction"):
            attempt(db_url)


def test_refusals_take_about_as_long_whichever_the_reason(db_url, pat, monkeypatch):
    """A loose check on top of the counted verify: with a hash that takes a noticeable time,
    the median refusal of each kind is within a factor of the others."""
    slow = CountingHasher(time_cost=2, memory_cost=16 * 1024, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", slow)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", slow.hash("not-a-real-password"))
    with db.write_session(db_url) as s:
        make_staff(s, make_workspace(s), email="sam@alpine.example")  # hashed with the slow parameters
    for n in range(accounts.DELAY_AFTER):
        attempt(db_url, "sam@alpine.example", f"guess {n}", address=STRANGER)

    def timed(**kw) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            assert attempt(db_url, **kw).token is None
            times.append(time.perf_counter() - started)
        return median(times)

    wrong = timed(email="sam@alpine.example", password="nope", address="192.0.2.1")
    unknown = timed(email="nobody@alpine.example", address="192.0.2.2")
    paused = timed(email="sam@alpine.example", address=STRANGER)
    assert max(wrong, unknown, paused) < 2.5 * min(wrong, unknown, paused), (wrong, unknown, paused)


# ------------------------------------------------------------------- growing delays, no hard lock


def test_repeated_failures_from_one_address_pause_it_for_a_delay_that_doubles_up_to_fifteen_minutes(db_url, pat):
    for n in range(accounts.DELAY_AFTER - 1):
        attempt(db_url, password=f"guess {n}")
    now = T0
    delays = []
    for n in range(14):
        attempt(db_url, password=f"more {n}", now=now)  # failure number DELAY_AFTER + n
        delay = accounts.pause_after(accounts.DELAY_AFTER + n)
        delays.append(delay.total_seconds())
        # even the right password is refused until the delay has passed (and that is not counted)
        assert attempt(db_url, now=now + delay - timedelta(milliseconds=1)).token is None
        now += delay
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900]
    # once the delay has passed, the right password works again
    assert attempt(db_url, now=now).token


def test_a_pause_is_for_that_address_only(db_url, pat):
    for n in range(accounts.DELAY_AFTER + 3):
        attempt(db_url, password=f"guess {n}", address=STRANGER)
    assert attempt(db_url, address=STRANGER).token is None
    assert attempt(db_url, address=HOME).token


def test_a_successful_sign_in_clears_the_delay_of_its_address(db_url, pat):
    for n in range(accounts.DELAY_AFTER):
        attempt(db_url, password=f"guess {n}")
    assert attempt(db_url, now=T0 + timedelta(seconds=1)).token
    for n in range(accounts.DELAY_AFTER - 1):
        attempt(db_url, password=f"guess {n}", now=T0 + timedelta(seconds=2))
    # four failures after a success: not enough for a pause
    assert attempt(db_url, now=T0 + timedelta(seconds=2)).token


def test_a_stranger_flooding_from_many_addresses_cannot_keep_the_owner_out_of_their_usual_address(db_url, pat):
    # Pat signed in from home last week
    assert attempt(db_url, address=HOME, now=T0 - timedelta(days=7)).token
    # A stranger spreads guesses over many addresses, each below the per-address delay
    for n in range(accounts.ACCOUNT_CAP + 10):
        attempt(db_url, password=f"guess {n}", address=f"192.0.2.{n // 4}", now=T0 + timedelta(seconds=n))
    later = T0 + timedelta(minutes=5)
    # Then the account is capped for addresses it has not been signed in from, even with the password...
    assert attempt(db_url, address="192.0.2.200", now=later).token is None
    # ...but Pat still signs in from home
    assert attempt(db_url, address=HOME, now=later).token
    # and the cap ends with its hour
    assert attempt(db_url, address="192.0.2.201", now=T0 + accounts.ACCOUNT_WINDOW + timedelta(minutes=1)).token


def test_an_address_signed_in_from_long_ago_is_not_exempt_from_the_cap(db_url, pat):
    assert attempt(db_url, address=HOME, now=T0 - accounts.KNOWN_ADDRESS_FOR - timedelta(days=1)).token
    for n in range(accounts.ACCOUNT_CAP):
        attempt(db_url, password=f"guess {n}", address=f"192.0.2.{n // 4}", now=T0)
    assert attempt(db_url, address=HOME, now=T0).token is None


# ------------------------------------------------------------------- telling the member


def test_the_member_is_emailed_once_when_their_account_sees_many_failures(db_url, pat):
    for n in range(accounts.ALERT_AT - 1):
        attempt(db_url, password=f"guess {n}", address=f"192.0.2.{n // 4}", now=T0)
    assert alerts(db_url) == []
    for n in range(15):
        attempt(db_url, password=f"again {n}", address=f"192.0.2.{50 + n // 4}", now=T0 + timedelta(minutes=1))
    queued = alerts(db_url)
    assert len(queued) == 1
    payload = json.loads(queued[0].payload)
    assert payload["staff_id"] == pat.id and payload["failures"] == accounts.ALERT_AT
    assert queued[0].workspace_id == pat.workspace_id and queued[0].status == "queued"
    # at most one per six hours, however long the attack goes on...
    for hour in range(1, 6):
        for n in range(accounts.ALERT_AT):
            attempt(db_url, password=f"h{hour} {n}", address=f"192.0.2.{100 + n // 4}",
                    now=T0 + timedelta(hours=hour, minutes=n))
    assert len(alerts(db_url)) == 1
    # ...then again if it still goes on
    for n in range(accounts.ALERT_AT):
        attempt(db_url, password=f"late {n}", address=f"192.0.2.{150 + n // 4}",
                now=T0 + accounts.ALERT_EVERY + timedelta(hours=1, minutes=n))
    assert len(alerts(db_url)) == 2


def test_no_email_is_queued_for_an_address_without_an_account(db_url, pat):
    for n in range(accounts.ACCOUNT_CAP * 2):
        attempt(db_url, "nobody@alpine.example", f"guess {n}", address=f"192.0.2.{n // 4}")
    assert alerts(db_url) == []


def test_old_sign_in_records_are_purged(db_url, pat):
    attempt(db_url, password="nope", address=STRANGER, now=T0)
    assert attempt(db_url, address=HOME, now=T0).token
    with db.write_session(db_url) as s:
        assert accounts.purge_sign_in_records(s, now=T0 + timedelta(days=2)) >= 1  # the stranger's failures
    with db.write_session(db_url) as s:
        assert accounts.purge_sign_in_records(s, now=T0 + timedelta(days=2)) == 0
    # the owner's usual address is kept as long as it counts as known
    for n in range(accounts.ACCOUNT_CAP):
        attempt(db_url, password=f"guess {n}", address=f"192.0.2.{n // 4}", now=T0 + timedelta(days=2))
    assert attempt(db_url, address=HOME, now=T0 + timedelta(days=2)).token
