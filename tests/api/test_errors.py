"""Whatever a client sends, the answer is a clean JSON error with a fitting 4xx, never a 500."""

from __future__ import annotations

import json

import pytest

from giftcerts import db
from giftcerts.api import operations
from giftcerts.models import Order
from tests.api.conftest import assert_error

ORDER = {"reference": "BK-1", "total_cents": 1000}


@pytest.mark.parametrize("raw", [b"{", b"{'reference': 'x'}", b"\xff\xfe", b'{"reference": "\\ud800"}', b"nul\x00"])
def test_malformed_json_is_invalid_json(api, raw):
    assert_error(api.post("/api/v1/orders", content=raw, headers={**api.tenant.headers,
                                                                  "Content-Type": "application/json"}),
                 400, "invalid_json")


@pytest.mark.parametrize("value", ["1000", 10.5, True, None, [1000], {"v": 1}, float("inf")])
def test_wrong_types_are_named_in_fields(api, value):
    raw = json.dumps({**ORDER, "total_cents": value}).encode()  # Infinity: Python's JSON extension
    error = assert_error(api.post("/api/v1/orders", content=raw, headers=api.tenant.headers), 422,
                         "validation_error")
    assert list(error["fields"]) == ["total_cents"]


def test_a_whole_number_written_with_a_decimal_point_is_that_integer(api):
    # JSON has one number type, and JSON Schema's "integer" includes 1000.0
    r = api.post("/api/v1/orders", content=b'{"reference": "BK-F", "total_cents": 1000.0}', headers=api.tenant.headers)
    assert r.status_code == 201 and r.json()["total_cents"] == 1000


@pytest.mark.parametrize("body", [[], "order", 42, None])
def test_a_body_that_is_not_an_object_is_a_validation_error(api, body):
    r = api.post("/api/v1/orders", content=json.dumps(body).encode(), headers=api.tenant.headers)
    assert assert_error(r, 422, "validation_error")["fields"] == {"body": "Send a JSON object."}


def test_unknown_and_missing_fields_are_named(api):
    error = assert_error(api.post("/api/v1/orders", {"total_cents": 1000, "colour": "blue"}), 422,
                         "validation_error")
    assert error["fields"] == {"reference": "This field is required.", "colour": "Unknown field."}


def test_an_empty_body_is_an_empty_object(api):
    error = assert_error(api.post("/api/v1/orders", content=b""), 422, "validation_error")
    assert set(error["fields"]) == {"reference", "total_cents"}


def test_bodies_over_64_kb_are_refused_unread(api, db_url):
    big = {**ORDER, "customer_email": "a" * 70_000}
    assert_error(api.post("/api/v1/orders", big), 413, "payload_too_large")

    def chunks():  # no Content-Length: counted while reading
        for _ in range(20):
            yield b" " * 4096
    assert_error(api.post("/api/v1/orders", content=chunks(), headers=api.tenant.headers), 413, "payload_too_large")
    with db.read_session(db_url) as s:
        assert s.query(Order).count() == 0


def _post_routes() -> list[str]:
    samples = {"certificate_id": "1", "order_id": "1", "redemption_id": "1"}
    return sorted({op.path.format(**samples) for op in operations.OPERATIONS if op.body is not None})


@pytest.mark.parametrize("path", _post_routes())
def test_a_body_nested_deeper_than_32_levels_is_invalid_json_on_every_route(api, path):
    # well-formed JSON that a parser would recurse into level by level
    for raw in (b"[" * 33 + b"]" * 33, b'{"reference": "BK-D", "total_cents": 1000, "x": ' + b"[" * 40 + b"]" * 40
                + b"}", b"[" * 30_000 + b"]" * 30_000):
        error = assert_error(api.post(path, content=raw, headers={**api.tenant.headers,
                                                                  "Content-Type": "application/json"}),
                             400, "invalid_json")
        assert "32 levels" in error["message"]


def test_nesting_within_the_limit_is_judged_as_usual(api):
    raw = b"[" * 32 + b"]" * 32
    assert_error(api.post("/api/v1/orders", content=raw, headers=api.tenant.headers), 422, "validation_error")


def test_a_nested_body_over_64_kb_is_too_large(api):
    assert_error(api.post("/api/v1/orders", content=b"[" * 100_000, headers=api.tenant.headers), 413,
                 "payload_too_large")


def test_a_wrong_method_is_405_with_allow(api):
    r = api.request("DELETE", "/api/v1/orders/1", headers=api.tenant.headers)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET"
    r = api.request("GET", "/api/v1/redemptions", headers=api.tenant.headers)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "POST"


def test_an_unknown_endpoint_is_a_json_404(api):
    assert_error(api.get("/api/v1/refunds"), 404, "not_found")


@pytest.mark.parametrize("raw_id", ["abc", "0", "-1", "1.5", "99999999999999999999", "%C2%B2"])
def test_ids_that_cannot_exist_are_not_found(api, raw_id):
    assert_error(api.get(f"/api/v1/orders/{raw_id}"), 404, "not_found")
    assert_error(api.post(f"/api/v1/certificates/{raw_id}/reactivate"), 404, "not_found")


def test_text_with_nul_or_control_characters_never_reaches_the_database_raw(api):
    r = api.post("/api/v1/orders", {"reference": "BK\u0000-1", "total_cents": 100, "currency": "us\u0000d"})
    assert_error(r, 422, "validation_error")
    r = api.post("/api/v1/orders", {"reference": "BK\u0000-1", "total_cents": 100})
    assert r.status_code == 201 and r.json()["reference"] == "BK-1"
    assert api.get("/api/v1/certificates", params={"q": "a\u0000b"}).status_code == 200


def test_an_unexpected_failure_is_a_json_500_and_nothing_is_applied(api, db_url):
    def explode(session, call):
        operations.create_order(session, call)
        raise RuntimeError("disk on fire")
    op = next(o for o in operations.OPERATIONS if o.name == "createOrder")
    object.__setattr__(op, "run", explode)  # Operation is a frozen dataclass; restored below
    try:
        assert_error(api.post("/api/v1/orders", ORDER, idempotency_key="k-500"), 500, "internal_error")
    finally:
        object.__setattr__(op, "run", operations.create_order)
    with db.read_session(db_url) as s:
        assert s.query(Order).count() == 0
    # the key was not used up: a retry runs for real
    assert api.post("/api/v1/orders", ORDER, idempotency_key="k-500").status_code == 201
