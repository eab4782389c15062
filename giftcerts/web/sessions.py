"""The staff session's cookies and the sign-in/sign-out paths, read by the dashboard and
written by giftcerts.api.staff_sessions.

`gc_session` holds the session token (HttpOnly: no script on the page sees it); `gc_sign_in`
carries why a sign-in failed, and the email typed, back to /login (no secret in it).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import cookie_parser

SESSION_COOKIE = "gc_session"
OUTCOME_COOKIE = "gc_sign_in"
SIGN_IN = "/auth/sign-in"
SIGN_OUT = "/auth/sign-out"


def token_from_cookies(cookie_header: str) -> str:
    """The session token in a Cookie header ("" when there is none): the one way every reader
    of the cookie (dashboard, sign-out, CSV exports) finds it."""
    return cookie_parser(cookie_header or "").get(SESSION_COOKIE, "")[:200]


def outcome_from_cookies(cookie_header: str) -> dict[str, str]:
    """What the last sign-in attempt left for /login: error code, seconds to wait, email, nonce."""
    raw = cookie_parser(cookie_header or "").get(OUTCOME_COOKIE, "")[:600]
    return {k: v[0] for k, v in parse_qs(raw, max_num_fields=8).items() if k in ("error", "wait", "email", "n")}
