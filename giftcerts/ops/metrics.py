"""Prometheus metrics, scraped at /api/v1/metrics with a bearer token (GIFTCERTS_METRICS_TOKEN;
without it the path does not exist: metrics name routes, volumes and failure rates, which are
nobody else's business).

Counted as they happen, per process:
- giftcerts_http_requests_total / giftcerts_http_request_duration_seconds, by method, route
  template and status (an ASGI middleware; the dashboard's pages and assets are one route,
  "(pages)", so ids in their paths cannot multiply the series);
- giftcerts_redemptions_total, by channel (api, widget) and outcome: "redeemed" or the
  refusal's error code (invalid_code, not_active, expired, rate_limited...);
- giftcerts_guess_budget_refusals_total, by budget (CLIENT, KEY, WIDGET...): the 429s.
Read from the database at scrape time, so they are right whichever process (app or
`giftcerts worker`) did the work:
- giftcerts_jobs, by kind and status (queued, running, failed: given up, staff must retry) —
  failed send_email / dispatch jobs are the email delivery failures — and
  giftcerts_jobs_retrying, by kind: queued again after a failed attempt (SMTP down, say);
- giftcerts_jobs_due and giftcerts_job_oldest_due_age_seconds: the queue depth and how long
  its oldest due job has waited (a growing age means the workers are not keeping up, or down).

Several app processes: set PROMETHEUS_MULTIPROC_DIR to an empty folder shared by them (cleared
at each start) and any process's scrape adds up all of them; otherwise scrape each process.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import time

import sqlalchemy as sa
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram,
                               generate_latest)
from prometheus_client.core import GaugeMetricFamily
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.models import Job, JobStatus
from giftcerts.web.requestlog import method

log = logging.getLogger("giftcerts.ops.metrics")

REQUESTS = Counter("giftcerts_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram("giftcerts_http_request_duration_seconds", "Time to answer an HTTP request",
                    ["method", "route", "status"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
REDEMPTIONS = Counter("giftcerts_redemptions_total", "Redemption attempts by outcome", ["channel", "outcome"])
GUESS_REFUSALS = Counter("giftcerts_guess_budget_refusals_total",
                         "Code look-ups refused because a guessing budget was spent (429)", ["budget"])
PAGES = "(pages)"


def token() -> str | None:
    return os.environ.get("GIFTCERTS_METRICS_TOKEN") or None


def authorised(authorization: str | None) -> bool:
    expected = token()
    if expected is None or not authorization or not authorization.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(authorization[7:].strip().encode(), expected.encode())


# --- hooks ------------------------------------------------------------------------------

def redemption(channel: str, outcome: str) -> None:
    REDEMPTIONS.labels(channel, outcome).inc()


def api_redemption(status: int, body: str | bytes, headers: dict[str, str]) -> None:
    """An API redemption's answer: "redeemed", or its error's code. A replayed answer (same
    Idempotency-Key) is not a new attempt."""
    if headers.get("Idempotent-Replayed"):
        return
    if status < 300:
        outcome = "redeemed"
    else:
        try:
            outcome = json.loads(body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            outcome = "error"
    REDEMPTIONS.labels("api", outcome).inc()


def guess_refused(budget: str) -> None:
    GUESS_REFUSALS.labels(budget).inc()


# --- requests ---------------------------------------------------------------------------

def _route(scope: Scope) -> str:
    path = getattr(scope.get("route"), "path", None)
    return path or PAGES


_children: dict[tuple[str, str, int], tuple] = {}


def _series(verb: str, route: str, status: int) -> tuple:
    """The (counter, histogram) children of one label set, looked up once: `.labels()` costs
    a lock and a few dict operations on every request."""
    key = (verb, route, status)
    children = _children.get(key)
    if children is None:
        labels = (verb, route, str(status))
        children = _children[key] = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
    return children


def request_metrics(app: ASGIApp) -> ASGIApp:
    """ASGI middleware counting and timing every HTTP request by its route's template."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_and_note)
        finally:
            count, duration = _series(method(scope), _route(scope), status["code"])
            count.inc()
            duration.observe(time.perf_counter() - started)

    return middleware


# --- read at scrape time ----------------------------------------------------------------

class JobQueueCollector:
    """The jobs table's backlog, read when scraped (one grouped query on the status index)."""

    def __init__(self, url: str | None = None):
        self.url = url

    def collect(self):
        jobs = GaugeMetricFamily("giftcerts_jobs", "Background jobs not done, by kind and status",
                                 labels=["kind", "status"])
        due = GaugeMetricFamily("giftcerts_jobs_due", "Queued jobs whose time has come (the queue depth)")
        age = GaugeMetricFamily("giftcerts_job_oldest_due_age_seconds",
                                "How long the oldest due queued job has waited")
        retrying = GaugeMetricFamily("giftcerts_jobs_retrying",
                                     "Queued jobs that failed before and wait for another attempt, by kind",
                                     labels=["kind"])
        up = GaugeMetricFamily("giftcerts_jobs_scrape_ok", "1 if the jobs table could be read for this scrape")
        now = utcnow()
        is_due = sa.and_(Job.status == JobStatus.QUEUED.value, Job.run_after <= now)
        try:
            with db.read_session(self.url) as session:
                rows = session.execute(
                    sa.select(Job.kind, Job.status, sa.func.count(),
                              sa.func.sum(sa.case((is_due, 1), else_=0)),
                              sa.func.min(sa.case((is_due, Job.run_after), else_=None)),
                              sa.func.sum(sa.case((Job.attempts > 0, 1), else_=0)))
                    .where(Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value, JobStatus.FAILED.value]))
                    .group_by(Job.kind, Job.status)).all()
        except Exception as exc:  # noqa: BLE001 - a scrape must answer; the gauge says it could not read
            log.warning("metrics: could not read the jobs table (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        total_due, oldest = 0, None
        for kind, status, count, due_count, first_due, tried in rows:
            jobs.add_metric([kind, status], count)
            if status == JobStatus.QUEUED.value:
                retrying.add_metric([kind], int(tried or 0))
            total_due += int(due_count or 0)
            first_due = _aware(first_due)
            if first_due is not None and (oldest is None or first_due < oldest):
                oldest = first_due
        due.add_metric([], total_due)
        age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        up.add_metric([], 1)
        yield from (jobs, due, age, retrying, up)


def _aware(value):
    """min() over a CASE loses the column's type: SQLite gives text, PostgreSQL a datetime."""
    from datetime import datetime, timezone

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def scrape(url: str | None = None) -> tuple[bytes, str]:
    """The exposition text and its content type."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry = _ProcessRegistry()
    registry.register(JobQueueCollector(url))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _ProcessRegistry(CollectorRegistry):
    """This process's default registry plus collectors added for one scrape."""

    def collect(self):
        yield from REGISTRY.collect()
        yield from super().collect()
