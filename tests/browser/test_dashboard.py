"""Staff run the programme from the dashboard, in a real browser.

"Find certificates by searching for the redemption code, purchaser email, recipient
email, or status." "Void a certificate ... Add a reason ... you can reactivate a voided
certificate later." "Create a certificate manually ... when a customer purchases by
phone or email."
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from giftcerts import db
from giftcerts.clock import utcnow
from giftcerts.core import lifecycle, workspaces
from giftcerts.core.codes import format_code
from giftcerts.models import Certificate, Workspace
from tests.browser.conftest import sign_in

_taken: set[int] = set()


def pick(app_server, status: str, *, fresh: bool = False) -> Certificate:
    """A demo certificate in `status` that no other test has touched."""
    with db.read_session(app_server["db_url"]) as s:
        # (not one paid by card on the portal by another test: voiding those refunds them for good)
        query = select(Certificate).where(Certificate.status == status,
                                          Certificate.stripe_payment_intent_id.is_(None)).order_by(Certificate.id.desc())
        for cert in s.exec(query):
            if cert.id in _taken:
                continue
            if fresh and cert.expires_at and cert.expires_at < utcnow() + timedelta(days=30):
                continue
            _taken.add(cert.id)
            return cert
    raise AssertionError(f"no unused {status} certificate in the demo data")


def demo_workspace(app_server) -> Workspace:
    with db.read_session(app_server["db_url"]) as s:
        return workspaces.find_workspace(s, app_server["workspace"])


def rows(page: Page):
    return page.get_by_role("region", name="Certificates").locator("tbody tr")


def test_wrong_password_is_refused_with_a_clear_message(page: Page, app_server):
    page.goto("/login")
    page.get_by_label("Email").fill(app_server["staff_email"])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    expect(page).to_have_url(re.compile(r"/login/?$"))


@pytest.fixture
def owner(certificates_list: Page) -> Page:
    """In this module an owner starts on the Certificates list."""
    return certificates_list


def test_the_session_cookie_is_out_of_reach_of_the_pages_scripts(page: Page, app_server):
    sign_in(page, app_server["staff_email"], app_server["staff_password"])
    [session] = [c for c in page.context.cookies() if c["name"] == "gc_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert "gc_session" not in page.evaluate("document.cookie")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()  # and the dashboard works with it


def test_the_dashboard_requires_sign_in_and_comes_back_to_the_page_asked_for(page: Page, app_server):
    page.goto("/dashboard/orders?q=nobody")
    expect(page).to_have_url(re.compile(r"/login\?next=/dashboard/orders/?%3Fq%3Dnobody$"))
    page.get_by_label("Email").fill(app_server["staff_email"])
    page.get_by_label("Password").fill(app_server["staff_password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/orders/?\?q=nobody$"))
    expect(page.get_by_role("heading", name="Orders", exact=True)).to_be_visible()
    expect(page.get_by_text("No orders match")).to_be_visible()  # the search came back too


def test_a_crafted_next_link_cannot_send_anyone_off_the_dashboard(page: Page, app_server):
    page.goto("/login?next=//evil.example/phish")
    page.get_by_label("Email").fill(app_server["staff_email"])
    page.get_by_label("Password").fill(app_server["staff_password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"^http://localhost:\d+/dashboard/?$"))


def test_sign_in_opens_the_overview(page: Page, app_server):
    sign_in(page, app_server["staff_email"], app_server["staff_password"])
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    for link in ["Overview", "Certificates", "Orders", "Expirations", "Settings"]:
        expect(page.get_by_role("navigation").get_by_role("link", name=link)).to_be_visible()


def test_the_certificates_list_shows_masked_codes(owner: Page, app_server):
    expect(owner.get_by_role("heading", name="Certificates")).to_be_visible()
    expect(rows(owner)).to_have_count(25)
    first_code = rows(owner).first.locator("td").first.inner_text()
    assert re.fullmatch(r"••••-••••-[0-9A-Z]{4}", first_code.strip())
    for link in ["Certificates", "Settings"]:
        expect(owner.get_by_role("navigation").get_by_role("link", name=link)).to_be_visible()


def test_search_by_code_typed_loosely_finds_that_one_certificate(owner: Page, app_server):
    cert = pick(app_server, "active")
    owner.get_by_label("Search").fill(format_code(cert.code).lower().replace("-", " "))
    expect(rows(owner)).to_have_count(1)
    expect(rows(owner).first).to_contain_text(cert.code[-4:])


def count_with_email(app_server, email: str) -> int:
    with db.read_session(app_server["db_url"]) as s:
        return len(s.exec(select(Certificate).where(
            (Certificate.purchaser_email == email) | (Certificate.recipient_email == email))).all())


def test_search_by_purchaser_and_recipient_email(owner: Page, app_server):
    cert = pick(app_server, "redeemed")
    for email in [cert.recipient_email, cert.purchaser_email]:
        expected = count_with_email(app_server, email)
        assert 1 <= expected < 25
        owner.get_by_label("Search").fill(email.upper())
        expect(rows(owner)).to_have_count(expected)
        expect(rows(owner).filter(has_text=cert.code[-4:])).to_have_count(1)
        for row in rows(owner).all():
            expect(row).to_contain_text(email)


def test_a_search_with_no_match_shows_an_empty_state(owner: Page, app_server):
    owner.get_by_label("Search").fill("nobody@nowhere.example")
    expect(owner.get_by_text("No certificates match")).to_be_visible()


def test_filter_by_status_and_page_through_results(owner: Page, app_server):
    owner.get_by_label("Status").select_option("active")
    expect(rows(owner)).to_have_count(25)
    for badge in rows(owner).locator("td:nth-child(2)").all():
        expect(badge).to_have_text("Active")
    first_code = rows(owner).first.locator("td").first
    first_page = first_code.inner_text()
    owner.get_by_role("button", name="Next").click()
    expect(owner.get_by_text("Page 2")).to_be_visible()
    expect(first_code).not_to_have_text(first_page)
    for badge in rows(owner).locator("td:nth-child(2)").all():
        expect(badge).to_have_text("Active")
    owner.get_by_role("button", name="Previous").click()
    expect(first_code).to_have_text(first_page)


def test_open_a_certificate_void_it_with_a_reason_then_reactivate_it(owner: Page, app_server):
    cert = pick(app_server, "active", fresh=True)
    owner.get_by_label("Search").fill(cert.code)
    expect(rows(owner)).to_have_count(1)
    rows(owner).first.get_by_role("link").click()
    expect(owner.get_by_label("Certificate code")).to_have_text(format_code(cert.code))
    expect(owner.get_by_text("Active", exact=True).first).to_be_visible()

    owner.get_by_role("button", name="Void").click()
    owner.get_by_role("button", name="Void certificate").click()
    expect(owner.get_by_text("Enter a reason for voiding this certificate.")).to_be_visible()
    owner.get_by_label("Reason").fill("Refunded by phone <b>today</b>")
    owner.get_by_role("button", name="Void certificate").click()
    timeline = owner.get_by_role("list", name="Activity log")
    expect(timeline.locator("li").first).to_contain_text("Voided")
    expect(timeline.locator("li").first).to_contain_text("Reason: Refunded by phone <b>today</b>")
    expect(owner.get_by_text("Void reason: Refunded by phone <b>today</b>")).to_be_visible()

    owner.get_by_role("button", name="Reactivate").click()
    expect(timeline.locator("li").first).to_contain_text("Reactivated")
    expect(timeline.locator("li").first).to_contain_text(app_server["staff_email"])
    with db.read_session(app_server["db_url"]) as s:
        assert s.get(Certificate, cert.id).status == "active"


def test_reactivation_is_refused_when_the_certificate_expired_meanwhile(owner: Page, app_server):
    ws = demo_workspace(app_server)
    long_ago = utcnow() - timedelta(days=ws.expiry_days + 10)
    with db.write_session(app_server["db_url"]) as s:
        cert = lifecycle.issue_certificate(
            s, ws, purchaser_name="Old Sale", purchaser_email="old@example.com", recipient_name="Late Larry",
            recipient_email="larry@example.com", amount="100", paid=True, actor="test", now=long_ago)
        lifecycle.void_certificate(s, ws, certificate_id=cert.id, reason="Refund", actor="test",
                                   now=long_ago + timedelta(days=1))
    owner.goto(f"/dashboard/certificates/{cert.id}")
    owner.get_by_role("button", name="Reactivate").click()
    expect(owner.get_by_text(re.compile("expired on .* cannot be reactivated"))).to_be_visible()
    with db.read_session(app_server["db_url"]) as s:
        assert s.get(Certificate, cert.id).status == "voided"


def test_create_a_manual_certificate_for_a_phone_sale(owner: Page, app_server):
    owner.get_by_role("link", name="New certificate").click()
    owner.get_by_label("Purchaser name").fill("Phone Buyer")
    owner.get_by_label("Purchaser email").fill("not-an-email")
    owner.get_by_label("Recipient name").fill("<script>alert(1)</script>")
    owner.get_by_label("Recipient email").fill("lucky.recipient@example.com")
    owner.get_by_label("Amount").fill("5")
    owner.get_by_label("Personal message").fill("Bon voyage!")
    owner.get_by_role("button", name="Create certificate").click()
    expect(owner.get_by_text("Enter a valid purchaser email")).to_be_visible()
    expect(owner.get_by_text(re.compile(r"The minimum amount is \$"))).to_be_visible()

    owner.get_by_label("Purchaser email").fill("phone.buyer@example.com")
    owner.get_by_label("Amount").fill("175")
    owner.get_by_role("button", name="Create certificate").click()
    expect(owner.get_by_label("Certificate code")).to_have_text(re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$"))
    expect(owner.get_by_text("$175.00", exact=True)).to_be_visible()
    expect(owner.get_by_text("<script>alert(1)</script>").first).to_be_visible()
    timeline = owner.get_by_role("list", name="Activity log")
    # (the worker may already have emailed the certificate: its "Sent" entries are not the subject here)
    lifecycle_entries = timeline.locator("li").filter(has_not_text=re.compile(r"^\s*Sent"))
    expect(lifecycle_entries).to_have_count(2)
    expect(lifecycle_entries.nth(0)).to_contain_text("Purchased")
    expect(lifecycle_entries.nth(1)).to_contain_text("Created")
    with db.read_session(app_server["db_url"]) as s:
        made = s.exec(select(Certificate).where(Certificate.purchaser_email == "phone.buyer@example.com")).one()
        assert (made.status, made.amount_cents, made.source) == ("active", 17500, "manual")


def test_an_unpaid_manual_sale_is_pending_until_marked_as_paid(owner: Page, app_server):
    owner.goto("/dashboard/certificates/new")
    owner.get_by_label("Purchaser name").fill("Email Buyer")
    owner.get_by_label("Purchaser email").fill("email.buyer@example.com")
    owner.get_by_label("Recipient name").fill("Sam")
    owner.get_by_label("Recipient email").fill("sam@example.com")
    owner.get_by_label("Amount").fill("60")
    owner.get_by_label(re.compile("Payment received")).uncheck()
    owner.get_by_role("button", name="Create certificate").click()
    expect(owner.get_by_text("Pending", exact=True).first).to_be_visible()
    owner.get_by_role("button", name="Mark as paid").click()
    # (newest first; the worker's "Sent" entries for the activation may already be above it)
    expect(owner.get_by_role("list", name="Activity log").locator("li")
           .filter(has_not_text=re.compile(r"^\s*Sent")).first).to_contain_text("Purchased")
    expect(owner.get_by_text("Active", exact=True).first).to_be_visible()


def test_change_settings_with_validation(owner: Page, app_server):
    owner.get_by_role("navigation").get_by_role("link", name="Settings").click()
    expect(owner.get_by_label("Expiry days")).to_have_value("365")
    owner.get_by_label("Minimum amount").fill("500")
    owner.get_by_label("Maximum amount").fill("100")
    owner.get_by_role("button", name="Save settings").click()
    expect(owner.get_by_text("The maximum amount must be at least the minimum amount.")).to_be_visible()

    owner.get_by_label("Minimum amount").fill("20")
    owner.get_by_label("Maximum amount").fill("2000")
    owner.get_by_label("Expiry days").fill("730")
    owner.get_by_role("button", name="Save settings").click()
    expect(owner.get_by_text("Settings saved.")).to_be_visible()
    owner.reload()
    expect(owner.get_by_label("Expiry days")).to_have_value("730")
    expect(owner.get_by_label("Minimum amount")).to_have_value("20.00")
    ws = demo_workspace(app_server)
    assert (ws.min_amount_cents, ws.max_amount_cents, ws.expiry_days) == (2000, 200000, 730)


def test_a_viewer_can_look_but_cannot_void_or_sell(viewer: Page, app_server):
    cert = pick(app_server, "active", fresh=True)
    viewer.goto(f"/dashboard/certificates/{cert.id}")
    expect(viewer.get_by_label("Certificate code")).to_have_text(format_code(cert.code))
    expect(viewer.get_by_role("button", name="Void")).to_have_count(0)
    expect(viewer.get_by_role("link", name="New certificate")).to_have_count(0)
    viewer.goto("/dashboard/settings")
    expect(viewer.get_by_text("Only an owner of this workspace can change settings.")).to_be_visible()


def test_sign_out_ends_the_session(page: Page, app_server):
    sign_in(page, app_server["staff_email"], app_server["staff_password"])
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/?$"))
    page.goto("/dashboard/certificates")
    expect(page).to_have_url(re.compile(r"/login\?next=/dashboard/certificates/?$"))


def test_pages_fit_tablet_and_laptop_widths(owner: Page, app_server):
    """The dashboard works at tablet and laptop widths: nothing spills past the window."""
    cert = pick(app_server, "active")
    pages = {"/dashboard/certificates": "Certificates", "/dashboard/certificates/new": "New certificate",
             f"/dashboard/certificates/{cert.id}": "Certificate", "/dashboard/settings": "Settings"}
    for width in (768, 1024, 1366):
        owner.set_viewport_size({"width": width, "height": 900})
        for path, heading in pages.items():
            owner.goto(path)
            expect(owner.get_by_role("heading", name=heading, exact=True)).to_be_visible()
            owner.wait_for_load_state("networkidle")
            overflow = owner.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} overflows by {overflow}px at {width}px"
            expect(owner.get_by_role("link", name="Settings")).to_be_visible()
    owner.set_viewport_size({"width": 768, "height": 900})
    owner.goto("/dashboard/certificates")
    owner.screenshot(path="test-artifacts/certificates-tablet.png")


def test_the_app_serves_its_icon(page: Page, app_server):
    response = page.request.get(f"{app_server['base']}/favicon.svg")
    assert response.status == 200 and b"<svg" in response.body()


def test_an_address_that_leads_nowhere_says_so_and_links_back(page: Page, app_server):
    page.goto("/dashboard/no-such-page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page).to_have_title(re.compile("Page not found"))
    page.get_by_role("link", name="Go to the dashboard").click()
    expect(page).to_have_url(re.compile(r"/login"))  # not signed in: the dashboard asks for it first
