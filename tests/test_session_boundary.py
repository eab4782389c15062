"""Nothing of a signed-out session, or of another member or workspace, reaches a browser tab.

Written as the attack, at the websocket: Reflex keeps a tab's page states under the tab's
token, which outlives sign-out. A socket.io client plays one browser tab (one token) through
a staff session, signs out or lets another member sign in on the same tab, hydrates again and
reads every frame the server sends.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets

import httpx
from sqlmodel import select

from giftcerts import db
from giftcerts.web.sessions import SESSION_COOKIE, SIGN_IN, SIGN_OUT
from giftcerts.core import accounts, workspaces
from giftcerts.core.tokens import hash_token
from giftcerts.core.codes import format_code
from giftcerts.models import Certificate, StaffSession, Workspace
from giftcerts.ui.dashboard.api_keys import ApiKeysState
from tests.reflex_client import Tab

KEY_PATTERN = re.compile(r"gc_live_[A-Za-z0-9_\-]{16,}")


def _sign_in(base: str, email: str, password: str) -> str:
    response = httpx.post(base + SIGN_IN, data={"email": email, "password": password},
                          headers={"Origin": base}, follow_redirects=False)
    assert response.status_code == 303, response.text
    token = response.cookies.get(SESSION_COOKIE)
    assert token, "signing in set no session cookie"
    return token


def _sign_out(base: str, token: str) -> None:
    response = httpx.post(base + SIGN_OUT, headers={"Origin": base, "Cookie": f"{SESSION_COOKIE}={token}"},
                          follow_redirects=False)
    assert response.status_code == 303


def _text(frames: list[dict]) -> str:
    return json.dumps(frames, default=str)


def _first_session_secrets(app_server) -> tuple[Tab, dict[str, str], str]:
    """An owner of the demo workspace views a certificate (full code) and creates an API key."""
    base = app_server["base"]
    with db.read_session(app_server["db_url"]) as session:
        ws = session.exec(select(Workspace).where(Workspace.slug == app_server["workspace"])).one()
        cert = session.exec(select(Certificate).where(Certificate.workspace_id == ws.id,
                                                      Certificate.recipient_email != "")
                            .order_by(Certificate.id)).first()
        seen = {"code": format_code(cert.code), "recipient": cert.recipient_email,
                "staff": app_server["staff_email"], "workspace": ws.name}
        cert_id = cert.id
    token = _sign_in(base, app_server["staff_email"], app_server["staff_password"])
    tab = Tab(base)
    shown = asyncio.run(tab.load(f"/dashboard/certificates/{cert_id}", session=token, query={"cert_id": str(cert_id)}))
    assert seen["code"] in _text(shown), "the certificate page did not show its full code (test is blind)"
    created = asyncio.run(tab.load("/dashboard/settings/api-keys", session=token,
                                   then=[(f"{ApiKeysState.get_full_name()}.create", {"form": {"name": "Desk"}})]))
    keys = KEY_PATTERN.findall(_text(created))
    assert keys, "creating an API key showed no key (test is blind)"
    seen["api_key"] = keys[0]
    return tab, seen, token


def _assert_none_of(seen: dict[str, str], frames: list[dict]) -> None:
    assert frames, "the server sent nothing at all (test is blind)"
    text = _text(frames)
    leaked = {name: value for name, value in seen.items() if value and value in text}
    assert not leaked, f"frames after the session changed still carry {sorted(leaked)}"


def test_nothing_of_a_signed_out_session_reaches_the_login_page(app_server):
    tab, seen, token = _first_session_secrets(app_server)
    _sign_out(app_server["base"], token)
    _assert_none_of(seen, asyncio.run(tab.load("/login", session=None)))


def test_another_member_signing_in_on_the_same_tab_sees_nothing_of_the_first(app_server):
    tab, seen, token = _first_session_secrets(app_server)
    _sign_out(app_server["base"], token)
    slug = "other-" + secrets.token_hex(3)
    password = secrets.token_urlsafe(12)
    with db.write_session(app_server["db_url"]) as session:
        other = workspaces.create_workspace(session, slug=slug, name="Other Tours " + slug)
        accounts.create_staff(session, other, email=f"owner@{slug}.example", password=password, role="owner")
    other_token = _sign_in(app_server["base"], f"owner@{slug}.example", password)
    frames = asyncio.run(tab.load("/dashboard", session=other_token))
    assert "Other Tours " + slug in _text(frames), "the second member's own dashboard did not load (test is blind)"
    _assert_none_of(seen, frames)


def test_a_session_ended_on_the_server_leaves_nothing_in_the_tab(app_server):
    """Same cookie, but the session is gone (expired, or the member removed)."""
    tab, seen, token = _first_session_secrets(app_server)
    with db.write_session(app_server["db_url"]) as session:
        for row in session.exec(select(StaffSession).where(StaffSession.token_hash == hash_token(token))):
            session.delete(row)
    _assert_none_of(seen, asyncio.run(tab.load("/login", session=token)))


def test_a_new_api_key_and_a_full_code_stay_on_the_page_that_shows_them(app_server):
    tab, seen, token = _first_session_secrets(app_server)
    frames = asyncio.run(tab.load("/dashboard/orders", session=token))
    assert seen["workspace"] in _text(frames), "the orders page did not load (test is blind)"
    _assert_none_of({"code": seen["code"], "api_key": seen["api_key"]}, frames)
