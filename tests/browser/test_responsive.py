"""Every page works on a phone, a tablet and a laptop: nothing spills sideways past the window
(`document.documentElement.scrollWidth <= innerWidth`), the dashboard's navigation folds into a
menu on a phone, and the key actions (Sign out, Void, Resend email) stay on screen."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_dashboard import pick
from tests.browser.test_portal import buyer, fill_card, fill_purchase, open_portal

WIDTHS = (390, 768, 1280)


def overflow(page: Page) -> int:
    page.wait_for_load_state("networkidle")
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


# The innermost elements reaching past the window's right edge: what to fix when a page overflows.
SPILLING = """() => Array.from(document.querySelectorAll('body *')).filter(e => {
    const r = e.getBoundingClientRect();
    return r.right > window.innerWidth + 0.5 && r.width > 0 &&
        !Array.from(e.children).some(c => c.getBoundingClientRect().right > window.innerWidth + 0.5);
}).slice(0, 5).map(e => `${e.tagName.toLowerCase()}.${e.className}`.slice(0, 80) + ` "${(e.textContent || '').trim().slice(0, 30)}"`)"""


def within_window(page: Page, locator) -> None:
    """The control is visible and its right edge is inside the window (reachable without panning)."""
    expect(locator).to_be_visible()
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"] + 0.5, box


def api_order(app_server) -> dict:
    response = httpx.post(f"{app_server['base']}/api/v1/orders",
                          headers={"Authorization": f"Bearer {app_server['api_key']}"},
                          json={"reference": f"FIT-{int(time.time() * 1000)}", "total_cents": 48_000,
                                "currency": "USD", "customer_email": "fit@example.com"}, timeout=20)
    assert response.status_code == 201, response.text
    return response.json()


def dashboard_pages(app_server) -> dict[str, str]:
    cert = pick(app_server, "active")
    order = api_order(app_server)
    return {"/dashboard": "Overview", "/dashboard/certificates": "Certificates",
            "/dashboard/certificates/new": "New certificate", f"/dashboard/certificates/{cert.id}": "Certificate",
            "/dashboard/orders": "Orders", f"/dashboard/orders/{order['id']}": "Order",
            "/dashboard/expirations": "Upcoming expirations", "/dashboard/certificate-types": "Certificate types",
            "/dashboard/segments": "Segments", "/dashboard/actions": "Actions", "/dashboard/jobs": "Jobs",
            "/dashboard/settings": "Settings", "/dashboard/settings/api-keys": "API keys",
            "/dashboard/settings/webhooks": "Webhooks"}


@pytest.mark.parametrize("width", WIDTHS)
def test_every_dashboard_page_fits_the_window(owner: Page, app_server, width):
    owner.set_viewport_size({"width": width, "height": 860})
    too_wide = {}
    for path, heading in dashboard_pages(app_server).items():
        owner.goto(path)
        expect(owner.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        if (extra := overflow(owner)) > 0:
            too_wide[path] = (extra, owner.evaluate(SPILLING))
        within_window(owner, owner.get_by_role("button", name="Sign out"))
        if width == 390 and heading in ("Certificates", "Certificate"):
            owner.screenshot(path=f"test-artifacts/phone-{heading.lower()}.png", full_page=True)
    assert not too_wide, f"pages wider than {width}px (by px): {too_wide}"


def test_on_a_phone_the_navigation_is_behind_a_menu_button(owner: Page, app_server):
    owner.set_viewport_size({"width": 390, "height": 860})
    owner.goto("/dashboard/certificates")
    expect(owner.get_by_role("heading", name="Certificates", exact=True)).to_be_visible()
    expect(owner.get_by_role("navigation").get_by_role("link", name="Orders")).to_be_hidden()
    owner.get_by_role("button", name="Menu").click()
    link = owner.get_by_role("navigation").get_by_role("link", name="Orders")
    within_window(owner, link)
    link.click()
    expect(owner.get_by_role("heading", name="Orders", exact=True)).to_be_visible()
    expect(owner).to_have_url(re.compile(r"/dashboard/orders/?$"))


@pytest.mark.parametrize("width", (390, 768))
def test_a_certificates_actions_are_reachable_on_small_screens(owner: Page, app_server, width):
    cert = pick(app_server, "active")
    owner.set_viewport_size({"width": width, "height": 860})
    owner.goto(f"/dashboard/certificates/{cert.id}")
    expect(owner.get_by_role("heading", name="Certificate", exact=True)).to_be_visible()
    for name in ("Void", "Resend email", "Download PDF"):
        within_window(owner, owner.get_by_role("button", name=name, exact=True).or_(
            owner.get_by_role("link", name=name, exact=True)).first)
    assert overflow(owner) <= 0


@pytest.mark.parametrize("width", WIDTHS)
def test_the_public_pages_fit_the_window(page: Page, app_server, width):
    page.set_viewport_size({"width": width, "height": 860})
    page.goto("/login")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert overflow(page) <= 0, "/login"

    page.goto("/portal/demo")
    expect(page.get_by_role("heading", name="Give the gift of travel")).to_be_visible()
    expect(page.locator("#gc-card-element input[placeholder=number]")).to_be_visible()
    assert overflow(page) <= 0, "/portal/demo"
    page.get_by_role("button", name=re.compile(r"^Pay")).click()  # empty: the errors show
    expect(page.get_by_role("region", name="Please correct these fields")).to_be_focused()
    assert overflow(page) <= 0, "/portal/demo with its errors"

    page.goto("/demo/checkout")
    expect(page.frame_locator("iframe[title='Gift certificate']").get_by_label("Gift certificate code")).to_be_visible()
    assert overflow(page) <= 0, "/demo/checkout"

    page.goto("/widget/redeem")
    assert overflow(page) <= 0, "/widget/redeem"


def test_the_portal_confirmation_fits_the_window(page: Page, app_server):
    open_portal(page)
    fill_purchase(page, buyer_email=buyer())
    fill_card(page, "4242424242424242")
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/portal/demo/confirmation\?token="), timeout=20_000)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 860})
        expect(page.locator("#certificate-code")).to_be_visible()
        assert overflow(page) <= 0, f"the confirmation at {width}px"
        within_window(page, page.get_by_role("link", name="Download PDF"))
