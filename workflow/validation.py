"""Checks of values a person types: each returns the clean value or raises InvalidInput with a
French message naming the field. Nothing here touches the database."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from email_validator import EmailNotValidError, validate_email
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siret as stdnum_siret

from workflow.errors import InvalidInput

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FR_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_date(value: str, field: str = "date") -> date:
    """ISO 8601 (2026-09-07) or French (07/09/2026)."""
    text = value.strip()
    try:
        if _ISO_DATE.match(text):
            return date.fromisoformat(text)
        if m := _FR_DATE.match(text):
            return date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        pass
    raise InvalidInput(
        f"Date invalide pour {field} : « {value} » "
        "(format attendu JJ/MM/AAAA ou AAAA-MM-JJ, p. ex. 07/09/2026).",
        field,
    )


def ratio(value: str, field: str = "part_time") -> Decimal:
    """A ratio in (0, 1]: « 0,8 », « 0.8 » or « 80 % »."""
    text = value.strip()
    try:
        number = Decimal(text.replace(",", ".").rstrip("%").strip())
    except InvalidOperation:
        number = Decimal(-1)
    if text.endswith("%"):
        number /= 100
    if not number.is_finite() or not Decimal(0) < number <= Decimal(1):
        raise InvalidInput(
            f"Quotité de temps partiel invalide : « {value} » (entre 0 et 1, p. ex. 0,8 ou 80 %).",
            field,
        )
    return number


def siret(value: str) -> str:
    compact = stdnum_siret.compact(value)
    try:
        return str(stdnum_siret.validate(compact))
    except StdnumError:
        raise InvalidInput(
            f"SIRET invalide : « {value} » (14 chiffres dont une clé de contrôle).", "siret"
        ) from None


def iban(value: str) -> str:
    try:
        return str(IBAN(value).compact)
    except SchwiftyException as exc:
        raise InvalidInput(f"IBAN invalide : « {value} » ({exc}).", "iban") from None


def email(value: str) -> str:
    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError:
        raise InvalidInput(f"Adresse e-mail invalide : « {value} ».", "email") from None


def non_blank(value: str, field: str, label: str) -> str:
    text = value.strip()
    if not text:
        raise InvalidInput(f"{label} est obligatoire.", field)
    return text


def places(value: int) -> int:
    if value < 1:
        raise InvalidInput(f"Nombre de places invalide : {value} (au moins 1).", "places")
    return value


def training_dates(start: date, end: date) -> None:
    if end <= start:
        raise InvalidInput(
            f"La fin de formation ({end:%d/%m/%Y}) doit être postérieure à son début "
            f"({start:%d/%m/%Y}).",
            "training_end",
        )


def birth_date(value: date, today: date) -> date:
    if not date(1900, 1, 1) <= value < today:
        raise InvalidInput(f"Date de naissance invalide : {value:%d/%m/%Y}.", "birth_date")
    return value


def year(value: int) -> int:
    if not 2000 <= value <= 2100:
        raise InvalidInput(f"Année de campagne invalide : {value}.", "year")
    return value


__all__ = [
    "parse_date",
]
