"""Who may put our pages in a frame: the widget only on its workspace's booking sites; every other
page (dashboard, portal, PDFs, API docs) only on our own origin, so no other site can overlay a
Void button or a payment form and trick someone into clicking it."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from giftcerts import db
from giftcerts.core import redemption
from giftcerts.web.framing import frame_ancestors
from tests.factories import make_workspace


def _page(request):
    return PlainTextResponse("page")


def _docs(request):
    return HTMLResponse("docs", headers={"Content-Security-Policy": "default-src 'none'"})


@pytest.fixture
def client(db_url, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    inner = Starlette(routes=[Route("/{path:path}", _page), Route("/api/v1/docs", _docs)])
    inner.router.routes.reverse()  # the docs route first
    return TestClient(frame_ancestors(inner))


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/certificates/1", "/login", "/portal/demo",
                                  "/portal/demo/confirmation", "/certificate-pdf/abc", "/"])
def test_every_page_but_the_widget_may_be_framed_only_by_ourselves(client, path):
    response = client.get(path)
    assert response.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_page_with_its_own_policy_keeps_it_and_gains_frame_ancestors(client):
    response = client.get("/api/v1/docs")
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'self'"


def test_the_widget_may_be_framed_by_its_workspaces_booking_sites_only(client, db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, embed_origins="https://booking.example.com")
        order = redemption.create_order(s, ws, reference="R-1", total_cents=10000)
        _, token = redemption.create_widget_session(s, ws, order_id=order.id)
    response = client.get(f"/widget/redeem?session={token}")
    assert response.headers["content-security-policy"] == "frame-ancestors https://booking.example.com"
    assert "x-frame-options" not in response.headers  # it would forbid the booking site
    assert client.get("/widget/redeem?session=gcw_nope").headers["content-security-policy"] == \
        "frame-ancestors 'none'"
