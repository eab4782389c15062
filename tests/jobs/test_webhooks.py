"""Outgoing webhooks, end to end: changes in core queue events in their own transaction, the
worker delivers them signed to a receiver on loopback (allowed by the development setting),
retries failures, and never sends to private addresses or follows redirects."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import select

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import lifecycle, orders, outbox, redemption, webhooks
from giftcerts.core.errors import NotFound, ValidationError
from giftcerts.jobs.worker import Worker
from giftcerts.models import Job, WebhookDelivery, Workspace
from giftcerts.notify import webhooks as sender
from tests.factories import make_certificate, make_workspace
from tests.jobs.conftest import drain


class Receiver:
    """A booking platform's webhook endpoint: answers each request with the next scripted
    behaviour ("500", "timeout", "302"), then 200; keeps every request it got."""

    def __init__(self):
        self.script: list[str] = []
        self.requests: list[tuple[int, dict, str]] = []  # (status answered, headers, body)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with receiver.lock:
                    behaviour = receiver.script.pop(0) if receiver.script else "200"
                status = {"500": 500, "302": 302, "timeout": 200}.get(behaviour, 200)
                with receiver.lock:
                    receiver.requests.append((status if behaviour != "timeout" else 0, dict(self.headers), body))
                if behaviour == "timeout":
                    time.sleep(1.5)
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                try:
                    self.wfile.write(b"ok")
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/giftcerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> list[tuple[dict, str]]:
        return [(h, b) for status, h, b in self.requests if status == 200]


@pytest.fixture
def receiver(monkeypatch, mail_sink):
    monkeypatch.setenv("GIFTCERTS_WEBHOOKS_ALLOW_PRIVATE", "on")
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.5)
    r = Receiver()
    yield r
    r.server.shutdown()


def my_own_check(secret: str, header: str, body: str) -> bool:
    """The receiver's verification, written from the docs, not with giftcerts' code."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    mac = hmac.new(secret.encode(), (fields["t"] + "." + body).encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, fields["v1"]) and abs(time.time() - int(fields["t"])) < 300


def _endpoint(db_url, ws, url, events=None):
    with db.write_session(db_url) as s:
        endpoint, secret = webhooks.create_endpoint(s, workspace_id=ws.id, url=url, events=events or list(webhooks.EVENTS))
    return endpoint, secret


def test_every_event_reaches_the_receiver_signed_and_exactly_once_despite_failures(db_url, receiver):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
    endpoint, secret = _endpoint(db_url, ws, receiver.url)
    assert secret.startswith("whsec_")
    receiver.script = ["500", "500", "timeout"]  # the first three deliveries fail
    with db.write_session(db_url) as s:
        ws = s.get(Workspace, ws.id)
        used = make_certificate(s, ws, amount="100")                        # created, activated
        order = redemption.create_order(s, ws, reference="BK-1", total_cents=20000)
        redemption.redeem(s, ws, code=used.code, order_id=order.id, actor="api")  # redeemed, held
        orders.complete_order(s, ws, order_id=order.id, actor="api")         # captured, order.completed
        voided = make_certificate(s, ws, amount="50")
        lifecycle.void_certificate(s, ws, certificate_id=voided.id, reason="Refund", actor="staff@example.com")
        lifecycle.reactivate_certificate(s, ws, certificate_id=voided.id, actor="staff@example.com")
        held = make_certificate(s, ws, amount="70")
        other = redemption.create_order(s, ws, reference="BK-2", total_cents=10000)
        redemption.redeem(s, ws, code=held.code, order_id=other.id, actor="api")
        orders.cancel_order(s, ws, order_id=other.id, reason="Guest cancelled", actor="api")  # released, order.cancelled
        expiring = make_certificate(s, ws, amount="30")
        expiring.expires_at = utcnow() - timedelta(seconds=1)
        s.add(expiring)
    with db.write_session(db_url) as s:
        assert lifecycle.expire_due(s) == 1   # expired
    drain(db_url, limit=2000)

    delivered = receiver.delivered()
    for headers, body in delivered:
        assert my_own_check(secret, headers["GiftCerts-Signature"], body), "bad signature"
    events = [json.loads(body) for _, body in delivered]
    ids = Counter(e["id"] for e in events)
    assert all(n == 1 for n in ids.values()), "an event was delivered twice with success"
    assert Counter(e["type"] for e in events) == Counter({
        "certificate.created": 4, "certificate.activated": 4, "certificate.redeemed": 2, "redemption.held": 2,
        "redemption.captured": 1, "order.completed": 1, "certificate.voided": 1, "certificate.reactivated": 1,
        "redemption.released": 1, "order.cancelled": 1, "certificate.expired": 1})
    assert len(receiver.requests) == len(delivered) + 3  # the three failures were retried
    with db.read_session(db_url) as s:
        rows = s.exec(select(WebhookDelivery)).all()
    assert {r.status for r in rows} == {"delivered"} and len(rows) == len(delivered)
    assert sorted(r.attempts for r in rows)[-3:] == [2, 2, 2]
    # what the receiver learns is what it needs, never a full code
    released = next(e for e in events if e["type"] == "redemption.released")["data"]["object"]
    assert released["order"]["reference"] == "BK-2" and "Guest cancelled" in released["reason"]
    assert released["certificate"]["code"].startswith("••••-••••-")
    assert held.code not in json.dumps(events) and used.code not in json.dumps(events)
    completed = next(e for e in events if e["type"] == "order.completed")["data"]["object"]
    assert (completed["reference"], completed["status"]) == ("BK-1", "completed")


def test_an_endpoint_only_gets_the_events_it_subscribed_to(db_url, receiver):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
    _endpoint(db_url, ws, receiver.url, events=["certificate.redeemed"])
    with db.write_session(db_url) as s:
        ws = s.get(Workspace, ws.id)
        cert = make_certificate(s, ws)
        order = redemption.create_order(s, ws, reference="BK-9", total_cents=cert.amount_cents)
        redemption.redeem(s, ws, code=cert.code, order_id=order.id, actor="api")
    drain(db_url)
    assert [json.loads(b)["type"] for _, b in receiver.delivered()] == ["certificate.redeemed"]


def test_a_worker_killed_mid_delivery_loses_nothing(db_url, receiver):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
    endpoint, secret = _endpoint(db_url, ws, receiver.url, events=["certificate.created"])
    with db.write_session(db_url) as s:
        make_certificate(s, s.get(Workspace, ws.id), paid=False)
    dead = Worker(db_url, lease_seconds=0.3)
    assert dead.run_one()  # the dispatch job: expands into one delivery
    job = dead.claim()
    assert job.kind == outbox.DELIVER_WEBHOOK
    with db.read_session(db_url) as s:
        delivery = s.get(WebhookDelivery, json.loads(job.payload)["delivery_id"])
    # the dead worker had sent it, then died before recording anything
    sender.send(receiver.url, delivery.body, secret, event_id=delivery.event_id, event_type=delivery.event_type)
    time.sleep(0.5)  # its lease runs out
    drain(db_url)
    with db.read_session(db_url) as s:
        assert s.get(WebhookDelivery, delivery.id).status == "delivered"
    # at least once: the receiver saw it twice, with the same event id, and can tell
    assert [json.loads(b)["id"] for _, b in receiver.delivered()] == [delivery.event_id] * 2


def test_a_redirect_is_not_followed(db_url, receiver):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
    _endpoint(db_url, ws, receiver.url, events=["certificate.created"])
    receiver.script = ["302"]
    with db.write_session(db_url) as s:
        make_certificate(s, s.get(Workspace, ws.id), paid=False)
    w = Worker(db_url)
    w.run_one()  # dispatch
    w.run_one()  # the delivery: answered 302
    with db.read_session(db_url) as s:
        [delivery] = s.exec(select(WebhookDelivery)).all()
    assert (delivery.status, delivery.response_status) == ("pending", 302)
    assert "redirects are not followed" in delivery.error
    assert [path for path in receiver.requests if "/elsewhere" in str(path)] == []
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "https://127.0.0.1/hook", "https://10.0.0.5/hook", "https://192.168.1.20/h",
    "https://169.254.169.254/latest/meta-data", "https://localhost/hook", "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook", "https://100.64.0.1/hook", "ftp://example.com/hook",
    "https://user:pass@example.com/hook", "not a url",
])
def test_private_loopback_metadata_and_odd_urls_are_refused_by_default(db_url, url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        with pytest.raises(ValidationError) as raised:
            webhooks.create_endpoint(s, workspace_id=ws.id, url=url, events=["certificate.created"])
    assert "url" in raised.value.errors


def test_a_host_that_resolves_to_a_private_address_is_not_sent_to(db_url, receiver, monkeypatch):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
    port = receiver.server.server_port
    _endpoint(db_url, ws, f"http://localhost:{port}/hooks", events=["certificate.created"])
    monkeypatch.delenv("GIFTCERTS_WEBHOOKS_ALLOW_PRIVATE")  # production again
    with db.write_session(db_url) as s:
        make_certificate(s, s.get(Workspace, ws.id), paid=False)
    w = Worker(db_url)
    w.run_one()
    w.run_one()
    with db.read_session(db_url) as s:
        [delivery] = s.exec(select(WebhookDelivery)).all()
    assert delivery.status == "pending" and "non-public address" in delivery.error
    assert receiver.requests == []


def test_deliveries_are_retried_for_at_least_a_day():
    from giftcerts.jobs import worker as worker_module
    waits = [min(worker_module.MAX_BACKOFF_SECONDS, 10 * 2 ** max(0, n - 1)) * 0.8
             for n in range(1, webhooks.MAX_ATTEMPTS)]
    assert sum(waits) >= 24 * 3600


def test_signatures_verify_and_tampering_is_caught():
    body = json.dumps({"id": "evt_1", "type": "certificate.created"})
    header = webhooks.sign("whsec_test", body)
    assert webhooks.verify("whsec_test", body, header)
    assert my_own_check("whsec_test", header, body)
    assert not webhooks.verify("whsec_test", body.replace("created", "voided"), header)
    assert not webhooks.verify("whsec_other", body, header)
    assert not webhooks.verify("whsec_test", body, webhooks.sign("whsec_test", body, timestamp=int(time.time()) - 3600))


def test_resend_sends_the_same_event_again(db_url, receiver):
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
    endpoint, _ = _endpoint(db_url, ws, receiver.url, events=["certificate.created"])
    with db.write_session(db_url) as s:
        make_certificate(s, s.get(Workspace, ws.id), paid=False)
    drain(db_url)
    with db.write_session(db_url) as s:
        [delivery] = webhooks.deliveries(s, workspace_id=ws.id, endpoint_id=endpoint.id)
        outbox.resend_webhook(s, workspace_id=ws.id, delivery_id=delivery.id)
    drain(db_url)
    assert [json.loads(b)["id"] for _, b in receiver.delivered()] == [delivery.event_id] * 2


def test_another_workspaces_endpoints_and_deliveries_are_not_found(db_url, receiver):
    with db.write_session(db_url) as s:
        ws, stranger = make_workspace(s), make_workspace(s)
    endpoint, _ = _endpoint(db_url, ws, receiver.url)
    with db.write_session(db_url) as s:
        assert webhooks.list_endpoints(s, workspace_id=stranger.id) == []
        for call in (lambda: webhooks.get_endpoint(s, workspace_id=stranger.id, endpoint_id=endpoint.id),
                     lambda: webhooks.set_enabled(s, workspace_id=stranger.id, endpoint_id=endpoint.id, enabled=False),
                     lambda: webhooks.deliveries(s, workspace_id=stranger.id, endpoint_id=endpoint.id)):
            with pytest.raises(NotFound):
                call()
