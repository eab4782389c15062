"""Domain errors: a stable machine code and a message safe to show to the user."""


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(DomainError):
    code = "validation_error"

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        first_field, first_message = next(iter(errors.items()))
        super().__init__(first_message, field=first_field)


class NotFound(DomainError):
    code = "not_found"


class InvalidCode(DomainError):
    """Unknown, malformed or another workspace's code: one identical answer for all three."""

    code = "invalid_code"

    def __init__(self, message: str = "This code is not valid. Check it and try again."):
        super().__init__(message)


class InvalidTransition(DomainError):
    code = "not_active"


class CertificateExpired(DomainError):
    code = "expired"


class PermissionDenied(DomainError):
    code = "forbidden"


class NotSignedIn(DomainError):
    code = "unauthenticated"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class ExceedsOrderTotal(DomainError):
    code = "exceeds_order_total"


class CurrencyMismatch(DomainError):
    code = "currency_mismatch"


class Conflict(DomainError):
    code = "conflict"
