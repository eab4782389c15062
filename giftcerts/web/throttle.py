"""Budgets for failed code attempts (OWASP OAT-002, "token cracking").

A code has 60 random bits, so guessing only works at volume. Every attempt takes one unit
of each of its budgets *before* the code is looked up, atomically (a budget with nothing
left refuses with 429 and Retry-After, and the attempt takes nothing from the others), so
a refused guess learns nothing and concurrent guesses cannot overshoot. A code that turns
out valid gives its units back: valid codes, even ones refused for another reason (already
used, expired...), spend nothing, so a busy checkout never locks itself out. Only answers
`invalid_code` (unknown, malformed or another workspace's code) keep them.

Budgets (env var, default), all hard (they refuse):
- API, per key and client address     GIFTCERTS_GUESS_LIMIT_CLIENT    20 per 10 minutes
- API, per key                        GIFTCERTS_GUESS_LIMIT_KEY       200 per hour
- widget, per widget session          GIFTCERTS_GUESS_LIMIT_WIDGET    10 per 10 minutes
- widget, per client address          GIFTCERTS_GUESS_LIMIT_ADDRESS   30 per 10 minutes
- widget, per network (/24, /56)      GIFTCERTS_GUESS_LIMIT_NETWORK   60 per 10 minutes
- widget, per address while guessing
  is detected (see below)             GIFTCERTS_GUESS_LIMIT_GUARDED   10 per day
(widget budgets are per workspace; an IPv6 "address" is its /64, what one host is given.)

No budget is shared by the whole workspace: anyone with widget sessions (every booking
checkout hands them out) could spend it from a few dozen addresses and so refuse the
operator's own API key and every customer. The per-source budgets are what make guessing
infeasible, and a stranger can only spend their own:
- API budgets are per key: only the key holder (the operator's server) can spend them.
- Widget budgets are per session, address and network: a few dozen addresses of one /24
  act as one network, not as many.
- GIFTCERTS_GUESS_LIMIT_WORKSPACE (1000 per hour) counts the workspace's widget failures
  but refuses nobody. Crossing it is "guessing detected": for GUARD_HOURS (24 h) each
  address gets only GUARDED (10 a day), and staff are alerted (the Overview banner and the
  actions on `guessing_detected`, at most once every ALERT_EVERY, 6 h): see api.guessing.

The numbers: a code is 12 symbols of a 32-letter alphabet, 2^60 ≈ 1.15e18 values. With
100,000 live codes in a workspace, one guess succeeds with p ≈ 1e5 / 2^60 ≈ 8.7e-14. While
guessing is detected, an attacker with 1,000,000 addresses (in as many networks) gets
10 guesses a day from each: 3.65e9 guesses a year, ≈ 3e-4 expected hits a year (one hit
in ~3,000 years), and every 6 hours the staff hear about it (an attack that goes on keeps
the count past the threshold, so the alert, and the tight budget, are renewed). Below the
threshold, at most 1000 failures an hour: 8.8e6 a year, ≈ 7.6e-7 hits. Through the
API a key allows 200 an hour (1.75e6 a year, ≈ 1.5e-7 hits), and only its holder can use it.

An attempt in flight holds its units until the code proves valid, so a caller must keep
fewer look-ups in flight per budget than the budget (the API runs at most API_THREADS, 8,
at once per process; CLIENT is 20).

The counters live in `giftcerts.ratelimit` (memory, or Redis when REFLEX_REDIS_URL is set,
so several app processes share them). Values use the `limits` notation ("20/10 minutes").
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

from limits import RateLimitItem, parse

from giftcerts import ratelimit
from giftcerts.ops import metrics
from giftcerts.clock import wait_phrase
from giftcerts.core.codes import mask_code, normalize_code
from giftcerts.core.errors import InvalidCode, RateLimited

log = logging.getLogger("giftcerts.web.throttle")
T = TypeVar("T")

DEFAULTS = {
    "CLIENT": "20/10 minutes",
    "KEY": "200/hour",
    "WIDGET": "10/10 minutes",
    "ADDRESS": "30/10 minutes",
    "NETWORK": "60/10 minutes",
    "GUARDED": "10/day",
    "WORKSPACE": "1000/hour",
}
GUARD_HOURS = 24
ALERT_EVERY = parse("1/6 hours")


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
    """Per key and address, per key: only the key's holder can spend them (no workspace-wide
    budget, so strangers' guessing can never refuse the operator's server)."""
    return [
        Scope("CLIENT", ("guess-client", str(key_id), address)),
        Scope("KEY", ("guess-key", str(key_id))),
    ]


def staff_scopes(*, member_id: int, address: str) -> list[Scope]:
    """For a code typed by staff at the desk (an order's page): per member and address, per
    member, with the API's budgets: only that member can spend them."""
    return [
        Scope("CLIENT", ("guess-staff-client", str(member_id), address)),
        Scope("KEY", ("guess-staff", str(member_id))),
    ]


def host(address: str) -> str:
    """What counts as one client: the address, or for IPv6 its /64 (one host's allocation)."""
    ip = _ip(address)
    if ip is None or ip.version == 4:
        return str(ip or address)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def network(address: str) -> str:
    """The network an address belongs to: its /24 (IPv4) or /56 (IPv6, a typical customer site)."""
    ip = _ip(address)
    if ip is None:
        return address
    return str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 56}", strict=False))


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return ip.ipv4_mapped or ip if ip.version == 6 else ip


def widget_scopes(*, widget_session_id: int | str, address: str, workspace_id: int,
                  guarded: bool = False) -> list[Scope]:
    """For the redemption widget: per widget session, per browser address and per its network,
    in this workspace; `guarded` (guessing detected) adds the tight daily budget per address."""
    ws = str(workspace_id)
    scopes = [
        Scope("WIDGET", ("guess-widget", str(widget_session_id))),
        Scope("ADDRESS", ("guess-address", ws, host(address))),
        Scope("NETWORK", ("guess-network", ws, network(address))),
    ]
    if guarded:
        scopes.append(Scope("GUARDED", ("guess-guarded", ws, host(address))))
    return scopes


def _refusal(scopes: list[Scope], which: list[int]) -> RateLimited:
    limiter = ratelimit.limiter()
    wait = 1
    for index in which:
        scope = scopes[index]
        stats = limiter.get_window_stats(scope.item, *scope.identifiers)
        wait = max(wait, int(stats.reset_time - time.time()) + 1)
        metrics.guess_refused(scope.name)
        log.warning("code guessing budget %s spent for %s", scope.name, "/".join(scope.identifiers[1:]))
    return RateLimited(f"Too many invalid codes were tried. Try again in {wait_phrase(wait)}.", retry_after=wait)


def check(scopes: list[Scope]) -> None:
    """Raise RateLimited if any budget is spent. Counts nothing."""
    spent = ratelimit.spent([(scope.item, scope.identifiers) for scope in scopes])
    which = [index for index, full in enumerate(spent) if full]
    if which:
        raise _refusal(scopes, which)


def count_failure(scopes: list[Scope], raw_code: str | None) -> None:
    """Spend one unit of every budget for an attempt that got `invalid_code`."""
    limiter = ratelimit.limiter()
    for scope in scopes:
        limiter.hit(scope.item, *scope.identifiers)
    _log_failure(scopes, raw_code)


def _log_failure(scopes: list[Scope], raw_code: str | None) -> None:
    log.info("invalid code %s tried (%s)", describe_code(raw_code),
             ", ".join("/".join(s.identifiers[1:]) for s in scopes[:1]))


@dataclass
class Attempt:
    """One code look-up that has taken its units: `invalid()` keeps them, else they go back."""

    scopes: list[Scope]
    taken: ratelimit.Taken
    raw_code: str | None = None
    kept: bool = field(default=False)

    def invalid(self) -> None:
        if not self.kept:
            self.kept = True
            _log_failure(self.scopes, self.raw_code)

    def settle(self) -> None:
        if not self.kept:
            ratelimit.give_back(self.taken)


def spend(scopes: list[Scope], raw_code: str | None = None) -> Attempt:
    """Take one unit of every budget, or raise RateLimited taking none."""
    try:
        taken = ratelimit.take([(scope.item, scope.identifiers) for scope in scopes])
    except ratelimit.Refused as refused:
        raise _refusal(scopes, refused.which) from None
    return Attempt(scopes, taken, raw_code)


@contextmanager
def attempting(scopes: list[Scope], raw_code: str | None) -> Iterator[Attempt]:
    """Spend before the look-up in the block; keep the units if it raised InvalidCode (or
    called `invalid()`), give them back otherwise."""
    attempt = spend(scopes, raw_code)
    try:
        yield attempt
    except InvalidCode:
        attempt.invalid()
        raise
    finally:
        attempt.settle()


def guarded(scopes: list[Scope], raw_code: str | None, attempt: Callable[[], T]) -> T:
    """Spend the budgets, run `attempt` (which looks the code up), keep them if the code was invalid.

    `throttle.guarded(throttle.widget_scopes(...), code, lambda: redemption.preview(...))`.
    """
    with attempting(scopes, raw_code):
        return attempt()


def widget_failure_crossed_threshold(workspace_id: int) -> bool:
    """Count a widget failure workspace-wide (refusing nobody); True when the count is past
    the WORKSPACE threshold and staff have not been alerted in the last ALERT_EVERY."""
    limiter = ratelimit.limiter()
    if limiter.hit(budget("WORKSPACE"), "guess-ws", str(workspace_id)):
        return False
    return limiter.hit(ALERT_EVERY, "guess-alert", str(workspace_id))


def describe_code(raw_code: str | None) -> str:
    """What a log line may say about a code: masked, never in full."""
    code = normalize_code(raw_code)
    return mask_code(code) if code else "(malformed)"


