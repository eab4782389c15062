"""Money as integer minor units; Babel for currency digits, parsing and display."""

from __future__ import annotations

import re
from decimal import Decimal

from babel.core import get_global
from babel.numbers import format_currency, get_currency_precision, is_currency

from giftcerts.core.errors import ValidationError

DISPLAY_LOCALE = "en_US"
# Far above any plausible gift certificate, far below integer overflow anywhere.
ABSOLUTE_MAX_CENTS = 1_000_000_000  # amounts are 32-bit INTEGER columns
_PLAIN_NUMBER = re.compile(r"^\d+(\.\d+)?$")


def currency_exponent(currency: str) -> int:
    return get_currency_precision(currency)


def _currencies_in_use() -> frozenset[str]:
    """ISO 4217 codes that are legal tender somewhere today (Babel's CLDR data).

    `is_currency` alone also accepts codes that are not money a customer can pay with:
    XXX (no currency), XTS (testing), metals (XAU...), fund units (XDR...) and withdrawn
    currencies (DEM...).
    """
    return frozenset(
        code
        for history in get_global("territory_currencies").values()
        for code, _start, end, tender in history
        if tender and end is None
    )


_IN_USE = _currencies_in_use()


def valid_currency(currency: str) -> bool:
    return (len(currency) == 3 and currency.isalpha() and currency.isupper() and is_currency(currency)
            and currency in _IN_USE)


def to_minor(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(currency_exponent(currency)))


def from_minor(cents: int, currency: str) -> Decimal:
    return Decimal(cents).scaleb(-currency_exponent(currency))


def format_money(cents: int, currency: str, locale: str = DISPLAY_LOCALE) -> str:
    return format_currency(from_minor(cents, currency), currency, locale=locale)


def format_plain(cents: int, currency: str) -> str:
    """The amount as a person would type it back into a form (no symbol, no grouping)."""
    return f"{from_minor(cents, currency):f}"


def parse_amount(text: str | None, currency: str, *, field: str = "amount") -> int:
    """Parse what a person typed ("50", "50.00", "1,250.5", "$75") into minor units."""
    raw = (text or "").strip()
    if not raw:
        raise ValidationError({field: "Enter an amount."})
    cleaned = raw.replace(",", "").replace(" ", "").lstrip("$€£¥")
    if len(cleaned) > 20:
        raise ValidationError({field: "That amount is too large."})
    if cleaned.startswith("-") and _PLAIN_NUMBER.match(cleaned[1:]):
        raise ValidationError({field: "The amount must be greater than zero."})
    if not _PLAIN_NUMBER.match(cleaned):
        raise ValidationError({field: "Enter the amount as a number, for example 50 or 50.00."})
    amount = Decimal(cleaned)
    if amount <= 0:
        raise ValidationError({field: "The amount must be greater than zero."})
    exponent = currency_exponent(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-exponent)):
        unit = "whole units" if exponent == 0 else f"at most {exponent} decimal places"
        raise ValidationError({field: f"Use {unit} for {currency}."})
    cents = to_minor(amount, currency)
    if cents > ABSOLUTE_MAX_CENTS:
        raise ValidationError({field: "That amount is too large."})
    return cents


def check_bounds(cents: int, *, minimum: int, maximum: int, currency: str, field: str = "amount") -> None:
    if cents < minimum:
        raise ValidationError({field: f"The minimum amount is {format_money(minimum, currency)}."})
    if cents > maximum:
        raise ValidationError({field: f"The maximum amount is {format_money(maximum, currency)}."})
