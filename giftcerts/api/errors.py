"""Every API error is `{"error": {"code", "message"}}` (+ "fields" for validation errors).

Domain errors from `giftcerts.core` carry their own stable `code` and `http_status`; the
few errors that only exist at the HTTP edge (malformed JSON, oversized bodies, a reused
idempotency key, a wrong method) are defined here the same way, so one function turns
any of them into a response.
"""

from __future__ import annotations

import json

from starlette.responses import Response

from giftcerts.core.errors import (
    CertificateExpired,
    Conflict,
    CurrencyMismatch,
    DomainError,
    ExceedsOrderTotal,
    InvalidCode,
    InvalidTransition,
    NotFound,
    NotSignedIn,
    RateLimited,
    ValidationError,
)

JSON = "application/json"


class InvalidJson(DomainError):
    code = "invalid_json"
    http_status = 400

    def __init__(self, message: str = "The request body is not valid JSON."):
        super().__init__(message)


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    http_status = 413


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    http_status = 422

    def __init__(self):
        super().__init__("This Idempotency-Key was already used with a different request. "
                         "Use a new key for a new request.")


class MethodNotAllowed(DomainError):
    code = "method_not_allowed"
    http_status = 405

    def __init__(self, allowed: list[str]):
        super().__init__(f"This endpoint accepts {', '.join(allowed)}.")
        self.allowed = allowed


class Unauthenticated(NotSignedIn):
    def __init__(self):
        super().__init__("Send a valid API key as `Authorization: Bearer gc_live_...`.")


class InternalError(DomainError):
    code = "internal_error"
    http_status = 500

    def __init__(self):
        super().__init__("Something went wrong on our side. The request was not applied; try again.")


class ServiceUnavailable(DomainError):
    """The store that keeps the guessing budgets (Redis) is not answering: code look-ups are refused
    rather than let through uncounted."""

    code = "unavailable"
    http_status = 503
    retry_after = 5

    def __init__(self):
        super().__init__("The service is briefly unavailable. The request was not applied; try again in a few seconds.")


# The catalogue the docs and the OpenAPI document are generated from: code -> (status, meaning).
CATALOGUE: dict[str, tuple[int, str]] = {
    cls.code: (cls.http_status, meaning)
    for cls, meaning in [
        (Unauthenticated, "No API key, or an unknown or revoked one."),
        (InvalidJson, "The body is not JSON, or nests arrays and objects more than 32 levels deep."),
        (ValidationError, "A field is missing, has the wrong type, is unknown, or breaks a rule; "
                          "`fields` names each one."),
        (PayloadTooLarge, "The body is larger than 64 KB."),
        (IdempotencyKeyReused, "The Idempotency-Key was used before with a different request."),
        (NotFound, "No such order, certificate or redemption in your workspace."),
        (InvalidCode, "Unknown or malformed code (another workspace's code gets the same answer)."),
        (InvalidTransition, "The certificate (or order, or redemption) is not in a state that allows this."),
        (CertificateExpired, "The certificate has passed its expiry date."),
        (ExceedsOrderTotal, "The certificate is worth more than the order still owes; it must be used in full."),
        (CurrencyMismatch, "The certificate and the order are in different currencies."),
        (Conflict, "The request conflicts with existing data, e.g. a reused order reference."),
        (RateLimited, "Too many failed code attempts; wait for the number of seconds in Retry-After."),
        (MethodNotAllowed, "The path exists but not with this method (see the Allow header)."),
        (ServiceUnavailable, "A store the request depends on is not answering; nothing was applied. "
                             "Retry after the seconds in Retry-After."),
    ]
}


def error_body(exc: DomainError, *, field_aliases: dict[str, str] | None = None) -> dict:
    error: dict = {"code": exc.code, "message": exc.message}
    if isinstance(exc, ValidationError):
        aliases = field_aliases or {}
        error["fields"] = {aliases.get(name, name): message for name, message in exc.errors.items()}
    return {"error": error}


def error_headers(exc: DomainError) -> dict[str, str]:
    if isinstance(exc, (RateLimited, ServiceUnavailable)):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, NotSignedIn):
        return {"WWW-Authenticate": 'Bearer realm="giftcerts"'}
    if isinstance(exc, MethodNotAllowed):
        return {"Allow": ", ".join(exc.allowed)}
    return {}


def dumps(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def error_response(exc: DomainError, *, field_aliases: dict[str, str] | None = None) -> Response:
    return Response(dumps(error_body(exc, field_aliases=field_aliases)), status_code=exc.http_status,
                    media_type=JSON, headers=error_headers(exc))
