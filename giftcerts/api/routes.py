"""Every Starlette route of the app, mounted into Reflex through `api_transformer`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from itertools import groupby

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from giftcerts.api import docs, openapi
from giftcerts.api.dispatch import endpoint
from giftcerts.api.errors import MethodNotAllowed, error_response
from giftcerts.api.operations import OPERATIONS, V1
from giftcerts.core.errors import NotFound, NotSignedIn
from giftcerts.ops import metrics, readiness

# Routes answer every method themselves, so a wrong one gets a JSON 405 (with Allow), not plain text.
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def _get_only(produce: Callable[[Request], Response]) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return error_response(MethodNotAllowed(["GET"]))
        return produce(request)

    return handle


def _health(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _ready(request: Request) -> Response:
    """Readiness for a load balancer: 200 while the database (and Redis, when configured)
    answer; 503 naming what does not."""
    if request.method not in ("GET", "HEAD"):
        return error_response(MethodNotAllowed(["GET"]))
    results = await readiness.checks()
    if readiness.ready(results):
        return JSONResponse({"status": "ready", "checks": results}, headers={"Cache-Control": "no-store"})
    down = ", ".join(name for name, state in results.items() if state not in (readiness.OK, "not configured"))
    body = {"status": "unavailable", "checks": results,
            "error": {"code": "unavailable", "message": f"Not ready: {down} not answering."}}
    return JSONResponse(body, status_code=503, headers={"Cache-Control": "no-store", "Retry-After": "5"})


async def _metrics(request: Request) -> Response:
    """Prometheus metrics for the operator's monitoring, behind its own token; without one
    configured the path does not exist."""
    if metrics.token() is None:
        return await _unknown(request)
    if request.method not in ("GET", "HEAD"):
        return error_response(MethodNotAllowed(["GET"]))
    if not metrics.authorised(request.headers.get("authorization")):
        return error_response(NotSignedIn("Send the metrics token (GIFTCERTS_METRICS_TOKEN) as "
                                          "`Authorization: Bearer ...`."))
    body, content_type = await anyio.to_thread.run_sync(metrics.scrape)
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


def _openapi(_request: Request) -> Response:
    return JSONResponse(openapi.document())


def _docs(_request: Request) -> Response:
    return HTMLResponse(docs.render(), headers={"Content-Security-Policy": "default-src 'none'; "
                                                "style-src 'unsafe-inline'; frame-ancestors 'none'"})


async def _unknown(_request: Request) -> Response:
    return error_response(NotFound("There is no such API endpoint. See /api/v1/docs."))


def routes() -> list[Route]:
    ordered = sorted(OPERATIONS, key=lambda op: op.path)
    api = [Route(path, endpoint(list(ops)), methods=ANY_METHOD)
           for path, ops in groupby(ordered, key=lambda op: op.path)]
    return [
        Route(f"{V1}/health", _get_only(_health), methods=ANY_METHOD),
        Route(f"{V1}/ready", _ready, methods=ANY_METHOD),
        Route(f"{V1}/metrics", _metrics, methods=ANY_METHOD),
        Route(f"{V1}/openapi.json", _get_only(_openapi), methods=ANY_METHOD),
        Route(f"{V1}/docs", _get_only(_docs), methods=ANY_METHOD),
        *api,
        Route(V1 + "/{rest:path}", _unknown, methods=ANY_METHOD),
    ]
