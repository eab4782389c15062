"""Domain errors: a stable machine code and a message safe to show to the user."""


class DomainError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(DomainError):
    code = "validation_error"
    http_status = 422

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        first_field, first_message = next(iter(errors.items()))
        super().__init__(first_message, field=first_field)


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class InvalidCode(DomainError):
    """Unknown, malformed or another workspace's code: one identical answer for all three."""

    code = "invalid_code"
    http_status = 404

    def __init__(self, message: str = "This code is not valid. Check it and try again."):
        super().__init__(message)


class InvalidTransition(DomainError):
    code = "not_active"
    http_status = 409


class CertificateExpired(DomainError):
    code = "expired"
    http_status = 409


class PermissionDenied(DomainError):
    code = "forbidden"
    http_status = 403


class NotSignedIn(DomainError):
    code = "unauthenticated"
    http_status = 401


class RateLimited(DomainError):
    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class ExceedsOrderTotal(DomainError):
    code = "exceeds_order_total"
    http_status = 409


class CurrencyMismatch(DomainError):
    code = "currency_mismatch"
    http_status = 409


class Conflict(DomainError):
    code = "conflict"
    http_status = 409
