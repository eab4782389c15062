"""One writer for certificate status: giftcerts.core.lifecycle. No other module updates a
certificate's status (an ORM or Core UPDATE of the certificates table, raw SQL, a constructor or
an attribute), nor writes the activity entry of a transition; the sweeps and the redemption's
statement use lifecycle's set-based forms of its transitions instead."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from giftcerts.core import lifecycle
from giftcerts.core.activity import ActivityKind

PACKAGE = Path(__file__).resolve().parent.parent / "giftcerts"
WRITER = Path("core") / "lifecycle.py"
CERTIFICATE_TABLES = {"Certificate", "CERTS", "certs"}
RAW_WRITES = re.compile(r"\b(update\s+certificates\b[\s\S]*\bset\b[\s\S]*\bstatus\b|insert\s+into\s+activities\b)",
                        re.IGNORECASE)
# The kinds an entry written with a transition has (Released then Expired, when a release finds
# the certificate past its date): only lifecycle writes them.
TRANSITION_KINDS = {t.kind.name for t in vars(lifecycle).values() if isinstance(t, lifecycle.Transition)} | {"EXPIRED"}


def _names_certificates(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in CERTIFICATE_TABLES
    if isinstance(node, ast.Attribute):  # Certificate.__table__, lifecycle.CERTS
        return node.attr in CERTIFICATE_TABLES or (node.attr == "__table__" and _names_certificates(node.value))
    return False


def _is_call_to(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id == name)
        or (isinstance(node.func, ast.Attribute) and node.func.attr == name))


def _root_update(node: ast.AST) -> ast.Call | None:
    """The `update(...)` call a method chain such as update(X).where(...).values(...) starts from."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if _is_call_to(node, "update") and node.args:
            return node
        node = node.func.value
    return node if _is_call_to(node, "update") and node.args else None


def _sets_status(values: ast.Call) -> bool:
    """Whether a .values(...) call writes `status` (or something unknown, `**values`)."""
    for keyword in values.keywords:
        if keyword.arg in (None, "status"):
            return True
    for arg in values.args:
        if not isinstance(arg, ast.Dict) or any(key is None or (isinstance(key, ast.Constant) and key.value == "status")
                                                for key in arg.keys):
            return True
    return False


def writes(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if _is_call_to(node, "values"):
            root = _root_update(node.func.value)
            if root is not None and _names_certificates(root.args[0]) and _sets_status(node):
                found.append((node.lineno, "updates a certificate's status"))
        elif _is_call_to(node, "Certificate") and any(k.arg == "status" for k in node.keywords):
            found.append((node.lineno, "creates a certificate with a status"))
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if (isinstance(target, ast.Attribute) and target.attr == "status" and isinstance(target.value, ast.Name)
                        and "cert" in target.value.id.lower()):
                    found.append((node.lineno, "assigns a certificate's status"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and RAW_WRITES.search(node.value):
            found.append((node.lineno, "writes certificates' status or activities in raw SQL"))
        elif _is_call_to(node, "Activity") or (_is_call_to(node, "insert") and node.args
                                               and isinstance(node.args[0], ast.Name)
                                               and node.args[0].id in ("Activity", "ACTIVITIES")):
            found.append((node.lineno, "writes an activity entry directly"))
        elif _is_call_to(node, "record") and any(
                isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "ActivityKind"
                and arg.attr in TRANSITION_KINDS for arg in node.args):
            found.append((node.lineno, "writes a transition's activity entry"))
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "lifecycle"
              and node.attr.startswith("_")):
            found.append((node.lineno, f"calls lifecycle's private {node.attr}"))
    return found


def violations(package: Path, allowed: set[Path]) -> list[str]:
    return sorted(f"{path.relative_to(package.parent)}:{line} {what}"
                  for path in package.rglob("*.py") if path.relative_to(package) not in allowed
                  for line, what in writes(path.read_text(encoding="utf-8")))


def test_only_lifecycle_writes_certificate_status_and_transition_entries():
    # activity.py holds the one function that writes an entry (for kinds that are no transition).
    found = violations(PACKAGE, {WRITER, Path("core") / "activity.py"})
    assert not found, "certificate status or transition entries written outside lifecycle:\n" + "\n".join(found)


def test_the_scan_sees_the_writers_own_writes():
    # So it would see them in any other module.
    assert {what for _, what in writes((PACKAGE / WRITER).read_text(encoding="utf-8"))} >= {
        "updates a certificate's status", "creates a certificate with a status"}
    assert {"REDEEMED", "EXPIRED", "VOIDED", "RELEASED"} <= TRANSITION_KINDS
    assert lifecycle.REDEEM.trigger == "redeemed" and lifecycle.EXPIRE.trigger == "expired"


@pytest.mark.parametrize("source", [
    "sa.update(Certificate).where(Certificate.id == 1).values(status='expired')\n",
    "session.execute(update(CERTS).values(status=S.REDEEMED.value, redeemed_at=now))\n",
    "sa.update(Certificate.__table__).where(x).values({'status': 'voided'})\n",
    "sa.update(lifecycle.CERTS).where(x).values(**values)\n",
    "cert.status = 'voided'\n",
    "fresh_cert.status: str = 'active'\n",
    "Certificate(code='x', status='active')\n",
    "s.execute(sa.text('UPDATE certificates SET status = :s WHERE id = :id'))\n",
    "s.execute(sa.text(\"INSERT INTO activities (kind) VALUES ('Expired')\"))\n",
    "session.execute(sa.insert(Activity), rows)\n",
    "session.add(Activity(kind='Voided'))\n",
    "activity.record(session, cert, ActivityKind.RELEASED, actor=a)\n",
    "lifecycle._transition(session, cert, S.ACTIVE, allowed_from=['redeemed'], values={})\n",
])
def test_a_status_write_outside_lifecycle_is_caught(source):
    assert writes(source)


@pytest.mark.parametrize("source", [
    "sa.update(Certificate).where(Certificate.id == 1).values(stripe_payment_intent_id=pi)\n",
    "sa.update(Job).where(Job.id == 1).values(status='queued')\n",
    "self.status = value\n",
    "activity.record(session, cert, ActivityKind.SENT, actor=by)\n",
])
def test_other_writes_are_not_mistaken_for_status_writes(source):
    assert not writes(source)


def test_writes_outside_lifecycle_are_reported_with_their_place(tmp_path):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "sweep.py").write_text("def f(s):\n    s.execute(sa.update(CERTS).values(status='x'))\n")
    assert violations(tmp_path, set()) == [f"{tmp_path.name}/core/sweep.py:2 updates a certificate's status"]
