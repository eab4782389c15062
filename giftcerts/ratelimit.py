"""Rate limits with the `limits` library: in memory by default, Redis when
REFLEX_REDIS_URL is set (so several app processes share one budget)."""

from __future__ import annotations

import os
import time
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import RedisStorage, storage_from_string
from redis.exceptions import RedisError
from limits.strategies import MovingWindowRateLimiter

from reflex.config import get_config

from giftcerts import config

# Sign-in attempts per client address (the browser test run signs in more often than a person).
SIGN_IN_PER_ADDRESS = parse(os.environ.get("GIFTCERTS_SIGN_IN_LIMIT", "20/10 minutes"))
# Orders opened by the public demo checkout page (/demo/checkout).
DEMO_CHECKOUTS_PER_ADDRESS = parse("60/10 minutes")
# Card payments started on the public portal: stolen-card testers love open payment forms.
PORTAL_PAYMENTS_PER_ADDRESS = parse(os.environ.get("GIFTCERTS_PORTAL_PAYMENT_LIMIT", "30/10 minutes"))


# What a budget store that is down raises (limits wraps its own calls; `spent` talks to Redis directly).
STORE_DOWN = (StorageError, RedisError)


@lru_cache(maxsize=1)
def limiter() -> MovingWindowRateLimiter:
    url = config.redis_url()
    storage = storage_from_string(url if url else "memory://", wrap_exceptions=True)
    return MovingWindowRateLimiter(storage)


def hit(item, *identifiers: str) -> int | None:
    """Count one attempt; returns None when allowed, else the seconds to wait."""
    if limiter().hit(item, *identifiers):
        return None
    stats = limiter().get_window_stats(item, *identifiers)
    return max(1, int(stats.reset_time - time.time()) + 1)


def spent(checks: list[tuple[RateLimitItem, tuple[str, ...]]]) -> list[bool]:
    """For each (limit, identifiers): is it used up? The same answer as `limiter().test`,
    but with Redis all of them in one round trip (a pipeline of the same Lua script), since
    the API asks on every code look-up."""
    storage = limiter().storage
    if not isinstance(storage, RedisStorage):
        return [not limiter().test(item, *identifiers) for item, identifiers in checks]
    pipe = storage.get_connection().pipeline(transaction=False)
    now = time.time()
    for item, identifiers in checks:
        storage.lua_moving_window([storage.prefixed_key(item.key_for(*identifiers))],
                                  [now - item.get_expiry(), item.amount], client=pipe)
    windows = pipe.execute()
    return [(int(window[1]) if window else 0) > item.amount - 1 for window, (item, _) in zip(windows, checks)]


def reset() -> None:
    limiter().storage.reset()


def client_address(scope) -> str:
    """The address budgets are counted against for an HTTP request (a Starlette Request or
    its ASGI scope), by the rule Reflex applies to event websockets: X-Forwarded-For is the
    client's to write, so only its entry added by the last of `trusted_proxy_hops` reverse
    proxies (REFLEX_TRUSTED_PROXY_HOPS) is believed; with none configured, the socket's peer."""
    scope = getattr(scope, "scope", scope)
    client = scope.get("client")
    address = client[0] if client else "unknown"
    hops = get_config().trusted_proxy_hops
    if hops:
        forwarded = b",".join(value for name, value in scope.get("headers", []) if name == b"x-forwarded-for")
        entries = [entry.strip() for entry in forwarded.decode("latin-1").split(",") if entry.strip()]
        if len(entries) >= hops:
            address = entries[-hops]
    return address[:64]
