"""`Content-Security-Policy: frame-ancestors` for the redemption widget.

Reflex 0.10 in production serves the built pages from the backend's own Starlette app (a
static mount), and `rx.App(api_transformer=...)` accepts plain callables that wrap that
ASGI app. This wrapper adds the header to every response under /widget: only the origins
the widget session's workspace allows (Workspace.embed_origins) may frame it, so no other
site can overlay or clickjack a customer's checkout. In development (`reflex run` without
--env prod) pages come from the Vite dev server instead, which this cannot reach.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import anyio
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from giftcerts import db
from giftcerts.core import widget
from giftcerts.ui import routes

WIDGET_PREFIX = routes.WIDGET.rsplit("/", 1)[0]  # "/widget"


def _policy(token: str) -> str:
    with db.read_session() as session:
        return "frame-ancestors " + widget.frame_ancestors(session, token)


def frame_ancestors(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == WIDGET_PREFIX or path.startswith(WIDGET_PREFIX + "/")):
            await app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = (query.get("session") or [""])[0]
        policy = await anyio.to_thread.run_sync(_policy, token)

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = policy
                headers["Cache-Control"] = "no-store"
            await send(message)

        await app(scope, receive, send_with_policy)

    return middleware
