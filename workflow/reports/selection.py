"""What a report covers: the case list's filters (workflow.views.CaseFilter) plus what the
reader may see (workflow.accounts.visible_cases), and the checks that turn a typo into a clear
French error before anything is read or written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import validation
from workflow.errors import InvalidInput, NotFound
from workflow.models import Campaign, Employer, Institute
from workflow.schemes import SchemeRegistry
from workflow.states import State
from workflow.views import CaseFilter

__all__ = ["Selection", "check_campaign", "check_scheme", "parse_filters"]

_DEPARTEMENT = re.compile(r"(?:\d{1,3}|2[AB])")


@dataclass(frozen=True)
class Selection:
    """The cases a report reads. `visible` is the role's condition on `Case` (None: all)."""

    filters: CaseFilter = field(default_factory=CaseFilter)
    visible: sa.ColumnElement[bool] | None = None
    limit: int | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        """Conditions on Case, Campaign, Learner, Offer and Employer: the query must join them."""
        out = self.filters.conditions()
        if self.visible is not None:
            out.append(self.visible)
        return out


def check_scheme(scheme: str | None, schemes: SchemeRegistry) -> str | None:
    """The scheme id, or UnknownScheme (French, lists the configured ones)."""
    if scheme is None:
        return None
    schemes[scheme]  # raises UnknownScheme
    return scheme


def check_campaign(session: Session, year: int | None, scheme: str | None) -> int | None:
    """A campaign year that exists (for `scheme` when given), else a French error naming the
    campaigns there are."""
    if year is None:
        return None
    query = sa.select(Campaign.year, Campaign.scheme_id).order_by(Campaign.year, Campaign.scheme_id)
    if scheme is not None:
        query = query.where(Campaign.scheme_id == scheme)
    known = session.execute(query).all()
    if any(y == year for y, _ in known):
        return year
    listed = ", ".join(f"{y} ({s})" for y, s in known) or "aucune"
    where = f" du dispositif {scheme}" if scheme else ""
    raise InvalidInput(
        f"Campagne inconnue : aucune campagne {year}{where}. Campagnes : {listed}.", "campaign"
    )


def parse_filters(
    session: Session,
    schemes: SchemeRegistry,
    *,
    state: str | None = None,
    scheme: str | None = None,
    campaign: int | None = None,
    employer: int | None = None,
    institute: int | None = None,
    departement: str | None = None,
    search: str | None = None,
) -> CaseFilter:
    """The case list's filters from raw values, each checked (unknown state, scheme, campaign,
    employer or institute, malformed département: InvalidInput / NotFound in French)."""
    wanted: State | None = None
    if state:
        try:
            wanted = State(state)
        except ValueError:
            raise InvalidInput(
                f"État inconnu « {validation.shown(state)} » "
                f"(états : {', '.join(s.value for s in State)}).",
                "state",
            ) from None
    check_scheme(scheme, schemes)
    check_campaign(session, campaign, scheme)
    # An id no database can hold exists nowhere (and must not reach the query).
    for what, model, ident in (
        ("Employeur", Employer, employer),
        ("Institut", Institute, institute),
    ):
        if ident is not None and (
            not validation.in_id_range(ident) or session.get(model, ident) is None
        ):
            raise NotFound(what, ident)
    dep = departement.strip().upper() if departement else None
    if dep and not _DEPARTEMENT.fullmatch(dep):
        raise InvalidInput(
            f"Département invalide : « {validation.shown(departement or '')} » (un code comme "
            "48, 2A ou 974).",
            "departement",
        )
    search = validation.optional_text(search, "search", field="search")
    return CaseFilter(
        state=wanted,
        scheme=scheme,
        campaign=campaign,
        employer=employer,
        institute=institute,
        departement=dep or None,
        search=search,
    )
