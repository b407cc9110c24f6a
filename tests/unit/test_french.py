"""French formatting of the documents: amounts, amounts in words, dates, durations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from workflow.documents.french import (
    NBSP,
    NNBSP,
    date_fr,
    euros,
    euros_in_words,
    month_fr,
    months_in_words,
    percent,
    plain,
    years_text,
)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("1479.68", "1 479,68 €"),
        ("150", "150,00 €"),
        ("9.68", "9,68 €"),
        ("0", "0,00 €"),
        ("1078.93", "1 078,93 €"),
        ("2959.36", "2 959,36 €"),
        ("1234567.8", "1 234 567,80 €"),
        ("0.125", "0,13 €"),  # half-up, like the money rules
        ("-3", "-3,00 €"),
    ],
)
def test_euros(amount: str, expected: str) -> None:
    assert plain(euros(Decimal(amount))) == expected


def test_euros_use_one_kind_of_no_break_space() -> None:
    text = euros(Decimal("1479.68"))
    assert text == f"1{NBSP}479,68{NBSP}€"
    assert NNBSP not in text and " " not in text
    assert plain(f"a{NBSP}b{NNBSP}c") == "a b c"


def test_euros_refuse_floats() -> None:
    with pytest.raises(TypeError):
        euros(1479.68)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("150", "cent cinquante euros"),
        ("150.00", "cent cinquante euros"),
        ("1479.68", "mille quatre cent soixante-dix-neuf euros et soixante-huit centimes"),
        ("1078.93", "mille soixante-dix-huit euros et quatre-vingt-treize centimes"),
        ("1", "un euro"),
        ("0", "zéro euro"),
        ("1.01", "un euro et un centime"),
        ("0.50", "cinquante centimes"),
        ("200", "deux cents euros"),
        ("201", "deux cent un euros"),
        ("80", "quatre-vingts euros"),
        ("81", "quatre-vingt-un euros"),
        ("21", "vingt et un euros"),
        ("71", "soixante et onze euros"),
        ("300", "trois cents euros"),
        ("2000", "deux mille euros"),
        ("1000000", "un million d'euros"),
        ("2000000", "deux millions d'euros"),
        ("1200000", "un million deux cent mille euros"),
        ("9.675", "neuf euros et soixante-huit centimes"),
    ],
)
def test_euros_in_words(amount: str, expected: str) -> None:
    assert euros_in_words(Decimal(amount)) == expected


def test_no_negative_amount_in_words() -> None:
    with pytest.raises(ValueError, match="negative"):
        euros_in_words(Decimal("-1"))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 9, 7), "7 septembre 2026"),
        (date(2026, 10, 1), "1er octobre 2026"),
        (date(2027, 7, 2), "2 juillet 2027"),
        (date(2027, 8, 10), "10 août 2027"),
        (date(2028, 2, 29), "29 février 2028"),
        (date(2028, 12, 31), "31 décembre 2028"),
        (date(2029, 1, 1), "1er janvier 2029"),
    ],
)
def test_date_fr(day: date, expected: str) -> None:
    assert plain(date_fr(day)) == expected


def test_month_fr() -> None:
    assert plain(month_fr(date(2026, 9, 7))) == "septembre 2026"
    assert plain(month_fr(date(2027, 2, 1))) == "février 2027"


@pytest.mark.parametrize(
    ("months", "words", "years"),
    [
        (24, "vingt-quatre mois", "2 ans"),
        (36, "trente-six mois", "3 ans"),
        (18, "dix-huit mois", "18 mois"),
        (12, "douze mois", "1 an"),
        (1, "un mois", "1 mois"),
    ],
)
def test_months(months: int, words: str, years: str) -> None:
    assert months_in_words(months) == words
    assert plain(years_text(months)) == years


def test_percent() -> None:
    assert plain(percent(Decimal("0.5"))) == "50 %"
    assert plain(percent(Decimal(1))) == "100 %"
