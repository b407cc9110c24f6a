"""One row of a file checked and turned into a clean record, or into its problems (every bad
cell of the row, each with a French message). The checks are the project's own
(`workflow.validation`, `workflow.territory`, `workflow.eligibility`); this module only reads
cells and words the messages for a row."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date

from workflow import validation
from workflow.eligibility import SECTOR_LABELS, commune_refusal
from workflow.errors import InvalidInput
from workflow.iban import is_masked
from workflow.imports.columns import LAYOUTS, ColumnMap, Kind, fold_header, fold_name
from workflow.imports.report import Issue
from workflow.schemes import SECTORS, Scheme
from workflow.territory import Commune, Territory, UnknownCommune

# -- records -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstituteRecord:
    line: int
    name: str
    commune: str
    schemes: tuple[str, ...] | None  # None: the file does not say

    @property
    def key(self) -> tuple[str, str]:
        return institute_key(self.name, self.commune)


@dataclass(frozen=True, slots=True)
class EmployerRecord:
    line: int
    name: str
    siret: str
    commune: str
    sector: str
    recruitment_difficulty: bool | None  # None: the file does not say
    email: str | None  # None: the file does not say

    @property
    def key(self) -> str:
        return self.siret


@dataclass(frozen=True, slots=True)
class LearnerRecord:
    line: int
    last_name: str
    first_name: str
    birth_date: date
    email: str
    institute_id: int
    training_start: date
    training_end: date
    iban: str | None  # None: the file does not say

    @property
    def key(self) -> tuple[str, str, date]:
        return learner_key(self.last_name, self.first_name, self.birth_date)


Record = InstituteRecord | EmployerRecord | LearnerRecord


def institute_key(name: str, commune: str) -> tuple[str, str]:
    """Institutes are the same when their names match (case and accents aside) in one commune."""
    return fold_name(name), commune


def learner_key(last_name: str, first_name: str, birth_date: date) -> tuple[str, str, date]:
    """A learner's identity: last name, first name (case and accents aside) and birth date."""
    return fold_name(last_name), fold_name(first_name), birth_date


# -- what a row is checked against ---------------------------------------------------------------


@dataclass
class InstituteIndex:
    """The institutes of the database, to find a learner's institute by number or by name."""

    names: dict[int, tuple[str, str]] = field(default_factory=dict)  # id → (name, commune)

    def resolve(self, text: str, commune: str) -> int | str:
        """The institute's id, or a French message saying why there is none."""
        if text.isdigit():
            if int(text) in self.names:
                return int(text)
            return f"Institut introuvable : n° {text}."
        wanted = fold_name(text)
        found = [i for i, (name, _) in self.names.items() if fold_name(name) == wanted]
        if commune:
            found = [i for i in found if self.names[i][1] == commune]
        if len(found) == 1:
            return found[0]
        where = f" dans la commune {commune}" if commune else ""
        if not found:
            return (
                f"Institut inconnu : « {text} »{where}. Importez d'abord les instituts, ou "
                "indiquez le numéro de l'institut."
            )
        numbers = ", ".join(str(i) for i in sorted(found))
        return (
            f"Plusieurs instituts s'appellent « {text} »{where} (n° {numbers}) : indiquez le "
            "code commune de l'institut ou son numéro."
        )


@dataclass
class RowContext:
    territory: Territory
    schemes: Sequence[Scheme]  # an employer's commune must meet the territory rule of one
    known_schemes: Collection[str]  # the scheme ids an institute may be authorised for
    today: date
    institutes: InstituteIndex = field(default_factory=InstituteIndex)


# -- reading one row -----------------------------------------------------------------------------

_LABELS = {kind: {f.key: f.label for f in fields} for kind, fields in LAYOUTS.items()}
# Each cell's limit in workflow.validation.LIMITS, the same as when the field is typed.
_LIMITS = {
    "last_name": "person_name",
    "first_name": "person_name",
    "email": "email",
    "siret": "siret",
    "iban": "iban",
    "commune": "insee",
    "institute_commune": "insee",
    "birth_date": "date",
    "training_start": "date",
    "training_end": "date",
    "recruitment_difficulty": "code",
}  # any other field: "name"
_YES = frozenset({"oui", "o", "yes", "y", "vrai", "true", "1", "x"})
_NO = frozenset({"non", "n", "no", "faux", "false", "0"})
_SCHEME_SEPARATORS = re.compile(r"[\s,;|/]+")
_SECTOR_NAMES = {fold_header(code): code for code in SECTORS} | {
    fold_header(label): code for code, label in SECTOR_LABELS.items()
}


class _Row:
    """The cells of one row by field, and the problems found so far."""

    def __init__(self, cmap: ColumnMap, line: int, cells: Sequence[str]) -> None:
        self.cmap = cmap
        self.line = line
        self.cells = cells
        self.issues: list[Issue] = []
        # Cells too long or with control characters: refused once, then read as absent.
        self.refused: set[str] = set()
        for key in cmap.index:
            try:
                validation.text(self.text(key), _LIMITS.get(key, "name"), label="La valeur")
            except InvalidInput as exc:
                self.fail(key, str(exc))
                self.refused.add(key)

    def text(self, key: str) -> str:
        position = self.cmap.index.get(key)
        if position is None or position >= len(self.cells) or key in self.refused:
            return ""
        return self.cells[position].strip()

    def fail(self, key: str, message: str) -> None:
        column = self.cmap.header.get(key) or _LABELS[self.cmap.kind][key]
        self.issues.append(
            Issue(self.line, column, validation.control_free(self.text(key)), message)
        )

    def required(self, key: str) -> str | None:
        value = self.text(key)
        if not value:
            if key not in self.refused:
                self.fail(key, f"Valeur obligatoire manquante ({_LABELS[self.cmap.kind][key]}).")
            return None
        return value

    def date(self, key: str) -> date | None:
        value = self.required(key)
        if value is None:
            return None
        try:
            return validation.parse_date(value, key)
        except InvalidInput:
            self.fail(
                key,
                f"Date invalide : « {value} » (format attendu JJ/MM/AAAA ou AAAA-MM-JJ, "
                "p. ex. 07/09/2026).",
            )
            return None

    def email(self, key: str, *, required: bool) -> str | None:
        value = self.required(key) if required else (self.text(key) or None)
        if value is None:
            return None
        try:
            return validation.email(value)
        except InvalidInput as exc:
            self.fail(key, str(exc))
            return None

    def commune(self, key: str, territory: Territory) -> Commune | None:
        value = self.required(key)
        if value is None:
            return None
        # Spreadsheets drop the leading zero of codes such as 09225 when they take them for
        # numbers.
        code = "0" + value if value.isdigit() and len(value) == 4 else value
        try:
            return territory.commune(code)
        except UnknownCommune as exc:
            self.fail(key, str(exc))
            return None


def parse_row(
    cmap: ColumnMap, line: int, cells: Sequence[str], ctx: RowContext
) -> Record | list[Issue]:
    """The row's clean record, or every problem of the row."""
    row = _Row(cmap, line, cells)
    record: Record | None
    if cmap.kind is Kind.institutes:
        record = _institute(row, ctx)
    elif cmap.kind is Kind.employers:
        record = _employer(row, ctx)
    else:
        record = _learner(row, ctx)
    if row.issues or record is None:
        return row.issues
    return record


def _institute(row: _Row, ctx: RowContext) -> InstituteRecord | None:
    name = row.required("name")
    commune = row.commune("commune", ctx.territory)
    schemes: tuple[str, ...] | None = None
    if text := row.text("schemes"):
        ids = tuple(dict.fromkeys(s for s in _SCHEME_SEPARATORS.split(text) if s))
        unknown = [s for s in ids if s not in ctx.known_schemes]
        if unknown:
            row.fail(
                "schemes",
                f"Dispositif inconnu : {', '.join(unknown)} (dispositifs configurés : "
                f"{', '.join(sorted(ctx.known_schemes))}).",
            )
        schemes = tuple(sorted(ids))
    if name is None or commune is None or row.issues:
        return None
    return InstituteRecord(row.line, name, commune.insee, schemes)


def _siret(row: _Row) -> str | None:
    value = row.required("siret")
    if value is None:
        return None
    digits = re.sub(r"[\s.\-]", "", value)
    if digits.isdigit() and len(digits) == 13:  # a leading zero lost by a spreadsheet
        digits = "0" + digits
    try:
        return validation.siret(digits)
    except InvalidInput:
        row.fail(
            "siret",
            f"SIRET invalide : « {value} » (14 chiffres dont une clé de contrôle ; vérifiez-le "
            "sur annuaire-entreprises.data.gouv.fr).",
        )
        return None


def _employer(row: _Row, ctx: RowContext) -> EmployerRecord | None:
    name = row.required("name")
    siret = _siret(row)
    commune = row.commune("commune", ctx.territory)
    if commune is not None and (refusal := commune_refusal(commune, ctx.schemes)):
        row.fail("commune", refusal)
    sector = None
    if (text := row.required("sector")) is not None:
        sector = _SECTOR_NAMES.get(fold_header(text))
        if sector is None:
            accepted = ", ".join(f"{label} ({code})" for code, label in SECTOR_LABELS.items())
            row.fail("sector", f"Secteur inconnu : « {text} » (valeurs acceptées : {accepted}).")
    difficulty = None
    if row.cmap.has("recruitment_difficulty"):
        answer = fold_header(row.text("recruitment_difficulty"))
        if answer in _YES or answer in _NO:
            difficulty = answer in _YES
        else:
            row.fail("recruitment_difficulty", "Valeur attendue : oui ou non.")
    email = row.email("email", required=False)
    if name is None or siret is None or commune is None or sector is None or row.issues:
        return None
    return EmployerRecord(row.line, name, siret, commune.insee, sector, difficulty, email)


def _iban(row: _Row) -> str | None:
    value = row.text("iban")
    if value and is_masked(value):
        return None  # as exported (FR76 **** **** 0189): the stored IBAN stays
    if not value:
        return None
    try:
        return validation.iban(value)
    except InvalidInput as exc:
        row.fail("iban", str(exc))
        return None


def _learner(row: _Row, ctx: RowContext) -> LearnerRecord | None:
    last = row.required("last_name")
    first = row.required("first_name")
    birth = row.date("birth_date")
    if birth is not None:
        try:
            validation.birth_date(birth, ctx.today)
        except InvalidInput:
            row.fail(
                "birth_date",
                f"Date de naissance invalide : {birth.strftime('%d/%m/%Y')} (entre 1900 et "
                "aujourd'hui).",
            )
            birth = None
    email = row.email("email", required=True)
    institute: int | None = None
    if (text := row.required("institute")) is not None:
        found = ctx.institutes.resolve(text, _institute_commune(row))
        if isinstance(found, str):
            row.fail("institute", found)
        else:
            institute = found
    start = row.date("training_start")
    end = row.date("training_end")
    if start is not None and end is not None:
        try:
            validation.training_dates(start, end)
        except InvalidInput as exc:
            row.fail("training_end", str(exc))
    iban = _iban(row)
    if (
        last is None
        or first is None
        or birth is None
        or email is None
        or institute is None
        or start is None
        or end is None
        or row.issues
    ):
        return None
    return LearnerRecord(row.line, last, first, birth, email, institute, start, end, iban)


def _institute_commune(row: _Row) -> str:
    code = row.text("institute_commune").upper()
    return "0" + code if code.isdigit() and len(code) == 4 else code
