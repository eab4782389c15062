"""Every dashboard URL, named once."""

LOGIN = "/login"
DASHBOARD = "/dashboard"
CERTIFICATES = "/dashboard/certificates"
NEW_CERTIFICATE = "/dashboard/certificates/new"
CERTIFICATE = "/dashboard/certificates/[cert_id]"
SETTINGS = "/dashboard/settings"


def certificate(cert_id: int | str) -> str:
    return f"{CERTIFICATES}/{cert_id}"
ORDERS = "/dashboard/orders"
ORDER = "/dashboard/orders/[order_id]"
API_KEYS = "/dashboard/settings/api-keys"
WIDGET = "/widget/redeem"
DEMO_CHECKOUT = "/demo/checkout"


def order(order_id: int | str) -> str:
    return f"{ORDERS}/{order_id}"
# Public purchase portal, certificate types and segments (issue 4).
PORTAL = "/portal/[workspace]"
PORTAL_CONFIRMATION = "/portal/[workspace]/confirmation"
CERTIFICATE_TYPES = "/dashboard/certificate-types"
SEGMENTS = "/dashboard/segments"


def portal(slug: str) -> str:
    return f"/portal/{slug}"


def portal_confirmation(slug: str, token: str) -> str:
    return f"/portal/{slug}/confirmation?token={token}"
# issue 5: expirations, actions (automations) and background jobs
EXPIRATIONS = "/dashboard/expirations"
ACTIONS = "/dashboard/actions"
JOBS = "/dashboard/jobs"
