"""axe-core (the npm package the Makefile installs into .tools, injected by Playwright) finds no
critical or serious WCAG violation on the pages and states staff and customers see."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_portal import buyer, fill_card, fill_purchase, open_portal
from tests.browser.test_responsive import dashboard_pages

AXE = Path(__file__).resolve().parents[2] / ".tools/node_modules/axe-core/axe.min.js"
WIDTHS = (390, 768, 1280)

RUN_AXE = """async () => {
    const result = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a',
        'wcag21aa', 'wcag22aa', 'best-practice']}, resultTypes: ['violations']});
    return result.violations.filter(v => v.impact === 'critical' || v.impact === 'serious').map(v =>
        `${v.impact} ${v.id}: ` + v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' (' +
            n.failureSummary.replace(/\\s+/g, ' ').slice(0, 160) + ')').join('; ') +
        (v.nodes.length > 3 ? ` ... ${v.nodes.length} nodes` : ''));
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    assert AXE.exists(), f"{AXE} is missing: `make install` installs axe-core into .tools"
    return AXE.read_text(encoding="utf-8")


def violations(page: Page, axe_source: str) -> list[str]:
    page.wait_for_load_state("networkidle")
    # measured as a person sees the page: a dialog still fading in blends its colours with the
    # overlay, which axe would read as low contrast (seen on a loaded machine)
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source)
    return page.evaluate(RUN_AXE)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_dashboard_has_no_serious_accessibility_violations(owner: Page, app_server, axe_source, width):
    owner.set_viewport_size({"width": width, "height": 860})
    found: dict[str, list[str]] = {}
    pages = dashboard_pages(app_server)
    for path, heading in pages.items():
        owner.goto(path)
        expect(owner.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        found[path] = violations(owner, axe_source)
        if heading == "New certificate":  # and with its errors showing
            owner.get_by_role("button", name="Create certificate").click()
            expect(owner.get_by_label("Purchaser name")).to_have_attribute("aria-invalid", "true")
            found[f"{path} with its errors"] = violations(owner, axe_source)
        if heading == "Certificate":
            for button, dialog in (("Void", "Void this certificate?"), ("Resend email", "Resend the certificate email")):
                owner.get_by_role("button", name=button, exact=True).click()
                expect(owner.get_by_role("alertdialog").or_(owner.get_by_role("dialog"))).to_contain_text(dialog)
                found[f"{path} ({button} dialog)"] = violations(owner, axe_source)
                owner.keyboard.press("Escape")
    if width < 768:
        owner.get_by_role("button", name="Menu").click()
        expect(owner.get_by_role("navigation").get_by_role("link", name="Orders")).to_be_visible()
        found["the phone menu"] = violations(owner, axe_source)
    found = {k: v for k, v in found.items() if v}
    assert not found, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in found.items())


@pytest.mark.parametrize("width", WIDTHS)
def test_the_public_pages_have_no_serious_accessibility_violations(page: Page, app_server, axe_source, width):
    page.set_viewport_size({"width": width, "height": 860})
    found: dict[str, list[str]] = {}
    page.goto("/login")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    found["/login"] = violations(page, axe_source)

    page.goto("/portal/demo")
    expect(page.locator("#gc-card-element input[placeholder=number]")).to_be_visible()
    found["/portal/demo"] = violations(page, axe_source)
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page.get_by_role("region", name="Please correct these fields")).to_be_focused()
    found["/portal/demo with its errors"] = violations(page, axe_source)

    page.goto("/demo/checkout")
    expect(page.frame_locator("iframe[title='Gift certificate']").get_by_label("Gift certificate code")).to_be_visible()
    found["/demo/checkout"] = violations(page, axe_source)

    page.goto("/widget/redeem")
    found["/widget/redeem"] = violations(page, axe_source)
    found = {k: v for k, v in found.items() if v}
    assert not found, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in found.items())


def test_the_portal_confirmation_has_no_serious_accessibility_violations(page: Page, app_server, axe_source):
    open_portal(page)
    fill_purchase(page, buyer_email=buyer())
    fill_card(page, "4242424242424242")
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/portal/demo/confirmation\?token="), timeout=20_000)
    found = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 860})
        expect(page.locator("#certificate-code")).to_be_visible()
        found[f"confirmation at {width}px"] = violations(page, axe_source)
    found = {k: v for k, v in found.items() if v}
    assert not found, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in found.items())
