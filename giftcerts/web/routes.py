"""Every URL the UI links to, named once."""

from urllib.parse import quote, urlsplit

LOGIN = "/login"

# Dashboard (staff)
DASHBOARD = "/dashboard"
CERTIFICATES = "/dashboard/certificates"
NEW_CERTIFICATE = "/dashboard/certificates/new"
CERTIFICATE = "/dashboard/certificates/[cert_id]"
ORDERS = "/dashboard/orders"
ORDER = "/dashboard/orders/[order_id]"
EXPIRATIONS = "/dashboard/expirations"
CERTIFICATE_TYPES = "/dashboard/certificate-types"
SEGMENTS = "/dashboard/segments"
ACTIONS = "/dashboard/actions"
JOBS = "/dashboard/jobs"
SETTINGS = "/dashboard/settings"
API_KEYS = "/dashboard/settings/api-keys"
WEBHOOKS = "/dashboard/settings/webhooks"

# Public pages
PORTAL = "/portal/[workspace]"
PORTAL_CONFIRMATION = "/portal/[workspace]/confirmation"
WIDGET = "/widget/redeem"
DEMO_CHECKOUT = "/demo/checkout"


def certificate(cert_id: int | str) -> str:
    return f"{CERTIFICATES}/{cert_id}"


def order(order_id: int | str) -> str:
    return f"{ORDERS}/{order_id}"


def portal(slug: str) -> str:
    return f"/portal/{slug}"


def portal_confirmation(slug: str, token: str) -> str:
    return f"/portal/{slug}/confirmation?token={token}"


def login(return_to: str = "") -> str:
    """The sign-in page, coming back to `return_to` afterwards when it is a dashboard page."""
    target = after_sign_in(return_to)
    return LOGIN if target == DASHBOARD else f"{LOGIN}?next={quote(target, safe='/')}"


def after_sign_in(return_to: str | None) -> str:
    """Where signing in leads: the dashboard page the visitor came from, else the Overview.

    Only a path inside the dashboard is followed, so a crafted link cannot send someone who has
    just signed in to another site (`//evil.example`, `https:...`, `/\\evil`) or outside it."""
    value = (return_to or "").strip()
    parts = urlsplit(value)
    if (parts.scheme or parts.netloc or "\\" in value or not value.isprintable()
            or not (parts.path == DASHBOARD or parts.path.startswith(DASHBOARD + "/"))
            or any(segment in (".", "..") for segment in parts.path.split("/"))):
        return DASHBOARD
    return parts.path + (f"?{parts.query}" if parts.query else "")
