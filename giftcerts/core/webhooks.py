"""Outgoing webhooks: the booking platform's server hears of every change, signed, at least once.

Events are queued in the outbox in the same transaction as the change (the trigger's dispatch
job, giftcerts.core.outbox), and expanded by the worker into one delivery per subscribed
endpoint (`expand`), each sent and retried by its own job (giftcerts.jobs.handlers). An event
has a stable id, the same for every endpoint and every attempt; receivers may see an event
twice and events out of order, as with Stripe's webhooks.

Signature: `GiftCerts-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
endpoint's secret (`sign`, `verify`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import time
import uuid
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, select

from giftcerts import config
from giftcerts.clock import utcnow
from giftcerts.core.codes import mask_code
from giftcerts.core.errors import ValidationError
from giftcerts.core.inserts import insert_ignore
from giftcerts.core.scoped import get_in_workspace
from giftcerts.core.validation import clean_text
from giftcerts.models import Certificate, Order, Redemption, WebhookDelivery, WebhookEndpoint

SIGNATURE_HEADER = "GiftCerts-Signature"
EVENTS: dict[str, str] = {
    "certificate.created": "A certificate was created (a sale, paid or not yet)",
    "certificate.activated": "A certificate became Active (paid)",
    "certificate.redeemed": "A certificate was applied to an order",
    "certificate.voided": "A certificate was voided",
    "certificate.reactivated": "A voided certificate was restored",
    "certificate.expired": "A certificate passed its expiry date",
    "redemption.held": "A certificate is held for an open order",
    "redemption.captured": "The order was completed: the redemption is final",
    "redemption.released": "A redemption was undone (order cancelled, checkout abandoned, or released)",
    "order.completed": "An order was completed (booking confirmed)",
    "order.cancelled": "An order was cancelled",
}
# The outbox trigger that carries each event (one trigger may carry several).
TRIGGER_EVENTS: dict[str, tuple[str, ...]] = {
    "created": ("certificate.created",),
    "activated": ("certificate.activated",),
    "redeemed": ("certificate.redeemed", "redemption.held"),
    "voided": ("certificate.voided",),
    "reactivated": ("certificate.reactivated",),
    "expired": ("certificate.expired",),
    "captured": ("redemption.captured",),
    "released": ("redemption.released",),
    "order_completed": ("order.completed",),
    "order_cancelled": ("order.cancelled",),
}
URL_MAX = 2000
SECRET_PREFIX = "whsec_"
# Sending: never a redirect, 10 s at most, at most 64 KiB of the answer read.
TIMEOUT_SECONDS = 10.0
RESPONSE_LIMIT = 64 * 1024
# Retried with the worker's backoff (10 s doubling to an hour) for at least 24 hours.
MAX_ATTEMPTS = 40


# --- endpoints ----------------------------------------------------------------------------

def allow_private_targets() -> bool:
    """Development only: endpoints on loopback or private addresses (a receiver on this machine)."""
    return config.webhooks_allow_private()


def clean_url(raw: str | None, errors: dict[str, str]) -> str:
    url = clean_text(raw)
    if not url:
        errors["url"] = "Enter the URL that receives the events, e.g. https://booking.example.com/hooks/giftcerts."
        return ""
    if len(url) > URL_MAX:
        errors["url"] = f"The URL must be at most {URL_MAX} characters."
        return url
    parts = urlsplit(url)
    insecure_ok = allow_private_targets()
    if parts.scheme not in ("https", "http") or not parts.hostname or (parts.scheme == "http" and not insecure_ok):
        errors["url"] = "Use an https:// URL with a host name."
    elif parts.username or parts.password:
        errors["url"] = "Leave user names and passwords out of the URL; events are signed instead."
    elif not insecure_ok and refused_address(parts.hostname):
        errors["url"] = "This address is on a private network; webhooks are only sent to public addresses."
    return url


def refused_address(host: str) -> bool:
    """Whether a host given as an IP address (or localhost) is one webhooks never go to."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not is_public(ip)


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, private, link-local (cloud metadata at 169.254.169.254), CGNAT, multicast,
    reserved and unspecified addresses are not public; nor is an IPv4 address mapped into IPv6."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback)


def clean_events(raw: list[str] | str | None, errors: dict[str, str]) -> str:
    chosen = raw.split() if isinstance(raw, str) else list(raw or [])
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        errors["events"] = f"Unknown event {unknown[0]!r}; choose among {', '.join(EVENTS)}."
    elif not chosen:
        errors["events"] = "Choose at least one event to send."
    return " ".join(e for e in EVENTS if e in chosen)


def create_endpoint(session: Session, *, workspace_id: int, url: str | None, events: list[str] | str | None,
                    description: str | None = "", now: datetime | None = None) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (shown to staff once)."""
    errors: dict[str, str] = {}
    clean = clean_url(url, errors)
    chosen = clean_events(events, errors)
    text = clean_text(description)
    if len(text) > 200:
        errors["description"] = "The description must be at most 200 characters."
    if errors:
        raise ValidationError(errors)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(workspace_id=workspace_id, url=clean, events=chosen, description=text,
                               secret=secret, created_at=now or utcnow())
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def get_endpoint(session: Session, *, workspace_id: int, endpoint_id) -> WebhookEndpoint:
    return get_in_workspace(session, WebhookEndpoint, workspace_id, endpoint_id, not_found="Webhook endpoint not found.")


def list_endpoints(session: Session, *, workspace_id: int) -> list[WebhookEndpoint]:
    return list(session.exec(select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == workspace_id)
                             .order_by(WebhookEndpoint.id)).all())


def set_enabled(session: Session, *, workspace_id: int, endpoint_id, enabled: bool) -> WebhookEndpoint:
    endpoint = get_endpoint(session, workspace_id=workspace_id, endpoint_id=endpoint_id)
    endpoint.enabled = bool(enabled)
    session.add(endpoint)
    session.flush()
    return endpoint


def deliveries(session: Session, *, workspace_id: int, endpoint_id, limit: int = 50) -> list[WebhookDelivery]:
    """The endpoint's delivery log, newest first."""
    endpoint = get_endpoint(session, workspace_id=workspace_id, endpoint_id=endpoint_id)
    return list(session.exec(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
                             .order_by(WebhookDelivery.id.desc()).limit(limit)).all())


def has_endpoints(workspace_id) -> sa.ColumnElement[bool]:
    """For the outbox: the workspace (a value or a column) has an enabled endpoint; which events
    it takes is sorted out when the dispatch job is expanded."""
    return sa.exists().where(WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.enabled.is_(True))


# --- events -------------------------------------------------------------------------------

def event_id(job_id: int, event_type: str) -> str:
    """Stable: the same event (one dispatch job, one type) always has the same id."""
    return "evt_" + uuid.uuid5(uuid.NAMESPACE_URL, f"giftcerts:{job_id}:{event_type}").hex


def expand(session: Session, *, job_id: int, workspace_id: int, trigger: str, certificate_id: int | None,
           payload: dict, occurred_at: datetime) -> list[WebhookDelivery]:
    """The deliveries of one dispatch job: one per enabled endpoint subscribed to each of the
    trigger's events. Idempotent (a re-run job adds nothing)."""
    types = TRIGGER_EVENTS.get(trigger, ())
    if not types:
        return []
    endpoints = session.exec(select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == workspace_id,
                                                           WebhookEndpoint.enabled.is_(True))).all()
    made = []
    for event_type in types:
        targets = [e for e in endpoints if event_type in e.events.split()]
        if not targets:
            continue
        eid = event_id(job_id, event_type)
        body = json.dumps({"id": eid, "type": event_type, "created": occurred_at.isoformat().replace("+00:00", "Z"),
                           "data": {"object": _object(session, workspace_id, event_type, certificate_id, payload)}},
                          separators=(",", ":"), sort_keys=True)
        for endpoint in targets:
            if insert_ignore(session, WebhookDelivery.__table__,
                             dict(workspace_id=workspace_id, endpoint_id=endpoint.id, event_id=eid,
                                  event_type=event_type, body=body, status="pending", attempts=0, error="",
                                  created_at=utcnow()),
                             conflict=["endpoint_id", "event_id"]):
                made.append(session.exec(select(WebhookDelivery).where(
                    WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.event_id == eid)).one())
    return made


def _object(session: Session, workspace_id: int, event_type: str, certificate_id: int | None, payload: dict) -> dict:
    kind = event_type.split(".")[0]
    if kind == "order":
        order = get_in_workspace(session, Order, workspace_id, payload.get("order_id"), not_found="Order not found.")
        return _order(order)
    cert = get_in_workspace(session, Certificate, workspace_id, certificate_id, not_found="Certificate not found.")
    if kind == "certificate":
        status = event_type.split(".")[1]
        return {**_certificate(cert), "status": "active" if status == "reactivated" else status}
    red = _redemption_for(session, workspace_id, cert, payload)
    order = session.get(Order, red.order_id) if red is not None else None
    return {"object": "redemption", "id": red.id if red else None, "certificate": _certificate(cert),
            "order": _order(order) if order else None, "amount_cents": red.amount_cents if red else cert.amount_cents,
            "status": {"held": "held", "captured": "captured", "released": "released"}[event_type.split(".")[1]],
            **({"reason": payload["reason"]} if payload.get("reason") else {})}


def _redemption_for(session: Session, workspace_id: int, cert: Certificate, payload: dict) -> Redemption | None:
    if payload.get("redemption_id") is not None:
        return get_in_workspace(session, Redemption, workspace_id, payload["redemption_id"],
                                not_found="Redemption not found.")
    return session.exec(select(Redemption).where(Redemption.certificate_id == cert.id,
                                                 Redemption.workspace_id == workspace_id)
                        .order_by(Redemption.id.desc()).limit(1)).first()


def _moment(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _certificate(cert: Certificate) -> dict:
    return {"object": "certificate", "id": cert.id, "code": mask_code(cert.code), "status": cert.status,
            "amount_cents": cert.amount_cents, "currency": cert.currency, "expires_at": _moment(cert.expires_at)}


def _order(order: Order) -> dict:
    return {"object": "order", "id": order.id, "reference": order.reference, "status": order.status,
            "total_cents": order.total_cents, "amount_due_cents": order.amount_due_cents, "currency": order.currency}


# --- signing ------------------------------------------------------------------------------

def sign(secret: str, body: str, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, body: str, header: str, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does (the docs' snippets are this in Python and JavaScript)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or time.time()) - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def record_attempt(session: Session, delivery_id: int, *, status_code: int | None, error: str, duration_ms: int,
                   delivered: bool, gave_up: bool) -> None:
    now = utcnow()
    session.execute(
        sa.update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        .values(attempts=WebhookDelivery.attempts + 1, response_status=status_code, error=error[:500],
                duration_ms=duration_ms, last_attempt_at=now,
                status="delivered" if delivered else ("failed" if gave_up else "pending"),
                delivered_at=now if delivered else None)
        .execution_options(synchronize_session=False)
    )
