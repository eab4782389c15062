"""Request ids and structured logs: every line written while a request is handled carries its
id, the response names it, and no API key or certificate code reaches the log."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from giftcerts import ratelimit
from giftcerts.api.routes import routes
from giftcerts.core.codes import format_code
from giftcerts.web import requestlog
from tests.api.conftest import new_tenant


@pytest.fixture
def restore_logging():
    ours, root = logging.getLogger("giftcerts"), logging.getLogger()
    saved = (list(ours.handlers), ours.level, ours.propagate, list(root.handlers))
    yield
    ours.handlers[:], ours.level, ours.propagate = saved[0], saved[1], saved[2]
    root.handlers[:] = saved[3]


@pytest.fixture
def setup(sqlite_only_url, monkeypatch, restore_logging):
    monkeypatch.setenv("REFLEX_DB_URL", sqlite_only_url)
    monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)
    ratelimit.reset()
    tenant = new_tenant(sqlite_only_url)
    client = TestClient(requestlog.request_ids(Starlette(routes=routes())), client=("203.0.113.7", 4000))
    yield client, tenant
    ratelimit.reset()


def logged(fmt: str) -> io.StringIO:
    stream = io.StringIO()
    requestlog.configure_logging(stream, fmt=fmt, level="INFO")
    return stream


def test_each_response_names_its_request_id(setup):
    client, _ = setup
    generated = client.get("/api/v1/health").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert client.get("/api/v1/health").headers["x-request-id"] != generated
    assert client.get("/api/v1/health", headers={"X-Request-ID": "lb-7f3a9c21:01"}).headers["x-request-id"] \
        == "lb-7f3a9c21:01"
    for insane in ("short", "has space in it", "x" * 129, 'quote"d-header-1234', "new\tline-12345"):
        answered = client.get("/api/v1/health", headers={"X-Request-ID": insane}).headers["x-request-id"]
        assert answered != insane and re.fullmatch(r"[0-9a-f]{32}", answered)


def test_every_line_of_a_request_carries_its_id(setup):
    client, tenant = setup
    stream = logged("text")
    order = tenant.order(total=10000)
    for rid in ("request-one-0001", "request-two-0002"):
        r = client.post("/api/v1/redemptions", json={"code": "ZZZZ-ZZZZ-ZZZ9", "order_id": order.id},
                        headers={**tenant.headers, "X-Request-ID": rid})
        assert r.status_code == 404 and r.json()["error"]["code"] == "invalid_code"
        assert r.headers["x-request-id"] == rid
    lines = stream.getvalue().splitlines()
    for rid in ("request-one-0001", "request-two-0002"):
        mine = [line for line in lines if f"[{rid}]" in line]
        # the guess budget's line (written in the API's worker thread) and the access line
        assert any("giftcerts.web.throttle" in line and "invalid code" in line for line in mine), lines
        assert any("giftcerts.access" in line and "POST /api/v1/redemptions 404" in line for line in mine), lines
    assert all("[request-" in line for line in lines if "invalid code" in line)


def test_json_lines_carry_the_id_and_the_access_fields(setup):
    client, tenant = setup
    stream = logged("json")
    order = tenant.order(total=10000)
    client.get(f"/api/v1/orders/{order.id}", headers={**tenant.headers, "X-Request-ID": "json-request-42"})
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [r for r in records if r["logger"] == "giftcerts.access"]
    assert len(access) == 1, records
    assert access[0]["request_id"] == "json-request-42"
    assert access[0]["route"] == "/api/v1/orders/{order_id}" and access[0]["status"] == 200
    assert access[0]["level"] == "INFO" and "time" in access[0] and access[0]["duration_ms"] >= 0


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_keys_codes_and_tokens_never_reach_the_log(setup, fmt):
    client, tenant = setup
    stream = logged(fmt)
    cert = tenant.certificate()
    order = tenant.order(total=50000)
    wrong = "7QPK-M2ZX-R4WT"
    # a code in the body (valid, then invalid), in a query string and in a path; the key in every header
    client.post("/api/v1/redemptions/preview", json={"code": cert.code, "order_id": order.id}, headers=tenant.headers)
    client.post("/api/v1/redemptions", json={"code": wrong, "order_id": order.id}, headers=tenant.headers)
    client.get(f"/api/v1/certificates?q={cert.code}", headers=tenant.headers)
    client.get(f"/api/v1/certificates/{cert.code}", headers=tenant.headers)
    client.get(f"/api/v1/lookup/{format_code(cert.code)}/{tenant.key}", headers=tenant.headers)
    client.get(f"/portal/demo/{wrong.replace('-', ' ')}/{cert.code.lower()}")  # a path no route answers
    # and code that logs a secret by mistake
    logging.getLogger("giftcerts.test").warning("careless: %s Bearer %s %s", cert.code, tenant.key, wrong)
    out = stream.getvalue()
    assert out.count("\n") >= 7  # six access lines and the careless one (the test is not vacuous)
    for secret in (tenant.key, tenant.key[len("gc_live_"):], cert.code, format_code(cert.code),
                   cert.code.lower(), wrong, wrong.replace("-", ""), wrong.replace("-", " ")):
        assert secret not in out, secret
    # what it says instead: the masked code, the route templates
    masked = "••••-••••-" + wrong[-4:]
    if fmt == "json":  # json.dumps escapes the bullets
        masked = json.dumps(masked)[1:-1]
    assert masked in out
    assert "/api/v1/{rest:path}" in out and "/api/v1/certificates/{certificate_id}" in out
    assert "/portal/demo/{token}/{token}" in out


def test_scrub_masks_what_it_finds_and_leaves_the_rest():
    assert requestlog.scrub("key gc_live_AbC123-_xyz9 used") == "key gc_live_[redacted] used"
    assert requestlog.scrub("Authorization: bearer abc.def") == "Authorization: Bearer [redacted]"
    assert requestlog.scrub("code 7qpk-m2zx-r4wt? no: 7QPKM2ZXR4WT") == "code 7qpk-m2zx-r4wt? no: ••••-••••-R4WT"
    assert requestlog.scrub("order 12 for 2500 cents, request 0123456789abcdef") == \
        "order 12 for 2500 cents, request 0123456789abcdef"


def test_the_route_template_hides_tokens_in_paths_nothing_routed():
    assert requestlog.route_template({"path": "/portal/demo/confirmation/Zx81_aa-Qp0w3eRt"}) == \
        "/portal/demo/confirmation/{token}"
    assert requestlog.route_template({"path": "/dashboard/certificates/42"}) == "/dashboard/certificates/42"


def test_a_method_the_client_made_up_is_not_logged_as_sent():
    assert requestlog.method({"method": "PATCH"}) == "PATCH"
    assert requestlog.method({"method": "gc_live_AbC123-_xyz9"}) == "OTHER"


def test_request_ids_are_unique_and_differ_after_a_fork():
    ids = {requestlog.new_request_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    import os
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ids must not repeat the parent's
        os.write(write, requestlog.new_request_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    assert child not in ids and child[:20] != next(iter(ids))[:20]
