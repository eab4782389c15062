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
import itertools
import json
import logging
import os
import re
import secrets
import sys
import time
from datetime import datetime, timezone

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from giftcerts.core.codes import mask_code, normalize_code

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode()
_SANE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("giftcerts_request_id", default=None)
access_log = logging.getLogger("giftcerts.access")


_ids = {"pid": None, "prefix": "", "next": itertools.count(1)}


def new_request_id() -> str:
    """32 hex digits, unique across processes and restarts: a random prefix drawn once per
    process (after a fork too), then a counter; no system call per request, unlike uuid4."""
    pid = os.getpid()
    if _ids["pid"] != pid:
        _ids.update(pid=pid, prefix=secrets.token_hex(10), next=itertools.count(1))
    return f"{_ids['prefix']}{next(_ids['next']):012x}"


def accepted(incoming: str | None) -> str | None:
    """The caller's id if it is one we can log as it is (no spaces, quotes, newlines...)."""
    return incoming if incoming and _SANE.match(incoming) else None


# --- what a log line may say ------------------------------------------------------------

_ALPHABET = "0-9A-HJKMNP-TV-Z"
_KEY = re.compile(r"gc_live_[A-Za-z0-9_-]{6,}")
_BEARER = re.compile(r"(?i:bearer)\s+[^\s\"',;]+")
_CODE = re.compile(rf"(?<![A-Za-z0-9])[{_ALPHABET}]{{4}}-?[{_ALPHABET}]{{4}}-?[{_ALPHABET}]{{4}}(?![A-Za-z0-9])")


def _masked(match: re.Match) -> str:
    code = normalize_code(match.group(0))
    return mask_code(code) if code else "[redacted]"


def scrub(text: str) -> str:
    """`text` without API keys, bearer tokens or full certificate codes. (Substring tests first:
    this runs on every line, and most lines have neither key nor token.)"""
    if "gc_live_" in text:
        text = _KEY.sub("gc_live_[redacted]", text)
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub("Bearer [redacted]", text)
    return _CODE.sub(_masked, text)


_WORDISH = re.compile(r"^[a-z_\-.]{12,19}$")  # "confirmation", "certificate-types": words, not tokens
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


def _tokenish(segment: str) -> bool:
    """Long segments are tokens or codes (in any spelling: "7QPK M2ZX R4WT" too), unless plain words."""
    return len(segment) >= 12 and not _WORDISH.match(segment)


def method(scope: Scope) -> str:
    """The request's method as a log or metric may show it (the client chooses it)."""
    value = scope.get("method", "")
    return value if value in _METHODS else "OTHER"


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
        text = super().format(record)
        return text if record.name == access_log.name else scrub(text)  # access lines hold no secrets


# LogRecord's own attributes; anything else on a record came as `extra=` and becomes a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, the record's extras
    and, for exceptions, the traceback. (The standard library's json: python-json-logger cost
    four times as much per line, and the access log writes one line per request.)"""

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "message": record.getMessage(),
               "request_id": getattr(record, "request_id", None)}
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                out[key] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack_info"] = record.stack_info
        text = json.dumps(out, default=str)
        return text if record.name == access_log.name else scrub(text)


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
    handler.setFormatter(JsonFormatter() if fmt == "json" else ScrubbingFormatter(TEXT_FORMAT))
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
        rid_bytes = rid.encode("latin-1")
        started = time.perf_counter()
        status = {"code": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", ()), (_HEADER_KEY, rid_bytes)]
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
                verb = method(scope)
                access_log.info("%s %s %s %.1fms", verb, route, status["code"], elapsed,
                                extra={"method": verb, "route": route, "status": status["code"],
                                       "duration_ms": round(elapsed, 2)})
            request_id.reset(token)

    return middleware
