"""Sending one webhook event: signed, to a public address only, no redirects, 10 s, 64 KiB.

The host is resolved once and every address it resolves to must be public (not loopback,
private, link-local — the cloud metadata address is link-local —, CGNAT, multicast or
reserved); the connection then goes to that very address (the Host header and the TLS server
name stay the endpoint's), so a DNS answer that changes between the check and the connection
cannot aim the request at the operator's own network. GIFTCERTS_WEBHOOKS_ALLOW_PRIVATE lifts
the address rule for development and tests.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import httpx

from giftcerts.core import webhooks


@dataclass
class Outcome:
    delivered: bool
    status_code: int | None
    error: str
    duration_ms: int


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    """One verifying TLS context for every delivery: building one loads the CA bundle (~50 ms)."""
    return ssl.create_default_context()


class Refused(Exception):
    """The endpoint's address is not one webhooks are sent to."""


def _pinned(url: str) -> tuple[str, str, str]:
    """(URL with the host replaced by a checked address, the Host header, the TLS server name)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Refused(f"cannot resolve {host}: {exc.strerror or exc}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not webhooks.allow_private_targets():
        bad = [ip for ip in addresses if not webhooks.is_public(ip)]
        if bad or not addresses:
            raise Refused(f"{host} resolves to a non-public address ({bad[0] if bad else 'none'}); not sent")
    ip = addresses[0]
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), host_header, host


def send(url: str, body: str, secret: str, *, event_id: str, event_type: str,
         timeout: float | None = None) -> Outcome:
    timeout = webhooks.TIMEOUT_SECONDS if timeout is None else timeout
    started = time.monotonic()

    def done(delivered: bool, status: int | None, error: str) -> Outcome:
        return Outcome(delivered, status, error, int((time.monotonic() - started) * 1000))

    try:
        target, host_header, server_name = _pinned(url)
    except Refused as exc:
        return done(False, None, str(exc))
    headers = {"Content-Type": "application/json", "User-Agent": "giftcerts-webhooks/1", "Host": host_header,
               webhooks.SIGNATURE_HEADER: webhooks.sign(secret, body), "GiftCerts-Event-Id": event_id,
               "GiftCerts-Event-Type": event_type}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls()) as client:
            with client.stream("POST", target, content=body.encode(), headers=headers,
                               extensions={"sni_hostname": server_name}) as response:
                read = 0
                for chunk in response.iter_bytes():
                    read += len(chunk)
                    if read >= webhooks.RESPONSE_LIMIT or time.monotonic() - started > timeout:
                        break  # the answer's body is not needed beyond this, nor a slow drip of it
                if 200 <= response.status_code < 300:
                    return done(True, response.status_code, "")
                note = " (redirects are not followed)" if 300 <= response.status_code < 400 else ""
                return done(False, response.status_code, f"answered {response.status_code}{note}")
    except httpx.TimeoutException:
        return done(False, None, f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return done(False, None, f"{type(exc).__name__}: {exc}"[:300])
