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
# issue 5: expirations, actions (automations) and background jobs
EXPIRATIONS = "/dashboard/expirations"
ACTIONS = "/dashboard/actions"
JOBS = "/dashboard/jobs"
