"""60 random bits: guessing does not find certificates. 10,000 random well-formed codes
against a workspace with live certificates find nothing, and get the same answer as any
other unknown code.

The 10,000 run goes through `core.redemption.preview` on SQLite only (about 0.6 ms a call
there, twice that on PostgreSQL, and the lookup is the same equality on the unique code
index on both); the API-level check below runs on both databases.
"""

from __future__ import annotations

import secrets

import pytest

from giftcerts import db
from giftcerts.core import redemption
from giftcerts.core.codes import ALPHABET, CODE_LENGTH
from giftcerts.core.errors import InvalidCode
from giftcerts.models import Workspace
from tests.api.conftest import new_tenant


def test_ten_thousand_random_codes_find_no_certificate(sqlite_only_url):
    tenant = new_tenant(sqlite_only_url)
    # given a workspace with 200 live certificates
    live = {tenant.certificate(amount="50").code for _ in range(200)}
    order = tenant.order(total=10_000_000)
    guesses = {"".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH)) for _ in range(10_000)} - live
    assert len(guesses) > 9_990
    # when every guess is checked against the order (the rules run exactly as at checkout)
    hits, answers = 0, set()
    with db.read_session(tenant.db_url) as s:
        ws = s.get(Workspace, tenant.workspace.id)
        for code in guesses:
            try:
                redemption.preview(s, ws, code=code, order_id=order.id)
                hits += 1
            except InvalidCode as exc:
                answers.add(exc.message)
    # then none hit, and all got one identical answer
    assert hits == 0
    assert len(answers) == 1
    # while a real code does work
    with db.read_session(tenant.db_url) as s:
        assert redemption.preview(s, s.get(Workspace, tenant.workspace.id), code=next(iter(live)),
                                  order_id=order.id).value_cents == 5000


@pytest.mark.parametrize("n", [100])
def test_random_codes_through_the_api_are_all_invalid_code(api, n, monkeypatch):
    monkeypatch.setenv("GIFTCERTS_GUESS_LIMIT_CLIENT", f"{n}/minute")
    order = api.tenant.order()
    bodies = set()
    for _ in range(n):
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        r = api.post("/api/v1/redemptions/preview", {"code": code, "order_id": order.id})
        assert r.status_code == 404
        bodies.add(r.content)
    assert len(bodies) == 1
    assert api.post("/api/v1/redemptions/preview", {"code": "ZZZZ-ZZZZ-ZZZZ", "order_id": order.id}).status_code \
        == 429
