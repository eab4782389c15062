"""Tracking certificate sales on a live dashboard, in a real browser.

"Tracking Certificate Sales — revenue, popular amounts, redemption rates": the Overview
shows them with charts for a chosen period, updates by itself when a sale comes in
through the API, and both the figures and the certificates list export as CSV.
"""

from __future__ import annotations

import csv
import io
import re

import httpx
from playwright.sync_api import Page, expect

from giftcerts import db
from giftcerts.core import search, workspaces
from tests.conftest import ARTIFACTS

LIVE_TIMEOUT = 12_000  # "within a few seconds": the page polls every 2 s


def overview(page: Page) -> Page:
    page.goto("/dashboard")
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    expect(page.get_by_role("region", name="Revenue")).to_be_visible(timeout=20_000)
    return page


def card(page: Page, name: str):
    return page.get_by_role("region", name=name, exact=True)


def sell_through_api(app_server, amount_cents: int) -> dict:
    response = httpx.post(
        f"{app_server['base']}/api/v1/certificates",
        headers={"Authorization": f"Bearer {app_server['api_key']}"},
        json={"amount_cents": amount_cents, "purchaser_name": "Live Buyer", "purchaser_email": "live@example.com",
              "recipient_name": "Live Recipient", "recipient_email": "live.recipient@example.com",
              "message": "", "status": "active"},
        timeout=20,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_the_overview_is_the_dashboard_home_and_shows_its_charts(owner: Page, app_server):
    page = overview(owner)
    # Overview comes first in the navigation
    links = page.get_by_role("navigation").get_by_role("link")
    expect(links.first).to_have_accessible_name("Overview")
    # Given the whole year of demo sales
    page.get_by_label("Period").select_option("year")
    expect(page.locator("#period-label")).to_contain_text(re.compile(r"Jan 1, \d{4}"))
    # Then each contract card is there, with its caption, and each has a chart
    for name in ["Revenue", "Redemption rate", "Popular amounts", "Outstanding"]:
        expect(card(page, name)).to_be_visible()
        expect(card(page, name).locator(".recharts-surface")).to_have_count(1)
    for name in ["Breakage", "Voided and refunded", "Days to redemption"]:
        expect(card(page, name)).to_be_visible()
    expect(card(page, "Revenue")).to_contain_text("Certificates paid in the period")
    expect(card(page, "Revenue").locator(".recharts-bar-rectangle").first).to_be_visible()
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)


def test_changing_the_period_changes_the_figures(owner: Page, app_server):
    page = overview(owner)
    revenue = card(page, "Revenue")
    month_label = page.locator("#period-label").inner_text()
    page.get_by_label("Period").select_option("year")
    expect(page.locator("#period-label")).not_to_have_text(month_label)
    year_text = revenue.inner_text()
    # When a custom range with no sales at all is chosen (before the demo data begins)
    page.get_by_label("Period").select_option("custom")
    page.get_by_label("From", exact=True).fill("2001-01-01")
    page.get_by_label("To", exact=True).fill("2001-01-31")
    # Then the figures change to nothing, with an empty state rather than an empty chart
    expect(revenue).to_contain_text("0 certificates sold")
    expect(revenue).to_contain_text("No sales in this period")
    expect(card(page, "Popular amounts")).to_contain_text("No amounts to compare yet")
    assert revenue.inner_text() != year_text
    # And a range that ends before it starts is refused with a clear message
    page.get_by_label("To", exact=True).fill("2000-12-01")
    expect(page.get_by_role("alert")).to_contain_text("on or after the start date")


def test_a_sale_made_through_the_api_appears_on_the_open_overview_without_reload(owner: Page, app_server):
    page = overview(owner)  # this month: today's sales are in it
    revenue = card(page, "Revenue")
    expect(revenue).to_contain_text("sold")
    before = int(re.search(r"([\d,]+) certificates? sold", revenue.inner_text()).group(1).replace(",", ""))
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    # When the booking platform sells a certificate through the JSON API
    sell_through_api(app_server, 12300)
    # Then the open overview counts it within a few seconds, without reloading the page
    expect(revenue).to_contain_text(f"{before + 1:,} certificate{'' if before + 1 == 1 else 's'} sold",
                                    timeout=LIVE_TIMEOUT)
    expect(card(page, "Popular amounts")).to_be_visible()
    assert navigations == []


def test_a_sale_appears_on_the_open_certificates_list_without_reload(certificates_list: Page, app_server):
    owner = certificates_list
    rows = owner.get_by_role("region", name="Certificates").locator("tbody tr")
    expect(rows).to_have_count(25)
    sold = sell_through_api(app_server, 4500)
    expect(rows.first).to_contain_text(sold["code"][-4:], timeout=LIVE_TIMEOUT)
    expect(rows.first).to_contain_text("$45.00")


def test_export_csv_downloads_the_filtered_list(certificates_list: Page, app_server):
    owner = certificates_list
    owner.get_by_label("Status").select_option("voided")
    expect(owner.get_by_role("region", name="Certificates").locator("tbody tr").first).to_contain_text("Voided")
    with owner.expect_download() as download_info:
        owner.get_by_role("button", name="Export CSV").click()
    expect(owner.get_by_role("status").filter(has_text="Downloading")).to_be_visible()
    path = download_info.value.path()
    rows = list(csv.reader(io.StringIO(open(path, encoding="utf-8-sig").read())))
    with db.read_session(app_server["db_url"]) as s:
        ws = workspaces.find_workspace(s, app_server["workspace"])
        expected = search.count_certificates(s, workspace_id=ws.id, status="voided")
    assert rows[0][:3] == ["ID", "Code (masked)", "Status"]
    assert len(rows) - 1 == expected > 0
    assert {r[2] for r in rows[1:]} == {"Voided"}


def test_the_figures_export_as_csv(owner: Page, app_server):
    page = overview(owner)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export figures (CSV)").click()
    text = open(download_info.value.path(), encoding="utf-8-sig").read()
    figures = {row[0]: row for row in csv.reader(io.StringIO(text)) if row}
    assert figures["Period"][1] == "This month"
    assert re.fullmatch(r"\d+\.\d{2}", figures["Outstanding (now)"][2])


def test_staff_see_a_guessing_alert_on_the_overview_while_it_lasts(owner: Page, app_server):
    """Strangers' guessing in the widget refuses nobody; staff are told what happened and when."""
    from datetime import timedelta

    from giftcerts.clock import utcnow
    from giftcerts.models import GuessingAlert

    with db.write_session(app_server["db_url"]) as s:
        ws = workspaces.find_workspace(s, app_server["workspace"])
        alert = GuessingAlert(workspace_id=ws.id, detected_at=utcnow(), guarded_until=utcnow() + timedelta(hours=24),
                              failures=1000, threshold="1000/hour")
        s.add(alert)
        s.flush()
        alert_id = alert.id
    try:
        page = overview(owner)
        banner = page.locator("#guessing-alert")
        expect(banner).to_be_visible()
        expect(banner).to_have_attribute("role", "alert")
        expect(banner).to_contain_text(re.compile(r"Code guessing detected at \d{4}-\d\d-\d\d \d\d:\d\d"))
        expect(banner).to_contain_text("at least 1,000 invalid codes were tried in the redemption widget within 1 hour")
        expect(banner).to_contain_text("your booking system's API key and customers with real codes redeem as usual")
    finally:
        with db.write_session(app_server["db_url"]) as s:
            s.delete(s.get(GuessingAlert, alert_id))
    page.reload()
    expect(page.get_by_role("region", name="Revenue")).to_be_visible(timeout=20_000)
    expect(page.locator("#guessing-alert")).to_have_count(0)


def axis_ticks(page: Page, name: str, axis: str) -> list[str]:
    ticks = card(page, name).locator(f".recharts-{axis}-tick-labels .recharts-cartesian-axis-tick-value")
    expect(ticks.first).to_be_visible()
    return [t.strip() for t in ticks.all_text_contents()]  # SVG text has no innerText


def is_round(number: int) -> bool:
    """1, 2 or 5 times a power of ten (or zero)."""
    digits = str(number).rstrip("0")
    return number == 0 or digits in ("1", "2", "5")


def test_chart_axes_have_round_ticks_in_the_workspace_currency(owner: Page, app_server):
    page = overview(owner)
    page.get_by_label("Period").select_option("year")
    expect(card(page, "Revenue").locator(".recharts-bar-rectangle").first).to_be_visible()
    for name in ("Revenue", "Outstanding"):
        labels = axis_ticks(page, name, "yAxis")
        assert all(re.fullmatch(r"\$\d{1,3}(,\d{3})*", label) for label in labels), labels
        values = [int(label.strip("$").replace(",", "")) for label in labels]
        assert values[0] == 0 and len(values) >= 3, values
        step = values[1] - values[0]
        assert is_round(step) and all(b - a == step for a, b in zip(values, values[1:])), values
    assert axis_ticks(page, "Redemption rate", "yAxis") == ["0%", "25%", "50%", "75%", "100%"]
    # a bar's tooltip tells the value in the currency too
    card(page, "Revenue").locator(".recharts-bar-rectangle").first.hover()
    expect(card(page, "Revenue").locator(".recharts-tooltip-wrapper")).to_contain_text(re.compile(r"\$[\d,]+\.\d\d"))
