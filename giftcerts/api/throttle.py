"""Budgets for failed code attempts (OWASP OAT-002, "token cracking").

A code has 60 random bits, so guessing only works at volume. Every answer `invalid_code`
(unknown, malformed or another workspace's code) spends one unit of several budgets at
once; when any of them is spent, further attempts are refused with 429 and Retry-After
*before* the code is looked up, so a refused guess learns nothing. Valid codes, even
ones refused for another reason (already used, expired...), spend nothing: they are not
guesses, and a busy checkout must not lock itself out.

Budgets (env var, default):
- per API key and client address   GIFTCERTS_GUESS_LIMIT_CLIENT     20 per 10 minutes
- per API key                      GIFTCERTS_GUESS_LIMIT_KEY        200 per hour
- per widget session               GIFTCERTS_GUESS_LIMIT_WIDGET     10 per 10 minutes
- per client address in the widget GIFTCERTS_GUESS_LIMIT_ADDRESS    30 per 10 minutes
- per workspace, all channels      GIFTCERTS_GUESS_LIMIT_WORKSPACE  1000 per hour

The counters live in `giftcerts.ratelimit` (memory, or Redis when REFLEX_REDIS_URL is set,
so several app processes share them). Values use the `limits` notation ("20/10 minutes").
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from limits import RateLimitItem, parse

from giftcerts import ratelimit
from giftcerts.clock import wait_phrase
from giftcerts.core.codes import mask_code, normalize_code
from giftcerts.core.errors import InvalidCode, RateLimited

log = logging.getLogger("giftcerts.api.throttle")
T = TypeVar("T")

DEFAULTS = {
    "CLIENT": "20/10 minutes",
    "KEY": "200/hour",
    "WIDGET": "10/10 minutes",
    "ADDRESS": "30/10 minutes",
    "WORKSPACE": "1000/hour",
}


@lru_cache(maxsize=64)
def _parse(text: str) -> RateLimitItem:
    return parse(text)


def budget(name: str) -> RateLimitItem:
    """The configured limit, read on every call so tests (and operators) can change it."""
    return _parse(os.environ.get(f"GIFTCERTS_GUESS_LIMIT_{name}") or DEFAULTS[name])


@dataclass(frozen=True)
class Scope:
    """One budget: a limit and the identifiers it is counted under."""

    name: str
    identifiers: tuple[str, ...]

    @property
    def item(self) -> RateLimitItem:
        return budget(self.name)


def api_scopes(*, key_id: int, address: str, workspace_id: int) -> list[Scope]:
    return [
        Scope("CLIENT", ("guess-client", str(key_id), address)),
        Scope("KEY", ("guess-key", str(key_id))),
        Scope("WORKSPACE", ("guess-ws", str(workspace_id))),
    ]


def widget_scopes(*, widget_session_id: int | str, address: str, workspace_id: int) -> list[Scope]:
    """For the redemption widget: per widget session, per browser address, and the workspace's
    overall budget (shared with the API)."""
    return [
        Scope("WIDGET", ("guess-widget", str(widget_session_id))),
        Scope("ADDRESS", ("guess-address", str(workspace_id), address)),
        Scope("WORKSPACE", ("guess-ws", str(workspace_id))),
    ]


def check(scopes: list[Scope]) -> None:
    """Raise RateLimited if any budget is spent. Counts nothing."""
    limiter = ratelimit.limiter()
    wait = 0
    for scope, spent in zip(scopes, ratelimit.spent([(scope.item, scope.identifiers) for scope in scopes])):
        if spent:
            stats = limiter.get_window_stats(scope.item, *scope.identifiers)
            wait = max(wait, int(stats.reset_time - time.time()) + 1)
            log.warning("code guessing budget %s spent for %s", scope.name, "/".join(scope.identifiers[1:]))
    if wait:
        raise RateLimited(f"Too many invalid codes were tried. Try again in {wait_phrase(wait)}.",
                          retry_after=max(1, wait))


def count_failure(scopes: list[Scope], raw_code: str | None) -> None:
    """Spend one unit of every budget for an attempt that got `invalid_code`."""
    limiter = ratelimit.limiter()
    for scope in scopes:
        limiter.hit(scope.item, *scope.identifiers)
    log.info("invalid code %s tried (%s)", describe_code(raw_code),
             ", ".join("/".join(s.identifiers[1:]) for s in scopes[:1]))


def guarded(scopes: list[Scope], raw_code: str | None, attempt: Callable[[], T]) -> T:
    """Check the budgets, run `attempt` (which looks the code up), count it if the code was invalid.

    For callers that do not need to separate the two steps, e.g. the widget:
    `throttle.guarded(throttle.widget_scopes(...), code, lambda: redemption.preview(...))`.
    """
    check(scopes)
    try:
        return attempt()
    except InvalidCode:
        count_failure(scopes, raw_code)
        raise


def describe_code(raw_code: str | None) -> str:
    """What a log line may say about a code: masked, never in full."""
    code = normalize_code(raw_code)
    return mask_code(code) if code else "(malformed)"


