"""Staff sign in and out by form POST; the server sets the session cookie HttpOnly, so no script
on any page can read it (giftcerts.api.staff_sessions)."""

from __future__ import annotations

from datetime import timedelta

import warnings
from http.cookies import SimpleCookie

import pytest
from starlette.applications import Starlette

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from giftcerts import db, ratelimit
from giftcerts.api import staff_sessions
from giftcerts.web import sessions
from giftcerts.web.sessions import OUTCOME_COOKIE, SESSION_COOKIE, outcome_from_cookies, token_from_cookies
from giftcerts.core import accounts
from giftcerts.models import StaffRole, StaffSession
from giftcerts.ui.dashboard.login import refusal
from tests.factories import PASSWORD, make_staff, make_workspace

ORIGIN = "https://gifts.example.com"


@pytest.fixture
def client(db_url, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    monkeypatch.setenv("GIFTCERTS_PUBLIC_URL", ORIGIN)
    ratelimit.reset()
    yield TestClient(Starlette(routes=staff_sessions.routes()), base_url=ORIGIN, follow_redirects=False,
                     headers={"Origin": ORIGIN}, client=("203.0.113.20", 50000))
    ratelimit.reset()


@pytest.fixture
def staff_email(db_url):
    with db.write_session(db_url) as s:
        return make_staff(s, make_workspace(s), role=StaffRole.OWNER).email


def set_cookie_headers(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def cookie_value(response, name: str) -> str:
    jar = SimpleCookie()
    jar.load(set_cookie_headers(response)[name])
    return jar[name].value


def outcome_of(response) -> dict[str, str]:
    """What a refused sign-in left for the /login page."""
    return outcome_from_cookies(f"{OUTCOME_COOKIE}={cookie_value(response, OUTCOME_COOKIE)}")


def sign_in(client, email, password=PASSWORD, **extra):
    return client.post(sessions.SIGN_IN, data={"email": email, "password": password, **extra})


def test_signing_in_sets_an_httponly_strict_session_cookie_and_opens_the_page_asked_for(client, staff_email, db_url):
    response = sign_in(client, staff_email, next="/dashboard/orders?q=BK-1")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/orders?q=BK-1"
    cookie = set_cookie_headers(response)[SESSION_COOKIE]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie and "Path=/" in cookie
    token = cookie_value(response, SESSION_COOKIE)
    with db.read_session(db_url) as s:
        assert accounts.resolve_session(s, token).email == staff_email
    assert response.headers["cache-control"] == "no-store"


def test_a_crafted_next_page_leads_to_the_overview(client, staff_email):
    response = sign_in(client, staff_email, next="//evil.example/phish")
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"


@pytest.mark.parametrize(("password", "error"), [("not the password", "failed"), ("", "missing")])
def test_a_refused_sign_in_goes_back_to_the_form_with_why_and_the_email_typed_but_no_session(
        client, staff_email, db_url, password, error):
    response = sign_in(client, staff_email, password, next="/dashboard/orders")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/dashboard/orders"
    cookies = set_cookie_headers(response)
    assert SESSION_COOKIE not in cookies
    outcome = outcome_of(response)
    assert outcome["error"] == error and outcome["email"] == staff_email
    assert refusal(outcome["error"], outcome["wait"])
    assert "HttpOnly" not in cookies[OUTCOME_COOKIE] and "Max-Age=120" in cookies[OUTCOME_COOKIE]
    with db.read_session(db_url) as s:
        assert s.query(StaffSession).count() == 0


def test_a_paused_account_an_unknown_email_and_a_wrong_password_get_the_same_answer(client, staff_email,
                                                                                     monkeypatch):
    monkeypatch.setattr(accounts, "FIRST_PAUSE", timedelta(minutes=10))  # a slow machine cannot outwait it
    wrong = outcome_of(sign_in(client, staff_email, "wrong"))
    for _ in range(accounts.DELAY_AFTER):
        sign_in(client, staff_email, "wrong")
    paused = sign_in(client, staff_email)  # the right password, while sign-in is paused
    assert SESSION_COOKIE not in set_cookie_headers(paused)
    unknown = outcome_of(sign_in(client, "nobody@example.com"))
    answers = [wrong, outcome_of(paused), unknown]
    assert {(a["error"], a["wait"]) for a in answers} == {("failed", "0")}
    assert refusal("failed", "0") == accounts.SIGN_IN_FAILED


def test_pauses_count_each_visitor_behind_a_reverse_proxy_apart(client, staff_email, monkeypatch):
    from reflex.config import get_config
    monkeypatch.setattr(get_config(), "trusted_proxy_hops", 1)
    monkeypatch.setattr(accounts, "FIRST_PAUSE", timedelta(minutes=10))  # a slow machine cannot outwait it
    for _ in range(accounts.DELAY_AFTER + 2):
        client.post(sessions.SIGN_IN, data={"email": staff_email, "password": "wrong"},
                    headers={"X-Forwarded-For": "203.0.113.7"})
    held = client.post(sessions.SIGN_IN, data={"email": staff_email, "password": PASSWORD},
                       headers={"X-Forwarded-For": "203.0.113.7"})
    assert SESSION_COOKIE not in set_cookie_headers(held)
    # the member at another address is not held back by what the stranger did
    member = client.post(sessions.SIGN_IN, data={"email": staff_email, "password": PASSWORD},
                         headers={"X-Forwarded-For": "198.51.100.4"})
    assert SESSION_COOKIE in set_cookie_headers(member)


def test_sign_in_attempts_from_one_address_are_throttled(client, staff_email, monkeypatch):
    monkeypatch.setattr(ratelimit, "SIGN_IN_PER_ADDRESS", ratelimit.parse("3/10 minutes"))
    for _ in range(3):
        sign_in(client, "nobody@example.com", "wrong")
    response = sign_in(client, staff_email)
    assert SESSION_COOKIE not in set_cookie_headers(response)
    assert outcome_of(response)["error"] == "throttled" and int(outcome_of(response)["wait"]) > 0


def test_behind_a_reverse_proxy_each_visitor_has_their_own_sign_in_budget(client, staff_email, monkeypatch):
    from reflex.config import get_config
    monkeypatch.setattr(get_config(), "trusted_proxy_hops", 1)
    monkeypatch.setattr(ratelimit, "SIGN_IN_PER_ADDRESS", ratelimit.parse("3/10 minutes"))
    for _ in range(3):
        client.post(sessions.SIGN_IN, data={"email": "nobody@example.com", "password": "wrong"},
                    headers={"X-Forwarded-For": "203.0.113.7"})
    # the attacker behind the proxy is held back, whatever address they claim in front of it
    held = client.post(sessions.SIGN_IN, data={"email": staff_email, "password": PASSWORD},
                       headers={"X-Forwarded-For": "198.51.100.4, 203.0.113.7"})
    assert outcome_of(held)["error"] == "throttled"
    # while a colleague coming through the same proxy signs in
    colleague = client.post(sessions.SIGN_IN, data={"email": staff_email, "password": PASSWORD},
                            headers={"X-Forwarded-For": "198.51.100.4"})
    assert SESSION_COOKIE in set_cookie_headers(colleague)


def test_when_attempts_cannot_be_counted_signing_in_is_refused_with_a_clear_reason(client, staff_email, monkeypatch):
    monkeypatch.setenv("REFLEX_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    ratelimit.limiter.cache_clear()
    try:
        response = sign_in(client, staff_email)
    finally:
        monkeypatch.delenv("REFLEX_REDIS_URL")
        ratelimit.limiter.cache_clear()
    assert SESSION_COOKIE not in set_cookie_headers(response)
    assert outcome_of(response)["error"] == "unavailable"
    assert refusal("unavailable", "") == "Signing in is briefly unavailable. Try again in a few seconds."


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://gifts.example.com"])
def test_a_sign_in_posted_from_another_site_is_refused(client, staff_email, origin):
    """Login CSRF: another site must not sign a visitor in to an account of its choosing."""
    response = client.post(sessions.SIGN_IN, data={"email": staff_email, "password": PASSWORD},
                           headers={"Origin": origin})
    assert response.status_code == 403 and SESSION_COOKIE not in set_cookie_headers(response)


def test_a_cross_site_request_without_origin_is_refused_too(client, staff_email):
    client.headers.pop("Origin")
    response = client.post(sessions.SIGN_IN, data={"email": staff_email, "password": PASSWORD},
                           headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403


def test_signing_in_by_get_is_not_possible(client, staff_email):
    response = client.get(sessions.SIGN_IN, params={"email": staff_email, "password": PASSWORD})
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_signing_out_ends_the_session_and_clears_the_cookie(client, staff_email, db_url):
    token = cookie_value(sign_in(client, staff_email), SESSION_COOKIE)
    client.cookies.set(SESSION_COOKIE, token)
    response = client.post(sessions.SIGN_OUT)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    cleared = set_cookie_headers(response)[SESSION_COOKIE]
    assert "Max-Age=0" in cleared and "HttpOnly" in cleared
    with db.read_session(db_url) as s:
        assert accounts.resolve_session(s, token) is None


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Origin": "null"},
                                     {"Origin": "http://gifts.example.com"}, {"Sec-Fetch-Site": "cross-site"}])
def test_a_sign_out_posted_from_another_site_is_refused_and_the_session_goes_on(client, staff_email, db_url, headers):
    """An auto-submitted form on another site must not sign the member out."""
    token = cookie_value(sign_in(client, staff_email), SESSION_COOKIE)
    client.cookies.set(SESSION_COOKIE, token)
    if "Origin" not in headers:
        client.headers.pop("Origin")
    response = client.post(sessions.SIGN_OUT, headers=headers)
    assert response.status_code == 403
    assert SESSION_COOKIE not in set_cookie_headers(response)
    with db.read_session(db_url) as s:
        assert accounts.resolve_session(s, token).email == staff_email
    # while the same sign-out from our own page works
    client.headers["Origin"] = ORIGIN
    assert client.post(sessions.SIGN_OUT).status_code == 303
    with db.read_session(db_url) as s:
        assert accounts.resolve_session(s, token) is None


def test_every_form_post_route_refuses_other_sites(client):
    """Sign-in and sign-out are the app's only cookie-authenticated form POSTs; each checks the origin."""
    for route in staff_sessions.routes():
        response = client.post(route.path, headers={"Origin": "https://evil.example"})
        assert response.status_code == 403, route.path


def test_the_token_is_read_from_a_cookie_header_among_others():
    assert token_from_cookies(f"a=1; {SESSION_COOKIE}=tok_en-1; b=2") == "tok_en-1"
    assert token_from_cookies("") == "" and token_from_cookies("garbage;;;=") == ""


def test_an_unknown_refusal_code_shows_nothing_from_the_request():
    assert refusal("<script>alert(1)</script>", "") == ""
    assert refusal("throttled", "not a number") == "Too many sign-in attempts from your network. Try again in 1 minute."
