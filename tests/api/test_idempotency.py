"""Idempotency-Key: a retry gets the first answer byte for byte and is never applied twice,
also when the retries arrive at the same moment (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import func, select

from giftcerts import db
from giftcerts.core import activity
from giftcerts.models import Certificate, IdempotencyRecord, Order, Redemption
from tests.api.conftest import TestClient, assert_error


def count(db_url, model, *where) -> int:
    with db.read_session(db_url) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def test_a_retry_gets_the_first_response_byte_for_byte_and_is_not_applied_again(api, db_url):
    body = {"reference": "BK-42", "total_cents": 5000}
    first = api.post("/api/v1/orders", body, idempotency_key="order-BK-42")
    again = api.post("/api/v1/orders", body, idempotency_key="order-BK-42")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert "idempotent-replayed" not in first.headers and again.headers["idempotent-replayed"] == "true"
    assert count(db_url, Order) == 1


def test_key_order_and_whitespace_of_the_json_do_not_make_a_different_request(api):
    order = api.tenant.order()
    cert = api.tenant.certificate()
    a = api.post("/api/v1/redemptions", content=f'{{"code": "{cert.code}", "order_id": {order.id}}}'.encode(),
                 headers={**api.tenant.headers, "Idempotency-Key": "k"})
    b = api.post("/api/v1/redemptions", content=f'{{"order_id":{order.id},"code":"{cert.code}"}}'.encode(),
                 headers={**api.tenant.headers, "Idempotency-Key": "k"})
    assert (a.status_code, b.status_code, b.content == a.content) == (201, 201, True)


def test_a_refusal_is_stored_and_replayed_even_after_things_change(api, db_url):
    # given a redemption refused because the certificate is worth more than the order owes
    cert = api.tenant.certificate(amount="300")
    order = api.tenant.order(total=20000)
    refused = api.post("/api/v1/redemptions", {"code": cert.code, "order_id": order.id}, idempotency_key="try-1")
    assert_error(refused, 409, "exceeds_order_total")
    # when the same request is retried with the same key (it would succeed as a new request: see below)
    again = api.post("/api/v1/redemptions", {"code": cert.code, "order_id": order.id}, idempotency_key="try-1")
    # then the refusal is replayed and nothing is applied
    assert (again.status_code, again.content) == (409, refused.content)
    assert count(db_url, Redemption) == 0


def test_the_same_key_with_a_different_request_is_refused(api, db_url):
    api.post("/api/v1/orders", {"reference": "BK-1", "total_cents": 5000}, idempotency_key="k1")
    assert_error(api.post("/api/v1/orders", {"reference": "BK-2", "total_cents": 5000}, idempotency_key="k1"),
                 422, "idempotency_key_reused")
    cert = api.tenant.certificate()
    assert_error(api.post(f"/api/v1/certificates/{cert.id}/void", {"reason": "x"}, idempotency_key="k1"),
                 422, "idempotency_key_reused")
    assert count(db_url, Order) == 1
    assert count(db_url, Certificate, Certificate.status == "voided") == 0


def test_keys_belong_to_a_workspace(api, other, db_url):
    body = {"reference": "BK-1", "total_cents": 5000}
    ours = api.post("/api/v1/orders", body, idempotency_key="shared-key")
    theirs = api.post("/api/v1/orders", body, idempotency_key="shared-key", key=other.key)
    assert (ours.status_code, theirs.status_code) == (201, 201)
    assert ours.json()["id"] != theirs.json()["id"]
    assert "idempotent-replayed" not in theirs.headers


def test_requests_refused_before_running_do_not_use_the_key_up(api, db_url):
    assert_error(api.post("/api/v1/orders", {"total_cents": 5000}, idempotency_key="k"), 422, "validation_error")
    assert_error(api.post("/api/v1/orders", {"reference": "BK", "total_cents": 5000}, idempotency_key="k",
                          key="gc_live_wrong"), 401, "unauthenticated")
    assert api.post("/api/v1/orders", {"reference": "BK", "total_cents": 5000}, idempotency_key="k").status_code == 201
    assert count(db_url, IdempotencyRecord) == 1


def test_keys_up_to_255_visible_ascii_characters(api):
    assert api.post("/api/v1/orders", {"reference": "A", "total_cents": 1}, idempotency_key="k" * 255).status_code \
        == 201
    for bad in ("k" * 256, "has space", "tab\tkey", "clé".encode()):  # the last one: UTF-8 bytes on the wire
        r = api.client.post("/api/v1/orders", json={"reference": "B", "total_cents": 1},
                            headers={**api.tenant.headers, "Idempotency-Key": bad})
        assert "Idempotency-Key" in assert_error(r, 422, "validation_error")["fields"]


def test_every_post_endpoint_honours_the_key(api, db_url):
    cert, fresh = api.tenant.certificate(amount="100"), api.tenant.certificate(amount="100")
    order = api.tenant.order()
    red = api.post("/api/v1/redemptions", {"code": cert.code, "order_id": order.id}).json()
    calls = [
        ("/api/v1/orders", {"reference": "BK-X", "total_cents": 100}),
        ("/api/v1/redemptions/preview", {"code": fresh.code, "order_id": order.id}),
        (f"/api/v1/redemptions/{red['id']}/release", None),
        ("/api/v1/certificates", {"amount_cents": 5000, "purchaser_name": "P", "purchaser_email": "p@example.com",
                                  "recipient_name": "R", "recipient_email": "r@example.com"}),
        (f"/api/v1/certificates/{cert.id}/void", {"reason": "refund"}),
        (f"/api/v1/certificates/{cert.id}/reactivate", None),
        ("/api/v1/widget-sessions", {"order_id": order.id}),
    ]
    for n, (path, body) in enumerate(calls):
        first = api.post(path, body, idempotency_key=f"every-{n}")
        again = api.post(path, body, idempotency_key=f"every-{n}")
        assert first.status_code < 300, (path, first.text)
        assert (again.status_code, again.content, again.headers["idempotent-replayed"]) == (
            first.status_code, first.content, "true"), path
    assert count(db_url, Order, Order.reference == "BK-X") == 1
    assert count(db_url, Certificate, Certificate.source == "api") == 1


def _simultaneously(app, n, request):
    """Send `request(client)` from n threads released at the same instant."""
    barrier = threading.Barrier(n)

    def one(_):
        client = TestClient(app, client=("203.0.113.10", 50000))
        barrier.wait()
        return request(client)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


@pytest.mark.parametrize("outcome", ["success", "refusal"])
def test_ten_simultaneous_retries_are_applied_once_with_identical_answers(app, api, db_url, outcome):
    cert = api.tenant.certificate(amount="100" if outcome == "success" else "900")
    order = api.tenant.order(total=50000)
    body = {"code": cert.code, "order_id": order.id}
    responses = _simultaneously(app, 10, lambda c: c.post("/api/v1/redemptions", json=body,
                                                           headers={**api.tenant.headers, "Idempotency-Key": "race"}))
    assert len({(r.status_code, r.content) for r in responses}) == 1
    assert responses[0].status_code == (201 if outcome == "success" else 409)
    assert sum("idempotent-replayed" not in r.headers for r in responses) == 1
    applied = 1 if outcome == "success" else 0
    assert count(db_url, Redemption) == applied
    with db.read_session(db_url) as s:
        kinds = [a.kind for a in activity.history(s, workspace_id=cert.workspace_id, certificate_id=cert.id)]
        assert kinds.count("Redeemed") == applied
        assert s.get(Order, order.id).amount_due_cents == 50000 - applied * 10000
    assert count(db_url, IdempotencyRecord) == 1


def test_ten_simultaneous_creations_with_one_key_create_one_order(app, api, db_url):
    body = {"reference": "BK-RACE", "total_cents": 7000}
    responses = _simultaneously(app, 10, lambda c: c.post("/api/v1/orders", json=body,
                                                          headers={**api.tenant.headers, "Idempotency-Key": "o"}))
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert count(db_url, Order) == 1
