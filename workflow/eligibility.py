"""Who may take part in a scheme: the rurality of a commune and the eligibility of an employer
(SPEC §2). Reasons are sentences for a caseworker, in French."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from workflow.schemes import Scheme
from workflow.territory import Commune, is_rural

SECTOR_LABELS = {
    "home_care": "aide à domicile",
    "elderly": "personnes âgées",
    "disability": "personnes en situation de handicap",
    "hospital": "établissement hospitalier",
    "other": "autre secteur",
}


def _epci_text(commune: Commune) -> str:
    if commune.epci_name is None:
        return "n'appartient à aucun EPCI à fiscalité propre"
    return f"est membre de « {commune.epci_name} » ({commune.epci_type})"


def commune_is_rural(commune: Commune, scheme: Scheme | None = None) -> bool:
    """The scheme's rurality rule, or the default one (not in a CA, CU or Métropole)."""
    if scheme is not None and scheme.eligibility.rurality is not None:
        return is_rural(commune, scheme.eligibility.rurality.urban_epci_types)
    return is_rural(commune)


@dataclass(frozen=True)
class CommuneCheck:
    """SPEC §7 `territory check`: the commune, its EPCI, and whether a scheme accepts it."""

    commune: Commune
    rural: bool
    eligible: bool | None
    reasons: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        c = self.commune
        return {
            "insee": c.insee,
            "commune": c.name,
            "departement": c.departement,
            "region": c.region,
            "epci": c.epci_name,
            "epci_siren": c.epci_siren,
            "epci_type": c.epci_type,
            "rural": self.rural,
            "eligible": self.eligible,
            "reasons": self.reasons,
        }


def _rurality_reason(commune: Commune, rural: bool) -> str:
    verdict = (
        "rurale." if rural else "non rurale (communauté d'agglomération, urbaine ou métropole)."
    )
    return f"{commune.name} ({commune.insee}) {_epci_text(commune)} : commune {verdict}"


def _region_reason(commune: Commune, scheme: Scheme) -> str:
    where = "dans" if commune.region == scheme.region_code else "hors de"
    return f"Région {commune.region} : {where} la région du dispositif ({scheme.region_code})."


def check_commune(commune: Commune, scheme: Scheme | None) -> CommuneCheck:
    rural = commune_is_rural(commune, scheme)
    reasons = [_rurality_reason(commune, rural)]
    if scheme is None:
        return CommuneCheck(commune, rural, None, reasons)
    reasons.append(_region_reason(commune, scheme))
    return CommuneCheck(commune, rural, _commune_accepted(commune, scheme, rural), reasons)


def _commune_accepted(commune: Commune, scheme: Scheme, rural: bool) -> bool:
    return commune.region == scheme.region_code and (rural or scheme.eligibility.rurality is None)


def employer_refusals(
    scheme: Scheme, sector: str, recruitment_difficulty: bool, commune: Commune
) -> list[str]:
    """Why an employer may not be listed in `scheme` (empty when it may): sector, declared
    recruitment difficulty, commune in the scheme's region and rural (SPEC §2)."""
    reasons = []
    if sector not in scheme.eligibility.sectors:
        accepted = ", ".join(SECTOR_LABELS.get(s, s) for s in scheme.eligibility.sectors)
        reasons.append(
            f"Secteur « {SECTOR_LABELS.get(sector, sector)} » non éligible (secteurs : {accepted})."
        )
    if scheme.eligibility.recruitment_difficulty_required and not recruitment_difficulty:
        reasons.append("L'employeur n'a pas déclaré de difficultés de recrutement.")
    if commune.region != scheme.region_code:
        reasons.append(_region_reason(commune, scheme))
    rural = commune_is_rural(commune, scheme)
    if scheme.eligibility.rurality is not None and not rural:
        reasons.append(_rurality_reason(commune, rural))
    return reasons


def territory_refusal(commune: Commune, scheme: Scheme) -> str | None:
    """Why `scheme` takes no employer in `commune` (SPEC §2: its région, rural), or None."""
    if commune.region != scheme.region_code:
        return (
            f"{commune.name} ({commune.insee}) est en région {commune.region}, hors de la région "
            f"du dispositif ({scheme.region_code})"
        )
    if scheme.eligibility.rurality is not None and not commune_is_rural(commune, scheme):
        return (
            f"{commune.name} ({commune.insee}) est membre de « {commune.epci_name} » "
            f"({commune.epci_type}) : commune non rurale (communauté d'agglomération, urbaine ou "
            "métropole)"
        )
    return None


def commune_refusal(
    commune: Commune, schemes: Sequence[Scheme], named: Callable[[Scheme], str] = lambda s: s.id
) -> str | None:
    """Why none of `schemes` takes an employer in `commune`, or None when one does (the imports
    name a scheme by its id, the web forms by its label: `named`)."""
    refusals = [(s, territory_refusal(commune, s)) for s in schemes]
    if not refusals or any(reason is None for _, reason in refusals):
        return None
    if len(refusals) == 1:
        return f"Commune non éligible : {refusals[0][1]}."
    reasons = " ; ".join(f"{named(s)} : {reason}" for s, reason in refusals)
    return f"Commune acceptée par aucun dispositif : {reasons}."


__all__ = [
    "SECTOR_LABELS",
    "check_commune",
    "commune_is_rural",
    "commune_refusal",
]
