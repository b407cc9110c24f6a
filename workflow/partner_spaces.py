"""The employer's and the institute's spaces (issue 15, items 2 and 3): what each does of its own
part of the scheme, so that no one types in what another party did.

Scoping is every function's first step, as in the learner's space (workflow.spaces): an
employer's functions take the employer's own id and reach only the cases of its offers, an
institute's take the institute's id and reach only its learners' cases; anything else is
NotFound — the error of a case that does not exist. Every change goes through the gate
(`cases.fired` / `cases.act`, the roles of `workflow.states.ACTIONS` on top). The institute's
diplomas for a cohort are one transaction: one refused line refuses the whole form, named."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from workflow import accounts, cases, declarations, esign, spaces, validation
from workflow.accounts import Principal
from workflow.clock import Clock, today_paris
from workflow.db import Joined, UnitOfWork
from workflow.documents.context import campaign_list_context
from workflow.documents.store import DOCX, XLSX, render
from workflow.documents.xlsx import campaign_list_xlsx
from workflow.errors import ConcurrentModification, FidelisError, InvalidInput, NotFound
from workflow.models import (
    Campaign,
    Case,
    Document,
    Employer,
    EsignRequest,
    InstituteScheme,
    Learner,
    Offer,
)
from workflow.schemes import SchemeRegistry, registry
from workflow.states import STATE_LABELS, State, Trigger
from workflow.territory import default_territory
from workflow.threads import Attachment

ROWS = 500  # a list's page: an employer's or an institute's cases are rarely more
# The employer's space groups its cases by what it has to do with them.
RECEIVED = frozenset({State.APPLIED, State.INTERVIEWED})
TO_SIGN = frozenset({State.SELECTED})
ONGOING = frozenset({State.CONTRACTED, State.IN_TRAINING, State.SERVING})
# The files a learner sends with an application (workflow.spaces: the learner's attachments).
APPLICATION_DOCUMENTS = frozenset({"learner_application"})
# The diploma results an institute enters for a cohort, as the form offers them.
OBTAINED, FAILED = "obtained", "failed"
DIPLOMA_RESULTS = {
    "": "Pas encore connu",
    OBTAINED: "Diplôme obtenu",
    FAILED: "Diplôme non obtenu (la Région décide)",
}
# What the institute reports to the Région as a departure (workflow.declarations).
INTERRUPTED, DIPLOMA_FAILED = "training_abandoned", "diploma_failed"
IN_TRAINING_STATES = frozenset({State.CONTRACTED, State.IN_TRAINING})
MAX_DIPLOMA_LINES = 500


# -- the employer's space ---------------------------------------------------------------------


def _employer_request(case_id: Any) -> sa.Select[Any]:
    """The employer's pending electronic-signature request on a case (its newest), if any."""
    return sa.select(sa.func.max(EsignRequest.id)).where(
        EsignRequest.case_id == case_id,
        EsignRequest.party == "employer",
        EsignRequest.status == "pending",
    )


def employer_cases(s: Session, employer_id: int) -> dict[str, Any]:
    """The cases on the employer's offers, by what it has to do: applications received (to
    interview, select or reject), contracts to sign, learners in training or in service — one
    query, whatever their number."""
    rows = s.execute(
        sa.select(
            Case.id,
            Case.state,
            Case.interview_date,
            Case.last_effective_date,
            Case.service_start,
            Case.attested_on,
            Learner.first_name,
            Learner.last_name,
            Campaign.year,
            _employer_request(Case.id).scalar_subquery(),
        )
        .join(Offer, Offer.id == Case.offer_id)
        .join(Learner, Learner.id == Case.learner_id)
        .join(Campaign, Campaign.id == Case.campaign_id)
        .where(Offer.employer_id == employer_id, Case.state.in_(RECEIVED | TO_SIGN | ONGOING))
        .order_by(Case.last_effective_date.desc(), Case.id.desc())
        .limit(ROWS + 1)
    ).all()
    listed = [
        {
            "id": r[0],
            "state": r[1].value,
            "state_label": STATE_LABELS[r[1]],
            "interview_date": r[2],
            "last_event": r[3],
            "service_start": r[4],
            "attested_on": r[5],
            "learner": f"{r[6]} {r[7]}",
            "campaign": r[8],
            "esign_request": r[9],
        }
        for r in rows[:ROWS]
    ]
    return {
        "received": [c for c in listed if State(c["state"]) in RECEIVED],
        "to_sign": [c for c in listed if State(c["state"]) in TO_SIGN],
        "ongoing": [c for c in listed if State(c["state"]) in ONGOING],
        "more": len(rows) > ROWS,
    }


def _case_in(s: Session, scope: sa.ColumnElement[bool], case_id: int) -> Case:
    """The case if `scope` (accounts' rule of who sees which case) holds it; else the NotFound
    of a missing one."""
    case = s.scalars(sa.select(Case).where(Case.id == case_id, scope)).first()
    if case is None:
        raise NotFound("Dossier", case_id)
    return case


def _employer_case(s: Session, employer_id: int, case_id: int) -> Case:
    """The case if it is on one of the employer's offers; else the NotFound of a missing one."""
    return _case_in(s, accounts.employer_cases(employer_id), case_id)


def employer_case(
    s: Session,
    employer_id: int,
    case_id: int,
    *,
    today: date | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One application as its employer reads it: the learner, their letter and attachments,
    where it stands, the interview, the contract and its e-signature, the service."""
    case = _employer_case(s, employer_id, case_id)
    learner = case.learner
    docs = s.execute(
        sa.select(Document.id, Document.filename)
        .where(
            Document.case_id == case.id,
            Document.kind.in_(APPLICATION_DOCUMENTS),
            Document.status != "purged",
        )
        .order_by(Document.id)
    ).all()
    esign_request: int | None = s.scalar(_employer_request(case.id))
    on = today or today_paris()
    return {
        "id": case.id,
        "state": case.state.value,
        "state_label": STATE_LABELS[case.state],
        "campaign": case.campaign.year,
        "learner": {
            "name": learner.full_name,
            "institute": learner.institute.name,
            "training_start": learner.training_start,
            "training_end": learner.training_end,
        },
        "letter": spaces.letter_of(s, case.id),
        "attachments": [{"id": d[0], "filename": d[1]} for d in docs],
        "interview_date": case.interview_date,
        "contract_number": case.contract_number,
        "contract_date": case.contract_date,
        # A fresh link to the signing page (dated `now`, it opens for esign.LINK_TTL).
        "esign_link": esign.signing_link(esign_request, now) if esign_request else None,
        "service_start": case.service_start,
        "attested_on": case.attested_on,
        # The forms' date: today, or the case's last event if later (its dates never go back).
        "default_on": max(on, case.last_effective_date),
        "may": {
            "interview": case.state == State.APPLIED,
            "select": case.state == State.INTERVIEWED,
            "reject": case.state in RECEIVED,
            "attest": case.state == State.SERVING,
            # A departure or a change of working time, for the Région to decide.
            "declare": case.state in ONGOING,
        },
    }


def employer_fire(
    uow: UnitOfWork,
    employer_id: int,
    case_id: int,
    trigger: Trigger,
    *,
    on: date | None,
    actor: str,
    reason: str | None = None,
    params: dict[str, str] | None = None,
    schemes: SchemeRegistry | None = None,
    clock: Clock = today_paris,
) -> State:
    """The employer's own decisions on an application on its offers — the interview (with its
    date), the selection, the rejection (with its reason) — through the gate, in one
    transaction; another employer's case is NotFound, nothing written."""
    if trigger not in (Trigger.INTERVIEW, Trigger.SELECT, Trigger.REJECT):
        raise NotFound("Action", str(trigger))
    with uow:
        _employer_case(uow.session, employer_id, case_id)
    with cases.changing(uow, case_id, schemes) as (s, case, scheme):
        return cases.fired(
            s, case, scheme, trigger, on=on, actor=actor, reason=reason, params=params,
            clock=clock,
        )  # fmt: skip


def employer_attest(
    uow: UnitOfWork,
    employer_id: int,
    case_id: int,
    *,
    on: date,
    actor: str,
    schemes: SchemeRegistry | None = None,
) -> None:
    """The employer's annual attestation that the learner serves (SPEC §6), on its own case."""
    with uow:
        _employer_case(uow.session, employer_id, case_id)
    cases.attest_service(uow, case_id, on=on, actor=actor, schemes=schemes)


# -- the institute's space --------------------------------------------------------------------


def institute_learners(s: Session, institute_id: int) -> dict[str, Any]:
    """The institute's learners with their cases (employer, campaign, where each stands), by
    name — one query, whatever their number."""
    rows = s.execute(
        sa.select(
            Learner.id,
            Learner.first_name,
            Learner.last_name,
            Learner.training_start,
            Learner.training_end,
            Case.id,
            Case.state,
            Employer.name,
            Campaign.year,
        )
        .outerjoin(Case, Case.learner_id == Learner.id)
        .outerjoin(Offer, Offer.id == Case.offer_id)
        .outerjoin(Employer, Employer.id == Offer.employer_id)
        .outerjoin(Campaign, Campaign.id == Case.campaign_id)
        .where(Learner.institute_id == institute_id)
        .order_by(Learner.last_name, Learner.first_name, Learner.id, Case.id)
        .limit(ROWS + 1)
    ).all()
    learners: dict[int, dict[str, Any]] = {}
    for r in rows[:ROWS]:
        learner = learners.setdefault(
            r[0],
            {
                "id": r[0],
                "name": f"{r[1]} {r[2]}",
                "training_start": r[3],
                "training_end": r[4],
                "cases": [],
            },
        )
        if r[5] is not None:
            learner["cases"].append(
                {
                    "id": r[5],
                    "state": r[6].value,
                    "state_label": STATE_LABELS[r[6]],
                    "employer": r[7],
                    "campaign": r[8],
                }
            )
    return {"learners": list(learners.values()), "more": len(rows) > ROWS}


def _institute_case(s: Session, institute_id: int, case_id: int) -> Case:
    """The case if its learner is the institute's; else the NotFound of a missing one."""
    return _case_in(s, accounts.institute_cases(institute_id), case_id)


def institute_case(
    s: Session, institute_id: int, case_id: int, *, today: date | None = None
) -> dict[str, Any]:
    """One of the institute's learners' cases, as the institute acts on it."""
    case = _institute_case(s, institute_id, case_id)
    on = today or today_paris()
    return {
        "id": case.id,
        "state": case.state.value,
        "state_label": STATE_LABELS[case.state],
        "campaign": case.campaign.year,
        "campaign_id": case.campaign_id,
        "learner": case.learner.full_name,
        "employer": case.offer.employer.name,
        "training_start": case.learner.training_start,
        "training_end": case.learner.training_end,
        "contract_date": case.contract_date,
        "diploma_date": case.diploma_date,
        "service_start": case.service_start,
        "default_on": max(on, case.last_effective_date),
        "may": {
            "start_training": case.state == State.CONTRACTED,
            "interrupt": case.state in IN_TRAINING_STATES,
        },
    }


def institute_start_training(
    uow: UnitOfWork,
    institute_id: int,
    case_id: int,
    *,
    on: date | None,
    actor: str,
    schemes: SchemeRegistry | None = None,
    clock: Clock = today_paris,
) -> State:
    """The institute records that its learner's training (and so the allowance) started — the
    nightly run also fires it on its due date."""
    with uow:
        _institute_case(uow.session, institute_id, case_id)
    with cases.changing(uow, case_id, schemes) as (s, case, scheme):
        return cases.fired(s, case, scheme, Trigger.START_TRAINING, on=on, actor=actor, clock=clock)


def institute_interrupt(
    uow: UnitOfWork,
    who: Principal,
    case_id: int,
    *,
    on: str,
    text: str = "",
    proof: Attachment | None = None,
    clock: Clock = today_paris,
) -> int:
    """The institute reports that its learner's training stopped, from `on`, with an
    explanation and a proof: a departure declared (`training_abandoned`) that the Région decides
    from « À traiter » — a breach, or a withdrawal, is the Région's. Returns its id."""
    with uow:
        case = _institute_case(uow.session, _institute_of(who), case_id)
        if case.state not in IN_TRAINING_STATES:
            raise InvalidInput(
                "Une interruption de formation se déclare pour un contrat signé ou une "
                "formation en cours.",
                "kind",
            )
    return declarations.declare(
        uow, who, case_id, "departure", on, details={"category": INTERRUPTED}, text=text,
        proof=proof, clock=clock,
    )  # fmt: skip


def _institute_of(who: Principal) -> int:
    if who.institute_id is None:
        raise NotFound("Institut", "—")
    return who.institute_id


def relay_campaigns(s: Session, institute_id: int) -> list[dict[str, Any]]:
    """The open campaigns of the schemes the institute is authorised for: the lists it relays
    to its learners."""
    schemes = registry()
    rows = s.scalars(
        sa.select(Campaign)
        .where(
            Campaign.is_open.is_(True),
            Campaign.scheme_id.in_(
                sa.select(InstituteScheme.scheme_id).where(
                    InstituteScheme.institute_id == institute_id
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


def campaign_list(
    s: Session, institute_id: int, campaign_id: int, fmt: str, *, today: date | None = None
) -> tuple[bytes, str, str]:
    """The campaign's list of employers, as the Région issues it (Word or XLSX), for an
    institute authorised for its scheme — (content, media type, file name); NotFound for any
    other campaign. Made on request, not stored: the Région's issued copy stays its own."""
    if campaign_id not in {c["id"] for c in relay_campaigns(s, institute_id)}:
        raise NotFound("Campagne", campaign_id)
    campaign = s.get_one(Campaign, campaign_id)
    scheme = registry()[campaign.scheme_id]
    offers = s.scalars(
        sa.select(Offer)
        .where(Offer.campaign_id == campaign_id)
        .options(sa.orm.joinedload(Offer.employer))
        .order_by(Offer.id)
    ).all()
    context = campaign_list_context(
        campaign, offers, scheme, default_territory(), issued_on=today or today_paris()
    )
    name = f"{scheme.contract_prefix}-{campaign.year}-employeurs"
    if fmt == "xlsx":
        return campaign_list_xlsx(context), XLSX, f"{name}.xlsx"
    return render("campaign_employers", context), DOCX, f"{name}.docx"


def cohorts(s: Session, institute_id: int) -> list[dict[str, Any]]:
    """The institute's cohorts waiting for the diploma: per campaign, how many of its learners
    are in training."""
    rows = s.execute(
        sa.select(Campaign.id, Campaign.year, Campaign.scheme_id, sa.func.count(Case.id))
        .join(Case, Case.campaign_id == Campaign.id)
        .join(Learner, Learner.id == Case.learner_id)
        .where(Learner.institute_id == institute_id, Case.state == State.IN_TRAINING)
        .group_by(Campaign.id, Campaign.year, Campaign.scheme_id)
        .order_by(Campaign.year.desc(), Campaign.id)
    ).all()
    schemes = registry()
    return [
        {
            "id": r[0],
            "year": r[1],
            "scheme": schemes[r[2]].label if r[2] in schemes else r[2],
            "waiting": r[3],
        }
        for r in rows
    ]


def cohort(s: Session, institute_id: int, campaign_id: int) -> list[dict[str, Any]]:
    """A cohort's cases waiting for the diploma (the institute's learners of the campaign, in
    training), by name — one query, whatever their number."""
    rows = s.execute(
        sa.select(
            Case.id,
            Learner.first_name,
            Learner.last_name,
            Learner.training_end,
            Employer.name,
            Case.last_effective_date,
        )
        .join(Learner, Learner.id == Case.learner_id)
        .join(Offer, Offer.id == Case.offer_id)
        .join(Employer, Employer.id == Offer.employer_id)
        .where(
            Learner.institute_id == institute_id,
            Case.campaign_id == campaign_id,
            Case.state == State.IN_TRAINING,
        )
        .order_by(Learner.last_name, Learner.first_name, Case.id)
        .limit(MAX_DIPLOMA_LINES)
    ).all()
    return [
        {
            "id": r[0],
            "learner": f"{r[1]} {r[2]}",
            "training_end": r[3],
            "employer": r[4],
            "last_event": r[5],
        }
        for r in rows
    ]


@dataclass(frozen=True)
class DiplomaLine:
    """One line of the cohort's form, as typed: the case, its result, the diploma's date and
    the service start (the day the learner takes up the post)."""

    case_id: int
    result: str
    diploma_date: str = ""
    service_start: str = ""
    part_time: str = ""


def record_diplomas(
    uow: UnitOfWork,
    institute_id: int,
    campaign_id: int,
    lines: Sequence[DiplomaLine],
    *,
    who: Principal,
    schemes: SchemeRegistry | None = None,
    clock: Clock = today_paris,
) -> int:
    """The cohort's diploma results in one transaction: each obtained diploma fires
    `start_service` (its date, the service start) on its case through the gate; each diploma
    failed is a departure declared (`diploma_failed`, dated the diploma's day) for the Région to
    decide. A line that is refused — a case outside the cohort, a date missing or refused by a
    guard — refuses the whole form with its line named, in French, and nothing is written.
    Returns how many lines were recorded (those left « pas encore connu » are skipped)."""
    if len(lines) > MAX_DIPLOMA_LINES:
        raise InvalidInput(f"Au plus {MAX_DIPLOMA_LINES} lignes à la fois.", "lines")
    registry_ = schemes or registry()
    done = 0
    with uow:
        s = uow.session
        waiting = {c["id"]: c for c in cohort(s, institute_id, campaign_id)}
        actor = who.actor
        for n, line in enumerate(lines, start=1):
            if line.result not in DIPLOMA_RESULTS:
                raise InvalidInput(f"Ligne {n} : résultat inconnu.", f"result-{line.case_id}")
            if line.case_id not in waiting:
                raise NotFound("Dossier", line.case_id)
            if not line.result:
                continue
            learner = waiting[line.case_id]["learner"]
            try:
                diploma = validation.parse_date(line.diploma_date, "date du diplôme")
                if line.result == FAILED:
                    declarations.declare(
                        Joined(s), who, line.case_id, "departure", diploma,
                        details={"category": DIPLOMA_FAILED}, text="Diplôme non obtenu.",
                        clock=clock,
                    )  # fmt: skip
                    done += 1
                    continue
                start = validation.parse_date(line.service_start, "date de prise de poste")
                params = {"diploma_date": diploma.isoformat()}
                if line.part_time.strip():
                    params["part_time"] = line.part_time
                case = s.get_one(Case, line.case_id)
                cases.fired(
                    s, case, registry_[case.scheme_id], Trigger.START_SERVICE, on=start,
                    actor=actor, params=params, clock=clock,
                )  # fmt: skip
            except (NotFound, ConcurrentModification):
                raise
            except FidelisError as exc:
                raise InvalidInput(
                    f"Ligne {n} ({learner}) : {_sentence(str(exc))}", f"line-{line.case_id}"
                ) from None
            done += 1
        try:
            s.flush()
            uow.commit()
        except StaleDataError:  # a case changed meanwhile: nothing of the form is written
            raise ConcurrentModification("Un dossier de la promotion") from None
    return done


def _sentence(message: str) -> str:
    """An engine's message inside a line's: without its capital, if it starts a sentence."""
    return message[:1].lower() + message[1:] if message[:2].istitle() else message


__all__ = [
    "APPLICATION_DOCUMENTS",
    "DIPLOMA_RESULTS",
    "FAILED",
    "OBTAINED",
    "DiplomaLine",
    "campaign_list",
    "cohort",
    "cohorts",
    "employer_attest",
    "employer_case",
    "employer_cases",
    "employer_fire",
    "institute_case",
    "institute_interrupt",
    "institute_learners",
    "institute_start_training",
    "record_diplomas",
    "relay_campaigns",
]
