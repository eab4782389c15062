"""Embed origins: the booking sites allowed to frame the redemption widget and to receive its
postMessage. Each must be an exact origin, as a browser reports it in `event.origin`."""

from __future__ import annotations

import pytest

from giftcerts import db
from giftcerts.core import workspaces
from giftcerts.core.errors import ValidationError
from tests.factories import make_workspace

VALID = dict(portal_enabled=True, min_amount="25", max_amount="1,000", expiry_days="365", currency="USD",
             timezone="Europe/Paris", preset_amounts="50, 100, 250")


@pytest.mark.parametrize("typed, stored", [
    ("https://booking.example.com", "https://booking.example.com"),
    ("https://Booking.Example.COM/", "https://booking.example.com"),
    ("HTTPS://booking.example.com:443", "https://booking.example.com"),
    ("https://booking.example.com:8443", "https://booking.example.com:8443"),
    ("http://localhost:3000", "http://localhost:3000"),
    ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
    ("https://bücher.example", "https://xn--bcher-kva.example"),
])
def test_an_origin_is_stored_the_way_a_browser_reports_it(typed, stored):
    assert workspaces.normalize_origin(typed) == stored


@pytest.mark.parametrize("typed", [
    "booking.example.com",                    # no scheme
    "http://booking.example.com",             # plain http outside localhost
    "https://booking.example.com/checkout",   # a path
    "https://booking.example.com/?a=1",       # a query
    "https://booking.example.com#top",        # a fragment
    "https://user:pw@booking.example.com",    # credentials
    "https://*.example.com",                  # wildcards: postMessage needs exact origins
    "ftp://booking.example.com",
    "javascript:alert(1)",
    "https://booking.example.com:99999",
    "https://exa mple.com",
    "https://under_score.example.com",
    "",
])
def test_anything_but_an_origin_is_refused(typed):
    assert workspaces.normalize_origin(typed) is None


def test_the_settings_form_accepts_several_origins_separated_by_spaces_or_commas():
    change = workspaces.validate_settings(
        **VALID, embed_origins=" https://a.example.com,https://b.example.com  https://a.example.com/ ")
    assert change.embed_origins == "https://a.example.com https://b.example.com"


def test_a_bad_origin_is_reported_on_its_field_with_what_to_type_instead():
    with pytest.raises(ValidationError) as err:
        workspaces.validate_settings(**VALID, embed_origins="https://ok.example.com https://x.example.com/pay")
    message = err.value.errors["embed_origins"]
    assert "https://x.example.com/pay" in message and "without a path" in message


def test_at_most_ten_origins():
    many = " ".join(f"https://s{n}.example.com" for n in range(11))
    with pytest.raises(ValidationError) as err:
        workspaces.validate_settings(**VALID, embed_origins=many)
    assert "at most 10" in err.value.errors["embed_origins"]


def test_emptying_the_field_removes_every_origin_but_leaving_it_out_changes_nothing(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, embed_origins="https://booking.example.com")
        workspaces.apply_settings(s, ws, workspaces.validate_settings(**VALID))
        assert ws.embed_origins == "https://booking.example.com"
        workspaces.apply_settings(s, ws, workspaces.validate_settings(**VALID, embed_origins=""))
        assert ws.embed_origins == ""


def test_malformed_values_already_in_the_database_are_never_used(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, embed_origins="* https://ok.example.com http://evil.example.com https://ok.example.com")
        assert workspaces.embed_origin_list(ws) == ["https://ok.example.com"]
