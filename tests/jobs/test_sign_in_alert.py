"""A member whose account sees many failed sign-ins is told by email, sent by the worker like
every other email (runs on SQLite and PostgreSQL against a real SMTP server)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from giftcerts import db
from giftcerts.core import accounts
from giftcerts.models import StaffRole
from tests.factories import make_staff, make_workspace
from tests.jobs.conftest import drain


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", quick)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", quick.hash("not-a-real-password"))


def test_many_failed_sign_ins_email_the_member_once(db_url, mail_sink):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, name="Alpine Tours")
        email = make_staff(s, ws, role=StaffRole.OWNER, email="pat@alpine.example").email
    for n in range(accounts.ALERT_AT + 5):
        accounts.sign_in(db_url, email=email, password=f"hunter2-{n}", address=f"192.0.2.{n // 4}")
    drain(db_url)
    messages = mail_sink.messages()
    assert [m["To"] for m in messages] == [email]
    alert = messages[0]
    assert "Alpine Tours" in str(alert["From"])
    assert "sign-in" in alert["Subject"].lower()
    text = alert.get_body(("plain",)).get_content()
    assert f"{accounts.ALERT_AT} failed sign-in attempts" in text
    assert "change your password" in text.lower()
    assert "hunter2" not in text  # nothing the stranger typed
    assert drain(db_url) == 0 and len(mail_sink.messages()) == 1
