"""What a browser tab may still be sent once the session behind it changes.

Reflex keeps every page state of a tab under the tab's own token (sessionStorage), which
outlives a sign-out, and sends the whole state tree again on every hydration. Clearing the
signed-in member's fields is therefore not enough. Before any event is handled, this
middleware compares the staff session the tab's states were filled for with the one its
websocket connected with (the HttpOnly cookie of the handshake). When they differ (signed
out, another member signed in on the same tab) or the session has ended, every dashboard
page state is reset before anything is sent.

Secrets that a view shows once (a new API key, a full code, the portal's confirmation) are
also forgotten as soon as the tab is on another page: a state lists them in
`one_view_secrets` and names its page in `one_view_route`.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

from reflex.middleware import Middleware
from reflex.state import BaseState, State

from giftcerts import db
from giftcerts.web.sessions import token_from_cookies
from giftcerts.core import accounts
from giftcerts.core.tokens import hash_token
from giftcerts.ui.auth_state import AuthState

_HYDRATE_HANDLERS = ("hydrate", "hydrate_and_load")


@lru_cache(maxsize=1)
def _hydrate_event_names() -> frozenset[str]:
    return frozenset(f"{State.get_full_name()}.{name}" for name in _HYDRATE_HANDLERS)


def _descendants(cls: type[BaseState]) -> list[type[BaseState]]:
    found, todo = [], list(cls.get_substates())
    while todo:
        sub = todo.pop()
        found.append(sub)
        todo.extend(sub.get_substates())
    return found


def session_fingerprint(cookie_header: str) -> str:
    """Which staff session a cookie header carries ("" for none), without keeping the token."""
    token = token_from_cookies(cookie_header)
    return hash_token(token) if token else ""


def _session_is_live(cookie_header: str) -> bool:
    with db.read_session() as session:
        return accounts.resolve_session(session, token_from_cookies(cookie_header)) is not None


def _loaded(root: BaseState, cls: type[BaseState]) -> BaseState | None:
    """The tab's instance of `cls` if it is in memory now (never loads one just to look)."""
    node = root
    for name in cls.get_full_name().split(".")[1:]:
        node = node.substates.get(name)
        if node is None:
            return None
    return node


async def reset_dashboard_states(root: BaseState) -> None:
    """Every dashboard page state back to its defaults, loaded or not (Redis keeps the rest)."""
    auth = await root.get_state(AuthState)
    for cls in _descendants(AuthState):
        await root.get_state(cls)  # a state manager on Redis loads only what an event needs
    auth.reset()


def forget_secrets_off_view(root: BaseState, page: str) -> None:
    """Clear what a page showed once when the tab is now on another page."""
    for cls in _one_view_states():
        if cls.one_view_route == page:
            continue
        instance = _loaded(root, cls)
        if instance is None:
            continue
        for name in cls.one_view_secrets:
            default = cls.__fields__[name].default_value()
            if getattr(instance, name) != default:
                setattr(instance, name, default)


@lru_cache(maxsize=1)
def _one_view_states() -> tuple[type[BaseState], ...]:
    return tuple(cls for cls in _descendants(State) if getattr(cls, "one_view_secrets", ()))


class SessionBoundary(Middleware):
    """Runs before every event, the hydration included (added first in giftcerts.giftcerts)."""

    async def preprocess(self, app, state: BaseState, event):
        root = state._get_root_state()
        hydrating = event.name in _hydrate_event_names()
        if hydrating or event.name.startswith(AuthState.get_full_name() + "."):
            cookie = root.router_data.get("headers", {}).get("cookie", "")
            fingerprint = session_fingerprint(cookie)
            auth = await root.get_state(AuthState)
            # A page load asks the database as well: a session can end with the same cookie.
            ended = hydrating and bool(fingerprint) and not await asyncio.to_thread(_session_is_live, cookie)
            if auth._session_fingerprint != fingerprint or ended:
                await reset_dashboard_states(root)
                auth._session_fingerprint = "" if ended else fingerprint
        forget_secrets_off_view(root, str(root.router_data.get("pathname", "")))
        return None
