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
from workflow.eligibility import employer_refusals
from workflow.errors import InvalidInput, NotEligible, NotFound
from workflow.iban import Iban
from workflow.models import Campaign, Case, Employer, Institute, InstituteScheme, Learner, Offer
from workflow.regularisation import regularise
from workflow.schemes import SECTORS, SchemeRegistry, registry
from workflow.states import PRE_CONTRACT_STATES
from workflow.territory import Territory, default_territory


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
    name = validation.non_blank(name, "name", "Le nom de l'institut")
    place = (territory or default_territory()).commune(commune)
    known = scheme_registry or registry()
    for scheme_id in schemes:
        known[scheme_id]
    with uow:
        institute = Institute(name=name, commune_insee=place.insee)
        institute.schemes = [InstituteScheme(scheme_id=s) for s in dict.fromkeys(schemes)]
        uow.session.add(institute)
        uow.session.flush()
        uow.commit()
        return institute.id


def add_employer(
    uow: UnitOfWork,
    *,
    name: str,
    siret: str,
    commune: str,
    sector: str,
    recruitment_difficulty: bool,
    email: str | None = None,
    territory: Territory | None = None,
) -> int:
    name = validation.non_blank(name, "name", "Le nom de l'employeur")
    siret = validation.siret(siret)
    place = (territory or default_territory()).commune(commune)
    if sector not in SECTORS:
        raise InvalidInput(
            f"Secteur inconnu « {sector} » (secteurs : {', '.join(SECTORS)}).", "sector"
        )
    clean_email = validation.email(email) if email else None
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
        )
        s.add(employer)
        s.flush()
        uow.commit()
        return employer.id


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
) -> int:
    first = validation.non_blank(first_name, "first_name", "Le prénom", "person_name")
    last = validation.non_blank(last_name, "last_name", "Le nom", "person_name")
    validation.birth_date(birth_date, today)
    clean_email = validation.email(email)
    validation.training_dates(training_start, training_end)
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
) -> list[str]:
    """Change a learner's IBAN, training dates or e-mail. A contract issued but not yet in force
    that no longer matches is invalidated; the returned messages say so (SPEC §5)."""
    if iban:
        validation.iban(iban)  # a bad IBAN is refused before anything is read
    clean_email = validation.email(email) if email else None
    with uow:
        s = uow.session
        learner = s.get(Learner, learner_id)
        if learner is None:
            raise NotFound("Apprenant", learner_id)
        start = training_start or learner.training_start
        end = training_end or learner.training_end
        validation.training_dates(start, end)
        learner.training_start, learner.training_end = start, end
        if iban and not (learner.iban is not None and learner.iban.same_as(iban)):
            # Sealed again only when it changes: the contract's fingerprint reads the sealed value.
            learner.iban = Iban.seal(iban)
        learner.email = clean_email or learner.email
        s.flush()
        messages = learner_changed(
            s, learner_id, training_changed=(training_start or training_end) is not None
        )
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
