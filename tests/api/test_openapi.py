"""The machine-readable and the human-readable reference describe the API that exists."""

from __future__ import annotations

import re

import pytest
import schemathesis
from starlette.applications import Starlette

from giftcerts.api import docs
from giftcerts.api.errors import CATALOGUE
from giftcerts.api.operations import OPERATIONS
from giftcerts.api.routes import routes
from tests.api.conftest import TestClient


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("GIFTCERTS_PUBLIC_URL", "https://gifts.example.com")
    return TestClient(Starlette(routes=routes()))


def test_the_openapi_document_lists_every_operation_with_its_errors(client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"] == "3.1.0" and doc["servers"] == [{"url": "https://gifts.example.com"}]
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert documented == {(op.method, op.path) for op in OPERATIONS}
    assert doc["components"]["securitySchemes"]["apiKey"] == {
        "type": "http", "scheme": "bearer", "description": "A workspace API key, gc_live_..."}
    for op in OPERATIONS:
        spec = doc["paths"][op.path][op.method.lower()]
        assert str(op.status) in spec["responses"] and "401" in spec["responses"]
        headers = [p["name"] for p in spec["parameters"] if p["in"] == "header"]
        assert headers == (["Idempotency-Key"] if op.method == "POST" else [])
        for code in op.errors:
            status = str(CATALOGUE[code][0])
            assert f"`{code}`" in spec["responses"][status]["description"], (op.name, code)
    redeem = doc["paths"]["/api/v1/redemptions"]["post"]["responses"]
    assert redeem["429"]["headers"]["Retry-After"]["required"] is True


def test_the_document_is_a_valid_openapi_3_1_schema(client):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(OPERATIONS)


def test_every_route_of_the_api_is_documented():
    # the operator's endpoints (probes, metrics) and the reference pages are not the workspace API
    operator = {"/api/v1/health", "/api/v1/ready", "/api/v1/metrics", "/api/v1/openapi.json", "/api/v1/docs",
                "/api/v1/{rest:path}"}
    paths = {r.path for r in routes()} - operator
    assert paths == {op.path for op in OPERATIONS}


def test_the_docs_page_is_self_contained_and_covers_every_endpoint_and_error(client):
    r = client.get("/api/v1/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    html = r.text
    for op in OPERATIONS:
        assert f'id="{op.name}"' in html and op.path in html
    for code in CATALOGUE:
        assert f"<code>{code}</code>" in html
    assert html.count("curl ") >= len(OPERATIONS)
    assert "Authorization: Bearer $GIFTCERTS_API_KEY" in html
    # nothing loaded from elsewhere: no scripts, no external stylesheets, fonts or images
    assert "<script" not in html and "<link" not in html and "<img" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//(?!gifts\.example\.com)""", html)


def test_the_docs_page_escapes_what_it_shows():
    html = docs.render("https://x.example/<script>alert(1)</script>")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_reference_pages_answer_get_only(client):
    for path in ("/api/v1/docs", "/api/v1/openapi.json", "/api/v1/health", "/api/v1/ready"):
        r = client.post(path)
        assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_the_document_lists_every_webhook_event_with_its_signature_header():
    from giftcerts.api import docs, openapi
    from giftcerts.core import webhooks

    doc = openapi.document()
    assert set(doc["webhooks"]) == set(webhooks.EVENTS)
    for event in doc["webhooks"].values():
        post = event["post"]
        assert post["parameters"][0]["name"] == "GiftCerts-Signature"
        assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/WebhookEvent")
    page = docs.render("https://gifts.example.com")
    assert "hmac.compare_digest" in page and "crypto.timingSafeEqual" in page
    assert all(event in page for event in webhooks.EVENTS)
