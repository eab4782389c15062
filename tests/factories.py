"""Test factories: workspaces, staff and certificates with sensible defaults."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from giftcerts import db
from giftcerts.core import accounts, lifecycle, workspaces
from giftcerts.core.errors import InvalidTransition
from giftcerts.models import CertificateSource, StaffRole

_seq = itertools.count(1)
PASSWORD = "correct horse battery"


def make_workspace(session, *, slug: str | None = None, **settings):
    ws = workspaces.create_workspace(session, slug=slug or f"ws-{next(_seq)}", name="Alpine Tours",
                                     currency=settings.pop("currency", "USD"),
                                     timezone=settings.pop("timezone", "UTC"))
    for field, value in settings.items():
        setattr(ws, field, value)
    session.add(ws)
    session.flush()
    return ws


def make_staff(session, workspace, *, role=StaffRole.OWNER, email: str | None = None):
    return accounts.create_staff(session, workspace, email=email or f"staff{next(_seq)}@example.com",
                                 password=PASSWORD, role=role)


def make_certificate(session, workspace, *, paid: bool = True, amount="100", now=None, **fields):
    n = next(_seq)
    values = dict(
        purchaser_name="Pat Buyer", purchaser_email=f"buyer{n}@example.com",
        recipient_name="Robin Traveller", recipient_email=f"robin{n}@example.com",
        amount=amount, message="Happy travels!",
    )
    values.update(fields)
    return lifecycle.issue_certificate(session, workspace, source=CertificateSource.MANUAL, paid=paid,
                                       actor="staff@example.com", now=now, **values)


def tampered(token: str) -> str:
    """The same token with its last character changed — always different, whatever that character was."""
    return token[:-1] + ("y" if token.endswith("x") else "x")


def race(db_url: str, attempts: int, write: Callable[..., object]) -> list[str]:
    """Run `write(session, n)` from `attempts` threads released at once, each in its own write
    session: the outcomes, sorted ("refused" for InvalidTransition, "won" otherwise)."""
    barrier = threading.Barrier(attempts)

    def attempt(n):
        barrier.wait()
        try:
            with db.write_session(db_url) as session:
                write(session, n)
            return "won"
        except InvalidTransition:
            return "refused"

    with ThreadPoolExecutor(attempts) as pool:
        return sorted(pool.map(attempt, range(attempts)))


def redeem(session, workspace, cert, *, reference: str | None = None, actor: str = "api", now=None):
    """Spend `cert` in full on a new order of its value, the way every channel does."""
    from giftcerts.core import redemption

    order = redemption.create_order(session, workspace, reference=reference or f"B-{next(_seq)}",
                                    total_cents=cert.amount_cents, currency=cert.currency, now=now)
    return redemption.redeem(session, workspace, code=cert.code, order_id=order.id, actor=actor, now=now)
