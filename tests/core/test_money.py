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
