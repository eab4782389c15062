"""POST /webhooks/stripe: Stripe's events, verified on the raw body.

400 for anything not signed with STRIPE_WEBHOOK_SECRET within the tolerance (bad signature,
stale timestamp, malformed body): nothing changes. A verified event is acknowledged with 200
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
MAX_BODY = 512 * 1024
PATH = "/webhooks/stripe"


async def stripe_webhook(request: Request) -> Response:
    if request.method != "POST":
        return JSONResponse({"error": {"code": "method_not_allowed", "message": "Use POST."}}, status_code=405,
                            headers={"Allow": "POST"})
    body = await request.body()
    if len(body) > MAX_BODY:
        return JSONResponse({"error": {"code": "invalid_event", "message": "Body too large."}}, status_code=400)
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


def routes() -> list[Route]:
    return [Route(PATH, stripe_webhook, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
