"""Where signing in leads: back to the dashboard page that asked for it, never off the dashboard."""

import pytest

from giftcerts.web import routes


@pytest.mark.parametrize("asked, lands", [
    ("/dashboard/orders", "/dashboard/orders"),
    ("/dashboard/certificates/42?tab=activity", "/dashboard/certificates/42?tab=activity"),
    ("/dashboard", "/dashboard"),
    ("", "/dashboard"),
    (None, "/dashboard"),
])
def test_a_dashboard_page_is_where_signing_in_returns(asked, lands):
    assert routes.after_sign_in(asked) == lands


@pytest.mark.parametrize("crafted", [
    "//evil.example/dashboard", "https://evil.example/dashboard", "/\\evil.example", "javascript:alert(1)",
    "/dashboardx", "/portal/demo", "/login", "/dashboard/../api/v1/certificates", "/dashboard/\nSet-Cookie: x",
    "dashboard/orders", " //evil.example",
])
def test_anything_else_leads_to_the_overview(crafted):
    assert routes.after_sign_in(crafted) == routes.DASHBOARD


def test_the_sign_in_link_carries_the_page_to_return_to():
    assert routes.login("/dashboard/orders?q=a b") == "/login?next=/dashboard/orders%3Fq%3Da%20b"
    assert routes.login("/dashboard") == "/login"
    assert routes.login("https://evil.example") == "/login"
