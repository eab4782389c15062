"""Money is integer minor units, formatted with Babel, bounded by the workspace settings."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from giftcerts.core import money
from giftcerts.core.errors import ValidationError


@pytest.mark.parametrize("typed,cents", [("50", 5000), ("50.00", 5000), ("1,250.5", 125050), ("$75", 7500),
                                         (" 99.99 ", 9999)])
def test_amounts_are_parsed_to_minor_units(typed, cents):
    assert money.parse_amount(typed, "USD") == cents


def test_zero_decimal_currencies_have_no_minor_unit():
    assert money.parse_amount("5000", "JPY") == 5000
    with pytest.raises(ValidationError, match="whole units"):
        money.parse_amount("50.5", "JPY")


@pytest.mark.parametrize("typed,message", [
    ("", "Enter an amount"), ("abc", "as a number"), ("-5", "greater than zero"), ("0", "greater than zero"),
    ("1e400", "as a number"), ("1.2.3", "as a number"), ("99999999999999999999999", "too large"), ("NaN", "as a number"),
    ("Infinity", "as a number"), ("10.123", "2 decimal places"),
])
def test_bad_amounts_get_a_clear_message(typed, message):
    with pytest.raises(ValidationError, match=message):
        money.parse_amount(typed, "USD")


def test_amounts_are_formatted_in_the_workspace_currency():
    assert money.format_money(12345, "USD") == "$123.45"
    assert money.format_money(5000, "JPY") == "¥5,000"
    assert money.format_money(1000, "EUR") == "€10.00"


def test_bounds_name_the_limit_that_was_crossed():
    with pytest.raises(ValidationError, match=r"minimum amount is \$25.00"):
        money.check_bounds(2499, minimum=2500, maximum=100000, currency="USD")
    with pytest.raises(ValidationError, match=r"maximum amount is \$1,000.00"):
        money.check_bounds(100001, minimum=2500, maximum=100000, currency="USD")
    money.check_bounds(2500, minimum=2500, maximum=100000, currency="USD")


@given(st.integers(min_value=1, max_value=money.ABSOLUTE_MAX_CENTS))
def test_plain_amounts_round_trip_exactly(cents):
    assert money.parse_amount(money.format_plain(cents, "USD"), "USD") == cents


# --- the workspace's number format -------------------------------------------------------

@pytest.mark.parametrize("locale,typed,cents", [
    ("en_US", "1,234.56", 123456), ("en_US", "50.00", 5000), ("en_US", "1,000", 100000),
    ("de_DE", "50,00", 5000), ("de_DE", "1.234,56", 123456), ("de_DE", "1234,5", 123450), ("de_DE", "75 €", 7500),
    ("fr_FR", "1 234,56", 123456), ("fr_FR", "1\u202f234,56", 123456), ("fr_FR", "1\xa0234,56", 123456),
    ("fr_FR", "50,00", 5000), ("de_CH", "1'234.50", 123450), ("de_CH", "1’234.50", 123450),
    ("en_GB", "£1,234.56", 123456),
])
def test_amounts_are_read_in_the_workspaces_number_format(locale, typed, cents):
    assert money.parse_amount(typed, "USD", locale=locale) == cents


@pytest.mark.parametrize("locale,typed,hint", [
    ("en_US", "50,00", "Write the amount as 50.00"),        # not 5,000.00: the grouping is wrong
    ("en_US", "12,5", "Write the amount as 12.5"),
    ("en_US", "1.234,56", "Write the amount as 1234.56"),
    ("de_DE", "50.00", "Write the amount as 50,00"),
    ("de_DE", "1,234.56", "Write the amount as 1234,56"),
    ("fr_FR", "50.00", "Write the amount as 50,00"),
    ("de_CH", "50,00", "Write the amount as 50.00"),
])
def test_a_separator_the_number_format_does_not_use_that_way_is_refused_with_how_to_write_it(locale, typed, hint):
    with pytest.raises(ValidationError, match=hint):
        money.parse_amount(typed, "USD", locale=locale)


def test_the_default_number_format_does_not_read_a_decimal_comma_as_thousands():
    with pytest.raises(ValidationError, match="Write the amount as 50.00"):
        money.parse_amount("50,00", "USD")


@pytest.mark.parametrize("locale", money.NUMBER_FORMATS)
@pytest.mark.parametrize("typed,message", [
    ("", "Enter an amount"), ("   ", "Enter an amount"), ("abc", "as a number"), ("-5", "greater than zero"),
    ("−5", "greater than zero"), ("0", "greater than zero"), ("NaN", "as a number"), ("Infinity", "as a number"),
    ("1e4", "as a number"), ("+5", "as a number"), ("٥٠", "as a number"), ("9" * 30, "too large"),
])
def test_empty_negative_and_garbage_are_refused_in_every_number_format(locale, typed, message):
    with pytest.raises(ValidationError, match=message):
        money.parse_amount(typed, "USD", locale=locale)


@pytest.mark.parametrize("locale,typed", [("en_US", "50.005"), ("de_DE", "50,005"), ("fr_FR", "50,005"),
                                          ("de_CH", "50.005")])
def test_more_decimals_than_the_currency_has_are_refused(locale, typed):
    with pytest.raises(ValidationError, match="2 decimal places"):
        money.parse_amount(typed, "USD", locale=locale)


def test_the_refusal_shows_an_example_in_the_workspaces_format():
    with pytest.raises(ValidationError, match="50,00"):
        money.parse_amount("abc", "EUR", locale="de_DE")


def test_only_the_offered_number_formats_are_valid():
    assert money.valid_number_format("de_DE") and money.valid_number_format("en_US")
    assert not money.valid_number_format("xx_XX") and not money.valid_number_format("") \
        and not money.valid_number_format(None)


@given(st.integers(min_value=1, max_value=money.ABSOLUTE_MAX_CENTS), st.sampled_from(list(money.NUMBER_FORMATS)),
       st.sampled_from(["USD", "JPY", "EUR"]))
def test_amounts_shown_in_a_number_format_read_back_exactly(cents, locale, currency):
    assert money.parse_amount(money.format_plain(cents, currency, locale=locale), currency, locale=locale) == cents
    grouped = money.format_grouped(cents, currency, locale=locale)
    assert money.parse_amount(grouped, currency, locale=locale) == cents


@pytest.mark.parametrize("locale,text,cents", [
    ("en_US", "50, 100; 250.50", [5000, 10000, 25050]),
    ("de_DE", "12,50; 50; 1.000", [1250, 5000, 100000]),
    ("de_DE", "12,50, 50, 100", [1250, 5000, 10000]),  # a comma followed by a space separates
])
def test_lists_of_amounts_are_separated_so_that_a_decimal_comma_stays_a_decimal(locale, text, cents):
    assert [money.parse_amount(p, "USD", locale=locale) for p in money.split_amounts(text, locale)] == cents
