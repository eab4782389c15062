"""Security notices to staff members: fixed wording, nothing from the request in them."""

from __future__ import annotations

from markupsafe import escape

from giftcerts import config


def sign_in_alert(*, workspace_name: str, failures: int) -> tuple[str, str, str]:
    """(subject, text, html) of the email telling a member their account sees many failed sign-ins."""
    subject = f"Failed sign-in attempts on your {workspace_name} gift certificate account"
    text = (
        f"Hello,\n\n"
        f"There have been {failures} failed sign-in attempts on your {workspace_name} staff account "
        f"within the last hour. If that was not you, someone may be guessing your password.\n\n"
        f"You can still sign in as usual from where you normally do; sign-in from other places is "
        f"paused for a while after repeated failures.\n\n"
        f"If your password is short or used elsewhere, change your password, and tell the owner of "
        f"the workspace if you are unsure.\n\n"
        f"Sign in: {config.public_url()}/login\n"
    )
    html = "".join(f"<p>{escape(part).replace(chr(10), '<br>')}</p>" for part in text.strip().split("\n\n"))
    return subject, text, html
