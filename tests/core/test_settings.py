"""Workspace settings: "configure the minimum and maximum certificate amounts. Set the number
of days until expiration", the currency, the timezone and the one-click preset amounts.
Turn the public purchase portal on or off.

A settings form is checked as a whole; every problem is reported on its own field with a
message a person can act on, and nothing is saved until the whole form is valid.
"""

from __future__ import annotations

import pytest

from giftcerts import db
from giftcerts.core import workspaces
from giftcerts.core.errors import ValidationError
from giftcerts.models import Workspace
from tests.factories import make_certificate, make_workspace

VALID = dict(portal_enabled=True, min_amount="25", max_amount="1,000", expiry_days="365", currency="USD",
             timezone="Europe/Paris", preset_amounts="50, 100, 250")


def settings_form(**changes):
    return {**VALID, **changes}


def errors_for(**changes) -> dict[str, str]:
    with pytest.raises(ValidationError) as err:
        workspaces.validate_settings(**settings_form(**changes))
    return err.value.errors


# ------------------------------------------------------------------- valid changes


def test_a_valid_settings_change_is_applied_and_saved(db_url):
    # Given a workspace with the default settings
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        ws_id = ws.id
        # When the owner turns the portal off, sets 40 to 600 dollars, 180 days and presets
        change = workspaces.validate_settings(**settings_form(
            portal_enabled=False, min_amount="40", max_amount="$600.50", expiry_days=" 180 ",
            currency="usd", timezone="America/Denver", preset_amounts="100;50,  250,100",
        ))
        workspaces.apply_settings(s, ws, change)
    # Then the new settings are stored, in minor units, presets sorted without repeats
    with db.read_session(db_url) as s:
        saved = s.get(Workspace, ws_id)
        assert saved.portal_enabled is False
        assert (saved.min_amount_cents, saved.max_amount_cents) == (4000, 60050)
        assert saved.expiry_days == 180
        assert saved.currency == "USD"
        assert saved.timezone == "America/Denver"
        assert saved.preset_amounts == "5000,10000,25000"
        assert workspaces.preset_list(saved) == [5000, 10000, 25000]


def test_the_currency_can_change_until_the_first_certificate_and_then_it_is_fixed(db_url):
    """Totals, reports and the expirations page add amounts up in the workspace's currency: once
    certificates exist in one, switching would add dollars to euros."""
    with db.write_session(db_url) as s:
        ws = make_workspace(s, currency="USD")
        workspaces.apply_settings(s, ws, workspaces.validate_settings(**settings_form(
            currency="EUR", min_amount="25", max_amount="1000")))
        assert ws.currency == "EUR"
        make_certificate(s, ws)
        with pytest.raises(ValidationError) as err:
            workspaces.apply_settings(s, ws, workspaces.validate_settings(**settings_form(currency="USD")))
        assert err.value.errors == {"currency": "The currency is fixed once certificates have been issued in it "
                                                "(this workspace's are in EUR)."}
        # the rest of the form still saves with the currency it has
        workspaces.apply_settings(s, ws, workspaces.validate_settings(**settings_form(currency="EUR", expiry_days="90")))
    with db.read_session(db_url) as s:
        saved = s.get(Workspace, ws.id)
        assert (saved.currency, saved.expiry_days) == ("EUR", 90)


def test_the_public_portal_can_be_switched_back_on(db_url):
    with db.write_session(db_url) as s:
        ws = make_workspace(s, portal_enabled=False)
        workspaces.apply_settings(s, ws, workspaces.validate_settings(**settings_form(portal_enabled=True)))
        assert ws.portal_enabled is True


def test_no_presets_is_allowed():
    assert workspaces.validate_settings(**settings_form(preset_amounts="  ")).preset_amounts == ""


def test_presets_may_sit_exactly_on_the_bounds():
    change = workspaces.validate_settings(**settings_form(preset_amounts="25, 1000"))
    assert change.preset_amounts == "2500,100000"


@pytest.mark.parametrize("days,expected", [("1", 1), (1, 1), ("3650", 3650), (3650, 3650), (" 90 ", 90)])
def test_expiry_days_from_one_to_ten_years_are_accepted(days, expected):
    assert workspaces.validate_settings(**settings_form(expiry_days=days)).expiry_days == expected


def test_equal_minimum_and_maximum_is_a_single_fixed_amount():
    change = workspaces.validate_settings(**settings_form(min_amount="100", max_amount="100", preset_amounts="100"))
    assert change.min_amount_cents == change.max_amount_cents == 10000


# ------------------------------------------------------------------- amount bounds


def test_a_minimum_above_the_maximum_is_reported_on_the_maximum():
    errors = errors_for(min_amount="500", max_amount="100", preset_amounts="")
    assert errors == {"max_amount": "The maximum amount must be at least the minimum amount."}


@pytest.mark.parametrize("field,label", [("min_amount", "minimum amount"), ("max_amount", "maximum amount")])
@pytest.mark.parametrize("typed,message", [
    ("-10", "The {label} must be greater than zero."),
    ("0", "The {label} must be greater than zero."),
    ("0.00", "The {label} must be greater than zero."),
    ("", "Enter the {label}."),
    ("abc", "Enter the {label} as a number, for example 50 or 50.00."),
    ("1e3", "Enter the {label} as a number, for example 50 or 50.00."),
    ("10.005", "Use at most 2 decimal places for USD."),
    ("9" * 30, "That amount is too large."),
])
def test_bad_amount_bounds_get_a_clear_message_on_their_own_field(field, label, typed, message):
    errors = errors_for(**{field: typed}, preset_amounts="")
    assert errors == {field: message.format(label=label)}


def test_every_problem_in_the_form_is_reported_at_once():
    errors = errors_for(min_amount="abc", max_amount="-1", expiry_days="0", currency="usd1",
                        timezone="Nowhere/Atlantis", preset_amounts="fifty")
    assert set(errors) == {"min_amount", "max_amount", "expiry_days", "currency", "timezone", "preset_amounts"}


def test_zero_decimal_currencies_use_whole_units_for_the_bounds():
    # Given a Japanese operator: the yen has no minor unit
    change = workspaces.validate_settings(**settings_form(currency="JPY", min_amount="3000", max_amount="¥100,000",
                                                          preset_amounts="5000, 10000"))
    # Then the bounds are stored as whole yen
    assert (change.min_amount_cents, change.max_amount_cents) == (3000, 100000)
    assert change.preset_amounts == "5000,10000"
    # And fractions of a yen are refused on the field that has them
    assert errors_for(currency="JPY", min_amount="3000.5", max_amount="100000", preset_amounts="") == {
        "min_amount": "Use whole units for JPY."
    }
    assert errors_for(currency="JPY", min_amount="3000", max_amount="100000.50", preset_amounts="") == {
        "max_amount": "Use whole units for JPY."
    }


def test_three_decimal_currencies_allow_three_places():
    change = workspaces.validate_settings(**settings_form(currency="KWD", min_amount="10.125", max_amount="500",
                                                          preset_amounts=""))
    assert change.min_amount_cents == 10125


# ------------------------------------------------------------------- expiry days


@pytest.mark.parametrize("days", [0, "0", "3651", 3651, "-30", "abc", "", "  ", "30.5", "1e2", "+30", "²", "³⁶⁵",
                                  "9" * 40])
def test_expiry_days_outside_1_to_3650_or_not_a_whole_number_are_refused(days):
    assert errors_for(expiry_days=days) == {"expiry_days": "Enter a whole number of days from 1 to 3650."}


# ------------------------------------------------------------------- currency and timezone


@pytest.mark.parametrize("currency", ["XXX", "XTS", "XAU", "XDR", "usd1", "US", "USDD", "", "123", "DEM", "ZZZ",
                                      "€", "U$D"])
def test_a_currency_that_is_not_money_in_use_is_refused(currency):
    assert errors_for(currency=currency) == {
        "currency": "Choose a valid ISO 4217 currency code, such as USD or EUR."
    }


@pytest.mark.parametrize("currency,exponent", [("usd", 2), (" eur ", 2), ("GBP", 2), ("JPY", 0), ("CHF", 2),
                                               ("XOF", 0), ("XCD", 2), ("ISK", 0)])
def test_real_currencies_are_accepted_in_any_case(currency, exponent):
    change = workspaces.validate_settings(**settings_form(currency=currency, min_amount="100", max_amount="1000",
                                                          preset_amounts=""))
    assert change.currency == currency.strip().upper()
    assert change.min_amount_cents == 100 * 10**exponent


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", "utc+2", "Europe/paris", "../../etc/passwd", "GMT+25"])
def test_an_unknown_timezone_is_refused(tz):
    assert errors_for(timezone=tz) == {"timezone": "Choose a valid timezone, such as Europe/Paris."}


@pytest.mark.parametrize("tz", ["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Pacific/Auckland"])
def test_iana_timezones_are_accepted(tz):
    assert workspaces.validate_settings(**settings_form(timezone=tz)).timezone == tz


# ------------------------------------------------------------------- presets


@pytest.mark.parametrize("presets", ["10", "20, 100", "1000.01", "5000"])
def test_presets_outside_the_bounds_are_refused(presets):
    assert errors_for(preset_amounts=presets) == {
        "preset_amounts": "Every preset amount must lie between the minimum and the maximum."
    }


@pytest.mark.parametrize("presets,bad", [("fifty", "fifty"), ("50, abc", "abc"), ("50,-100", "-100"),
                                         ("50, 100.001", "100.001"), ("0", "0")])
def test_presets_that_are_not_amounts_are_refused_and_named(presets, bad):
    assert errors_for(preset_amounts=presets) == {
        "preset_amounts": f"“{bad}” is not an amount. Separate amounts with commas, e.g. 50, 100."
    }


def test_at_most_eight_presets():
    assert errors_for(preset_amounts=",".join(str(25 + n) for n in range(9))) == {
        "preset_amounts": "Offer at most 8 preset amounts."
    }
    assert workspaces.validate_settings(**settings_form(preset_amounts=",".join(str(25 + n) for n in range(8))))


# ------------------------------------------------------------------- creating workspaces


def test_a_new_workspace_gets_sensible_defaults_in_its_currency(db_url):
    with db.write_session(db_url) as s:
        usd = workspaces.create_workspace(s, slug="alpine-tours", name="  Alpine   Tours ")
        jpy = workspaces.create_workspace(s, slug="kyoto-walks", name="Kyoto Walks", currency="JPY",
                                          timezone="Asia/Tokyo")
        assert usd.name == "Alpine Tours"
        assert (usd.min_amount_cents, usd.max_amount_cents) == (2500, 100000)
        assert workspaces.preset_list(usd) == [5000, 10000, 25000]
        assert (jpy.min_amount_cents, jpy.max_amount_cents) == (25, 1000)
        assert workspaces.preset_list(jpy) == [50, 100, 250]
        assert workspaces.find_workspace(s, "kyoto-walks").id == jpy.id


@pytest.mark.parametrize("slug,stored", [("a", "a"), ("Alpine-Tours", "alpine-tours"), ("  tours2026 ", "tours2026"),
                                         ("x" * 63, "x" * 63), ("0-9", "0-9")])
def test_workspace_slugs_are_lower_case_letters_digits_and_dashes(db_url, slug, stored):
    with db.write_session(db_url) as s:
        assert workspaces.create_workspace(s, slug=slug, name="Tours").slug == stored


@pytest.mark.parametrize("slug", ["", "   ", "-tours", "tours-", "alpine tours", "alpine_tours", "alpine.tours",
                                  "x" * 64, "café", "tours/../admin", "<script>", "ａｂｃ"])
def test_a_bad_workspace_slug_is_refused_with_a_clear_message(db_url, slug):
    with db.write_session(db_url) as s:
        with pytest.raises(ValidationError) as err:
            workspaces.create_workspace(s, slug=slug, name="Tours")
        assert err.value.errors == {"slug": "Use 1 to 63 lower-case letters, digits and dashes for the workspace slug."}


def test_a_workspace_slug_cannot_be_taken_twice_in_any_case(db_url):
    with db.write_session(db_url) as s:
        workspaces.create_workspace(s, slug="alpine-tours", name="Alpine Tours")
        for again in ("alpine-tours", "ALPINE-TOURS", " Alpine-Tours "):
            with pytest.raises(ValidationError) as err:
                workspaces.create_workspace(s, slug=again, name="Copycat")
            assert err.value.errors == {"slug": "The workspace “alpine-tours” already exists."}


def test_creating_a_workspace_checks_currency_and_timezone(db_url):
    with db.write_session(db_url) as s:
        with pytest.raises(ValidationError) as err:
            workspaces.create_workspace(s, slug="bad-money", name="Bad", currency="XXX", timezone="Moon/Base")
        assert set(err.value.errors) == {"currency", "timezone"}


# ------------------------------------------------------------------- number format


def test_the_number_format_is_one_of_those_offered(db_url):
    assert workspaces.validate_settings(**settings_form(number_format="de_DE")).locale == "de_DE"
    assert workspaces.validate_settings(**settings_form()).locale is None  # not in the form: unchanged
    error = errors_for(number_format="xx_XX")["number_format"]
    assert "Choose a number format" in error and "1.234,56" in error
    with db.write_session(db_url) as s:
        ws = make_workspace(s)
        assert ws.locale == "en_US"
        workspaces.apply_settings(s, ws, workspaces.validate_settings(**settings_form(number_format="fr_FR")))
    with db.read_session(db_url) as s:
        assert s.get(Workspace, ws.id).locale == "fr_FR"


def test_amount_settings_are_read_in_the_number_format_the_form_shows():
    change = workspaces.validate_settings(**settings_form(locale="de_DE", min_amount="25,50", max_amount="1.000",
                                                          preset_amounts="50; 100,50, 250"))
    assert (change.min_amount_cents, change.max_amount_cents) == (2550, 100000)
    assert change.preset_amounts == "5000,10050,25000"


def test_a_decimal_comma_in_an_en_us_workspace_is_refused_with_how_to_write_it():
    errors = errors_for(min_amount="25,50", preset_amounts="")
    assert errors == {"min_amount": "“25,50” is not written the way this workspace writes numbers (1,234.56). "
                                    "Write the minimum amount as 25.50."}
    assert errors_for(locale="de_DE", min_amount="25.50", max_amount="1000", preset_amounts="") == {
        "min_amount": "“25.50” is not written the way this workspace writes numbers (1.234,56). "
                      "Write the minimum amount as 25,50."}
