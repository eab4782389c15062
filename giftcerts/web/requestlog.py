"""Request ids and structured logs.

Every HTTP request (and websocket connection) gets an id: the caller's `X-Request-ID` when
it is a sane token (a reverse proxy or the booking platform may set one, so its logs and
ours can be joined), else a new one. It is sent back as `X-Request-ID` and kept in a
context variable for as long as the request is handled, threads it hands work to included
(asyncio and anyio copy the context into them), so every log line carries it.

Settings:
- GIFTCERTS_LOG_FORMAT   `text` (default, for a terminal) or `json` (one object a line, for
                         a log collector);
- GIFTCERTS_LOG_LEVEL    INFO by default;
- GIFTCERTS_ACCESS_LOG   `on` (default): one line per request, `giftcerts.access`.

Secrets stay out of the log whatever a caller sends: the access line names the route's
template (`/api/v1/orders/{order_id}`), never the query string or a token in the path, and
every line is scrubbed of API keys, bearer tokens and certificate codes (masked to their
last four symbols) as a last line of defence behind the code that logs them masked already.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from giftcerts.core.codes import mask_code, normalize_code

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode()
_SANE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("giftcerts_request_id", default=None)
access_log = logging.getLogger("giftcerts.access")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted(incoming: str | None) -> str | None:
    """The caller's id if it is one we can log as it is (no spaces, quotes, newlines...)."""
    return incoming if incoming and _SANE.match(incoming) else None


# --- what a log line may say ------------------------------------------------------------

_ALPHABET = "0-9A-HJKMNP-TV-Z"
_SECRETS = re.compile(
    r"(?P<key>gc_live_[A-Za-z0-9_-]{6,})"
    r"|(?P<bearer>(?i:bearer)\s+[^\s\"',;]+)"
    rf"|(?P<code>(?<![A-Za-z0-9])[{_ALPHABET}]{{4}}-?[{_ALPHABET}]{{4}}-?[{_ALPHABET}]{{4}}(?![A-Za-z0-9]))"
)


def _replace(match: re.Match) -> str:
    if match.group("key"):
        return "gc_live_[redacted]"
    if match.group("bearer"):
        return "Bearer [redacted]"
    code = normalize_code(match.group("code"))
    return mask_code(code) if code else "[redacted]"


def scrub(text: str) -> str:
    """`text` without API keys, bearer tokens or full certificate codes."""
    return _SECRETS.sub(_replace, text)


_TOKENISH = re.compile(r"^[A-Za-z0-9_\-.~%]{12,}$")
_WORDISH = re.compile(r"^[a-z_\-.]{12,19}$")  # "confirmation", "certificate-types": words, not tokens


def _tokenish(segment: str) -> bool:
    return bool(_TOKENISH.match(segment)) and not _WORDISH.match(segment)


def route_template(scope: Scope) -> str:
    """What a request is counted and logged under: the template of the route that answered it
    (Starlette records it in the scope), else its path with every token-like segment (long,
    unbroken: codes, download and confirmation tokens) replaced."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:  # a Route or a Mount with a prefix; Reflex's frontend mount has none
        return path
    segments = scope.get("path", "").split("/")
    return "/".join("{token}" if _tokenish(segment) else segment for segment in segments)


# --- logging setup ----------------------------------------------------------------------

class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


class ScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def _json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    class ScrubbingJsonFormatter(JsonFormatter):
        def format(self, record: logging.LogRecord) -> str:
            return scrub(super().format(record))

    return ScrubbingJsonFormatter("%(levelname)s %(name)s %(message)s %(request_id)s", timestamp="time",
                                  rename_fields={"levelname": "level", "name": "logger"})


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_HANDLER_NAME = "giftcerts"


def log_format() -> str:
    return "json" if (os.environ.get("GIFTCERTS_LOG_FORMAT") or "text").strip().lower() == "json" else "text"


def configure_logging(stream=None, *, fmt: str | None = None, level: str | None = None) -> logging.Handler:
    """Send the `giftcerts.*` loggers (and the root logger's, if nobody else handles them) to
    one handler in the configured format, each line with its request id. Idempotent: a
    second call replaces the handler (tests pass a stream of their own)."""
    fmt = fmt or log_format()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(_json_formatter() if fmt == "json" else ScrubbingFormatter(TEXT_FORMAT))
    ours = logging.getLogger("giftcerts")
    for logger in (ours, logging.getLogger()):
        for old in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
            logger.removeHandler(old)
    ours.addHandler(handler)
    ours.setLevel((level or os.environ.get("GIFTCERTS_LOG_LEVEL") or "INFO").upper())
    ours.propagate = False  # one line per record, whatever the server configured on the root
    root = logging.getLogger()
    if not root.handlers:  # libraries' warnings, in the same format
        root.addHandler(handler)
    return handler


def _access_enabled() -> bool:
    return (os.environ.get("GIFTCERTS_ACCESS_LOG") or "on").strip().lower() not in ("off", "0", "false", "no")


# --- the middleware ---------------------------------------------------------------------

def request_ids(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: a request id for each request, in the response and in every log line."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        incoming = next((value.decode("latin-1") for name, value in scope.get("headers", ())
                         if name == _HEADER_KEY), None)
        rid = accepted(incoming) or new_request_id()
        token = request_id.set(rid)
        started = time.perf_counter()
        status = {"code": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                MutableHeaders(scope=message)[HEADER] = rid
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        except Exception:
            status["code"] = status["code"] or 500
            raise
        finally:
            if scope["type"] == "http" and _access_enabled():
                elapsed = (time.perf_counter() - started) * 1000
                route = route_template(scope)
                access_log.info("%s %s %s %.1fms", scope.get("method", "-"), route, status["code"], elapsed,
                                extra={"method": scope.get("method"), "route": route, "status": status["code"],
                                       "duration_ms": round(elapsed, 2)})
            request_id.reset(token)

    return middleware
