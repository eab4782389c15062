"""A socket.io client that plays one browser tab of the Reflex app: the attacks and races that
must be tested at the websocket, not only in the page."""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import urlencode

import socketio
from reflex.state import State

from giftcerts.web.sessions import SESSION_COOKIE

NAMESPACE = "/_event"  # Reflex's event namespace, served at the same path


class Tab:
    """One browser tab: a Reflex client token kept across page loads (sessionStorage)."""

    def __init__(self, base: str):
        self.base = base
        self.token = secrets.token_hex(16)

    async def load(self, path: str, *, session: str | None, query: dict | None = None,
                   then: list[tuple[str, dict]] = ()) -> list[dict]:
        """A page load: connect with the page's cookies, hydrate, run `then`; every frame received."""
        await self.open(path, session=session, query=query)
        try:
            for name, payload in then:
                await self.emit(name, payload)
                await self.settle()
        finally:
            await self.close()
        return self.frames

    async def open(self, path: str, *, session: str | None = None, query: dict | None = None) -> None:
        """Connect (with the session cookie, if any) and hydrate `path`; frames are kept in `frames`."""
        self.frames: list[dict] = []
        self._last = [asyncio.get_running_loop().time()]
        self._client = socketio.AsyncClient(reconnection=False)

        @self._client.on("event", namespace=NAMESPACE)
        async def _frame(data):
            self.frames.append(data)
            self._last[0] = asyncio.get_running_loop().time()

        headers = {"Origin": self.base}
        if session:
            headers["Cookie"] = f"{SESSION_COOKIE}={session}"
        await self._client.connect(f"{self.base}?token={self.token}", namespaces=[NAMESPACE],
                                   socketio_path="/_event", transports=["websocket"], headers=headers)
        as_path = f"{path}?{urlencode(query)}" if query else path  # the URL the page reads its query from
        self._router = {"pathname": path, "asPath": as_path, "query": query or {}}
        await self.emit(f"{State.get_full_name()}.hydrate_and_load", {})
        await self.settle()

    async def emit(self, name: str, payload: dict) -> None:
        await self._client.emit("event", {"name": name, "payload": payload, "router_data": self._router},
                                namespace=NAMESPACE)

    async def settle(self, quiet: float = 1.5, limit: float = 20) -> None:
        """Until no frame has come for `quiet` seconds (or `limit` passed)."""
        await self._settle(self._last, quiet, limit)

    async def close(self) -> None:
        await self._client.disconnect()

    @staticmethod
    async def _settle(last: list[float], quiet: float = 1.5, limit: float = 20) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(0.3)
        while loop.time() - last[0] < quiet and loop.time() - start < limit:
            await asyncio.sleep(0.1)


