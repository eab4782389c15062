"""POST /webhooks/stripe: Stripe's events, verified on the raw body.

400 for anything not signed with STRIPE_WEBHOOK_SECRET within the tolerance (bad signature,
stale timestamp, malformed body, nested deeper than giftcerts.jsonbody allows), 413 for a body
over MAX_BODY: nothing changes. A verified event is acknowledged with 200
once handled, including events about PaymentIntents that are not ours (ignored); a failure
while handling answers 500 so that Stripe delivers the event again later.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from giftcerts.payments import checkout, gateway

log = logging.getLogger(__name__)
MAX_BODY = gateway.MAX_WEBHOOK_BODY
PATH = "/webhooks/stripe"


async def stripe_webhook(request: Request) -> Response:
    if request.method != "POST":
        return JSONResponse({"error": {"code": "method_not_allowed", "message": "Use POST."}}, status_code=405,
                            headers={"Allow": "POST"})
    body = await _read_body(request)
    if body is None:
        return JSONResponse({"error": {"code": "payload_too_large",
                                       "message": f"The request body must be at most {MAX_BODY // 1024} KB."}},
                            status_code=413)
    try:
        event = gateway.verify_webhook(body, request.headers.get("stripe-signature"))
    except ValueError as exc:
        log.warning("rejected a Stripe webhook: %s", exc)
        return JSONResponse({"error": {"code": "invalid_event", "message": "Invalid or unsigned event."}},
                            status_code=400)
    try:
        outcome = await run_in_threadpool(checkout.handle_event, event)
    except Exception:  # noqa: BLE001  (Stripe retries: better a 500 now than an event lost)
        log.exception("handling Stripe event %s failed", event.id)
        return JSONResponse({"error": {"code": "retry", "message": "Could not process the event now."}},
                            status_code=500)
    return JSONResponse({"received": True, "outcome": outcome})


async def _read_body(request: Request) -> bytes | None:
    """The body, or None once it is over MAX_BODY (counted while reading, not buffered whole)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def routes() -> list[Route]:
    return [Route(PATH, stripe_webhook, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
