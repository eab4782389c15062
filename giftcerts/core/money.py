"""Money as integer minor units; Babel for currency digits, parsing and display."""

from __future__ import annotations

from functools import lru_cache

import re
from decimal import Decimal

from babel.core import Locale, get_global
from babel.numbers import (
    NumberFormatError,
    format_currency,
    format_decimal,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    is_currency,
    parse_decimal,
)

from giftcerts.core.errors import ValidationError

DISPLAY_LOCALE = "en_US"
DEFAULT_LOCALE = "en_US"
# Far above any plausible gift certificate, far below integer overflow anywhere.
ABSOLUTE_MAX_CENTS = 1_000_000_000  # amounts are 32-bit INTEGER columns
_PLAIN_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_DIGITS = frozenset("0123456789")
_SPACES = (" ", "\xa0", "\u202f", "\u2009")
_MINUS = ("-", "\u2212")
_SYMBOLS = ("$", "€", "£", "¥")

# The number formats a workspace may choose (Settings → Number format): how its staff and
# customers write amounts. Each is read strictly, so "50,00" is never five thousand.
NUMBER_FORMATS: dict[str, str] = {
    code: f"{format_decimal(Decimal('1234.56'), locale=code)} ({Locale.parse(code).get_display_name('en')})"
    for code in ("en_US", "en_GB", "de_DE", "de_CH", "fr_FR", "es_ES", "it_IT", "nl_NL")
}


def valid_number_format(locale: str | None) -> bool:
    return locale in NUMBER_FORMATS


def number_example(locale: str = DEFAULT_LOCALE) -> str:
    """1234.56 as the number format writes it, to show people what is expected."""
    return format_decimal(Decimal("1234.56"), locale=locale)


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


@lru_cache(maxsize=8192)
def format_money(cents: int, currency: str, locale: str = DISPLAY_LOCALE) -> str:
    # Cached: Babel parses the locale's currency pattern on every call (~0.15 ms), and a
    # catalogue of a few preset amounts is formatted on every page and every redemption.
    return format_currency(from_minor(cents, currency), currency, locale=locale)


def format_plain(cents: int, currency: str, *, locale: str | None = None) -> str:
    """The amount as a person would type it back into a form (no symbol, no grouping); with a
    locale, in its number format ("50,00" for de_DE), without one as a plain "50.00"."""
    text = f"{from_minor(cents, currency):f}"
    return text if locale is None else text.replace(".", get_decimal_symbol(locale))


def format_grouped(cents: int, currency: str, *, locale: str = DEFAULT_LOCALE) -> str:
    """The amount with the number format's grouping ("1.234,56"), no symbol."""
    return format_decimal(from_minor(cents, currency), locale=locale, decimal_quantization=False)


def uses_decimal_comma(locale: str = DEFAULT_LOCALE) -> bool:
    return get_decimal_symbol(locale) == ","


def split_amounts(text: str | None, locale: str = DEFAULT_LOCALE) -> list[str]:
    """A typed list of amounts: separated by ";" or ",", except that where "," is the decimal
    separator only a comma followed by a space separates ("12,50, 50" is 12.50 and 50)."""
    separator = r";|,(?=\s)" if uses_decimal_comma(locale) else r"[;,]"
    return [p.strip() for p in re.split(separator, text or "") if p.strip()]


def list_hint(locale: str = DEFAULT_LOCALE) -> str:
    if uses_decimal_comma(locale):
        return "Separate amounts with semicolons, e.g. 50; 100; 12,50."
    return "Separate amounts with commas, e.g. 50, 100."


def parse_amount(text: str | None, currency: str, *, field: str = "amount", locale: str = DEFAULT_LOCALE) -> int:
    """Parse what a person typed ("50", "50.00", "1,250.5", "$75" in en_US; "1.250,50 €" in
    de_DE) into minor units, strictly in the workspace's number format: a separator it does not
    use that way is refused with how to write the amount, never guessed."""
    raw = (text or "").strip()
    if not raw:
        raise ValidationError({field: "Enter an amount."})
    decimal, group = get_decimal_symbol(locale), get_group_symbol(locale)
    example = f"Enter the amount as a number, for example 50 or 50{decimal}00."
    cleaned = _strip_symbols(raw, currency, locale)
    if len(cleaned) > 20:
        raise ValidationError({field: "That amount is too large."})
    if cleaned.startswith(_MINUS) and cleaned[1:].strip() and set(cleaned[1:].strip()) <= _DIGITS | {".", ",", *_SPACES}:
        raise ValidationError({field: "The amount must be greater than zero."})
    if group in _SPACES:  # people type a plain space where the format has a (narrow) no-break one
        for space in _SPACES:
            cleaned = cleaned.replace(space, group)
    elif group == "’":
        cleaned = cleaned.replace("'", group)
    if not cleaned or not set(cleaned) <= _DIGITS | {".", ",", decimal, group}:
        raise ValidationError({field: example})
    amount = None
    if set(cleaned) <= _DIGITS | {decimal, group}:
        try:
            amount = parse_decimal(cleaned, locale=locale, strict=True)
        except NumberFormatError:
            amount = None
    if amount is None:
        written = _as_written_elsewhere(cleaned, decimal)
        exponent = currency_exponent(currency)
        if written is not None and written > 0 and -written.as_tuple().exponent <= exponent:
            raise ValidationError({field: f"“{raw[:20]}” is not written the way this workspace writes numbers "
                                          f"({number_example(locale)}). Write the amount as "
                                          f"{f'{written:f}'.replace('.', decimal)}."})
        raise ValidationError({field: example})
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({field: "The amount must be greater than zero."})
    exponent = currency_exponent(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-exponent)):
        unit = "whole units" if exponent == 0 else f"at most {exponent} decimal places"
        raise ValidationError({field: f"Use {unit} for {currency}."})
    cents = to_minor(amount, currency)
    if cents > ABSOLUTE_MAX_CENTS:
        raise ValidationError({field: "That amount is too large."})
    return cents


def _strip_symbols(raw: str, currency: str, locale: str) -> str:
    """The number without a currency symbol or code before or after it ("$75", "75 €", "CHF 20")."""
    symbols = sorted({currency, get_currency_symbol(currency, locale), get_currency_symbol(currency, DEFAULT_LOCALE),
                      *_SYMBOLS}, key=len, reverse=True)
    text = raw
    for symbol in symbols:
        if text.startswith(symbol):
            text = text[len(symbol):].strip()
        if text.endswith(symbol):
            text = text[:-len(symbol)].strip()
    return text


def _as_written_elsewhere(text: str, decimal: str) -> Decimal | None:
    """The amount `text` would be where the other of "." and "," is the decimal separator (what
    someone used to that convention meant), if it reads as one: "50,00" -> 50.00 for en_US."""
    other = "," if decimal == "." else "."
    if text.count(other) != 1:
        return None
    whole, fraction = text.split(other)
    for separator in (".", ",", "’", *_SPACES):
        whole = whole.replace(separator, "")
    plain = f"{whole}.{fraction}"
    return Decimal(plain) if _PLAIN_NUMBER.match(plain) else None


def check_bounds(cents: int, *, minimum: int, maximum: int, currency: str, field: str = "amount") -> None:
    if cents < minimum:
        raise ValidationError({field: f"The minimum amount is {format_money(minimum, currency)}."})
    if cents > maximum:
        raise ValidationError({field: f"The maximum amount is {format_money(maximum, currency)}."})
