"""From an HTTP request to one core call in one transaction, and back.

Per request, in this order:
1. method known for the path, else 405; body at most 64 KB, else 413;
2. path ids, query and JSON body (nested at most 32 levels, else 400) parsed against the operation's models (problems are
   kept, not answered yet, so that an unauthenticated caller always gets 401 first);
3. in a worker thread: the API key -> workspace (401; usually from a per-process cache, see
   giftcerts.core.apikeys), the parsing problems (400/404/422), the code-guessing budgets
   (429, before any lookup), then in one transaction the operation — its `fast` shortcut
   first when it has one (redeem), else `run` — and the Idempotency-Key record with its
   answer (see giftcerts.api.idempotency).
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import anyio
import anyio.to_thread
import psycopg
import sqlalchemy as sa
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from giftcerts import config, db, jsonbody, ratelimit
from giftcerts.api import auth, idempotency
from giftcerts.ops import metrics
from giftcerts.web import throttle
from giftcerts.api.errors import (
    JSON,
    InternalError,
    DatabaseUnavailable,
    ServiceUnavailable,
    InvalidJson,
    MethodNotAllowed,
    PayloadTooLarge,
    dumps,
    error_body,
    error_headers,
    http_status,
    error_response,
)
from giftcerts.api.idempotency import Reply
from giftcerts.api.operations import Call, Operation
from giftcerts.api.schemas import INT32_MAX
from giftcerts.clock import utcnow
from giftcerts.core import apikeys
from giftcerts.core.errors import DomainError, InvalidCode, NotFound, ValidationError

log = logging.getLogger("giftcerts.api")

BODY_LIMIT = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}
# A database that stopped answering (restart, failover, connections cut): 503, not 500.
DATABASE_DOWN = (sa.exc.OperationalError, sa.exc.InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)

# Worker threads running API requests' database work, per process. Threads beyond what the
# CPUs and the connection pool can serve add only contention (the GIL, lock waits, more
# PostgreSQL backends); requests above the limit wait on the event loop instead, which
# costs nothing. (anyio's default pool, shared with the rest of the app, has 40.)
API_THREADS = int(os.environ.get("GIFTCERTS_API_THREADS") or 8)
_limiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _limiter() -> anyio.CapacityLimiter:
    """One limiter per event loop (tests run several loops in one process)."""
    loop = asyncio.get_running_loop()
    if loop not in _limiters:
        _limiters[loop] = anyio.CapacityLimiter(API_THREADS)
    return _limiters[loop]


@dataclass
class Parsed:
    path: str
    ids: dict[str, int] = field(default_factory=dict)
    body: BaseModel | None = None
    query: BaseModel | None = None
    idempotency_key: str | None = None
    problem: DomainError | None = None  # answered only once the caller is authenticated


# --- reading the request -------------------------------------------------------------------

async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BODY_LIMIT:
        raise PayloadTooLarge(f"The request body must be at most {BODY_LIMIT // 1024} KB.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > BODY_LIMIT:
            raise PayloadTooLarge(f"The request body must be at most {BODY_LIMIT // 1024} KB.")
        chunks.append(chunk)
    return b"".join(chunks)


def parse(op: Operation, request: Request, raw: bytes) -> Parsed:
    parsed = Parsed(path=request.url.path)
    try:
        for name in op.path_params:
            parsed.ids[name] = _id(name, request.path_params.get(name, ""))
        if op.body is not None:
            _bounded(raw)
            parsed.body = _validate(lambda: op.body.model_validate_json(raw.strip() or b"{}"))
        if op.query is not None:
            parsed.query = _validate(lambda: op.query.model_validate(dict(request.query_params)))
        if op.method == "POST":
            parsed.idempotency_key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
    except DomainError as exc:
        parsed.problem = exc
    return parsed


def _bounded(raw: bytes) -> None:
    """Refuse a body too deep to parse the way every other malformed body is refused."""
    try:
        jsonbody.check(raw, max_bytes=BODY_LIMIT)
    except jsonbody.BodyTooLarge as exc:
        raise PayloadTooLarge(exc.message) from None
    except jsonbody.BodyRefused as exc:
        raise InvalidJson(exc.message) from None


def _id(name: str, text: str) -> int:
    if text.isascii() and text.isdigit() and len(text) <= 10 and 1 <= int(text) <= INT32_MAX:
        return int(text)
    raise NotFound(f"{name.removesuffix('_id').capitalize()} not found.")


_MESSAGES = {
    "missing": "This field is required.",
    "extra_forbidden": "Unknown field.",
    "int_type": "Must be a whole number.",
    "int_parsing": "Must be a whole number.",
    "string_type": "Must be a string.",
}


def _validate(build):
    try:
        return build()
    except PydanticValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise InvalidJson() from None
        fields: dict[str, str] = {}
        for e in errors:
            name = ".".join(str(part) for part in e["loc"]) or "body"
            message = "Send a JSON object." if name == "body" else _MESSAGES.get(e["type"], e["msg"] + ".")
            fields.setdefault(name, message)
        problem = ValidationError(fields)
        problem.message = "Check the request: " + "; ".join(f"{k}: {v}" for k, v in list(fields.items())[:5])
        raise problem from None


# --- running it ----------------------------------------------------------------------------

def _error_reply(exc: DomainError, op: Operation) -> Reply:
    return Reply(http_status(exc), dumps(error_body(exc, field_aliases=op.field_aliases)), error_headers(exc))


@contextmanager
def _session(op: Operation, parsed: Parsed, url: str) -> Iterator[Session]:
    read_only = op.method == "GET" or (op.read_only and parsed.idempotency_key is None)
    with (db.read_session(url) if read_only else db.write_session(url)) as session:
        yield session


def _fast(session: Session, op: Operation, call: Call) -> Reply | None:
    """The operation's shortcut for the common case, if it has one and it answered."""
    if op.fast is None:
        return None
    answer = op.fast(session, call)
    return None if answer is None else Reply(op.status, answer.model_dump_json())


def _run(session: Session, op: Operation, call: Call, attempt: throttle.Attempt | None) -> str:
    try:
        return op.run(session, call).model_dump_json()
    except InvalidCode:
        if attempt is not None:  # also when the refusal is stored as the idempotent reply
            attempt.invalid()
        raise


def execute(op: Operation, parsed: Parsed, authorization: str | None, address: str) -> Reply:
    """Synchronous: runs in a worker thread."""
    url = config.db_url()
    key = None
    try:
        # Key and budgets before the transaction opens: on SQLite it holds the write lock.
        key = auth.identify(url, authorization)
        if parsed.problem is not None:
            raise parsed.problem
        if not op.guesses_codes:
            return _transaction(op, parsed, url, key, address, None)
        scopes = throttle.api_scopes(key_id=key.id, address=address, workspace_id=key.workspace_id)
        # spent before the look-up (429 if any budget is empty), given back unless invalid_code
        with throttle.attempting(scopes, getattr(parsed.body, "code", None)) as attempt:
            return _transaction(op, parsed, url, key, address, attempt)
    except idempotency.Duplicate as twin:
        return _replay(url, op, twin)
    except DomainError as exc:
        return _error_reply(exc, op)
    except Exception:
        reply = _twin_reply(url, op, parsed, key)
        if reply is None:
            raise
        return reply
    finally:
        if key is not None:
            _touch_key(url, key)


def _transaction(op: Operation, parsed: Parsed, url: str, key: apikeys.KeyIdentity, address: str,
                 attempt: throttle.Attempt | None) -> Reply:
    with _session(op, parsed, url) as session:
        call = Call(caller=auth.Caller(key=key, address=address, session=session), ids=parsed.ids,
                    body=parsed.body, query=parsed.query)
        return _answer(session, op, parsed, call, attempt)


def _answer(session: Session, op: Operation, parsed: Parsed, call: Call, attempt: throttle.Attempt | None) -> Reply:
    if parsed.idempotency_key is None:
        return _fast(session, op, call) or Reply(op.status, _run(session, op, call, attempt))
    reply, invalid = _fast(session, op, call), False  # the fast path is all or nothing: no SAVEPOINT
    if reply is None:
        try:
            with session.begin_nested():
                reply = Reply(op.status, op.run(session, call).model_dump_json())
        except DomainError as exc:  # stored like a success: a retry gets the same refusal
            invalid = isinstance(exc, InvalidCode)
            reply = _error_reply(exc, op)
            reply.headers = {}  # only status and body are stored, so only they are sent the first time too
    # raises Duplicate if a twin got there first: this transaction rolls back and replays its answer
    idempotency.record(session, reply, workspace_id=call.caller.workspace_id, key=parsed.idempotency_key,
                       request_fingerprint=_fingerprint(op, parsed))
    if invalid and attempt is not None:  # a replay has not guessed again
        attempt.invalid()
    return reply


def _fingerprint(op: Operation, parsed: Parsed) -> str:
    return idempotency.fingerprint(op.method, parsed.path, parsed.body.model_dump_json())


def _touch_key(url: str, key: apikeys.KeyIdentity) -> None:
    """Keep the dashboard's "last used" current: a tiny write of its own, at most once a minute
    per key, so the request's transaction never holds the key's row."""
    now = utcnow()
    if not key.needs_touch(now):
        return
    try:
        with db.write_session(url) as session:
            apikeys.touch(session, key_id=key.id, now=now)
    except Exception:  # bookkeeping must never fail the request it follows
        log.exception("could not record the use of API key %s", key.prefix)


def _twin_reply(url: str, op: Operation, parsed: Parsed, key: apikeys.KeyIdentity | None) -> Reply | None:
    """After an unexpected failure: the answer of a twin with the same key that committed first
    and so made this one fail (e.g. both inserted one order reference), if there is one."""
    if key is None or parsed.idempotency_key is None or parsed.problem is not None:
        return None
    twin = idempotency.Duplicate(workspace_id=key.workspace_id, key=parsed.idempotency_key,
                                 request_fingerprint=_fingerprint(op, parsed))
    try:
        with db.read_session(url) as session:
            return idempotency.find(session, twin)
    except DomainError as exc:
        return _error_reply(exc, op)
    except Exception:
        log.exception("could not look for an idempotency record after a failure")
        return None


def _replay(url: str, op: Operation, twin: idempotency.Duplicate) -> Reply:
    try:
        with db.read_session(url) as session:
            return idempotency.replay(session, twin)
    except DomainError as exc:
        return _error_reply(exc, op)


def endpoint(operations: list[Operation]):
    """One Starlette endpoint per path, dispatching on the method (so a wrong method is a JSON 405)."""
    by_method = {op.method: op for op in operations}
    allowed = sorted(by_method)

    async def handle(request: Request) -> Response:
        op = by_method.get(request.method)
        if op is None:
            return error_response(MethodNotAllowed(allowed))
        try:
            raw = await read_body(request) if op.method != "GET" else b""
            parsed = parse(op, request, raw)
            reply = await anyio.to_thread.run_sync(execute, op, parsed, request.headers.get("authorization"),
                                                   ratelimit.client_address(request), limiter=_limiter())
        except DomainError as exc:
            reply = _error_reply(exc, op)
        except ratelimit.STORE_DOWN as exc:
            log.error("rate-limit store unreachable in %s %s: %s", op.method, op.path, type(exc).__name__)
            reply = _error_reply(ServiceUnavailable(), op)
        except DATABASE_DOWN as exc:
            log.error("database unreachable in %s %s: %s", op.method, op.path, type(exc).__name__)
            reply = _error_reply(DatabaseUnavailable(), op)
        except Exception:
            log.exception("unexpected error in %s %s", op.method, op.path)
            reply = _error_reply(InternalError(), op)
        if op.name == "redeem":  # counted by outcome (giftcerts.ops.metrics)
            metrics.api_redemption(reply.status, reply.body, reply.headers)
        return Response(reply.body, status_code=reply.status, media_type=JSON, headers={**NO_STORE, **reply.headers})

    return handle
