"""The OpenAPI 3.1 document, generated from the operations and their pydantic models, so it
describes exactly what the dispatcher validates and what the handlers return."""

from __future__ import annotations

import copy
from functools import lru_cache

from pydantic.json_schema import models_json_schema

from giftcerts import config
from giftcerts.api import schemas
from giftcerts.api.errors import CATALOGUE
from giftcerts.api.idempotency import HEADER, KEY_PATTERN, MAX_KEY_LENGTH
from giftcerts.api.operations import OPERATIONS, Operation
from giftcerts.core import webhooks
from giftcerts.web.throttle import DEFAULTS

REF = "#/components/schemas/{model}"
TITLE = "giftcerts API"
VERSION = "1.0.0"

DESCRIPTION = f"""Gift certificates for your booking platform: create orders, check and redeem
certificate codes at checkout, release them when a booking is cancelled, and issue, find,
void or reactivate certificates.

**Authentication.** Every request carries a workspace API key:
`Authorization: Bearer gc_live_...`. The key decides the workspace; ids and codes of other
workspaces are simply not found.

**Errors** are `{{"error": {{"code": "...", "message": "..."}}}}` with a fitting HTTP status;
`message` is safe to show to your customer. Validation errors add `fields`.

**Idempotency.** Send an `{HEADER}` header (up to {MAX_KEY_LENGTH} characters, e.g. a UUID)
with any POST. A retry with the same key and the same body gets the first response again,
byte for byte, with the header `Idempotent-Replayed: true`, and is never applied twice; the
same key with a different body is refused with `idempotency_key_reused`.

**Code guessing** is throttled: answers `invalid_code` are counted per API key and client
address ({DEFAULTS["CLIENT"]}) and per key ({DEFAULTS["KEY"]}). Past a budget, code look-ups
get 429 `rate_limited` with a `Retry-After` header until the window frees up. Every look-up
holds one unit of each budget while it runs (valid codes give it back), so concurrent guesses
cannot exceed a budget; keep fewer look-ups in flight per key and address than its budget.
Only your key can spend these budgets: guessing by strangers in the redemption widget (which
has budgets per widget session, address and network of its own) never refuses your API calls.
Widget failures past {DEFAULTS["WORKSPACE"]} in a workspace alert its staff and tighten the
widget to {DEFAULTS["GUARDED"]} per address for a day instead. The arithmetic: codes have 60
random bits; with 100,000 live codes a guess succeeds with p ≈ 8.7e-14, so even 1,000,000
addresses × 10 guesses a day (3.65e9 a year) expect ≈ 3e-4 hits a year.

**Money** is an integer number of minor units (`2500` = 25.00 USD) plus an ISO 4217 currency.
"""


def common_errors(op: Operation) -> list[str]:
    """Errors every operation of this kind can give, besides its own."""
    codes = ["unauthenticated"]
    if op.body is not None:
        codes += ["invalid_json", "validation_error", "payload_too_large"]
    if op.query is not None:
        codes.append("validation_error")
    if op.method == "POST":
        codes.append("idempotency_key_reused")
    if op.path_params:
        codes.append("not_found")
    if op.guesses_codes:
        codes += ["rate_limited", "unavailable"]
    return list(dict.fromkeys(codes + list(op.errors)))


def errors_by_status(op: Operation) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = {}
    for code in common_errors(op):
        grouped.setdefault(CATALOGUE[code][0], []).append(code)
    return dict(sorted(grouped.items()))


def _no_null(schema: dict) -> dict:
    """`X | None` query parameters are simply optional: drop the null branch."""
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if len(options) == 1:
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**options[0], **rest}
    return schema


@lru_cache(maxsize=1)
def _components() -> tuple[dict, dict]:
    requests = {m for op in OPERATIONS for m in (op.body,) if m is not None}
    responses = {op.response for op in OPERATIONS} | {schemas.Error}
    keys = [(m, "validation") for m in sorted(requests, key=lambda m: m.__name__)]
    keys += [(m, "serialization") for m in sorted(responses, key=lambda m: m.__name__)]
    refs, defs = models_json_schema(keys, ref_template=REF)
    return {k: v for k, v in refs.items()}, defs.get("$defs", {})


def _operation(op: Operation, refs: dict) -> dict:
    parameters = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "integer", "minimum": 1, "maximum": schemas.INT32_MAX}}
        for name in op.path_params
    ]
    if op.query is not None:
        query_schema = op.query.model_json_schema()
        for name, prop in query_schema["properties"].items():
            prop = _no_null(prop)
            if prop.get("default", 0) is None:
                del prop["default"]
            parameters.append({"name": name, "in": "query", "required": False,
                               "description": prop.pop("description", ""), "schema": prop})
    if op.method == "POST":
        parameters.append({
            "name": HEADER, "in": "header", "required": False,
            "description": "Makes retries safe: the first response is replayed for the same key and body.",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN},
        })
    responses: dict[str, dict] = {
        str(op.status): {"description": "Success",
                         "content": {"application/json": {"schema": refs[(op.response, "serialization")]}}},
    }
    error_ref = refs[(schemas.Error, "serialization")]
    for status, codes in errors_by_status(op).items():
        response = {"description": " ".join(f"`{c}`: {CATALOGUE[c][1]}" for c in codes),
                    "content": {"application/json": {"schema": error_ref}}}
        if status in (429, 503):
            response["headers"] = {"Retry-After": {"description": "Seconds to wait.", "required": True,
                                                   "schema": {"type": "integer", "minimum": 1}}}
        responses[str(status)] = response
    spec = {"operationId": op.name, "summary": op.summary, "description": op.description,
            "parameters": parameters, "responses": responses}
    if op.body is not None:
        spec["requestBody"] = {
            "required": op.body is not schemas.NoBody,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    return spec


WEBHOOK_EVENT_SCHEMA = {
    "type": "object",
    "required": ["id", "type", "created", "data"],
    "properties": {
        "id": {"type": "string", "description": "The event's stable id: the same on every retry and for every "
                                                  "endpoint. Receivers may see an event twice and events out of "
                                                  "order: keep the ids you processed."},
        "type": {"type": "string", "enum": list(webhooks.EVENTS)},
        "created": {"type": "string", "format": "date-time", "description": "When the change happened (UTC)."},
        "data": {"type": "object", "required": ["object"], "properties": {"object": {
            "type": "object", "description": "The certificate (code masked), the redemption with its certificate "
                                             "and order, or the order, as of the event."}}},
    },
}
WEBHOOK_DESCRIPTION = (
    "Sent as a JSON POST to each endpoint you added in the dashboard (Webhooks) for the events it subscribed to. "
    "Verify `GiftCerts-Signature: t=<unix seconds>,v1=<hex>`: compute HMAC-SHA256 of `<t>.<raw body>` with the "
    "endpoint's signing secret, compare in constant time, and refuse a `t` more than 5 minutes off. Answer 2xx "
    "within 10 seconds; anything else, a timeout or a redirect (never followed) is retried with backoff for at "
    "least 24 hours.")


def _webhooks() -> dict:
    return {event: {"post": {
        "summary": summary,
        "description": WEBHOOK_DESCRIPTION,
        "parameters": [{"name": webhooks.SIGNATURE_HEADER, "in": "header", "required": True,
                        "schema": {"type": "string", "pattern": "^t=[0-9]+,v1=[0-9a-f]{64}$"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": REF.format(
            model="WebhookEvent")}}}},
        "responses": {"200": {"description": "Any 2xx: received."}},
    }} for event, summary in webhooks.EVENTS.items()}


@lru_cache(maxsize=1)
def _document() -> dict:
    refs, defs = _components()
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "paths": paths,
        "webhooks": _webhooks(),
        "components": {
            "schemas": {**defs, "WebhookEvent": WEBHOOK_EVENT_SCHEMA},
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "A workspace API key, gc_live_..."}},
        },
        "security": [{"apiKey": []}],
    }


def document() -> dict:
    doc = copy.deepcopy(_document())
    doc["servers"] = [{"url": config.public_url()}]
    return doc
