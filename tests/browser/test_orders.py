"""Orders, API keys and embedding in the staff dashboard, in a real browser.

"Redeemed certificates are linked to the orders where they were used as payment." "You can
see which certificate was used on each order."
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlmodel import select

from giftcerts import db
from giftcerts.core import activity, apikeys, money, redemption
from giftcerts.core.codes import mask_code
from giftcerts.models import ApiKey, Order, Workspace
from tests.browser.test_dashboard import demo_workspace
from tests.browser.test_widget import ORDER_TOTAL, apply, open_checkout, pick_amount, widget


def test_an_order_paid_with_a_certificate_shows_in_the_dashboard_both_ways(owner: Page, app_server):
    cert = pick_amount(app_server, at_most=ORDER_TOTAL)
    due = money.format_money(ORDER_TOTAL - cert.amount_cents, "USD")
    open_checkout(owner)
    reference = owner.get_by_text(re.compile(r"^DEMO-")).inner_text()
    apply(owner, cert.code)
    expect(owner.locator("#amount-due")).to_have_text(due)
    expect(widget(owner).get_by_role("status")).to_contain_text("applied")

    owner.goto("/dashboard/certificates")
    owner.get_by_role("navigation").get_by_role("link", name="Orders").click()
    expect(owner.get_by_role("heading", name="Orders", exact=True)).to_be_visible()
    rows = owner.get_by_role("region", name="Orders").locator("tbody tr")
    expect(rows.filter(has_text=reference)).to_have_count(1)
    owner.get_by_label("Search").fill(reference)
    expect(rows).to_have_count(1)
    row = rows.first
    for text in [reference, "guest@example.com", "$480.00", due, "Open"]:
        expect(row).to_contain_text(text)

    row.get_by_role("link", name=f"Open order {reference}").click()
    expect(owner.get_by_role("heading", name=reference)).to_be_visible()
    lines = owner.get_by_role("region", name="Redemptions").locator("tbody tr")
    expect(lines).to_have_count(1)
    for text in [mask_code(cert.code), money.format_money(cert.amount_cents, "USD"), "Applied"]:
        expect(lines.first).to_contain_text(text)

    lines.first.get_by_role("link").click()
    expect(owner.get_by_label("Certificate code")).to_contain_text(cert.code[-4:])
    used = owner.get_by_role("list", name="Orders")
    expect(used).to_contain_text(f"Used on order {reference}")
    used.get_by_role("link", name=reference).click()
    expect(owner).to_have_url(re.compile(r"/dashboard/orders/\d+/?$"))
    expect(owner.get_by_role("heading", name=reference)).to_be_visible()


def test_an_order_search_with_no_match_shows_an_empty_state(owner: Page, app_server):
    owner.goto("/dashboard/orders")
    owner.get_by_label("Search").fill("nobody@nowhere.example")
    expect(owner.get_by_text("No orders match")).to_be_visible()
    owner.goto("/dashboard/orders/999999999")
    expect(owner.get_by_text("This order does not exist in your workspace.")).to_be_visible()


def test_an_owner_creates_an_api_key_sees_it_once_and_revokes_it(owner: Page, app_server):
    owner.goto("/dashboard/settings")
    owner.get_by_role("link", name="Manage API keys").click()
    expect(owner.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    owner.get_by_label("Key name").fill("Booking platform (browser test)")
    owner.get_by_role("button", name="Create API key").click()

    shown = owner.get_by_label("New API key", exact=True)
    expect(shown).to_have_text(re.compile(r"^gc_live_[A-Za-z0-9_-]{43}$"))
    plaintext = shown.inner_text()
    with db.read_session(app_server["db_url"]) as s:
        key = apikeys.authenticate(s, plaintext)
        assert key is not None and key.name == "Booking platform (browser test)"
    owner.get_by_role("button", name="Copy").click()
    expect(owner.get_by_text("API key copied.")).to_be_visible()
    owner.get_by_role("button", name="Done").click()
    expect(owner.get_by_role("dialog")).to_have_count(0)
    assert plaintext not in owner.content()
    owner.reload()
    expect(owner.get_by_role("region", name="API keys")).to_contain_text("Booking platform (browser test)")
    assert plaintext not in owner.content()

    row = owner.get_by_role("region", name="API keys").locator("tbody tr").filter(
        has_text="Booking platform (browser test)")
    expect(row).to_contain_text(key.prefix)
    expect(row).to_contain_text("Never")
    row.get_by_role("button", name=re.compile("^Revoke API key")).click()
    dialog = owner.get_by_role("alertdialog")
    expect(dialog).to_contain_text("stops working at once")
    dialog.get_by_role("button", name="Cancel").click()
    expect(row).to_contain_text("Active")
    row.get_by_role("button", name=re.compile("^Revoke API key")).click()
    owner.get_by_role("alertdialog").get_by_role("button", name="Revoke key").click()
    expect(owner.get_by_text("revoked. Requests using it are refused from now on.")).to_be_visible()
    expect(row).to_contain_text("Revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    with db.read_session(app_server["db_url"]) as s:
        assert apikeys.authenticate(s, plaintext) is None
        assert s.get(ApiKey, key.id).revoked_at is not None


def test_a_viewer_sees_the_keys_but_cannot_create_or_revoke_them(viewer: Page, app_server):
    viewer.goto("/dashboard/settings/api-keys")
    expect(viewer.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    expect(viewer.get_by_text("Only an owner of this workspace can create or revoke API keys.")).to_be_visible()
    expect(viewer.get_by_role("region", name="API keys")).to_contain_text("Demo key")
    expect(viewer.get_by_role("button", name="Create API key")).to_have_count(0)
    expect(viewer.get_by_role("button", name=re.compile("^Revoke"))).to_have_count(0)


def test_embed_origins_are_validated_and_the_snippet_is_ready_to_copy(owner: Page, app_server):
    base = app_server["base"]
    before = demo_workspace(app_server).embed_origins
    try:
        owner.goto("/dashboard/settings")
        origins = owner.get_by_label("Embed origins")
        expect(origins).to_have_value(before)
        origins.fill(f"{base} https://booking.example.com/checkout")
        owner.get_by_role("button", name="Save settings").click()
        expect(owner.get_by_text(re.compile("“https://booking.example.com/checkout” is not an origin"))).to_be_visible()
        assert demo_workspace(app_server).embed_origins == before

        origins.fill(f"{base}, https://Booking.Example.com/")
        owner.get_by_role("button", name="Save settings").click()
        expect(owner.get_by_text("Settings saved.")).to_be_visible()
        expect(owner.get_by_label("Embed origins")).to_have_value(f"{base} https://booking.example.com")
        assert demo_workspace(app_server).embed_origins == f"{base} https://booking.example.com"

        snippet = owner.get_by_label("embed snippet", exact=True)
        expect(snippet).to_contain_text('<iframe title="Gift certificate"')
        expect(snippet).to_contain_text(f'event.origin !== "{base}"')
        expect(snippet).to_contain_text("giftcerts:redeemed")
        expect(owner.get_by_label("server snippet", exact=True)).to_contain_text(
            f"curl -X POST {base}/api/v1/widget-sessions")
    finally:
        with db.write_session(app_server["db_url"]) as s:
            ws = s.exec(select(Workspace).where(Workspace.slug == app_server["workspace"])).one()
            ws.embed_origins = before
            s.add(ws)


def test_the_new_pages_fit_tablet_width(owner: Page, app_server):
    owner.set_viewport_size({"width": 768, "height": 900})
    for path, heading in {"/dashboard/orders": "Orders", "/dashboard/settings/api-keys": "API keys",
                          "/dashboard/settings": "Settings"}.items():
        owner.goto(path)
        expect(owner.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        owner.wait_for_load_state("networkidle")
        overflow = owner.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} overflows by {overflow}px at 768px"


def test_staff_complete_a_held_order_and_filter_orders_by_status(owner: Page, app_server):
    cert = pick_amount(app_server, at_most=ORDER_TOTAL)
    open_checkout(owner)
    reference = owner.get_by_text(re.compile(r"^DEMO-")).inner_text()
    apply(owner, cert.code)
    expect(widget(owner).get_by_role("status")).to_contain_text("applied")

    owner.goto("/dashboard/orders")
    rows = owner.get_by_role("region", name="Orders").locator("tbody tr")
    rows.filter(has_text=reference).get_by_role("link", name=f"Open order {reference}").click()
    expect(owner.get_by_role("heading", name=reference)).to_be_visible()
    line = owner.get_by_role("region", name="Redemptions").locator("tbody tr").first
    expect(line).to_contain_text("Held for this checkout until")
    expect(line).to_contain_text("min left")

    # Complete, after a confirmation
    owner.get_by_role("button", name="Complete order").click()
    dialog = owner.get_by_role("alertdialog")
    expect(dialog).to_contain_text("spent for good")
    dialog.get_by_role("button", name="Complete order").click()
    expect(owner.get_by_text("Order completed: its certificates are spent for good.")).to_be_visible()
    expect(line).to_contain_text("Final: booking confirmed")
    expect(owner.get_by_role("button", name="Complete order")).to_have_count(0)

    # the list filters by status
    owner.goto("/dashboard/orders?status=completed")
    expect(rows.filter(has_text=reference)).to_have_count(1)
    expect(rows.filter(has_text=reference)).to_contain_text("Completed")
    owner.goto("/dashboard/orders?status=open")
    expect(owner.get_by_role("heading", name="Orders", exact=True)).to_be_visible()
    expect(rows.filter(has_text=reference)).to_have_count(0)


def test_an_owner_adds_a_webhook_endpoint_and_sees_its_secret_once(owner: Page, app_server):
    owner.goto("/dashboard/settings")
    owner.get_by_role("link", name="Webhooks").click()
    expect(owner.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    # a private address is refused with a message beside the field
    owner.get_by_label("Endpoint URL").fill("https://10.1.2.3/hooks")
    owner.get_by_role("button", name="Add endpoint").click()
    expect(owner.get_by_text("This address is on a private network")).to_be_visible()
    # a public one is added; the signing secret is shown once
    url = "https://hooks.example.com/giftcerts"
    owner.get_by_label("Endpoint URL").fill(url)
    owner.get_by_label("Description (optional)").fill("Booking server")
    owner.get_by_role("button", name="Add endpoint").click()
    dialog = owner.get_by_role("dialog")
    expect(dialog).to_contain_text("It is not shown again")
    secret = dialog.get_by_label("Signing secret").inner_text()
    assert secret.startswith("whsec_") and len(secret) > 30
    dialog.get_by_role("button", name="Done").click()
    endpoints = owner.get_by_role("region", name="Webhook endpoints")
    expect(endpoints).to_contain_text(url)
    expect(endpoints).to_contain_text("certificate.redeemed")
    expect(owner.get_by_text(secret)).to_have_count(0)
    # it can be switched off
    switch = owner.get_by_role("switch", name=f"Send events to {url}")
    expect(switch).to_be_checked()
    switch.click()
    expect(owner.get_by_text("Endpoint disabled: nothing is sent to it.")).to_be_visible()
    expect(switch).not_to_be_checked()
    owner.reload()
    expect(owner.get_by_role("switch", name=f"Send events to {url}")).not_to_be_checked()


def test_staff_apply_a_code_at_the_desk_for_a_phone_booking(owner: Page, app_server):
    cert = pick_amount(app_server, at_most=ORDER_TOTAL)
    ws = demo_workspace(app_server)
    with db.write_session(app_server["db_url"]) as s:
        order = redemption.create_order(s, s.get(Workspace, ws.id), reference=f"PHONE-{cert.id}",
                                        total_cents=ORDER_TOTAL)
    owner.goto(f"/dashboard/orders/{order.id}")
    expect(owner.get_by_role("heading", name=order.reference)).to_be_visible()
    field = owner.get_by_label("Gift certificate code")
    field.fill("NOPE-NOPE-NOPE")
    owner.get_by_role("button", name="Apply", exact=True).click()
    expect(owner.get_by_role("alert")).to_contain_text("not valid")
    field.fill(cert.code.lower())
    owner.get_by_role("button", name="Apply", exact=True).click()
    expect(owner.get_by_text(re.compile("Gift certificate applied"))).to_be_visible()
    line = owner.get_by_role("region", name="Redemptions").locator("tbody tr").first
    expect(line).to_contain_text(mask_code(cert.code))
    expect(line).to_contain_text("Held for this checkout until")
    with db.read_session(app_server["db_url"]) as s:
        assert s.get(Order, order.id).amount_due_cents == ORDER_TOTAL - cert.amount_cents
        [entry] = [a for a in activity.history(s, workspace_id=ws.id, certificate_id=cert.id)
                   if a.kind == activity.ActivityKind.REDEEMED.value]
        assert entry.actor.endswith("@demo.example")
