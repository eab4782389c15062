"""Prometheus metrics at /api/v1/metrics: only with the metrics token, and they count what
happened (requests, redemptions by outcome, guess-budget refusals) and what is waiting (jobs)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.models import Job
from giftcerts.ops.metrics import request_metrics
from tests.api.conftest import assert_error

TOKEN = "metrics-token-5f1c0e9a"


def scrape(client) -> dict[tuple[str, tuple], float]:
    r = client.get("/api/v1/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def client(app, monkeypatch):
    monkeypatch.setenv("GIFTCERTS_METRICS_TOKEN", TOKEN)
    return TestClient(request_metrics(app), client=("203.0.113.20", 5000))


def test_without_a_token_configured_there_is_no_such_path(app, tenant, monkeypatch):
    monkeypatch.delenv("GIFTCERTS_METRICS_TOKEN", raising=False)
    c = TestClient(app)
    assert_error(c.get("/api/v1/metrics"), 404, "not_found")
    assert_error(c.get("/api/v1/metrics", headers={"Authorization": "Bearer "}), 404, "not_found")


def test_a_scrape_without_the_token_is_refused(client, tenant):
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN},
                    tenant.headers):  # a workspace API key is not the metrics token
        r = client.get("/api/v1/metrics", headers=headers)
        assert_error(r, 401, "unauthenticated")
        assert "giftcerts_" not in r.text


def test_redemptions_and_requests_are_counted_by_outcome_and_route(client, tenant):
    cert = tenant.certificate(amount="100")
    order = tenant.order(total=50000)
    before = scrape(client)
    ok = client.post("/api/v1/redemptions", json={"code": cert.code, "order_id": order.id},
                     headers={**tenant.headers, "Idempotency-Key": "m-1"})
    assert ok.status_code == 201
    replay = client.post("/api/v1/redemptions", json={"code": cert.code, "order_id": order.id},
                         headers={**tenant.headers, "Idempotency-Key": "m-1"})
    assert replay.headers.get("Idempotent-Replayed") == "true"  # the same redemption: not counted again
    again = client.post("/api/v1/redemptions", json={"code": cert.code, "order_id": order.id}, headers=tenant.headers)
    assert again.json()["error"]["code"] == "not_active"
    wrong = client.post("/api/v1/redemptions", json={"code": "7QPK-M2ZX-R4WT", "order_id": order.id},
                        headers=tenant.headers)
    assert wrong.json()["error"]["code"] == "invalid_code"
    client.get(f"/api/v1/orders/{order.id}", headers=tenant.headers)
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("giftcerts_redemptions_total", channel="api", outcome="redeemed") == 1
    assert delta("giftcerts_redemptions_total", channel="api", outcome="not_active") == 1
    assert delta("giftcerts_redemptions_total", channel="api", outcome="invalid_code") == 1
    assert delta("giftcerts_http_requests_total", method="POST", route="/api/v1/redemptions", status="201") == 2
    assert delta("giftcerts_http_requests_total", method="GET", route="/api/v1/orders/{order_id}", status="200") == 1
    assert delta("giftcerts_http_request_duration_seconds_count", method="GET", route="/api/v1/orders/{order_id}",
                 status="200") == 1
    # the scrape itself is a request like any other
    assert value(after, "giftcerts_http_requests_total", method="GET", route="/api/v1/metrics", status="200") >= 1


def test_guess_budget_refusals_are_counted(client, tenant, monkeypatch):
    monkeypatch.setenv("GIFTCERTS_GUESS_LIMIT_CLIENT", "2/10 minutes")
    order = tenant.order()
    before = scrape(client)
    statuses = [client.post("/api/v1/redemptions/preview", json={"code": f"7QPK-M2ZX-R4W{n}", "order_id": order.id},
                            headers=tenant.headers).status_code for n in range(3)]
    statuses.append(client.post("/api/v1/redemptions", json={"code": "7QPK-M2ZX-R4WX", "order_id": order.id},
                                headers=tenant.headers).status_code)
    assert statuses == [404, 404, 429, 429]
    after = scrape(client)
    refused = value(after, "giftcerts_guess_budget_refusals_total", budget="CLIENT") - \
        value(before, "giftcerts_guess_budget_refusals_total", budget="CLIENT")
    assert refused == 2
    assert value(after, "giftcerts_redemptions_total", channel="api", outcome="rate_limited") - \
        value(before, "giftcerts_redemptions_total", channel="api", outcome="rate_limited") == 1


def test_the_job_queue_is_read_at_scrape_time(client, tenant, db_url):
    with db.write_session(db_url) as s:
        s.execute(sa.delete(Job))
    assert value(scrape(client), "giftcerts_jobs_due") == 0
    tenant.certificate()  # activation queues its PDF and its emails
    with db.read_session(db_url) as s:
        queued = s.execute(sa.select(Job.kind, sa.func.count()).group_by(Job.kind)).all()
        first = s.execute(sa.select(sa.func.min(Job.id))).scalar()
    assert queued
    with db.read_session(db_url) as s:
        last = s.execute(sa.select(sa.func.max(Job.id))).scalar()
    assert first != last
    now = utcnow()
    with db.write_session(db_url) as s:  # the oldest has waited an hour (failing once); another is for later
        s.execute(sa.update(Job).where(Job.id == first).values(run_after=now - timedelta(hours=1), attempts=1))
        s.execute(sa.update(Job).where(Job.id == last).values(run_after=now + timedelta(hours=1)))
    samples = scrape(client)
    assert value(samples, "giftcerts_jobs_scrape_ok") == 1
    for kind, count in queued:
        assert value(samples, "giftcerts_jobs", kind=kind, status="queued") == count
    assert value(samples, "giftcerts_jobs_due") == sum(count for _, count in queued) - 1
    assert 3600 <= value(samples, "giftcerts_job_oldest_due_age_seconds") < 3600 + 120
    with db.read_session(db_url) as s:
        first_kind = s.get(Job, first).kind
    assert value(samples, "giftcerts_jobs_retrying", kind=first_kind) == 1
    assert sum(v for (name, _), v in samples.items() if name == "giftcerts_jobs_retrying") == 1
