"""Workspace settings for certificates: reminder days before expiry, and the booking page the
certificate's QR code opens with the code filled in."""

from __future__ import annotations

import pytest

from giftcerts.core import delivery
from giftcerts.documents.pdf import booking_link
from giftcerts.models import Workspace


def test_reminder_days_are_whole_days_sorted_without_duplicates():
    errors: dict[str, str] = {}
    change = delivery.validate(reminder_days="7, 30;7", booking_url=None, errors=errors)
    assert errors == {} and change.reminder_days == "30,7" and change.booking_url is None


@pytest.mark.parametrize("text", ["soon", "0", "-3", "400", "1,2,3,4,5,6", "²"])
def test_reminder_days_refuse_what_is_not_a_number_of_days(text):
    errors: dict[str, str] = {}
    delivery.validate(reminder_days=text, booking_url=None, errors=errors)
    assert "reminder_days" in errors


def test_no_reminder_days_turns_automatic_reminders_off():
    errors: dict[str, str] = {}
    assert delivery.validate(reminder_days="", booking_url="", errors=errors).reminder_days == ""
    assert errors == {}


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://x.example", "http://booking.example.com",
                                 "https://user@evil.example", "not a url"])
def test_the_booking_link_must_be_a_web_address(url):
    errors: dict[str, str] = {}
    delivery.validate(reminder_days=None, booking_url=url, errors=errors)
    assert "booking_url" in errors


def test_the_qr_code_opens_the_booking_page_with_the_code_filled_in():
    ws = Workspace(slug="a", name="A", booking_url="https://book.example.com/checkout?voucher={code}")
    assert booking_link(ws, "ABCD-EFGH-JKMN") == "https://book.example.com/checkout?voucher=ABCD-EFGH-JKMN"
    ws.booking_url = "https://book.example.com/checkout?lang=en"
    assert booking_link(ws, "ABCD-EFGH-JKMN") == \
        "https://book.example.com/checkout?lang=en&gift_certificate=ABCD-EFGH-JKMN"
