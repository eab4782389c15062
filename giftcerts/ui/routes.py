"""Every dashboard URL, named once."""

LOGIN = "/login"
DASHBOARD = "/dashboard"
CERTIFICATES = "/dashboard/certificates"
NEW_CERTIFICATE = "/dashboard/certificates/new"
CERTIFICATE = "/dashboard/certificates/[cert_id]"
SETTINGS = "/dashboard/settings"


def certificate(cert_id: int | str) -> str:
    return f"{CERTIFICATES}/{cert_id}"
