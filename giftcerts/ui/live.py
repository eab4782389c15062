"""Live pages: new sales, redemptions and voids show up on an open page within seconds.

Each open page runs one background task (`start_live`, started when the page mounts,
stopped when it unmounts, when the browser disconnects, or after MAX_LIFETIME). Every
POLL_SECONDS it reads one cheap "change marker" per workspace — the newest activity id
(`reports.change_marker`, one index probe), shared by every page of that workspace in this
process for MARKER_TTL seconds — and only when the marker has moved does the page re-run its
own queries. Every state change of a certificate writes an activity row in the same
transaction, so an unchanged marker means unchanged figures.
"""

from __future__ import annotations

import asyncio
import threading
import time

import reflex as rx

from giftcerts import config, db
from giftcerts.core import accounts, reports

POLL_SECONDS = 2.0
MARKER_TTL = 1.0
MAX_LIFETIME = 8 * 3600  # a tab left open overnight stops polling; reloading starts it again

_markers: dict[tuple[str, int], tuple[float, int]] = {}
_markers_lock = threading.Lock()
_app: rx.App | None = None  # the running app, set by giftcerts.giftcerts (which imports the pages)


def serve(app: rx.App) -> None:
    """Called once the app is built: the tasks ask its websocket namespace who is connected."""
    global _app
    _app = app


def current_marker(workspace_id: int) -> int:
    """The workspace's change marker, read from the database at most once per MARKER_TTL."""
    key = (config.db_url(), workspace_id)
    now = time.monotonic()
    with _markers_lock:
        cached = _markers.get(key)
        if cached and now - cached[0] < MARKER_TTL:
            return cached[1]
    with db.read_session() as session:
        marker = reports.change_marker(session, workspace_id)
    with _markers_lock:
        _markers[key] = (time.monotonic(), marker)
    return marker


def _workspace_of(token: str) -> int | None:
    with db.read_session() as session:
        principal = accounts.resolve_session(session, token)
    return principal.workspace_id if principal else None


def _connected(client_token: str) -> bool:
    """Is the browser tab that started the task still connected to this server?"""
    if not client_token or _app is None:
        return False
    namespace = _app.event_namespace
    return namespace is not None and client_token in namespace.token_to_sid


class LiveRefresh(rx.State, mixin=True):
    """Mix into a page State next to AuthState; implement `_live_reload` (under the state lock it
    re-runs the page's own queries) and set `_live_marker` from `current_marker` when loading."""

    _live_generation: int = 0
    _live_marker: int = -1
    live: bool = False

    async def _live_reload(self):
        raise NotImplementedError

    def _remember_marker(self, workspace_id: int) -> None:
        """Call before the page's queries, so a change made while they run is not missed."""
        self._live_marker = current_marker(workspace_id)

    @rx.event
    def stop_live(self):
        self._live_generation += 1
        self.live = False

    @rx.event(background=True)
    async def start_live(self):
        # Outside the lock the state may only be read; nothing is written before the checks pass.
        client_token = self.router.session.client_token
        if not _connected(client_token):
            return
        workspace_id = await asyncio.to_thread(_workspace_of, self.session_token)
        if workspace_id is None:
            return
        async with self:
            self._live_generation += 1
            generation = self._live_generation
            self.live = True
        started = time.monotonic()
        while time.monotonic() - started < MAX_LIFETIME:
            await asyncio.sleep(POLL_SECONDS)
            if not _connected(client_token):
                break
            marker = await asyncio.to_thread(current_marker, workspace_id)
            async with self:
                if self._live_generation != generation:
                    return
                changed = marker != self._live_marker
            if changed:
                await self._live_reload()
        async with self:
            if self._live_generation == generation:
                self.live = False
