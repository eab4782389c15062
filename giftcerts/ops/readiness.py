"""Readiness: can this process serve traffic now? (`/api/v1/health` only says it is alive.)

A load balancer takes a process out of rotation while its database — or Redis, when
REFLEX_REDIS_URL is set (guess budgets and, with several processes, Reflex's state) — does
not answer, instead of sending it requests that can only fail. Each check is bounded in
time, so a black-holed server makes the probe fail fast rather than hang.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading

import sqlalchemy as sa

from giftcerts import config, db

log = logging.getLogger("giftcerts.ops.readiness")

TIMEOUT_SECONDS = float(os.environ.get("GIFTCERTS_READY_TIMEOUT_SECONDS") or 2.0)
OK = "ok"

_redis_clients: dict[str, object] = {}
_redis_lock = threading.Lock()


def check_database(url: str | None = None) -> str:
    """OK, or why not. Reads the migration version: a reachable but empty database (a wrong
    REFLEX_DB_URL, migrations not run) is not ready either."""
    for attempt in (1, 2):
        try:
            with db.engine(url).connect() as connection:
                version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            return OK if version else "not migrated"
        except sa.exc.DBAPIError as exc:
            # A pooled connection the server dropped (a restart, pg_terminate_backend) fails once and
            # invalidates the pool; asking again on a new connection tells whether the server is up.
            if attempt == 1 and exc.connection_invalidated:
                continue
            return _down("database", exc)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; only its kind is told
            return _down("database", exc)
    return "unreachable"


def check_redis(url: str) -> str:
    try:
        _redis(url).ping()
        return OK
    except Exception as exc:  # noqa: BLE001
        return _down("redis", exc)


def _redis(url: str):
    import redis

    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            client = _redis_clients[url] = redis.Redis.from_url(
                url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS)
        return client


def _down(what: str, exc: Exception) -> str:
    # The exception's text can name hosts and users; the probe's answer gives only its kind.
    log.warning("readiness: %s is not answering (%s)", what, type(exc).__name__)
    return f"unreachable ({type(exc).__name__})"


async def _bounded(check, *args) -> str:
    try:
        return await asyncio.wait_for(asyncio.to_thread(check, *args), TIMEOUT_SECONDS + 0.5)
    except TimeoutError:
        log.warning("readiness: %s did not answer within %.1f s", check.__name__, TIMEOUT_SECONDS)
        return "timed out"


async def checks() -> dict[str, str]:
    """{"database": "ok" | why not, "redis": "ok" | why not | "not configured"}, checked at once."""
    redis_url = config.redis_url()
    database, redis_state = await asyncio.gather(
        _bounded(check_database, config.db_url()),
        _bounded(check_redis, redis_url) if redis_url else _constant("not configured"),
    )
    return {"database": database, "redis": redis_state}


async def _constant(value: str) -> str:
    return value


def ready(results: dict[str, str]) -> bool:
    return all(state in (OK, "not configured") for state in results.values())
