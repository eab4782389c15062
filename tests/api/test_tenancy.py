"""The key decides the workspace. No key, a bad key or a revoked key gets 401; another
workspace's ids and codes are simply not found, and nothing of theirs leaks or changes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.api.operations import OPERATIONS
from giftcerts.core import apikeys, redemption
from giftcerts.core.codes import format_code
from giftcerts.models import ApiKey, Certificate, Order, Workspace
from tests.api.conftest import TestClient, assert_error


def _url(op) -> str:
    path = op.path
    for name in op.path_params:
        path = path.replace("{" + name + "}", "1")
    return path


BAD_AUTH = {
    "missing": {},
    "not bearer": {"Authorization": "Basic Z2M6bGl2ZQ=="},
    "empty bearer": {"Authorization": "Bearer "},
    "unknown key": {"Authorization": "Bearer gc_live_" + "x" * 43},
    "no prefix": {"Authorization": "Bearer sk_live_abc"},
    "too long": {"Authorization": "Bearer gc_live_" + "x" * 500},
}


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
@pytest.mark.parametrize("auth", BAD_AUTH, ids=str)
def test_every_endpoint_refuses_a_missing_or_bad_key(app, tenant, op, auth):
    client = TestClient(app)
    r = client.request(op.method, _url(op), headers=BAD_AUTH[auth], json={} if op.method == "POST" else None)
    assert_error(r, 401, "unauthenticated")
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_a_revoked_key_stops_working_at_once(api, tenant):
    assert api.get("/api/v1/certificates").status_code == 200
    with db.write_session(tenant.db_url) as s:
        key = apikeys.authenticate(s, tenant.key)
        apikeys.revoke(s, s.get(Workspace, tenant.workspace.id), key_id=key.id)
    assert_error(api.get("/api/v1/certificates"), 401, "unauthenticated")


def test_a_key_revoked_by_another_process_stops_working_within_5_seconds(api, tenant, monkeypatch):
    assert api.get("/api/v1/certificates").status_code == 200  # this process now remembers the key
    with db.write_session(tenant.db_url) as s:  # as another process would: this one is not told
        s.execute(sa.update(ApiKey).where(ApiKey.workspace_id == tenant.workspace.id).values(revoked_at=utcnow()))
    assert apikeys.cached(tenant.key) is not None  # still taken as valid here, for now
    started = apikeys._clock()
    monkeypatch.setattr(apikeys, "_clock", lambda: started + 5.0)
    assert_error(api.get("/api/v1/certificates"), 401, "unauthenticated")
    assert_error(api.post("/api/v1/orders", {"reference": "BK-R", "total_cents": 100}), 401, "unauthenticated")


def test_a_revoked_key_stops_working_at_once_while_remembered(api, tenant):
    for _ in range(3):  # used, and remembered by this process
        assert api.post("/api/v1/orders", {"reference": f"BK-{_}", "total_cents": 100}).status_code == 201
    with db.write_session(tenant.db_url) as s:
        apikeys.revoke(s, s.get(Workspace, tenant.workspace.id), key_id=apikeys.cached(tenant.key).id)
    assert apikeys.cached(tenant.key) is None
    assert_error(api.post("/api/v1/orders", {"reference": "BK-R", "total_cents": 100}), 401, "unauthenticated")


def test_the_dashboard_learns_when_a_key_was_last_used_at_most_once_a_minute(api, tenant):
    def last_used():
        with db.read_session(tenant.db_url) as s:
            return apikeys.authenticate(s, tenant.key).last_used_at

    assert last_used() is None
    # when the key is used
    assert api.get("/api/v1/certificates").status_code == 200
    # then the time is recorded, and not rewritten by every request that follows
    first = last_used()
    assert first is not None
    assert api.get("/api/v1/certificates").status_code == 200
    assert last_used() == first
    # a minute later it is
    with db.write_session(tenant.db_url) as s:
        key = apikeys.authenticate(s, tenant.key)
        key.last_used_at = first - apikeys.LAST_USED_RESOLUTION
    assert api.get("/api/v1/certificates").status_code == 200
    assert last_used() > first


def test_the_key_not_the_request_decides_the_workspace(api, other):
    # a workspace_id smuggled into the body is an unknown field, not a switch
    assert_error(api.post("/api/v1/orders", {"reference": "X", "total_cents": 100,
                                             "workspace_id": other.workspace.id}), 422, "validation_error")


@pytest.fixture
def theirs(other):
    """Another workspace's certificate, order and redemption."""
    cert, spent = other.certificate(amount="100"), other.certificate(amount="50")
    order = other.order(total=90000, reference="THEIR-SECRET-REF")
    with db.write_session(other.db_url) as s:
        red = redemption.redeem(s, s.get(Workspace, other.workspace.id), code=spent.code, order_id=order.id,
                                actor="them")
    return {"cert": cert, "order": order, "redemption": red.id, "spent": spent}


def test_another_workspaces_ids_are_not_found_and_leak_nothing(api, theirs):
    ours = api.tenant.order()
    mine = api.tenant.certificate()
    cert_id, order_id, red_id = theirs["cert"].id, theirs["order"].id, theirs["redemption"]
    calls = [
        ("GET", f"/api/v1/orders/{order_id}", None),
        ("GET", f"/api/v1/certificates/{cert_id}", None),
        ("POST", f"/api/v1/certificates/{cert_id}/void", {"reason": "mine now"}),
        ("POST", f"/api/v1/certificates/{cert_id}/reactivate", None),
        ("POST", f"/api/v1/redemptions/{red_id}/release", None),
        ("POST", "/api/v1/redemptions/preview", {"code": mine.code, "order_id": order_id}),
        ("POST", "/api/v1/redemptions", {"code": mine.code, "order_id": order_id}),
        ("POST", "/api/v1/widget-sessions", {"order_id": order_id}),
    ]
    for method, path, body in calls:
        r = api.client.request(method, path, headers=api.tenant.headers, json=body)
        assert_error(r, 404, "not_found")
        assert "THEIR-SECRET-REF" not in r.text and theirs["cert"].code[-4:] not in r.text
    # and nothing of theirs changed
    with db.read_session(api.tenant.db_url) as s:
        assert s.get(Certificate, cert_id).status == "active"
        assert s.get(Certificate, theirs["spent"].id).status == "redeemed"
        assert s.get(Order, order_id).amount_due_cents == 85000
    assert ours.id  # our own order was untouched too


@pytest.mark.parametrize("path", ["/api/v1/redemptions/preview", "/api/v1/redemptions"])
def test_another_workspaces_code_gets_exactly_the_unknown_code_answer(api, theirs, path):
    order = api.tenant.order()
    foreign = api.post(path, {"code": theirs["cert"].code, "order_id": order.id})
    unknown = api.post(path, {"code": "ZZZZ-ZZZZ-ZZZZ", "order_id": order.id})
    assert_error(foreign, 404, "invalid_code")
    assert foreign.content == unknown.content
    with db.read_session(api.tenant.db_url) as s:
        assert s.get(Certificate, theirs["cert"].id).status == "active"


def test_lists_and_searches_only_show_the_keys_workspace(api, theirs):
    mine = api.tenant.certificate()
    assert [c["id"] for c in api.get("/api/v1/certificates").json()["data"]] == [mine.id]
    for q in (theirs["cert"].code, format_code(theirs["cert"].code), theirs["cert"].recipient_email):
        assert api.get("/api/v1/certificates", params={"q": q}).json()["data"] == []
