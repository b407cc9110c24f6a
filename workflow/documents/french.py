"""French formatting for the documents: amounts, amounts in words, dates, durations.

Spaces: every space that must not break a line ("1 479,68 €", "50 %", "1er octobre") is the
ordinary no-break space U+00A0, both as the thousands separator and before the currency sign.
CLDR (through Babel) puts a narrow no-break space U+202F between thousands; we replace it,
because U+00A0 is in every font a jurist may pick in Word or LibreOffice, and because one kind
of space makes the texts easy to search. `plain()` turns both into an ordinary space (tests,
searches in extracted text).

Amounts in words follow the traditional spelling of num2words ("quatre-vingts", "vingt et un",
"deux cents", "mille quatre cent soixante-dix-neuf"), with the French rules for the unit:
"un euro", "zéro euro", "deux euros", "un million d'euros", "un centime".
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent
from num2words import num2words

__all__ = [
    "NBSP",
    "NNBSP",
    "date_fr",
    "euros",
    "euros_in_words",
    "integer_in_words",
    "month_fr",
    "months_in_words",
    "percent",
    "plain",
    "years_text",
]

LOCALE = "fr_FR"
NBSP = "\u00a0"  # no-break space: the one our documents use
NNBSP = "\u202f"  # narrow no-break space: what CLDR uses between thousands
_CENT = Decimal("0.01")


def plain(text: str) -> str:
    """`text` with both no-break spaces turned into ordinary spaces."""
    return text.replace(NNBSP, " ").replace(NBSP, " ")


def _nbsp(text: str) -> str:
    return text.replace(NNBSP, NBSP)


def _cents(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__} ({amount!r})")
    if not amount.is_finite():
        raise ValueError(f"amount must be finite, got {amount}")
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def euros(amount: Decimal) -> str:
    """1479.68 -> "1 479,68 €" (always two decimals; the spaces are U+00A0)."""
    return _nbsp(format_currency(_cents(amount), "EUR", locale=LOCALE))


def number(value: int | Decimal) -> str:
    """1479 -> "1 479" (spaces U+00A0)."""
    return _nbsp(format_decimal(value, locale=LOCALE))


def percent(rate: Decimal) -> str:
    """Decimal("0.5") -> "50 %"."""
    if not isinstance(rate, Decimal):
        raise TypeError(f"rate must be a Decimal, not {type(rate).__name__}")
    return _nbsp(format_percent(rate, locale=LOCALE))


def integer_in_words(n: int) -> str:
    """21 -> "vingt et un", 80 -> "quatre-vingts" (traditional spelling)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"expected an int, got {n!r}")
    return str(num2words(n, lang="fr"))


def _unit(n: int, words: str, singular: str, plural: str) -> str:
    """ "un euro", "zéro euro", "deux euros", "un million d'euros", "deux millions d'euros"."""
    if n in (0, 1):
        return f"{words} {singular}"
    if words.endswith(("million", "millions", "milliard", "milliards")):
        # "un million d'euros" (but "un million deux cents euros").
        de = "d'" if plural[0] in "aeiouyéèêh" else "de "
        return f"{words} {de}{plural}"
    return f"{words} {plural}"


def euros_in_words(amount: Decimal) -> str:
    """1479.68 -> "mille quatre cent soixante-dix-neuf euros et soixante-huit centimes";
    150 -> "cent cinquante euros"; 1 -> "un euro"; 0 -> "zéro euro"; 0.5 -> "cinquante
    centimes". Negative amounts are refused: no legal text of ours states one in words."""
    value = _cents(amount)
    if value < 0:
        raise ValueError(f"amount in words must not be negative, got {value}")
    units = int(value)
    cents = int((value - units) * 100)
    euro_part = _unit(units, integer_in_words(units), "euro", "euros")
    if cents == 0:
        return euro_part
    cent_part = _unit(cents, integer_in_words(cents), "centime", "centimes")
    if units == 0:
        return cent_part
    return f"{euro_part} et {cent_part}"


def date_fr(d: date) -> str:
    """date(2026, 9, 7) -> "7 septembre 2026"; the first of a month is "1er octobre 2026"."""
    if d.day == 1:
        return f"1er{NBSP}{month_fr(d)}"
    return _nbsp(format_date(d, "d MMMM y", locale=LOCALE))


def month_fr(d: date) -> str:
    """date(2026, 9, 7) -> "septembre 2026"."""
    return _nbsp(format_date(d, "MMMM y", locale=LOCALE))


def months_in_words(n: int) -> str:
    """24 -> "vingt-quatre mois", 1 -> "un mois"."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"expected a number of months >= 0, got {n!r}")
    return f"{integer_in_words(n)} mois"


def years_text(months: int) -> str:
    """A commitment length as people say it: 24 -> "2 ans", 12 -> "1 an", 18 -> "18 mois"."""
    if isinstance(months, bool) or not isinstance(months, int) or months < 0:
        raise ValueError(f"expected a number of months >= 0, got {months!r}")
    if months and months % 12 == 0:
        years = months // 12
        return f"{years}{NBSP}an" if years == 1 else f"{years}{NBSP}ans"
    return f"{months}{NBSP}mois"
