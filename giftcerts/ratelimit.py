"""Rate limits with the `limits` library: in memory by default, Redis when
REFLEX_REDIS_URL is set (so several app processes share one budget)."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, storage_from_string
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


class InProcessStorage(MemoryStorage):
    """limits' memory storage, with its clean-up run from the callers' threads at most once a
    second. The library starts a 10 ms timer thread on every hit whose previous timer has
    ended, i.e. on nearly every hit of a request-paced budget — about a third of the CPU a
    widget redemption took. The sweep drops the expired entries of every key (a key's own hits
    drop its own), so memory holds no more than the live windows."""

    STORAGE_SCHEME = ["giftcerts-memory"]
    SWEEP_SECONDS = 1.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timer.cancel()
        self._swept_at = time.monotonic()
        self._sweep = threading.Lock()

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the thread-per-hit timer
        now = time.monotonic()
        if now - self._swept_at >= self.SWEEP_SECONDS and self._sweep.acquire(blocking=False):
            try:
                self._swept_at = now
                self._MemoryStorage__expire_events()
            finally:
                self._sweep.release()

    def reset(self) -> int | None:
        self._swept_at = time.monotonic()
        return super().reset()


@lru_cache(maxsize=1)
def limiter() -> MovingWindowRateLimiter:
    url = config.redis_url()
    storage = storage_from_string(url if url else "giftcerts-memory://", wrap_exceptions=True)
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


# Takes one entry from each of several moving windows, all or none: refused (nothing pushed)
# when any window is full. Same list layout as limits' own moving window (newest first,
# trimmed to the limit), so `limiter().test` / `get_window_stats` / `spent` read these keys too.
_TAKE = """
local now = tonumber(ARGV[1])
local refused = {}
for i, key in ipairs(KEYS) do
    local entry = redis.call('lindex', key, tonumber(ARGV[2 * i]) - 1)
    if entry and tonumber(entry) >= now - tonumber(ARGV[2 * i + 1]) then
        refused[#refused + 1] = i
    end
end
if #refused == 0 then
    for i, key in ipairs(KEYS) do
        redis.call('lpush', key, ARGV[1])
        redis.call('ltrim', key, 0, tonumber(ARGV[2 * i]) - 1)
        redis.call('expire', key, tonumber(ARGV[2 * i + 1]))
    end
end
return refused
"""
# In memory, takers of several windows at once queue here, so that checking them all and then
# pushing to them all is one step for every other taker.
_memory_take = threading.Lock()


class Refused(Exception):
    """`take` found these windows (indexes into its checks) full, and took nothing."""

    def __init__(self, which: list[int]):
        super().__init__(which)
        self.which = which


@dataclass
class Taken:
    """What `take` pushed, so that `give_back` removes exactly those entries."""

    checks: list[tuple[RateLimitItem, tuple[str, ...]]]
    stamp: str = ""
    entries: list = field(default_factory=list)  # memory: (key, the Entry object pushed)


def take(checks: list[tuple[RateLimitItem, tuple[str, ...]]]) -> Taken:
    """Spend one unit of every (limit, identifiers), atomically, or raise Refused and spend
    none. With Redis one round trip (a Lua script); in memory under one lock."""
    storage = limiter().storage
    if isinstance(storage, RedisStorage):
        stamp = repr(time.time())
        args = [stamp]
        for item, _ in checks:
            args += [item.amount, item.get_expiry()]
        keys = [storage.prefixed_key(item.key_for(*identifiers)) for item, identifiers in checks]
        conn = storage.get_connection()
        refused = conn.register_script(_TAKE)(keys=keys, args=args, client=conn)
        if refused:
            raise Refused([int(i) - 1 for i in refused])
        return Taken(checks, stamp=stamp)
    if not isinstance(storage, MemoryStorage):
        raise TypeError(f"guess budgets need memory or Redis storage, not {type(storage).__name__}")
    with _memory_take:
        keys = [item.key_for(*identifiers) for item, identifiers in checks]
        now = time.time()
        # A window is full when its limit-th newest entry is still inside it: `limiter().test`'s
        # answer without counting the window (entries are kept newest first).
        refused = [i for i, (key, (item, _)) in enumerate(zip(keys, checks))
                   if _newest(storage, key, item.amount) >= now - item.get_expiry()]
        if refused:
            raise Refused(refused)
        taken = Taken(checks)
        for index, (key, (item, _)) in enumerate(zip(keys, checks)):
            with storage.locks[key]:
                if not storage.acquire_entry(key, item.amount, item.get_expiry()):  # hit outside `take`
                    give_back(taken)
                    raise Refused([index])
                taken.entries.append((key, storage.events[key][0]))
        return taken


def _newest(storage: MemoryStorage, key: str, amount: int) -> float:
    """When the amount-th newest entry of a window was pushed (-inf if it has fewer)."""
    events = storage.events.get(key)
    return events[amount - 1].atime if events and len(events) >= amount else float("-inf")


def give_back(taken: Taken) -> None:
    """Undo a `take`: remove the very entries it pushed (those that have not expired since)."""
    storage = limiter().storage
    if isinstance(storage, RedisStorage):
        pipe = storage.get_connection().pipeline(transaction=False)
        for item, identifiers in taken.checks:
            pipe.lrem(storage.prefixed_key(item.key_for(*identifiers)), 1, taken.stamp)
        pipe.execute()
        return
    for key, entry in taken.entries:
        with storage.locks[key]:
            events = storage.events.get(key) or []
            for index, candidate in enumerate(events):
                if candidate is entry:
                    del events[index]
                    break


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
