"""The invariant scan (`giftcerts check`): silent on a database made by the normal functions,
and each kind of damage, done with raw SQL behind the application's back, is reported."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from giftcerts import cli, db
from giftcerts.core import invariants, lifecycle, redemption
from tests.factories import make_certificate, make_workspace, redeem


@dataclass
class World:
    redeemed: int        # certificate spent on `order` (half of its total)
    redemption: int      # its redemption
    order: int           # total 20000, 10000 paid by `redeemed`
    active: int          # an unused certificate
    moved: int           # certificate redeemed, released, redeemed again on another order
    released: int        # its first, released redemption
    other_workspace: int


def build(url: str) -> World:
    """A small but varied consistent database, made the way the application makes one."""
    with db.write_session(url) as s:
        ws = make_workspace(s)
        other = make_workspace(s)
        spent = make_certificate(s, ws, amount="100")
        order = redemption.create_order(s, ws, reference="B-HALF", total_cents=20000, currency="USD")
        red = redemption.redeem(s, ws, code=spent.code, order_id=order.id, actor="api")
        active = make_certificate(s, ws, amount="50")
        moved = make_certificate(s, ws, amount="75")
        first = redeem(s, ws, moved)
        redemption.release(s, ws, redemption_id=first.id, actor="api")
        redeem(s, ws, moved)
        voided = make_certificate(s, ws)
        lifecycle.void_certificate(s, ws, certificate_id=voided.id, reason="test", actor="staff@example.com")
        make_certificate(s, ws, paid=False)  # Pending
        make_certificate(s, other)
        return World(redeemed=spent.id, redemption=red.id, order=order.id, active=active.id, moved=moved.id,
                     released=first.id, other_workspace=other.id)


@contextmanager
def behind_the_applications_back(url: str):
    """A connection with the database's own guards off (CHECKs, foreign keys; DDL is
    transactional on both), inside a transaction that is rolled back afterwards."""
    with db.engine(url).connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # outside any transaction, or SQLite ignores it
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            conn.connection.driver_connection.execute("PRAGMA ignore_check_constraints=ON")
        trans = conn.begin()
        try:
            if not sqlite:
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # no FK triggers
            yield conn
        finally:
            trans.rollback()
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
                conn.connection.driver_connection.execute("PRAGMA ignore_check_constraints=OFF")


def scan_after(url: str, *statements: str, **params) -> list[invariants.Finding]:
    with behind_the_applications_back(url) as conn:
        for statement in statements:
            if statement.startswith("pg:"):  # SQLite has no such DDL; its CHECKs are off already
                if conn.dialect.name == "sqlite":
                    continue
                statement = statement[3:]
            conn.execute(sa.text(statement), params)
        return invariants.scan(Session(conn))


def test_a_database_made_by_the_application_is_consistent(db_url, capsys):
    build(db_url)
    with db.read_session(db_url) as s:
        assert invariants.scan(s) == []
    assert cli.main(["check", "--db", db_url]) == 0
    assert "No problems found" in capsys.readouterr().out


def test_the_command_prints_each_problem_and_exits_1(db_url, capsys):
    w = build(db_url)
    with db.write_session(db_url) as s:
        s.execute(sa.text("UPDATE certificates SET status = 'active' WHERE id = :id"), {"id": w.redeemed})
        s.execute(sa.text("UPDATE orders SET amount_due_cents = amount_due_cents + 1 WHERE id = :id"), {"id": w.order})
    assert cli.main(["check", "--db", db_url]) == 1
    out, err = capsys.readouterr()
    assert f"applied_redemption_not_redeemed: redemption {w.redemption}: applied, but its certificate " \
           f"{w.redeemed} is active" in out
    assert f"order_amount_due_mismatch: order {w.order}: amount due 10001 != total 20000 - applied " \
           f"redemptions 10000" in out
    assert "2 problem(s) found" in err


def test_the_configured_database_is_the_default(sqlite_only_url, monkeypatch, capsys):
    w = build(sqlite_only_url)
    with db.write_session(sqlite_only_url) as s:
        s.execute(sa.text("UPDATE certificates SET redeemed_at = NULL WHERE id = :id"), {"id": w.moved})
    monkeypatch.setenv("REFLEX_DB_URL", sqlite_only_url)
    assert cli.main(["check"]) == 1
    assert f"status_without_dates: certificate {w.moved}: Redeemed without redeemed_at" in capsys.readouterr().out


DAMAGE = {
    "order_cancelled_with_applied_redemptions": (
        ["UPDATE orders SET status = 'cancelled', cancelled_at = created_at WHERE id = :order"],
        "redemption {redemption}"),
    "order_completed_with_holds": (
        ["UPDATE orders SET status = 'completed', completed_at = created_at WHERE id = :order"],
        "redemption {redemption}"),
    "order_completed_without_its_date": (
        ["UPDATE orders SET status = 'completed' WHERE id = :order",
         "UPDATE redemptions SET captured_at = created_at WHERE order_id = :order"], "order {order}"),
    "redeemed_without_one_redemption": (
        ["UPDATE certificates SET status = 'redeemed', redeemed_at = activated_at WHERE id = :active"],
        "certificate {active}"),
    "applied_redemption_not_redeemed": (
        ["UPDATE certificates SET status = 'voided', voided_at = activated_at WHERE id = :redeemed"],
        "redemption {redemption}"),
    "several_applied_redemptions": (
        ["DROP INDEX uq_redemptions_applied_certificate",
         "UPDATE redemptions SET status = 'applied', released_at = NULL WHERE id = :released"],
        "certificate {moved}"),
    "order_amount_due_mismatch": (
        ["UPDATE orders SET amount_due_cents = total_cents WHERE id = :order"], "order {order}"),
    "order_amount_due_out_of_range": (
        ["pg:ALTER TABLE orders DROP CONSTRAINT ck_order_amount_due",
         "UPDATE orders SET amount_due_cents = -5 WHERE id = :order"], "order {order}"),
    "redemption_amount_mismatch": (
        ["UPDATE redemptions SET amount_cents = amount_cents - 1 WHERE id = :redemption"], "redemption {redemption}"),
    "redemption_workspace_mismatch": (
        ["UPDATE redemptions SET workspace_id = :other_workspace WHERE id = :redemption"], "redemption {redemption}"),
    "redemption_currency_mismatch": (
        ["UPDATE orders SET currency = 'EUR' WHERE id = :order"], "redemption {redemption}"),
    "redemption_missing_row": (
        ["UPDATE redemptions SET order_id = 987654 WHERE id = :redemption"], "redemption {redemption}"),
    "activity_without_certificate": (
        ["UPDATE activities SET certificate_id = 987654 WHERE certificate_id = :active"], None),
    "activity_in_another_workspace": (
        ["UPDATE activities SET workspace_id = :other_workspace WHERE certificate_id = :active"], None),
    "redemption_log_mismatch": (
        ["UPDATE activities SET kind = 'Sent' WHERE kind = 'Released' AND certificate_id = :moved"],
        "certificate {moved}"),
    "status_without_dates": (
        ["UPDATE certificates SET expires_at = NULL WHERE id = :active"], "certificate {active}"),
}
EXPECTED_RULE = {"activity_in_another_workspace": "activity_without_certificate",
                 **{name: "order_lifecycle" for name in ("order_cancelled_with_applied_redemptions",
                                                         "order_completed_with_holds",
                                                         "order_completed_without_its_date")}}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_each_kind_of_damage_is_reported(db_url, damage):
    w = build(db_url)
    statements, subject = DAMAGE[damage]
    params = vars(w)
    findings = scan_after(db_url, *statements, **{k: v for k, v in params.items()
                                                   if any(f":{k}" in s for s in statements)})
    rule = EXPECTED_RULE.get(damage, damage)
    hits = [f for f in findings if f.rule == rule]
    assert hits, findings
    if subject is not None:
        assert subject.format(**params) in {f.subject for f in hits}, hits
    # and the damage was rolled back: the database is whole again
    with db.read_session(db_url) as s:
        assert invariants.scan(s) == []
