"""`redeem_at_once`, the attempt every redemption makes — one statement on PostgreSQL, a few
inside BEGIN IMMEDIATE on SQLite. The API answers from what the attempt returns; everywhere
else `redeem` reads the redemption back: both must write and answer the same, byte for byte.
When a rule is broken the attempt changes nothing and `redeem` explains the refusal; and it
is race-proof, also when both entry points run at the same time. (What a redemption writes,
step by step, is held against a plain-Python model in test_lifecycle_properties.py.) Runs on
SQLite and PostgreSQL (the lock-wait test on PostgreSQL only)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, select

from giftcerts import db
from giftcerts.api import operations, schemas
from giftcerts.api.auth import Caller
from giftcerts.clock import utcnow
from giftcerts.core import apikeys, lifecycle, outbox, redemption
from giftcerts.core.codes import format_code
from giftcerts.core.errors import (
    CertificateExpired,
    CurrencyMismatch,
    ExceedsOrderTotal,
    InvalidCode,
    InvalidTransition,
    NotFound,
)
from giftcerts.models import Action, Certificate, Order, Redemption
from tests.factories import make_certificate, make_workspace

NOW = utcnow().replace(microsecond=123456)


@pytest.fixture
def pg_url(postgres_url):
    """A migrated, empty PostgreSQL database (for what is about PostgreSQL's row locks)."""
    _wipe(postgres_url)
    yield postgres_url
    _wipe(postgres_url)


def _wipe(url):
    with db.write_session(url) as s:
        for table in reversed(SQLModel.metadata.sorted_tables):
            s.execute(sa.delete(table))


@pytest.fixture
def frozen(monkeypatch):
    """Both paths read the clock through giftcerts.core.redemption; pin it."""
    monkeypatch.setattr(redemption, "utcnow", lambda: NOW)
    monkeypatch.setattr(outbox, "utcnow", lambda: NOW)  # the jobs a redemption queues
    return NOW


def snapshot(s) -> dict[str, dict]:
    """Every row of every table, by primary key (fresh reads, not the ORM's identity map;
    what the session still holds is flushed first, as the commit would)."""
    s.flush()
    rows = {}
    for table in SQLModel.metadata.sorted_tables:
        key = [c.name for c in table.primary_key.columns]
        rows[table.name] = {tuple(r[k] for k in key): dict(r) for r in s.connection().execute(
            sa.select(table)).mappings()}
    return rows


def changes(before: dict, after: dict) -> dict[str, dict]:
    """Per table: rows changed (by key) and rows added (without their generated id)."""
    out = {}
    for name, rows in after.items():
        changed = {k: v for k, v in rows.items() if k in before[name] and before[name][k] != v}
        added = sorted((json.dumps({c: v for c, v in row.items() if c != "id"}, default=str, sort_keys=True)
                        for k, row in rows.items() if k not in before[name]))
        if changed or added:
            out[name] = {"changed": changed, "added": added}
    return out


def _call(s, ws, key, code, order_id) -> operations.Call:
    caller = Caller(key=key, address="203.0.113.10", session=s)
    return operations.Call(caller=caller, ids={}, body=schemas.CodeOnOrder(code=code, order_id=order_id))


def _without_new_id(body: str, new_id: int) -> dict:
    answer = json.loads(body)
    assert answer["id"] == new_id
    answer["id"] = "new"
    for line in answer["order"]["redemptions"]:
        line["id"] = "new" if line["id"] == new_id else line["id"]
    return answer


def _world(url, setup):
    """A workspace with an API key, an order and a certificate, as `setup` describes."""
    with db.write_session(url) as s:
        ws = make_workspace(s, timezone="Europe/Zurich", expiry_days=30)
        api_key, _ = apikeys.create_api_key(s, ws, name="platform")
        key = apikeys.KeyIdentity(api_key.id, api_key.prefix, ws.id, None)
        o = redemption.create_order(s, ws, reference="BK-77", total_cents=30000, customer_email="g@example.com")
        if setup == "earlier redemptions":
            first = make_certificate(s, ws, amount="50")
            redemption.redeem(s, ws, code=first.code, order_id=o.id, actor="api")
            released = make_certificate(s, ws, amount="25")
            red = redemption.redeem(s, ws, code=released.code, order_id=o.id, actor="api")
            redemption.release(s, ws, redemption_id=red.id, actor="api")
        cert = make_certificate(s, ws, amount="250" if setup == "exactly what is due" else "100")
        if setup == "exactly what is due":
            s.execute(sa.update(Order).where(Order.id == o.id).values(amount_due_cents=25000))
        if setup == "an action on redemption":
            s.add(Action(workspace_id=ws.id, name="Thanks for travelling", trigger="redeemed",
                         subject_template="Enjoy your trip", body_template="Your certificate was used."))
    return ws, key, o, cert


@pytest.mark.parametrize("setup", ["fresh order", "earlier redemptions", "exactly what is due", "typed loosely",
                                   "an action on redemption"])
def test_it_writes_and_answers_exactly_what_redeem_does(db_url, frozen, setup):
    ws, key, o, cert = _world(db_url, setup)
    code = format_code(cert.code).lower().replace("-", " ") if setup == "typed loosely" else cert.code
    with db.write_session(db_url) as s:
        if db_url.startswith("postgresql"):  # a server in another time zone: times must still come back as UTC
            s.execute(sa.text("SET LOCAL TIME ZONE 'Pacific/Auckland'"))
        before = snapshot(s)
        savepoint = s.begin_nested()
        slow = operations.redeem(s, _call(s, ws, key, code, o.id))
        slow_changes = changes(before, snapshot(s))
        savepoint.rollback()
        assert snapshot(s) == before
        # when
        fast = operations.redeem_at_once(s, _call(s, ws, key, code, o.id))
        # then
        assert fast is not None
        assert changes(before, snapshot(s)) == slow_changes
        assert _without_new_id(fast.model_dump_json(), fast.id) == _without_new_id(slow.model_dump_json(), slow.id)
    # (an enabled "redeemed" action queues its emails in the same transaction, on both paths)
    jobs = {"jobs"} if setup == "an action on redemption" else set()
    assert set(slow_changes) == {"certificates", "orders", "redemptions", "activities"} | jobs


def _break(s, ws, o, cert, rule):
    """Make the certificate or the order break exactly one rule; returns (code, order id)."""
    other = make_workspace(s)
    if rule == "redeemed":
        elsewhere = redemption.create_order(s, ws, reference="BK-ELSEWHERE", total_cents=90000)
        redemption.redeem(s, ws, code=cert.code, order_id=elsewhere.id, actor="api")
    elif rule == "voided":
        lifecycle.void_certificate(s, ws, certificate_id=cert.id, reason="refund", actor="a")
    elif rule == "pending":
        cert = make_certificate(s, ws, paid=False)
    elif rule in ("expired by the clock", "expired by the sweep"):
        cert = make_certificate(s, ws, now=utcnow() - timedelta(days=31))
        if rule == "expired by the sweep":
            lifecycle.expire_due(s)
    elif rule == "worth more than is due":
        cert = make_certificate(s, ws, amount="400")
    elif rule == "other currency":
        o = redemption.create_order(s, ws, reference="BK-EUR", total_cents=30000, currency="EUR")
    elif rule == "order cancelled":
        s.execute(sa.update(Order).where(Order.id == o.id).values(status="cancelled"))
    elif rule == "another workspace's certificate":
        cert = make_certificate(s, other)
    elif rule == "another workspace's order":
        o = redemption.create_order(s, other, reference="BK-THEIRS", total_cents=30000)
    code = {"unknown code": "ZZZZ-ZZZZ-ZZZZ", "malformed code": "nonsense"}.get(rule, cert.code)
    order_id = 987654 if rule == "unknown order" else o.id
    return code, order_id


BROKEN_RULES = [
    ("unknown code", InvalidCode), ("malformed code", InvalidCode),
    ("another workspace's certificate", InvalidCode), ("redeemed", InvalidTransition),
    ("voided", InvalidTransition), ("pending", InvalidTransition),
    ("expired by the clock", CertificateExpired), ("expired by the sweep", CertificateExpired),
    ("worth more than is due", ExceedsOrderTotal), ("other currency", CurrencyMismatch),
    ("order cancelled", InvalidTransition), ("unknown order", NotFound), ("another workspace's order", NotFound),
]


@pytest.mark.parametrize("rule,refusal", BROKEN_RULES)
def test_when_a_rule_is_broken_it_changes_nothing_and_redeem_explains_why(db_url, rule, refusal):
    ws, key, o, cert = _world(db_url, "fresh order")
    with db.write_session(db_url) as s:
        code, order_id = _break(s, ws, o, cert, rule)
    with db.write_session(db_url) as s:
        before = snapshot(s)
        # when
        assert redemption.redeem_at_once(s, workspace_id=ws.id, code=code, order_id=order_id, actor="api") is None
        # then
        assert snapshot(s) == before
        with pytest.raises(refusal):
            redemption.redeem(s, s.merge(ws), code=code, order_id=order_id, actor="api")


def _either_path(url, ws, code, order_id, path):
    with db.write_session(url) as s:
        if path == "fast" and redemption.redeem_at_once(s, workspace_id=ws.id, code=code, order_id=order_id,
                                                        actor="api"):
            return "won"
        redemption.redeem(s, s.merge(ws), code=code, order_id=order_id, actor="api")
        return "won"


def _race(url, ws, attempts):
    """Every (code, order id, path) at the same instant; "fast" falls back to redeem like the API."""
    barrier = threading.Barrier(len(attempts))

    def run(attempt):
        barrier.wait()
        try:
            return _either_path(url, ws, *attempt)
        except (InvalidTransition, ExceedsOrderTotal):
            return "refused"

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(run, attempts))


@pytest.mark.parametrize("paths", ["fast", "mixed"])
def test_of_simultaneous_attempts_on_one_code_exactly_one_wins(db_url, paths):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        cert = make_certificate(s, ws, amount="50")
        orders = [redemption.create_order(s, ws, reference=f"R-{i}", total_cents=10000).id for i in range(20)]
    outcomes = _race(db_url, ws, [(cert.code, oid, "fast" if paths == "fast" or i % 2 else "slow")
                                  for i, oid in enumerate(orders)])
    assert sorted(outcomes) == ["refused"] * 19 + ["won"]
    with db.read_session(db_url) as s:
        assert len(s.exec(select(Redemption).where(Redemption.certificate_id == cert.id)).all()) == 1
        assert sum(o.total_cents - o.amount_due_cents for o in s.exec(select(Order)).all()) == 5000


@pytest.mark.parametrize("paths", ["fast", "mixed"])
def test_simultaneous_certificates_never_take_an_order_past_its_total(db_url, paths):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        o = redemption.create_order(s, ws, reference="R-ONE", total_cents=25000)
        codes = [make_certificate(s, ws, amount="50").code for _ in range(12)]
    outcomes = _race(db_url, ws, [(code, o.id, "fast" if paths == "fast" or i % 2 else "slow")
                                  for i, code in enumerate(codes)])
    assert outcomes.count("won") == 5
    with db.read_session(db_url) as s:
        assert s.get(Order, o.id).amount_due_cents == 0
        assert sum(r.amount_cents for r in s.exec(select(Redemption).where(Redemption.order_id == o.id))) == 25000
        assert len(s.exec(select(Certificate).where(Certificate.status == "redeemed")).all()) == 5


def test_a_redemption_committed_while_it_waited_for_the_order_is_in_its_answer(pg_url):
    """The statement's snapshot predates the other redemption; its answer must not."""
    with db.write_session(pg_url) as s:
        ws = make_workspace(s)
        o = redemption.create_order(s, ws, reference="R-WAIT", total_cents=30000)
        first, second = make_certificate(s, ws, amount="100"), make_certificate(s, ws, amount="50")
    waiting = {}
    with db.write_session(pg_url) as holder:
        redemption.redeem(holder, holder.merge(ws), code=first.code, order_id=o.id, actor="api")  # order locked

        def fast():
            with db.write_session(pg_url) as s:
                waiting["applied"] = redemption.redeem_at_once(s, workspace_id=ws.id, code=second.code,
                                                               order_id=o.id, actor="api")
        thread = threading.Thread(target=fast)
        thread.start()
        deadline = time.monotonic() + 20
        with db.read_session(pg_url) as s:  # until the fast statement waits for the order's lock
            while not s.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                        "AND datname = current_database()")).scalar():
                assert time.monotonic() < deadline, "the fast statement never waited for the order"
                s.rollback()
    thread.join()
    applied = waiting["applied"]
    assert applied.order.amount_due_cents == 15000
    assert [(line.certificate_id, line.amount_cents) for line in applied.lines] == [(first.id, 10000),
                                                                                    (second.id, 5000)]
