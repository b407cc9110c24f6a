"""Communes, their EPCI and the rurality rule (SPEC §2).

The data is `config/territory/communes.csv`, an extract of Etalab's "découpage administratif"
rebuilt by `scripts/build_territory.py` (see `config/territory/SOURCE.md`): one row per current
commune with its département, région and EPCI à fiscalité propre (SIREN, name, type CA, CC, CU,
METRO or MET69). Rurality is computed from it, never typed by hand. Nothing is read at import
time: `Territory.load()` or `default_territory()` (cached) reads the file when first needed.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from workflow.errors import FidelisError
from workflow.paths import config_dir
from workflow.validation import shown

COLUMNS = ("insee", "name", "departement", "region", "epci_siren", "epci_name", "epci_type")

# Five digits, or 2A/2B and three digits for Corsica (INSEE "code officiel géographique").
_INSEE = re.compile(r"(?:\d{2}|2[AB])\d{3}")

URBAN_EPCI_TYPES: frozenset[str] = frozenset({"CA", "CU", "METRO", "MET69"})
"""EPCI types that make a commune non-rural: communauté d'agglomération, communauté urbaine,
métropole, and the Métropole de Lyon (a collectivité à statut particulier, type MET69)."""


@dataclass(frozen=True, slots=True)
class Commune:
    insee: str
    name: str
    departement: str
    region: str
    epci_siren: str | None
    epci_name: str | None
    epci_type: str | None


class UnknownCommune(FidelisError, LookupError):
    """No current commune has this INSEE code (a FidelisError: the CLI shows it, exit 1)."""

    def __init__(self, insee: str, message: str | None = None) -> None:
        super().__init__(
            message
            or f"Commune inconnue : code INSEE « {shown(insee)} » introuvable dans le découpage "
            "administratif."
        )
        self.insee = insee


class MalformedInsee(UnknownCommune):
    """The text is not an INSEE commune code at all."""

    def __init__(self, insee: str) -> None:
        super().__init__(
            insee,
            f"Code INSEE invalide : « {shown(insee)} ». Un code commune a 5 caractères : des "
            "chiffres, ou 2A/2B suivis de 3 chiffres pour la Corse (par exemple 31555, 2A004).",
        )


def normalize_insee(insee: object) -> str:
    """The code without surrounding whitespace, Corsican letters in upper case; raises
    MalformedInsee when it cannot be an INSEE commune code."""
    if not isinstance(insee, str):
        raise MalformedInsee(str(insee))
    code = insee.strip().upper()
    if not _INSEE.fullmatch(code):
        raise MalformedInsee(insee.strip())
    return code


def is_rural(commune: Commune, urban_epci_types: frozenset[str] = URBAN_EPCI_TYPES) -> bool:
    """SPEC §2: rural = member of a CC, i.e. not a member of a CA, CU or Métropole.

    A commune in no EPCI à fiscalité propre (a few islands: Ouessant, Île-de-Sein, Île-de-Bréhat,
    L'Île-d'Yeu; and the collectivités d'outre-mer) counts as rural: the rule excludes members of
    an urban EPCI, and such a commune is a member of none.
    """
    return commune.epci_type is None or commune.epci_type not in urban_epci_types


def default_path() -> Path:
    return config_dir() / "territory" / "communes.csv"


class Territory:
    """All current communes, by INSEE code."""

    def __init__(self, communes: dict[str, Commune], source: Path | None = None) -> None:
        self._communes = communes
        self.source = source

    @classmethod
    def load(cls, path: Path | None = None) -> Territory:
        """Read the CSV written by `scripts/build_territory.py` (default: the project's)."""
        path = path or default_path()
        try:
            handle = path.open(encoding="utf-8", newline="")
        except FileNotFoundError:
            raise FileNotFoundError(
                f"Fichier des communes introuvable : {path} "
                "(reconstruisez-le avec `python scripts/build_territory.py`)."
            ) from None
        communes: dict[str, Commune] = {}
        with handle:
            reader = csv.reader(handle)
            header = tuple(next(reader, ()))
            if header != COLUMNS:
                raise ValueError(
                    f"{path} : en-tête inattendu {header!r} (attendu : {','.join(COLUMNS)})."
                )
            for line, row in enumerate(reader, start=2):
                if len(row) != len(COLUMNS):
                    raise ValueError(f"{path}, ligne {line} : {len(row)} colonnes au lieu de 7.")
                insee, name, departement, region, siren, epci_name, epci_type = row
                communes[insee] = Commune(
                    insee=insee,
                    name=name,
                    departement=departement,
                    region=region,
                    epci_siren=siren or None,
                    epci_name=epci_name or None,
                    epci_type=epci_type or None,
                )
        return cls(communes, path)

    def commune(self, insee: str) -> Commune:
        """The commune with this INSEE code (whitespace stripped); raises UnknownCommune, or
        its subclass MalformedInsee when the text is no INSEE code."""
        code = normalize_insee(insee)
        try:
            return self._communes[code]
        except KeyError:
            raise UnknownCommune(code) from None

    def get(self, insee: str) -> Commune | None:
        """The commune, or None when the code is unknown or malformed."""
        try:
            return self.commune(insee)
        except UnknownCommune:
            return None

    def __contains__(self, insee: object) -> bool:
        try:
            code = normalize_insee(insee)
        except MalformedInsee:
            return False
        return code in self._communes

    def __len__(self) -> int:
        return len(self._communes)

    def __iter__(self) -> Iterator[Commune]:
        return iter(self._communes.values())

    def communes_in_region(self, region: str) -> list[Commune]:
        """The communes of a région (INSEE région code, e.g. "76" for Occitanie), by INSEE code."""
        return sorted(
            (c for c in self._communes.values() if c.region == region), key=lambda c: c.insee
        )


@functools.cache
def default_territory() -> Territory:
    """The project's territory file, read once per process."""
    return Territory.load()


__all__ = [
    "Commune",
    "Territory",
    "UnknownCommune",
    "default_territory",
]
