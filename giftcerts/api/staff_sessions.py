"""Staff sign-in and sign-out as plain form POSTs, so that the session cookie is HttpOnly.

A cookie set from the page (Reflex's `rx.Cookie`) can be read by any script on it. Here the
server sets `gc_session` itself — HttpOnly, SameSite=Strict, Secure on https — and the
dashboard reads it on the server from its websocket's handshake headers
(`giftcerts.ui.auth_state`), so no script in the browser ever sees the token.

Why a sign-in failed, and the email typed, go back to /login in a short-lived cookie of their
own (`gc_sign_in`, no secret in it), read once by the page: nothing lands in the URL or history.
"""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from giftcerts import config, db, ratelimit
from giftcerts.core import accounts
from giftcerts.web import routes as pages
from giftcerts.web.sessions import OUTCOME_COOKIE, SESSION_COOKIE, SIGN_IN, SIGN_OUT, token_from_cookies

_NO_STORE = {"Cache-Control": "no-store"}


def token_of(request: Request) -> str:
    return token_from_cookies(request.headers.get("cookie", ""))


def _secure() -> bool:
    return config.public_url().startswith("https://")


def _same_origin(request: Request) -> bool:
    """Refuse form posts from other sites: signing a victim into the attacker's account (login
    CSRF) or out of their own. Browsers send Origin with every form POST; a request without one
    is not from a browser form unless Sec-Fetch-Site says it came from elsewhere."""
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("sec-fetch-site", "same-origin") == "same-origin"
    public = urlsplit(config.public_url())
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    return origin in (f"{public.scheme}://{public.netloc}", own)


def _back_to_login(next_page: str, *, error: str, email: str, wait: int = 0) -> Response:
    response = RedirectResponse(pages.login(next_page), status_code=303, headers=_NO_STORE)
    value = urlencode({"error": error, "wait": str(wait), "email": email[:254], "n": secrets.token_hex(4)})
    response.set_cookie(OUTCOME_COOKIE, value, max_age=120, path="/", secure=_secure(), httponly=False,
                        samesite="strict")
    return response


async def sign_in(request: Request) -> Response:
    if request.method != "POST":
        return PlainTextResponse("Sign in from the sign-in page.", status_code=405, headers={"Allow": "POST"})
    if not _same_origin(request):
        return PlainTextResponse("Sign in from this site's own sign-in page.", status_code=403)
    form = await request.form(max_files=0, max_fields=8, max_part_size=4096)
    email = str(form.get("email", "")).strip()[:254]
    password = str(form.get("password", ""))[:1024]
    next_page = str(form.get("next", ""))[:2000]
    if not email or not password:
        return _back_to_login(next_page, error="missing", email=email)
    try:
        wait = ratelimit.hit(ratelimit.SIGN_IN_PER_ADDRESS, "sign-in", ratelimit.client_address(request))
    except ratelimit.STORE_DOWN:  # attempts cannot be counted: refuse rather than let them through
        return _back_to_login(next_page, error="unavailable", email=email)
    if wait is not None:
        return _back_to_login(next_page, error="throttled", email=email, wait=wait)
    # argon2 is deliberately slow: keep it off the event loop that serves every other client.
    outcome = await asyncio.to_thread(accounts.sign_in, None, email=email, password=password,
                                      address=ratelimit.client_address(request))
    if outcome.error is not None:  # one answer whatever the reason (accounts.SIGN_IN_FAILED)
        return _back_to_login(next_page, error="failed", email=email)
    response = RedirectResponse(pages.after_sign_in(next_page), status_code=303, headers=_NO_STORE)
    response.set_cookie(SESSION_COOKIE, outcome.token, max_age=config.SESSION_MAX_DAYS * 24 * 3600, path="/",
                        secure=_secure(), httponly=True, samesite="strict")
    response.delete_cookie(OUTCOME_COOKIE, path="/")
    return response


def _end_session(token: str) -> None:
    with db.write_session() as session:
        accounts.sign_out(session, token)


async def sign_out(request: Request) -> Response:
    if request.method != "POST":
        return PlainTextResponse("Sign out with the dashboard's Sign out button.", status_code=405,
                                 headers={"Allow": "POST"})
    # SameSite=Strict keeps the cookie off another site's post, but the answer would still clear
    # it, and a post from a sibling subdomain (same site) carries it: check the origin too.
    if not _same_origin(request):
        return PlainTextResponse("Sign out with this site's own Sign out button.", status_code=403)
    token = token_of(request)
    if token:
        await asyncio.to_thread(_end_session, token)
    response = RedirectResponse(pages.LOGIN, status_code=303, headers=_NO_STORE)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=_secure(), httponly=True, samesite="strict")
    return response


def routes() -> list[Route]:
    return [Route(SIGN_IN, sign_in, methods=["GET", "POST"]), Route(SIGN_OUT, sign_out, methods=["GET", "POST"])]
