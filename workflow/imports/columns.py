"""Which column of a file holds which field: the layouts of the three kinds of reference data
and the mapping of a file's header onto them, by name. Header names are compared folded (case,
accents, spaces and punctuation ignored), so « Code INSEE », « code_insee » and « CODE INSÉE »
are the same column; each field accepts French and English names."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """What a file holds."""

    institutes = "institutes"
    employers = "employers"
    learners = "learners"

    @property
    def label(self) -> str:
        return {"institutes": "instituts", "employers": "employeurs", "learners": "apprenants"}[
            self.value
        ]


@dataclass(frozen=True)
class Field:
    key: str
    label: str  # the French header the exports write
    aliases: tuple[str, ...] = ()
    required: bool = True

    @property
    def names(self) -> tuple[str, ...]:
        return (self.label, *self.aliases)


_COMMUNE_ALIASES = (
    "Code INSEE",
    "Code INSEE de la commune",
    "Commune",
    "INSEE",
    "commune_insee",
    "insee_code",
    "commune_code",
)
_EMAIL_ALIASES = (
    "E-mail",
    "Adresse e-mail",
    "Adresse électronique",
    "Adresse de courriel",
    "Mél",
    "Mail",
    "email",
)

LAYOUTS: dict[Kind, tuple[Field, ...]] = {
    Kind.institutes: (
        Field("name", "Nom", ("Nom de l'institut", "Institut", "Établissement", "name")),
        Field("commune", "Code commune", _COMMUNE_ALIASES),
        Field("schemes", "Dispositifs", ("Dispositif", "schemes", "scheme"), required=False),
    ),
    Kind.employers: (
        Field(
            "name",
            "Raison sociale",
            ("Nom", "Nom de l'employeur", "Employeur", "Établissement", "name", "employer"),
        ),
        Field("siret", "SIRET", ("N° SIRET", "Numéro SIRET", "siret_number")),
        Field("commune", "Code commune", _COMMUNE_ALIASES),
        Field("sector", "Secteur", ("Secteur d'activité", "sector")),
        Field(
            "recruitment_difficulty",
            "Difficulté de recrutement",
            (
                "Difficultés de recrutement",
                "Difficulté à recruter",
                "recruitment_difficulty",
                "recruitment_difficulties",
            ),
            required=False,
        ),
        Field("email", "Courriel", _EMAIL_ALIASES, required=False),
    ),
    Kind.learners: (
        Field("last_name", "Nom", ("Nom de famille", "Nom de naissance", "last_name", "surname")),
        Field("first_name", "Prénom", ("Prénoms", "first_name", "given_name")),
        Field("birth_date", "Date de naissance", ("Né le", "Né(e) le", "birth_date", "dob")),
        Field("email", "Courriel", _EMAIL_ALIASES),
        Field(
            "institute",
            "Institut",
            ("Institut de formation", "IFAS", "N° institut", "institute", "institute_id"),
        ),
        Field(
            "institute_commune",
            "Code commune de l'institut",
            ("Commune de l'institut", "Code INSEE de l'institut", "institute_commune"),
            required=False,
        ),
        Field(
            "training_start",
            "Début de formation",
            ("Date de début de formation", "Entrée en formation", "training_start"),
        ),
        Field(
            "training_end",
            "Fin de formation",
            ("Date de fin de formation", "Sortie de formation", "training_end"),
        ),
        Field("iban", "IBAN", ("Compte IBAN", "iban_number"), required=False),
    ),
}

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_SPACES = re.compile(r"[\s\-'’]+")


def _strip_accents(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    ).casefold()


def fold_header(text: str) -> str:
    """A header name reduced to lower-case ASCII letters and digits: « N° SIRET » → « nsiret »."""
    return _NOT_ALNUM.sub("", _strip_accents(text))


def fold_name(text: str) -> str:
    """A person's or a place's name as compared for identity: case, accents, hyphens and
    repeated spaces ignored (« Jean-Éric  DUPONT » and « jean eric dupont » are the same)."""
    return _SPACES.sub(" ", _strip_accents(text)).strip()


@dataclass(frozen=True)
class ColumnMap:
    """Where each field is in a row (its index), and the header text of each field's column."""

    kind: Kind
    index: dict[str, int]
    header: dict[str, str]
    ignored: tuple[str, ...]

    def has(self, key: str) -> bool:
        return key in self.index


@dataclass(frozen=True)
class HeaderProblem:
    column: str
    message: str


def _lookup(kind: Kind) -> dict[str, Field]:
    table: dict[str, Field] = {}
    for f in LAYOUTS[kind]:
        for name in f.names:
            table.setdefault(fold_header(name), f)
    return table


def map_columns(kind: Kind, header: Sequence[str]) -> ColumnMap | list[HeaderProblem]:
    """Map a header row onto `kind`'s fields; unknown columns are ignored (and listed). Returns
    the problems instead when a required column is missing or a field has two columns."""
    lookup = _lookup(kind)
    index: dict[str, int] = {}
    names: dict[str, str] = {}
    ignored: list[str] = []
    problems: list[HeaderProblem] = []
    for position, raw in enumerate(header):
        text = raw.strip()
        found = lookup.get(fold_header(text)) if text else None
        if found is None:
            if text:
                ignored.append(text)
            continue
        if found.key in index:
            problems.append(
                HeaderProblem(
                    text,
                    f"Deux colonnes pour le même champ « {found.label} » : « {names[found.key]} » "
                    f"et « {text} ». Gardez-en une seule.",
                )
            )
            continue
        index[found.key] = position
        names[found.key] = text
    for f in LAYOUTS[kind]:
        if f.required and f.key not in index:
            accepted = ", ".join(f"« {n} »" for n in f.names)
            problems.append(
                HeaderProblem(
                    f.label,
                    f"Colonne obligatoire absente : « {f.label} » "
                    f"(en-têtes acceptés : {accepted}).",
                )
            )
    if problems:
        return problems
    return ColumnMap(kind, index, names, tuple(ignored))


def export_header(kind: Kind) -> list[str]:
    """The French headers the exports write, in the layout's order (the import reads them)."""
    return [f.label for f in LAYOUTS[kind]]


__all__ = [
    "LAYOUTS",
]
