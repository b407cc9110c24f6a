"""Checks of values a person types: each returns the clean value or raises InvalidInput with a
French message naming the field. Nothing here touches the database.

Every text field is bounded by one table, `LIMITS`, that the command line, the web forms, the
JSON API and the imports all go through (`text`): a length in characters, and no control
character — C0 and C1 codes (NUL and ESC among them), DEL, bidirectional overrides, line
separators, lone surrogates — except tab and newline in the multi-line fields (reasons, notes).
Numbers typed as ids fit a 64-bit integer (`ident`); ratios and counts stay in their ranges. A
message repeats a refused value only cut short and with its control characters replaced
(`shown`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from email_validator import EmailNotValidError, validate_email
from schwifty import IBAN
from schwifty import exceptions as iban_errors
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siret as stdnum_siret

from workflow.errors import InvalidInput


@dataclass(frozen=True)
class Limit:
    label: str  # how a message names the field: « Le motif dépasse… »
    chars: int
    multiline: bool = False  # tab and newline allowed


# The one table of text limits (README, "Limits"). Where a database column bounds a field, the
# limit is the column's, so PostgreSQL never refuses what the application accepted.
LIMITS: Mapping[str, Limit] = {
    "name": Limit("Le nom", 200),  # institutes, employers, accounts, signatories
    "person_name": Limit("Le nom", 100),  # a learner's first and last names
    "email": Limit("L'adresse e-mail", 254),  # RFC 5321's longest path
    "reason": Limit("Le motif", 2_000, multiline=True),
    "note": Limit("La note", 10_000, multiline=True),
    "reference": Limit("La référence", 200),  # an exemption decision's reference
    "code": Limit("Le code", 40),  # a choice: tier, breach category, party, suspension reason
    "actor": Limit("L'auteur", 200),
    "search": Limit("La recherche", 200),
    "siret": Limit("Le SIRET", 30),  # 14 digits, with spaces
    "iban": Limit("L'IBAN", 50),  # 34 characters at most, with spaces
    "insee": Limit("Le code commune", 10),
    "date": Limit("La date", 30),
    "number": Limit("Le nombre", 30),
    "password": Limit("Le mot de passe", 1_000),  # argon2 hashes all of it
    "address": Limit("L'adresse", 300),  # a learner's postal address, on one line
}
# C0 and C1 control codes, DEL, line and paragraph separators, bidirectional embeddings and
# overrides (they reorder what a reader sees) and lone surrogates (undecodable bytes typed on a
# terminal, which PostgreSQL would refuse). Multi-line fields keep tab and newline.
_OTHER_FORBIDDEN = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_CONTROL = re.compile(f"[\x00-\x1f{_OTHER_FORBIDDEN}]")
_CONTROL_MULTILINE = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHER_FORBIDDEN}]")
# The largest id either database stores (a signed 64-bit integer).
MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
MAX_PLACES = 1_000
# A part time below a tenth would stretch a commitment past any date (and 3 decimals is what
# the column keeps).
MIN_RATIO = Decimal("0.1")
SHOWN_CHARS = 60  # how much of a refused value a message repeats


def _count(n: int) -> str:
    return f"{n:,}".replace(",", "\xa0")  # 10 000, as French writes it (workflow.display)


def shown(value: str) -> str:
    """A value as an error message may repeat it: control characters replaced, and cut short."""
    clean = _CONTROL.sub("\ufffd", value)
    return clean if len(clean) <= SHOWN_CHARS else clean[:SHOWN_CHARS] + "…"


def control_free(value: str) -> str:
    """`value` with its control characters replaced (for what is printed, not for what is
    stored): the terminal and the reports show them as « � »."""
    return _CONTROL_MULTILINE.sub("\ufffd", value)


def text(value: str, kind: str, *, label: str | None = None, field: str | None = None) -> str:
    """`value` without its surrounding blanks, within the limit of `kind` (LIMITS) and free of
    control characters; else InvalidInput naming the field (`label`, capitalised French)."""
    limit = LIMITS[kind]
    name = label or limit.label
    clean = value.replace("\r\n", "\n").strip() if limit.multiline else value.strip()
    if len(clean) > limit.chars:
        raise InvalidInput(
            f"{name} dépasse {_count(limit.chars)} caractères ({_count(len(clean))} saisis).",
            field or kind,
        )
    found = (_CONTROL_MULTILINE if limit.multiline else _CONTROL).search(clean)
    if found:
        allowed = " ; seuls la tabulation et le retour à la ligne sont permis"
        raise InvalidInput(
            f"{name} contient un caractère de contrôle interdit (U+{ord(found[0]):04X} en "
            f"position {found.start() + 1}{allowed if limit.multiline else ''}).",
            field or kind,
        )
    return clean


def optional_text(
    value: str | None, kind: str, *, label: str | None = None, field: str | None = None
) -> str | None:
    """`text`, and None for a field left empty."""
    if value is None:
        return None
    return text(value, kind, label=label, field=field) or None


def ident(value: str, field: str = "numéro") -> int:
    """A number typed as an id (a case, a learner…): digits only, from 1 to MAX_ID."""
    typed = value.strip()
    number = int(typed) if _DIGITS.fullmatch(typed) else 0
    if not 1 <= number <= MAX_ID:
        raise InvalidInput(
            f"Numéro invalide pour {field} : « {shown(value)} » (un nombre entier de 1 à "
            f"{_count(MAX_ID)}).",
            field,
        )
    return number


def in_id_range(value: int) -> bool:
    """Whether `value` can be an id at all: a lookup outside the range finds nothing."""
    return 1 <= value <= MAX_ID


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
        f"Date invalide pour {field} : « {shown(value)} » "
        "(format attendu JJ/MM/AAAA ou AAAA-MM-JJ, p. ex. 07/09/2026).",
        field,
    )


def ratio(value: str, field: str = "part_time") -> Decimal:
    """A ratio in [0,1 ; 1] with 3 decimals at most: « 0,8 », « 0.8 » or « 80 % »."""
    text = value.strip()
    try:
        number = Decimal(text.replace(",", ".").rstrip("%").strip())
    except InvalidOperation:
        number = Decimal(-1)
    if number.is_finite() and text.endswith("%"):
        number /= 100
    if (
        len(text) > LIMITS["number"].chars
        or not number.is_finite()
        or not MIN_RATIO <= number <= Decimal(1)
        or number != number.quantize(Decimal("0.001"))
    ):
        raise InvalidInput(
            f"Quotité de temps partiel invalide : « {shown(value)} » (entre 0,1 et 1, trois "
            "décimales au plus, p. ex. 0,8 ou 80 %).",
            field,
        )
    return number


def siret(value: str) -> str:
    if len(value) <= LIMITS["siret"].chars:
        compact = stdnum_siret.compact(value)
        try:
            return str(stdnum_siret.validate(compact))
        except StdnumError:
            pass
    raise InvalidInput(
        f"SIRET invalide : « {shown(value)} » (14 chiffres dont une clé de contrôle).", "siret"
    )


# schwifty explains a refusal in English: its exception's type gives the reason in French.
IBAN_REASONS: Mapping[type[Exception], str] = {
    iban_errors.InvalidChecksumDigits: "clé de contrôle incorrecte",
    iban_errors.InvalidLength: "longueur incorrecte pour ce pays",
    iban_errors.InvalidCountryCode: "code pays inconnu",
    iban_errors.InvalidStructure: "caractères ou structure incorrects",
    iban_errors.InvalidBBANChecksum: "clé RIB incorrecte",
    iban_errors.InvalidBankCode: "code banque inconnu",
    iban_errors.InvalidBranchCode: "code guichet incorrect",
    iban_errors.InvalidAccountCode: "numéro de compte incorrect",
}


def iban(value: str) -> str:
    reason = "trop long"
    if len(value) <= LIMITS["iban"].chars:
        try:
            return str(IBAN(value).compact)
        except iban_errors.SchwiftyException as exc:
            reason = next(
                (text for kind, text in IBAN_REASONS.items() if isinstance(exc, kind)),
                "numéro incorrect",
            )
    raise InvalidInput(f"IBAN invalide : « {shown(value)} » ({reason}).", "iban")


def email(value: str) -> str:
    text(value, "email", field="email")
    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError:
        raise InvalidInput(f"Adresse e-mail invalide : « {shown(value)} ».", "email") from None


def non_blank(value: str, field: str, label: str, kind: str = "name") -> str:
    """A required text field within the limit of `kind` (LIMITS)."""
    clean = text(value, kind, label=label, field=field)
    if not clean:
        raise InvalidInput(f"{label} est obligatoire.", field)
    return clean


def places(value: int) -> int:
    if not 1 <= value <= MAX_PLACES:
        raise InvalidInput(
            f"Nombre de places invalide : {value} (de 1 à {_count(MAX_PLACES)}).", "places"
        )
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
    "LIMITS",
    "MAX_ID",
    "Limit",
    "control_free",
    "ident",
    "in_id_range",
    "parse_date",
    "shown",
    "text",
]
