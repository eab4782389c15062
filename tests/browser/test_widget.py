"""The redemption widget at checkout, in a real browser, inside the demo booking site's iframe.

"During booking, customers: enter the 12-character redemption code; the system validates the
code exists and is active, checks the certificate hasn't expired, verifies the certificate
value doesn't exceed the order total; the value is applied as payment toward the order;
the certificate status changes to Redeemed." "Customers cannot redeem a certificate if its
value is greater than the order total."
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from datetime import timedelta

import httpx
from playwright.sync_api import Page, expect
from sqlmodel import select

from giftcerts import db
from giftcerts.clock import format_date, utcnow
from giftcerts.core import activity, lifecycle, money, redemption
from giftcerts.core.workspaces import embed_origin_list
from giftcerts.core.codes import format_code, mask_code
from giftcerts.models import Certificate, Order, Workspace
from tests.browser.test_dashboard import _taken, demo_workspace
from tests.conftest import ARTIFACTS

ORDER_TOTAL = 48000


def pick_amount(app_server, *, at_most: int | None = None, more_than: int | None = None) -> Certificate:
    """An Active demo certificate, good for a while, that no other test has touched."""
    with db.read_session(app_server["db_url"]) as s:
        query = (select(Certificate).where(Certificate.status == "active",
                                           Certificate.expires_at > utcnow() + timedelta(days=30))
                 .order_by(Certificate.id.desc()))
        for cert in s.exec(query):
            if cert.id in _taken or (at_most and cert.amount_cents > at_most) or \
                    (more_than and cert.amount_cents <= more_than):
                continue
            _taken.add(cert.id)
            return cert
    raise AssertionError("no unused active certificate of that value in the demo data")


def widget(page: Page):
    return page.frame_locator("iframe[title='Gift certificate']")


@contextmanager
def other_site(html: str):
    """Another site on this machine (127.0.0.1, not localhost) serving one page (Chromium treats pages it did not really
    fetch as public, and public pages may not frame local ones at all, which would hide the test)."""
    class Decoy(BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Decoy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextmanager
def also_embedded_on(app_server, ws, origin: str):
    """The workspace allows `origin` to embed its widget for the duration, then as it was."""
    with db.write_session(app_server["db_url"]) as s:
        s.get(Workspace, ws.id).embed_origins = f"{ws.embed_origins} {origin}"
    try:
        yield
    finally:
        with db.write_session(app_server["db_url"]) as s:
            s.get(Workspace, ws.id).embed_origins = ws.embed_origins


def open_checkout(page: Page) -> None:
    page.goto("/demo/checkout")
    expect(page.locator("#amount-due")).to_have_text("$480.00")
    expect(widget(page).get_by_label("Gift certificate code")).to_be_visible()


def apply(page: Page, code: str, *, framed: bool = True) -> None:
    root = widget(page) if framed else page
    root.get_by_label("Gift certificate code").fill(code)
    root.get_by_role("button", name="Apply").click()


def status_of(app_server, cert_id: int) -> str:
    with db.read_session(app_server["db_url"]) as s:
        return s.get(Certificate, cert_id).status


def test_apply_a_certificate_then_remove_it_before_paying(page: Page, app_server):
    cert = pick_amount(app_server, at_most=ORDER_TOTAL)
    due_after = money.format_money(ORDER_TOTAL - cert.amount_cents, "USD")
    open_checkout(page)
    reference = page.get_by_text(re.compile(r"^DEMO-")).inner_text()

    field = widget(page).get_by_label("Gift certificate code")
    field.press_sequentially(cert.code.lower(), delay=20)  # typed as a customer would
    expect(field).to_have_value(format_code(cert.code))
    widget(page).get_by_role("button", name="Apply").click()

    # The widget shows what was applied and what is still due; the booking page hears of it.
    frame = widget(page)
    expect(frame.get_by_role("status")).to_contain_text(f"{mask_code(cert.code)} applied")
    expect(frame.locator("#gc-amount-due")).to_have_text(due_after)
    expect(page.locator("#amount-due")).to_have_text(due_after)
    expect(frame.get_by_label("Gift certificate code")).to_have_value("")
    page.screenshot(path=str(ARTIFACTS / "demo-checkout-applied.png"), full_page=True)
    assert status_of(app_server, cert.id) == "redeemed"
    with db.read_session(app_server["db_url"]) as s:
        order = s.exec(select(Order).where(Order.reference == reference)).one()
        assert order.amount_due_cents == ORDER_TOTAL - cert.amount_cents
        last = activity.history(s, workspace_id=cert.workspace_id, certificate_id=cert.id)[-1]
        assert (last.kind, last.actor, activity.describe(last, "UTC")) == (
            "Redeemed", "Checkout widget", f"Order {reference}")

    frame.get_by_role("button", name=f"Remove gift certificate ending {cert.code[-4:]}").click()
    expect(page.locator("#amount-due")).to_have_text("$480.00")
    expect(frame.get_by_role("status")).to_contain_text("removed")
    expect(frame.get_by_role("list", name="Applied gift certificates")).to_have_count(0)
    assert status_of(app_server, cert.id) == "active"


def test_an_expired_certificate_is_refused_naming_its_expiry_date(page: Page, app_server):
    ws = demo_workspace(app_server)
    with db.write_session(app_server["db_url"]) as s:
        cert = lifecycle.issue_certificate(
            s, ws, purchaser_name="Old Sale", purchaser_email="old.sale@example.com", recipient_name="Late Lou",
            recipient_email="lou@example.com", amount="100", paid=True, actor="test",
            now=utcnow() - timedelta(days=ws.expiry_days + 3))
    open_checkout(page)
    apply(page, cert.code)
    expected = f"This gift certificate expired on {format_date(cert.expires_at, ws.timezone)}."
    expect(widget(page).get_by_role("alert")).to_have_text(expected)
    expect(page.locator("#amount-due")).to_have_text("$480.00")
    assert status_of(app_server, cert.id) == "active"  # the sweep has not run; the clock decides anyway


def test_a_certificate_worth_more_than_the_order_is_refused(page: Page, app_server):
    cert = pick_amount(app_server, more_than=ORDER_TOTAL)
    open_checkout(page)
    apply(page, format_code(cert.code))
    alert = widget(page).get_by_role("alert")
    expect(alert).to_contain_text(f"worth {money.format_money(cert.amount_cents, 'USD')}, more than the $480.00 "
                                  "still due on this order")
    expect(alert).to_contain_text("used in full on a single booking")
    page.screenshot(path=str(ARTIFACTS / "demo-checkout-refused.png"), full_page=True)
    assert status_of(app_server, cert.id) == "active"


def test_a_nonsense_code_is_not_valid(page: Page, app_server):
    open_checkout(page)
    apply(page, "hello world, it's me")
    expect(widget(page).get_by_label("Gift certificate code")).to_have_value("HELL-OWOR-LDIT")
    expect(widget(page).get_by_role("alert")).to_have_text("This code is not valid. Check it and try again.")
    expect(widget(page).get_by_label("Gift certificate code")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#amount-due")).to_have_text("$480.00")


def test_an_expired_or_unknown_checkout_session_says_so_plainly(page: Page, app_server):
    ws = demo_workspace(app_server)
    with db.write_session(app_server["db_url"]) as s:
        order = redemption.create_order(s, ws, reference=f"OLD-{utcnow().timestamp()}", total_cents=10000)
        _, token = redemption.create_widget_session(s, ws, order_id=order.id, now=utcnow() - timedelta(hours=2))
    for session in (token, "gcw_made-up"):
        page.goto(f"/widget/redeem?session={session}")
        expect(page.get_by_text("This checkout session has expired")).to_be_visible()
        expect(page.get_by_text("Reload the booking page")).to_be_visible()
        expect(page.get_by_label("Gift certificate code")).to_have_count(0)


def test_only_the_workspaces_embed_origins_may_frame_the_widget(page: Page, app_server):
    base = app_server["base"]
    ws = demo_workspace(app_server)
    assert base in ws.embed_origins.split()
    with db.write_session(app_server["db_url"]) as s:
        order = redemption.create_order(s, ws, reference=f"CSP-{utcnow().timestamp()}", total_cents=10000)
        _, token = redemption.create_widget_session(s, ws, order_id=order.id)
    allowed = httpx.get(f"{base}/widget/redeem/?session={token}")
    assert allowed.status_code == 200
    assert allowed.headers["content-security-policy"] == "frame-ancestors " + " ".join(embed_origin_list(ws))
    assert httpx.get(f"{base}/widget/redeem/?session=gcw_nope").headers["content-security-policy"] == \
        "frame-ancestors 'none'"

    # The same booking page served from another origin (127.0.0.1 is not localhost): the browser
    # refuses to show the widget in its frame.
    refusals: list[str] = []
    page.on("console", lambda msg: refusals.append(msg.text) if "frame-ancestors" in msg.text else None)
    page.goto(base.replace("localhost", "127.0.0.1") + "/demo/checkout")
    expect(page.locator("#amount-due")).to_have_text("$480.00")
    expect(page.locator("iframe[title='Gift certificate']")).to_be_attached()
    page.wait_for_timeout(1500)
    expect(widget(page).get_by_label("Gift certificate code")).to_have_count(0)
    assert refusals, "Chromium did not report a frame-ancestors refusal"


def test_the_widget_fits_a_narrow_iframe(page: Page, app_server):
    cert = pick_amount(app_server, at_most=ORDER_TOTAL)
    ws = demo_workspace(app_server)
    with db.write_session(app_server["db_url"]) as s:
        order = redemption.create_order(s, ws, reference=f"NARROW-{utcnow().timestamp()}", total_cents=ORDER_TOTAL)
        _, token = redemption.create_widget_session(s, ws, order_id=order.id)
    page.set_viewport_size({"width": 360, "height": 400})
    page.goto(f"/widget/redeem?session={token}")
    apply(page, cert.code, framed=False)
    expect(page.get_by_role("list", name="Applied gift certificates")).to_contain_text(cert.code[-4:])
    apply(page, "ZZZZ-ZZZZ-ZZZZ", framed=False)
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.screenshot(path=str(ARTIFACTS / "widget-narrow.png"), full_page=True)


def test_no_other_site_can_frame_the_dashboard_or_the_portal(page: Page, app_server):
    base = app_server["base"]
    for path in ("/login", "/dashboard", "/portal/demo"):
        assert httpx.get(base + path).headers["content-security-policy"] == "frame-ancestors 'self'"
    ws = demo_workspace(app_server)
    with db.write_session(app_server["db_url"]) as s:
        order = redemption.create_order(s, ws, reference=f"FRAME-{utcnow().timestamp()}", total_cents=10000)
        _, token = redemption.create_widget_session(s, ws, order_id=order.id)
    decoy = (f'<iframe title="sign-in" src="{base}/login"></iframe>'
             f'<iframe title="widget" src="{base}/widget/redeem?session={token}"></iframe>')
    # control: a widget this origin may frame, so the refusal below is our policy's doing
    with other_site(decoy) as hostile, also_embedded_on(app_server, ws, hostile):
        page.goto(f"{hostile}/")
        expect(page.frame_locator("iframe[title='widget']").get_by_label("Gift certificate code")).to_be_visible()
        expect(page.frame_locator("iframe[title='sign-in']").get_by_label("Email")).to_have_count(0)
        assert [f.url for f in page.frames if f.url.startswith("chrome-error://")]  # refused, not slow
    # our own pages may still frame it
    page.route(f"{base}/decoy.html", lambda route: route.fulfill(content_type="text/html", body=decoy))
    page.goto(f"{base}/decoy.html")
    expect(page.frame_locator("iframe[title='sign-in']").get_by_label("Email")).to_be_visible()


def test_a_booking_site_on_another_site_can_use_the_widget_even_where_the_browser_refuses_it_storage(
        page: Page, app_server):
    cert = pick_amount(app_server, at_most=ORDER_TOTAL)
    ws = demo_workspace(app_server)
    with db.write_session(app_server["db_url"]) as s:
        order = redemption.create_order(s, ws, reference=f"XSITE-{utcnow().timestamp()}", total_cents=ORDER_TOTAL)
        _, token = redemption.create_widget_session(s, ws, order_id=order.id)
    base = app_server["base"]
    booking_page = (
        f'<output id="due">{ORDER_TOTAL}</output>'
        f'<iframe title="Gift certificate" src="{base}/widget/redeem?session={token}"></iframe>'
        '<script>window.addEventListener("message", function (event) {'
        f' if (event.origin === "{base}") document.getElementById("due").textContent = event.data.amount_due_cents;'
        '});</script>')
    with other_site(booking_page) as booking, also_embedded_on(app_server, ws, booking):
        page.goto(f"{booking}/")
        apply(page, cert.code)
        expect(widget(page).get_by_role("list", name="Applied gift certificates")).to_contain_text(cert.code[-4:])
        expect(page.locator("#due")).to_have_text(str(ORDER_TOTAL - cert.amount_cents))
        framed = next(frame for frame in page.frames if "/widget/redeem" in frame.url)
        # Chromium refused this third-party frame its storage (as in any incognito window);
        # the page ran on the in-memory stand-in instead of failing to render.
        assert framed.evaluate("!(window.sessionStorage instanceof Storage)")
    assert status_of(app_server, cert.id) == "redeemed"


def test_paying_in_the_demo_checkout_completes_the_booking_from_its_server(page: Page, app_server):
    cert = pick_amount(app_server, at_most=48000)
    open_checkout(page)
    reference = page.get_by_text(re.compile(r"^DEMO-")).inner_text()
    apply(page, cert.code)
    expect(widget(page).get_by_role("status")).to_contain_text("applied")
    with db.read_session(app_server["db_url"]) as s:
        order = s.exec(select(Order).where(Order.reference == reference)).one()
        assert order.status == "open"  # applied, held: not yet final
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_role("status").filter(has_text="Booking confirmed")).to_be_visible()
    with db.read_session(app_server["db_url"]) as s:
        order = s.get(Order, order.id)
        assert order.status == "completed" and order.completed_at is not None
        entries = [a.kind for a in activity.history(s, workspace_id=order.workspace_id, certificate_id=cert.id)]
    assert status_of(app_server, cert.id) == "redeemed"
    assert entries[-1] == activity.ActivityKind.CAPTURED.value


def test_the_booking_link_of_a_certificate_fills_the_widgets_code_field(page: Page, app_server):
    cert = pick_amount(app_server, at_most=48000)
    page.goto(f"/demo/checkout?gift_certificate={cert.code}")
    field = widget(page).get_by_label("Gift certificate code")
    expect(field).to_have_value(format_code(cert.code))
    assert status_of(app_server, cert.id) == "active"  # filled in, not applied by itself
    widget(page).get_by_role("button", name="Apply").click()
    expect(widget(page).get_by_role("status")).to_contain_text("applied")


def test_a_checkout_left_with_a_certificate_applied_releases_it_after_the_hold_time(page: Page, app_server):
    from giftcerts.jobs.worker import Worker
    from giftcerts.models import Redemption

    cert = pick_amount(app_server, at_most=48000)
    open_checkout(page)
    reference = page.get_by_text(re.compile(r"^DEMO-")).inner_text()
    apply(page, cert.code)
    expect(widget(page).get_by_role("status")).to_contain_text("applied")
    page.goto("about:blank")  # the customer leaves without paying
    assert status_of(app_server, cert.id) == "redeemed"  # held for the abandoned booking
    url = app_server["db_url"]
    with db.write_session(url) as s:
        order = s.exec(select(Order).where(Order.reference == reference)).one()
        ws = s.get(Workspace, order.workspace_id)
        hold = timedelta(minutes=ws.hold_minutes)
        # the hold time passes (the clock of the redemption moved back, not the test's)
        for red in s.exec(select(Redemption).where(Redemption.order_id == order.id)).all():
            red.created_at = red.created_at - hold
            s.add(red)
    assert Worker(url).sweep(force=True)["released"] >= 1  # what the app's worker runs every minute
    assert status_of(app_server, cert.id) == "active"
    with db.read_session(url) as s:
        entries = activity.history(s, workspace_id=order.workspace_id, certificate_id=cert.id)
        last = entries[-1]
        assert last.kind == activity.ActivityKind.RELEASED.value
        assert f"Checkout abandoned: order {reference} was not completed" in activity.describe(last, "UTC")
        assert s.get(Order, order.id).status == "open"
