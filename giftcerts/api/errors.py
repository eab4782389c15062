"""Every API error is `{"error": {"code", "message"}}` (+ "fields" for validation errors).

Domain errors from `giftcerts.core` carry their own stable `code`; which HTTP status each
code is answered with is decided here (`STATUS`), so core says what went wrong and only the
API knows HTTP. The few errors that only exist at the HTTP edge (malformed JSON, oversized
bodies, a reused idempotency key, a wrong method) are defined here as domain errors too, so
one function turns any of them into a response.
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
    PermissionDenied,
    RateLimited,
    ValidationError,
)
from giftcerts.core.certificate_types import NotEligible
from giftcerts.core.purchases import PaymentMismatch, PortalUnavailable
from giftcerts.core.widget import WidgetSessionExpired
from giftcerts.payments.checkout import RefundFailed

JSON = "application/json"


class InvalidJson(DomainError):
    code = "invalid_json"

    def __init__(self, message: str = "The request body is not valid JSON."):
        super().__init__(message)


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"

    def __init__(self):
        super().__init__("This Idempotency-Key was already used with a different request. "
                         "Use a new key for a new request.")


class MethodNotAllowed(DomainError):
    code = "method_not_allowed"

    def __init__(self, allowed: list[str]):
        super().__init__(f"This endpoint accepts {', '.join(allowed)}.")
        self.allowed = allowed


class Unauthenticated(NotSignedIn):
    def __init__(self):
        super().__init__("Send a valid API key as `Authorization: Bearer gc_live_...`.")


class InternalError(DomainError):
    code = "internal_error"

    def __init__(self):
        super().__init__("Something went wrong on our side. The request was not applied; try again.")


class ServiceUnavailable(DomainError):
    """The store that keeps the guessing budgets (Redis) is not answering: code look-ups are refused
    rather than let through uncounted."""

    code = "unavailable"
    retry_after = 5

    def __init__(self):
        super().__init__("The service is briefly unavailable. The request was not applied; try again in a few seconds.")


class DatabaseUnavailable(ServiceUnavailable):
    """The database went away mid-request (a restart, a failover, connections cut): the pool
    reconnects on the next request. The transaction did not commit, unless it failed while
    committing, which a retry with the same Idempotency-Key tells apart."""

    def __init__(self):
        DomainError.__init__(self, "The service is briefly unavailable. Try again in a few seconds with the same "
                                   "Idempotency-Key: the request is applied once at most.")


# The HTTP status each error code is answered with; a code not listed is a 400.
STATUS: dict[str, int] = {
    DomainError.code: 400,
    ValidationError.code: 422,
    NotFound.code: 404,
    InvalidCode.code: 404,
    InvalidTransition.code: 409,
    CertificateExpired.code: 409,
    PermissionDenied.code: 403,
    NotSignedIn.code: 401,
    RateLimited.code: 429,
    ExceedsOrderTotal.code: 409,
    CurrencyMismatch.code: 409,
    Conflict.code: 409,
    NotEligible.code: 403,
    PortalUnavailable.code: 403,
    PaymentMismatch.code: 409,
    WidgetSessionExpired.code: 401,
    RefundFailed.code: 502,
    InvalidJson.code: 400,
    PayloadTooLarge.code: 413,
    IdempotencyKeyReused.code: 422,
    MethodNotAllowed.code: 405,
    InternalError.code: 500,
    ServiceUnavailable.code: 503,
}


def http_status(exc: DomainError) -> int:
    return STATUS.get(exc.code, STATUS[DomainError.code])


# The catalogue the docs and the OpenAPI document are generated from: code -> (status, meaning).
CATALOGUE: dict[str, tuple[int, str]] = {
    cls.code: (STATUS[cls.code], meaning)
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
    return Response(dumps(error_body(exc, field_aliases=field_aliases)), status_code=http_status(exc),
                    media_type=JSON, headers=error_headers(exc))
