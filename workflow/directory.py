"""The people and places around cases: institutes, employers, campaigns and their offers,
learners. Each function validates everything first and writes nothing on a refusal."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import validation
from workflow.clock import today_paris
from workflow.db import UnitOfWork
from workflow.documents.store import invalidate_stale_contracts
from workflow.eligibility import commune_refusal, employer_refusals
from workflow.errors import InvalidInput, NotEligible, NotFound
from workflow.iban import Iban
from workflow.models import (
    Campaign,
    Case,
    Employer,
    Institute,
    InstituteScheme,
    Learner,
    Offer,
    utcnow,
)
from workflow.regularisation import regularise
from workflow.schemes import SECTORS, SchemeRegistry, registry
from workflow.states import ENGAGED_STATES, PRE_CONTRACT_STATES
from workflow.territory import Commune, Territory, default_territory


def _institute_fields(
    name: str,
    commune: str,
    schemes: list[str],
    territory: Territory | None,
    scheme_registry: SchemeRegistry | None,
) -> tuple[str, Commune]:
    """An institute's name and commune checked, its schemes known (an unknown one raises)."""
    name = validation.non_blank(name, "name", "Le nom de l'institut")
    place = (territory or default_territory()).commune(commune)
    known = scheme_registry or registry()
    for scheme_id in schemes:
        known[scheme_id]
    return name, place


def add_institute(
    uow: UnitOfWork,
    *,
    name: str,
    commune: str,
    schemes: list[str],
    territory: Territory | None = None,
    scheme_registry: SchemeRegistry | None = None,
) -> int:
    """An institute, authorised for the given schemes (SPEC §3 `submit` guard)."""
    name, place = _institute_fields(name, commune, schemes, territory, scheme_registry)
    with uow:
        institute = Institute(name=name, commune_insee=place.insee)
        institute.schemes = [InstituteScheme(scheme_id=s) for s in dict.fromkeys(schemes)]
        uow.session.add(institute)
        uow.session.flush()
        uow.commit()
        return institute.id


def _employer_fields(
    name: str, siret: str, sector: str, email: str | None, signatory: str | None
) -> tuple[str, str, str | None, str | None]:
    """An employer's name, SIRET, e-mail and signatory, checked (the sector too)."""
    clean_name = validation.non_blank(name, "name", "Le nom de l'employeur")
    clean_siret = validation.siret(siret)
    if sector not in SECTORS:
        raise InvalidInput(
            f"Secteur inconnu « {validation.shown(sector)} » (secteurs : {', '.join(SECTORS)}).",
            "sector",
        )
    clean_email = validation.email(email) if email else None
    clean_signatory = validation.optional_text(
        signatory, "name", label="Le signataire", field="signatory"
    )
    return clean_name, clean_siret, clean_email, clean_signatory


def accepted_commune(
    commune: str,
    *,
    territory: Territory | None = None,
    scheme_registry: SchemeRegistry | None = None,
) -> Commune:
    """The commune of this INSEE code if a configured scheme takes employers there (its région,
    rural by its rule: SPEC §2 — the imports' rule), else InvalidInput for the field `commune`."""
    place = (territory or default_territory()).commune(commune)
    schemes = list((scheme_registry or registry()).values())
    refusal = commune_refusal(place, schemes, named=lambda s: f"« {s.label} »")
    if refusal:
        raise InvalidInput(refusal, "commune")
    return place


def add_employer(
    uow: UnitOfWork,
    *,
    name: str,
    siret: str,
    commune: str,
    sector: str,
    recruitment_difficulty: bool,
    email: str | None = None,
    signatory: str | None = None,
    territory: Territory | None = None,
    eligible_commune: bool = False,
) -> int:
    """An employer. With `eligible_commune` (the web forms), its commune must be one a
    configured scheme accepts (`accepted_commune`); the command line and the imports record
    any commune and leave the refusal to the listing in a campaign (`list_employer`)."""
    name, siret, clean_email, clean_signatory = _employer_fields(
        name, siret, sector, email, signatory
    )
    place = (
        accepted_commune(commune, territory=territory)
        if eligible_commune
        else (territory or default_territory()).commune(commune)
    )
    with uow:
        s = uow.session
        existing = s.scalars(sa.select(Employer.id).where(Employer.siret == siret)).first()
        if existing is not None:
            raise InvalidInput(f"Un employeur a déjà le SIRET {siret} (n° {existing}).", "siret")
        employer = Employer(
            name=name,
            siret=siret,
            commune_insee=place.insee,
            sector=sector,
            recruitment_difficulty=recruitment_difficulty,
            email=clean_email,
            signatory=clean_signatory,
        )
        s.add(employer)
        s.flush()
        uow.commit()
        return employer.id


def update_employer(
    uow: UnitOfWork,
    employer_id: int,
    *,
    name: str,
    siret: str,
    commune: str,
    sector: str,
    recruitment_difficulty: bool,
    email: str | None,
    signatory: str | None,
    territory: Territory | None = None,
) -> None:
    """Change an employer, every field checked as `add_employer` checks it (a new commune must
    be accepted by a scheme; the one it has is kept as it is)."""
    name, siret, clean_email, clean_signatory = _employer_fields(
        name, siret, sector, email, signatory
    )
    with uow:
        s = uow.session
        employer = s.get(Employer, employer_id)
        if employer is None:
            raise NotFound("Employeur", employer_id)
        if commune.strip() != employer.commune_insee:
            employer.commune_insee = accepted_commune(commune, territory=territory).insee
        existing = s.scalars(
            sa.select(Employer.id).where(Employer.siret == siret, Employer.id != employer_id)
        ).first()
        if existing is not None:
            raise InvalidInput(f"Un employeur a déjà le SIRET {siret} (n° {existing}).", "siret")
        employer.name, employer.siret, employer.sector = name, siret, sector
        employer.recruitment_difficulty = recruitment_difficulty
        employer.email, employer.signatory = clean_email, clean_signatory
        uow.commit()


def update_institute(
    uow: UnitOfWork,
    institute_id: int,
    *,
    name: str,
    commune: str,
    schemes: list[str],
    territory: Territory | None = None,
    scheme_registry: SchemeRegistry | None = None,
) -> None:
    """Change an institute's name, commune and the schemes it is authorised for."""
    name, place = _institute_fields(name, commune, schemes, territory, scheme_registry)
    with uow:
        institute = uow.session.get(Institute, institute_id)
        if institute is None:
            raise NotFound("Institut", institute_id)
        institute.name, institute.commune_insee = name, place.insee
        kept = {link.scheme_id: link for link in institute.schemes}
        institute.schemes = [
            kept.get(s) or InstituteScheme(scheme_id=s) for s in dict.fromkeys(schemes)
        ]
        uow.commit()


def open_campaign(
    uow: UnitOfWork, *, scheme_id: str, year: int, scheme_registry: SchemeRegistry | None = None
) -> int:
    (scheme_registry or registry())[scheme_id]  # raises UnknownScheme
    validation.year(year)
    with uow:
        s = uow.session
        existing = s.scalars(
            sa.select(Campaign.id).where(Campaign.scheme_id == scheme_id, Campaign.year == year)
        ).first()
        if existing is not None:
            raise InvalidInput(f"La campagne {year} de {scheme_id} existe déjà (n° {existing}).")
        campaign = Campaign(scheme_id=scheme_id, year=year, is_open=True)
        s.add(campaign)
        s.flush()
        uow.commit()
        return campaign.id


def list_employer(
    uow: UnitOfWork,
    *,
    campaign_id: int,
    employer_id: int,
    places: int,
    territory: Territory | None = None,
    scheme_registry: SchemeRegistry | None = None,
) -> int:
    """List an employer in a campaign with a number of places: the offer. Refused when the
    employer is not eligible for the campaign's scheme (SPEC §2)."""
    validation.places(places)
    with uow:
        s = uow.session
        campaign = s.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFound("Campagne", campaign_id)
        employer = s.get(Employer, employer_id)
        if employer is None:
            raise NotFound("Employeur", employer_id)
        if not campaign.is_open:
            raise InvalidInput(f"La campagne {campaign.year} est close.")
        scheme = (scheme_registry or registry())[campaign.scheme_id]
        commune = (territory or default_territory()).commune(employer.commune_insee)
        refusals = employer_refusals(
            scheme, employer.sector, employer.recruitment_difficulty, commune
        )
        if refusals:
            raise NotEligible(f"L'employeur « {employer.name} » n'est pas éligible :", refusals)
        existing = s.scalars(
            sa.select(Offer.id).where(
                Offer.campaign_id == campaign_id, Offer.employer_id == employer_id
            )
        ).first()
        if existing is not None:
            raise InvalidInput(
                f"L'employeur est déjà inscrit dans cette campagne (offre n° {existing})."
            )
        offer = Offer(campaign_id=campaign_id, employer_id=employer_id, places=places)
        s.add(offer)
        s.flush()
        uow.commit()
        return offer.id


def set_campaign_open(uow: UnitOfWork, campaign_id: int, *, is_open: bool) -> str:
    """Open or close a campaign to new applications and listings (its cases go on); returns
    how it is named (« campagne 2024 »)."""
    with uow:
        campaign = uow.session.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFound("Campagne", campaign_id)
        campaign.is_open = is_open
        uow.commit()
        return f"campagne {campaign.year}"


def update_offer(uow: UnitOfWork, offer_id: int, *, places: int) -> int:
    """Change an offer's places: never fewer than the places its cases already hold. Returns
    its campaign's id."""
    validation.places(places)
    with uow:
        s = uow.session
        offer = s.get(Offer, offer_id)
        if offer is None:
            raise NotFound("Offre", offer_id)
        held = s.scalar(
            sa.select(sa.func.count(Case.id)).where(
                Case.offer_id == offer_id, Case.state.in_(ENGAGED_STATES)
            )
        )
        if held and places < held:
            raise InvalidInput(
                f"Nombre de places invalide : {places} ({held} déjà pourvue(s) par des "
                "apprenants sélectionnés ou engagés).",
                "places",
            )
        offer.places = places
        offer.version += 1  # a selection racing with this change conflicts (workflow.cases)
        uow.commit()
        return offer.campaign_id


def close_offer(uow: UnitOfWork, offer_id: int, *, reopen: bool = False) -> tuple[str, int]:
    """Close an offer to new applications (its cases go on), or reopen it; returns the
    employer's name and the campaign's id."""
    with uow:
        offer = uow.session.get(Offer, offer_id)
        if offer is None:
            raise NotFound("Offre", offer_id)
        offer.closed_at = None if reopen else (offer.closed_at or utcnow())
        uow.commit()
        return offer.employer.name, offer.campaign_id


def add_learner(
    uow: UnitOfWork,
    *,
    first_name: str,
    last_name: str,
    birth_date: date,
    email: str,
    institute_id: int,
    training_start: date,
    training_end: date,
    iban: str | None,
    today: date,
    address: str | None = None,
) -> int:
    first = validation.non_blank(first_name, "first_name", "Le prénom", "person_name")
    last = validation.non_blank(last_name, "last_name", "Le nom", "person_name")
    validation.birth_date(birth_date, today)
    clean_email = validation.email(email)
    validation.training_dates(training_start, training_end)
    clean_address = validation.optional_text(address, "address")
    sealed = Iban.seal(iban) if iban else None  # checked, then encrypted (workflow.iban)
    with uow:
        s = uow.session
        if s.get(Institute, institute_id) is None:
            raise NotFound("Institut", institute_id)
        learner = Learner(
            first_name=first,
            last_name=last,
            birth_date=birth_date,
            email=clean_email,
            institute_id=institute_id,
            training_start=training_start,
            training_end=training_end,
            iban=sealed,
            address=clean_address,
        )
        s.add(learner)
        s.flush()
        uow.commit()
        return learner.id


def update_learner(
    uow: UnitOfWork,
    learner_id: int,
    *,
    iban: str | None = None,
    training_start: date | None = None,
    training_end: date | None = None,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    birth_date: date | None = None,
    address: str | None = None,
    institute_id: int | None = None,
    today: date | None = None,
) -> list[str]:
    """Change what is given of a learner (None: unchanged; an empty address: erased). A
    contract issued but not yet in force that no longer matches is invalidated, and a change of
    the training dates regularises the signed cases; the returned messages say so (SPEC §5)."""
    if iban:
        validation.iban(iban)  # a bad IBAN is refused before anything is read
    clean_email = validation.email(email) if email else None
    first = None if first_name is None else validation.non_blank(
        first_name, "first_name", "Le prénom", "person_name"
    )  # fmt: skip
    last = None if last_name is None else validation.non_blank(
        last_name, "last_name", "Le nom", "person_name"
    )  # fmt: skip
    if birth_date is not None:
        validation.birth_date(birth_date, today or today_paris())
    clean_address = None if address is None else validation.optional_text(address, "address")
    with uow:
        s = uow.session
        learner = s.get(Learner, learner_id)
        if learner is None:
            raise NotFound("Apprenant", learner_id)
        if institute_id is not None and s.get(Institute, institute_id) is None:
            raise InvalidInput(f"Institut introuvable : n° {institute_id}.", "institute")
        start = training_start or learner.training_start
        end = training_end or learner.training_end
        validation.training_dates(start, end)
        training_changed = (start, end) != (learner.training_start, learner.training_end)
        learner.training_start, learner.training_end = start, end
        if iban and not (learner.iban is not None and learner.iban.same_as(iban)):
            # Sealed again only when it changes: the contract's fingerprint reads the sealed value.
            learner.iban = Iban.seal(iban)
        learner.email = clean_email or learner.email
        learner.first_name = first or learner.first_name
        learner.last_name = last or learner.last_name
        learner.birth_date = birth_date or learner.birth_date
        learner.institute_id = institute_id or learner.institute_id
        if address is not None:
            learner.address = clean_address
        s.flush()
        messages = learner_changed(s, learner_id, training_changed=training_changed)
        uow.commit()
        return messages


def learner_changed(s: Session, learner_id: int, *, training_changed: bool) -> list[str]:
    """What follows a change to a learner (update_learner, the imports), in its transaction:
    the allowance schedules of its signed cases when the training dates changed, and the
    contracts issued but not yet in force that no longer match, invalidated (SPEC §5); one
    French message per contract invalidated."""
    if training_changed:
        # The allowance schedules of the learner's signed cases change: the nightly payments
        # step recomputes them from the contract date (ON CONFLICT keeps what exists), and the
        # payments already created follow the new period now (SPEC §4b) — the same
        # regularisation as `fidelis case correct-training`, which also records the event.
        s.execute(
            sa.update(Case)
            .where(Case.learner_id == learner_id, Case.contract_date.is_not(None))
            .values(next_payment_due=Case.contract_date)
            .execution_options(synchronize_session=False)
        )
        schemes = registry()
        signed = s.scalars(
            sa.select(Case).where(Case.learner_id == learner_id, Case.contract_date.is_not(None))
        )
        for case in signed:
            regularise(
                s, case, schemes[case.scheme_id], on=today_paris(), actor="système",
                why="Dates de formation corrigées",
            )  # fmt: skip
    messages: list[str] = []
    open_cases = s.scalars(
        sa.select(Case).where(Case.learner_id == learner_id, Case.state.in_(PRE_CONTRACT_STATES))
    )
    for case in open_cases:
        messages += invalidate_stale_contracts(s, case, "données de l'apprenant modifiées")
    return messages


__all__ = [
    "learner_changed",
]
