"""Who may frame our pages: `Content-Security-Policy: frame-ancestors` on every response.

Reflex 0.10 in production serves the built pages from the backend's own Starlette app (a
static mount), and `rx.App(api_transformer=...)` accepts plain callables that wrap that
ASGI app. Under /widget only the origins the widget session's workspace allows
(Workspace.embed_origins) may frame the page, so no other site can overlay or clickjack a
customer's checkout. Everything else (dashboard, portal, PDFs, API docs) may be framed
only by our own origin, so no site can hide a Void button or a payment form under a decoy.
In development (`reflex run` without --env prod) pages come from the Vite dev server
instead, which this cannot reach.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import anyio
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from giftcerts import db
from giftcerts.core import widget
from giftcerts.web import routes

WIDGET_PREFIX = routes.WIDGET.rsplit("/", 1)[0]  # "/widget"
SAME_ORIGIN = "frame-ancestors 'self'"


def _policy(token: str) -> str:
    with db.read_session() as session:
        return "frame-ancestors " + widget.frame_ancestors(session, token)


def _same_origin_only(message: Message) -> None:
    headers = MutableHeaders(scope=message)
    own = headers.get("Content-Security-Policy")
    if own is None:
        headers["Content-Security-Policy"] = SAME_ORIGIN
    elif "frame-ancestors" not in own:
        headers["Content-Security-Policy"] = f"{own}; {SAME_ORIGIN}"
    headers["X-Frame-Options"] = "SAMEORIGIN"  # for browsers that predate frame-ancestors
    headers.setdefault("X-Content-Type-Options", "nosniff")


def frame_ancestors(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        path = scope.get("path", "")
        if not (path == WIDGET_PREFIX or path.startswith(WIDGET_PREFIX + "/")):
            async def send_same_origin_only(message: Message) -> None:
                if message["type"] == "http.response.start":
                    _same_origin_only(message)
                await send(message)

            await app(scope, receive, send_same_origin_only)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = (query.get("session") or [""])[0]
        policy = await anyio.to_thread.run_sync(_policy, token)

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = policy
                headers["Cache-Control"] = "no-store"
                headers.setdefault("X-Content-Type-Options", "nosniff")
            await send(message)

        await app(scope, receive, send_with_policy)

    return middleware
