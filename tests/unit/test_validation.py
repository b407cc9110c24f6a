from __future__ import annotations

from datetime import date

import pytest

from workflow import validation
from workflow.errors import InvalidInput


def test_siret_is_checked_with_its_luhn_key() -> None:
    assert validation.siret("732 829 320 00074") == "73282932000074"
    with pytest.raises(InvalidInput, match="SIRET invalide"):
        validation.siret("73282932000075")
    with pytest.raises(InvalidInput, match="SIRET invalide"):
        validation.siret("1234")


def test_iban_is_checked_and_compacted() -> None:
    assert validation.iban("FR76 3000 6000 0112 3456 7890 189") == "FR7630006000011234567890189"
    with pytest.raises(InvalidInput, match="IBAN invalide"):
        validation.iban("FR7630006000011234567890188")


def test_email() -> None:
    assert validation.email("Lea.Fabre@Exemple.fr") == "Lea.Fabre@exemple.fr"
    with pytest.raises(InvalidInput, match="e-mail"):
        validation.email("lea@")


@pytest.mark.parametrize("text", ["2026-09-07", "07/09/2026", "7/9/2026", " 2026-09-07 "])
def test_dates_in_iso_or_french(text: str) -> None:
    assert validation.parse_date(text) == date(2026, 9, 7)


@pytest.mark.parametrize("text", ["2026-02-30", "demain", "2026/09/07", "31/02/2026", ""])
def test_malformed_dates_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="Date invalide"):
        validation.parse_date(text, "--on")


def test_order_and_counts() -> None:
    with pytest.raises(InvalidInput, match="postérieure"):
        validation.training_dates(date(2027, 7, 2), date(2026, 9, 7))
    with pytest.raises(InvalidInput, match="places"):
        validation.places(0)
    assert validation.places(3) == 3
