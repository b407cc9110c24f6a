"""What the reference data's pages show (issue 15, item 6), read from the database: a learner with
their cases and documents, an employer, an institute, a campaign with its offers, an account, and
the lists a form chooses from. The changes themselves are workflow.directory's and
workflow.accounts' (the same checks as the command line and the imports)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow.errors import NotFound
from workflow.models import (
    Campaign,
    Case,
    Document,
    Employer,
    Institute,
    Learner,
    Offer,
    User,
)
from workflow.schemes import registry
from workflow.states import ENGAGED_STATES


def learner(s: Session, learner_id: int) -> dict[str, Any]:
    """A learner, their institute, their cases (newest first) and their cases' documents."""
    found = s.get(Learner, learner_id)
    if found is None:
        raise NotFound("Apprenant", learner_id)
    case_rows = s.execute(
        sa.select(Case.id, Case.state, Employer.name, Campaign.year, Case.scheme_id)
        .join(Offer, Offer.id == Case.offer_id)
        .join(Employer, Employer.id == Offer.employer_id)
        .join(Campaign, Campaign.id == Case.campaign_id)
        .where(Case.learner_id == learner_id)
        .order_by(Case.id.desc())
    ).all()
    documents = s.scalars(
        sa.select(Document)
        .where(Document.case_id.in_([r[0] for r in case_rows]))
        .order_by(Document.case_id.desc(), Document.id.desc())
    ).all()
    return {
        "learner": found,
        "institute": s.get(Institute, found.institute_id),
        "cases": [
            {"id": r[0], "state": r[1], "employer": r[2], "year": r[3], "scheme": r[4]}
            for r in case_rows
        ],
        "documents": documents,
    }


def institute_choices(s: Session) -> list[tuple[int, str]]:
    """Every institute, by name: what a form chooses from."""
    return [
        (i, n)
        for i, n in s.execute(
            sa.select(Institute.id, Institute.name).order_by(Institute.name, Institute.id)
        )
    ]


def employer_choices(s: Session) -> list[tuple[int, str]]:
    """Every employer, by name: what a form chooses from."""
    return [
        (i, n)
        for i, n in s.execute(
            sa.select(Employer.id, Employer.name).order_by(Employer.name, Employer.id)
        )
    ]


def employer(s: Session, employer_id: int) -> Employer:
    found = s.get(Employer, employer_id)
    if found is None:
        raise NotFound("Employeur", employer_id)
    return found


def institute(s: Session, institute_id: int) -> dict[str, Any]:
    """An institute and the schemes it is authorised for."""
    found = s.get(Institute, institute_id)
    if found is None:
        raise NotFound("Institut", institute_id)
    return {"institute": found, "schemes": [link.scheme_id for link in found.schemes]}


def campaign(s: Session, campaign_id: int) -> dict[str, Any]:
    """A campaign, its scheme's label and its offers by employer, each with the places its
    selected and engaged learners hold."""
    found = s.get(Campaign, campaign_id)
    if found is None:
        raise NotFound("Campagne", campaign_id)
    held = (
        sa.select(sa.func.count(Case.id))
        .where(Case.offer_id == Offer.id, Case.state.in_(ENGAGED_STATES))
        .scalar_subquery()
    )
    rows = s.execute(
        sa.select(Offer, Employer.name, held)
        .join(Employer, Employer.id == Offer.employer_id)
        .where(Offer.campaign_id == campaign_id)
        .order_by(Employer.name, Offer.id)
    ).all()
    schemes = registry()
    scheme = schemes[found.scheme_id].label if found.scheme_id in schemes else found.scheme_id
    return {
        "campaign": found,
        "scheme": scheme,
        "offers": [{"offer": o, "employer": name, "held": n or 0} for o, name, n in rows],
    }


def account(s: Session, user_id: int) -> User:
    found = s.get(User, user_id)
    if found is None:
        raise NotFound("Compte", user_id)
    return found


def scheme_choices() -> list[tuple[str, str]]:
    """The configured schemes, as a form names them."""
    return [(scheme_id, scheme.label) for scheme_id, scheme in registry().items()]


__all__ = [
    "account",
    "campaign",
    "employer",
    "employer_choices",
    "institute",
    "institute_choices",
    "learner",
    "scheme_choices",
]
