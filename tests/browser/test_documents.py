"""Browser: the certificate PDF from the dashboard, actions with a live preview, and upcoming
expirations with "Notify" — against the real app, whose in-app worker mails a local SMTP sink."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pypdf
from playwright.sync_api import Page, expect
from sqlmodel import select

from giftcerts import db
from giftcerts.models import Certificate
from giftcerts.notify.sink import read_folder


def mail_to(app_server, address: str, timeout: float = 40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in read_folder(app_server["mail_dir"]) if m["To"] == address]
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"no email to {address} arrived")


def test_a_sale_is_emailed_with_its_pdf_and_the_pdf_downloads_from_the_dashboard(owner: Page, app_server):
    # Given staff record a paid phone sale
    owner.goto("/dashboard/certificates/new")
    owner.get_by_label("Purchaser name").fill("Pdf Buyer")
    owner.get_by_label("Purchaser email").fill("pdf.buyer@example.com")
    owner.get_by_label("Recipient name").fill("Pdf Recipient")
    owner.get_by_label("Recipient email").fill("pdf.recipient@example.com")
    owner.get_by_label("Amount").fill("120")
    owner.get_by_role("button", name="Create certificate").click()
    code = owner.get_by_label("Certificate code").inner_text()
    # Then the recipient gets the certificate with its PDF, and the purchaser a receipt
    [email] = mail_to(app_server, "pdf.recipient@example.com")
    assert any(p.get_content_type() == "application/pdf" for p in email.iter_attachments())
    mail_to(app_server, "pdf.buyer@example.com")
    # When staff download the PDF from the detail page
    with owner.expect_download() as info:
        owner.get_by_role("button", name="Download PDF").click()
    content = Path(info.value.path()).read_bytes()
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(content)).pages)
    assert code in text and "$120.00" in text and "Pdf Recipient" in text
    # And the activity log shows what was sent
    owner.reload()
    expect(owner.get_by_role("list", name="Activity log")).to_contain_text("pdf.recipient@example.com")


def test_resend_email_to_another_address(owner: Page, app_server):
    with db.read_session(app_server["db_url"]) as s:
        cert = s.exec(select(Certificate).where(Certificate.status == "active").order_by(Certificate.id)).first()
    owner.goto(f"/dashboard/certificates/{cert.id}")
    owner.get_by_role("button", name="Resend email").click()
    owner.get_by_label("Send to").select_option("other")
    owner.get_by_label("Email address").fill("travel.agent@example.com")
    owner.get_by_role("button", name="Send email").click()
    expect(owner.get_by_text("on its way to travel.agent@example.com")).to_be_visible()
    [email] = mail_to(app_server, "travel.agent@example.com")
    assert any(p.get_content_type() == "application/pdf" for p in email.iter_attachments())


def test_a_resend_dialog_left_open_is_closed_when_the_page_loads_again(owner: Page, app_server):
    with db.read_session(app_server["db_url"]) as s:
        cert = s.exec(select(Certificate).where(Certificate.status == "active").order_by(Certificate.id)).first()
    owner.goto(f"/dashboard/certificates/{cert.id}")
    owner.get_by_role("button", name="Resend email").click()
    expect(owner.get_by_role("dialog")).to_be_visible()
    owner.reload()
    expect(owner.get_by_role("button", name="Void")).to_be_visible()
    expect(owner.get_by_role("dialog")).to_have_count(0)


def test_edit_an_action_and_see_the_preview(owner: Page, app_server):
    owner.get_by_role("link", name="Actions").click()
    expect(owner.get_by_role("region", name="Actions")).to_contain_text("Receipt to purchaser")
    owner.get_by_role("button", name="Edit Receipt to purchaser").click()
    subject = owner.get_by_label("Subject")
    original = subject.input_value()
    preview = owner.get_by_role("region", name="Preview")
    subject.fill("Thanks {{ purchaser_name }}, here is your receipt")
    expect(preview).to_contain_text("Thanks Pat Buyer, here is your receipt")
    subject.fill("Hi {{ nickname }}")
    expect(preview).to_contain_text("Unknown placeholder “nickname”")
    # what a template may hold is said beside it, and a loop is refused before it can run
    expect(owner.get_by_text("Loops and calculations are not available.", exact=False)).to_be_visible()
    subject.fill("{% for n in range(100000) %}{{ n }}{% endfor %}")
    expect(preview).to_contain_text("loops, calls, arithmetic and variables are not available")
    subject.fill(original)
    owner.get_by_role("button", name="Save action").click()
    expect(owner.get_by_text("Action “Receipt to purchaser” saved.")).to_be_visible()


def test_upcoming_expirations_list_total_value_and_notify(owner: Page, app_server):
    owner.get_by_role("link", name="Expirations").click()
    owner.get_by_label("Expiring within").select_option("90")
    table = owner.get_by_role("region", name="Upcoming expirations")
    expect(table.locator("tbody tr").first).to_be_visible()
    expect(owner.get_by_label("Total value")).to_have_text(re.compile(r"^\$[\d,]+\.\d\d$"))
    first = table.locator("tbody tr").first
    recipient_email = first.locator("td").nth(2).locator("span, p").nth(1).inner_text()
    first.get_by_role("button", name=re.compile("^Notify ")).click()
    expect(owner.get_by_text("Reminder queued for 1 certificate.")).to_be_visible()
    reminders = mail_to(app_server, recipient_email)
    assert any("expires" in m["Subject"] for m in reminders)
