"""The participants' spaces (issue 15): what a learner, an employer and an institute see and do
of their own part of the scheme. Use cases take ids and a unit of work; read models return plain
dicts. Scoping is the callers' first step (`workflow.accounts.visible_cases`): here, a learner's
functions take the learner's own id, and a case or offer outside it is NotFound — the error of a
case that does not exist.

A learner's application opens the case and submits it in one transaction, through the gate
(`cases.opened`, then `cases.act` with `submit`): the letter goes with the submission into
`case_texts`, where the retention purge can erase it, and the employer reads it there."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import cases, ledger, validation
from workflow.attachments import checked, store_attachment
from workflow.clock import Clock, today_paris
from workflow.db import UnitOfWork
from workflow.documents.labels import funder_label, sector_label
from workflow.errors import FidelisError, InvalidInput, NotFound
from workflow.models import (
    Campaign,
    Case,
    CaseEvent,
    CaseText,
    Employer,
    InstituteScheme,
    Learner,
    Offer,
)
from workflow.schemes import SchemeRegistry, registry
from workflow.states import STATE_LABELS, State, Trigger
from workflow.threads import Attachment
from workflow.views import case_detail

# The states a departure is a breach from (SPEC §3): only there does leaving cost something.
BREACHABLE = frozenset({State.CONTRACTED, State.IN_TRAINING, State.SERVING})
MAX_APPLICATIONS = 20  # one form: the whole list of a campaign is rarely longer
OFFERS_PAGE = 50  # the campaign's list on a page (a phone's screenful or ten)


# -- the offers a learner may apply to -------------------------------------------------------


def learner_campaigns(s: Session, learner_id: int) -> list[dict[str, Any]]:
    """The open campaigns of the schemes the learner's institute is authorised for."""
    learner = s.get(Learner, learner_id)
    if learner is None:
        raise NotFound("Apprenant", learner_id)
    schemes = registry()
    rows = s.scalars(
        sa.select(Campaign)
        .where(
            Campaign.is_open.is_(True),
            Campaign.scheme_id.in_(
                sa.select(InstituteScheme.scheme_id).where(
                    InstituteScheme.institute_id == learner.institute_id
                )
            ),
        )
        .order_by(Campaign.year.desc(), Campaign.id)
    ).all()
    return [
        {
            "id": c.id,
            "year": c.year,
            "scheme": schemes[c.scheme_id].label if c.scheme_id in schemes else c.scheme_id,
        }
        for c in rows
    ]


def campaign_offers(
    s: Session,
    campaign_id: int,
    *,
    learner_id: int | None = None,
    page: int | None = None,
) -> list[dict[str, Any]]:
    """The campaign's list of employers (the list the institutes relay), by name; for a learner,
    with the case they already have on each offer; `page`: only that page of OFFERS_PAGE
    offers, and one more if a next page exists (ix_employers_name). NotFound for a campaign the
    learner may not apply to (closed, or a scheme their institute is not authorised for)."""
    if learner_id is not None and campaign_id not in {
        c["id"] for c in learner_campaigns(s, learner_id)
    }:
        raise NotFound("Campagne", campaign_id)
    if learner_id is None and s.get(Campaign, campaign_id) is None:
        raise NotFound("Campagne", campaign_id)
    mine = (
        dict(
            s.execute(
                sa.select(Case.offer_id, Case.id).where(
                    Case.learner_id == learner_id, Case.campaign_id == campaign_id
                )
            ).all()
        )
        if learner_id is not None
        else {}
    )
    query = (
        sa.select(Offer.id, Offer.places, Employer.name, Employer.commune_insee, Employer.sector)
        .join(Employer, Employer.id == Offer.employer_id)
        .where(Offer.campaign_id == campaign_id, Offer.closed_at.is_(None))
        .order_by(Employer.name, Employer.id)  # one offer per employer and campaign
    )
    if page is not None:
        if page < 1:
            raise InvalidInput("Numéro de page invalide.", "page")
        query = query.limit(OFFERS_PAGE + 1).offset((page - 1) * OFFERS_PAGE)
    rows = s.execute(query).all()
    return [
        {
            "id": r[0],
            "places": r[1],
            "employer": r[2],
            "commune": r[3],
            "sector": sector_label(r[4]),
            "case": mine.get(r[0]),
        }
        for r in rows
    ]


# -- applying --------------------------------------------------------------------------------


def offer_count(s: Session, campaign_id: int) -> int:
    """How many offers the campaign lists (the pages' total)."""
    found = s.scalar(sa.select(sa.func.count(Offer.id)).where(Offer.campaign_id == campaign_id))
    return found or 0


def apply(
    uow: UnitOfWork,
    learner_id: int,
    offer_ids: list[int],
    *,
    letter: str = "",
    files: Sequence[Attachment] = (),
    actor: str,
    on: date | None = None,
    clock: Clock = today_paris,
) -> list[int]:
    """The learner applies to each offer with the same letter and attachments (a CV, a
    diploma…: each case gets them, workflow.attachments): for each, a case opened and submitted
    in one transaction (all the offers and files are checked first: one the learner may not
    apply to refuses the whole form, and nothing is written). Returns the new cases' ids."""
    text = validation.text(letter, "note", label="La lettre de motivation", field="letter")
    pieces = checked(files)
    chosen = list(dict.fromkeys(offer_ids))
    for offer_id in chosen:
        if not validation.in_id_range(offer_id):
            raise NotFound("Offre", offer_id)
    if not chosen:
        raise InvalidInput("Choisissez au moins un employeur.", "offer")
    if len(chosen) > MAX_APPLICATIONS:
        raise InvalidInput(f"Au plus {MAX_APPLICATIONS} candidatures à la fois.", "offer")
    with uow:
        s = uow.session
        allowed = {c["id"] for c in learner_campaigns(s, learner_id)}
        offers = s.execute(sa.select(Offer.id, Offer.campaign_id).where(Offer.id.in_(chosen))).all()
        open_offers = {o for o, campaign in offers if campaign in allowed}
        for offer_id in chosen:
            if offer_id not in open_offers:
                raise NotFound("Offre", offer_id)
    effective = on or clock()
    schemes = registry()
    done = []
    for offer_id in chosen:
        with uow:
            s = uow.session
            case = cases.opened(s, offer_id, learner_id, actor=actor, on=effective, clock=clock)
            scheme = schemes[case.scheme_id]
            cases.act(
                s,
                case,
                scheme,
                Trigger.SUBMIT,
                on=effective,
                actor=actor,
                note=text or None,
                clock=clock,
            )
            for file, suffix in pieces:
                store_attachment(
                    s, case, "learner_application", file, suffix, on=effective, actor=actor
                )
            s.flush()
            uow.commit()
            done.append(case.id)
    return done


def letter_of(s: Session, case_id: int) -> str | None:
    """The letter the learner sent with their application (None: submitted without one, or
    erased by the retention purge)."""
    found = s.scalars(
        sa.select(CaseText)
        .join(CaseEvent, CaseEvent.text_id == CaseText.id)
        .where(CaseEvent.case_id == case_id, CaseEvent.trigger == str(Trigger.SUBMIT))
        .order_by(CaseEvent.seq.desc())
        .limit(1)
    ).first()
    return found.text if found is not None else None


# -- a learner's cases -----------------------------------------------------------------------


def learner_cases(s: Session, learner_id: int) -> list[dict[str, Any]]:
    """The learner's applications, newest first: employer, campaign, state, interview."""
    rows = s.execute(
        sa.select(Case, Employer.name, Campaign.year)
        .join(Offer, Offer.id == Case.offer_id)
        .join(Employer, Employer.id == Offer.employer_id)
        .join(Campaign, Campaign.id == Case.campaign_id)
        .where(Case.learner_id == learner_id)
        .order_by(Case.id.desc())
    ).all()
    return [
        {
            "id": c.id,
            "employer": name,
            "campaign": year,
            "state": c.state.value,
            "state_label": STATE_LABELS[c.state],
            "interview_date": c.interview_date,
            "last_event": c.last_effective_date,
        }
        for c, name, year in rows
    ]


def learner_case(
    s: Session,
    learner_id: int,
    case_id: int,
    *,
    today: date | None = None,
    schemes: SchemeRegistry | None = None,
) -> dict[str, Any]:
    """One of the learner's own cases as they may read it: its state, dates, payments, debts and
    commitment; no caseworkers' note, no actor. NotFound for anyone else's case."""
    owner = s.scalar(sa.select(Case.learner_id).where(Case.id == case_id))
    if owner is None or owner != learner_id:
        raise NotFound("Dossier", case_id)
    on = today or today_paris()
    detail = case_detail(s, case_id, schemes, on)
    case = s.get_one(Case, case_id)
    return {
        key: detail[key]
        for key in (
            "id",
            "state",
            "state_label",
            "campaign",
            "employer",
            "contract_number",
            "contract_date",
            "interview_date",
            "training",
            "service",
            "payments",
            "entitlement",
            "suspensions",
            "reimbursement",
            "debts",
        )
    } | {
        "letter": letter_of(s, case_id),
        "history": [
            {"date": e["effective_date"], "event": e["trigger"]}
            for e in detail["events"]
            if e["trigger"] != "note"  # the caseworkers' notes are theirs
        ],
        "commitment": commitment(case, (schemes or registry())[case.scheme_id], on),
    }


def commitment(case: Case, scheme: Any, today: date) -> dict[str, Any]:
    """Where the learner's commitment stands on `today`: days served (30E/360, suspensions out,
    part time counted), its end, and what a departure today would cost under the signed
    contract — computed by the breach's own rule (ledger.reimbursement), on the same terms."""
    terms = ledger.CaseTerms.of(case, scheme)
    served = ledger.served_days(terms, today) if case.state == State.SERVING else None
    return {
        "months": terms.commitment_months,
        "served_days": served,
        "end": ledger.commitment_end(terms),
        "departure_cost": departure_cost(case, terms, today),
    }


def departure_cost(case: Case, terms: ledger.CaseTerms, today: date) -> dict[str, Decimal] | None:
    """Per funder, what a breach dated `today` would cost (None where there is no contract to
    break). As the breach does, a departure before service ends the allowance that day."""
    if case.state not in BREACHABLE or terms.contract is None or today < case.last_effective_date:
        return None
    if case.service_start is None:
        terms = dataclasses.replace(terms, allowance_ended_on=today)
    try:
        owed = ledger.reimbursement(terms, ledger.payments_of(case), today)
    except (ValueError, FidelisError):  # dates the rule cannot price (before the contract)
        return None
    return {funder_label(f): a for f, a in owed.items()}


__all__ = [
    "OFFERS_PAGE",
    "apply",
    "campaign_offers",
    "commitment",
    "departure_cost",
    "learner_campaigns",
    "learner_case",
    "learner_cases",
    "letter_of",
    "offer_count",
]
