"""Read models: what `case show`, `case list` and (later) the web pages display. Plain dicts of
JSON-ready values, the shape SPEC §7 fixes for `case show --json`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from workflow import debts, ledger
from workflow.clock import today_paris
from workflow.documents.esign_records import signature_rows
from workflow.errors import NotFound
from workflow.facts import DbFacts
from workflow.models import Campaign, Case, Employer, Learner, Offer
from workflow.regularisation import entitlement_by_funder
from workflow.schemes import SchemeRegistry, registry
from workflow.sqltext import starts_with_ci
from workflow.states import (
    STATE_LABELS,
    Availability,
    CaseAction,
    GuardContext,
    State,
    available_actions,
)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def case_detail(
    session: Session,
    case_id: int,
    schemes: SchemeRegistry | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """Everything about one case. `available` lists the actions defined from its state (the
    triggers, then those that keep the state) and whether each can be done on `today` (default:
    today in Europe/Paris), with the failed guards."""
    case = session.scalars(
        sa.select(Case)
        .where(Case.id == case_id)
        .options(
            selectinload(Case.events),
            selectinload(Case.payments),
            selectinload(Case.suspensions),
            selectinload(Case.working_times),
            selectinload(Case.reimbursements),
            selectinload(Case.debts),
        )
    ).first()
    if case is None:
        raise NotFound("Dossier", case_id)
    scheme = (schemes or registry())[case.scheme_id]
    terms = ledger.CaseTerms.of(case, scheme)
    learner, employer = case.learner, case.offer.employer
    ctx = GuardContext(
        state=case.state,
        effective_date=max(today or today_paris(), case.last_effective_date),
        facts=DbFacts(session, case, scheme),
        last_effective_date=case.last_effective_date,
    )
    actions = available_actions(ctx)
    return {
        "id": case.id,
        "state": case.state.value,
        "state_label": STATE_LABELS[case.state],
        "scheme": case.scheme_id,
        "campaign": case.campaign.year,
        "campaign_id": case.campaign_id,
        "offer_id": case.offer_id,
        "learner": {"id": learner.id, "name": learner.full_name, "email": learner.email},
        "employer": {"id": employer.id, "name": employer.name, "siret": employer.siret},
        "tier": case.tier,
        "contract_number": case.contract_number,
        "contract_date": _iso(case.contract_date),
        # Each party's signature of the contract: electronic, typed or scan (issue 16).
        "signatures": signature_rows(session, case.id),
        "interview_date": _iso(case.interview_date),
        "training": {"start": _iso(learner.training_start), "end": _iso(learner.training_end)},
        "service": {
            "start": _iso(case.service_start),
            "commitment_end": _iso(ledger.commitment_end(terms)),
            "diploma_date": _iso(case.diploma_date),
            "part_time": str(case.part_time_ratio),
        },
        "schedule": [
            {
                "period": i.period_label,
                "funder": i.funder,
                "amount": str(i.amount),
                "due_date": i.due_date.isoformat(),
            }
            for i in ledger.allowance_schedule(terms)
        ],
        "payments": [
            {
                "period": p.period.strftime("%Y-%m"),
                "funder": p.funder,
                "amount": str(p.amount),
                "due_date": p.due_date.isoformat(),
                "status": p.status,
                "reason": p.status_reason,
                "overpaid": str(p.overpaid),
                "complement": p.seq > 0,
            }
            for p in case.payments
        ],
        # SPEC §4b: per funder, what the allowance period as the events define it gives right to.
        "entitlement": (
            {f: str(a) for f, a in entitlement_by_funder(terms).items()}
            if case.contract_date is not None
            else None
        ),
        # Changes of working time during service, each from its date.
        "working_times": [
            {"from": _iso(w.start), "part_time": str(w.ratio)}
            for w in sorted(case.working_times, key=lambda w: w.start)
        ],
        "suspensions": [
            {"from": _iso(s.start), "to": _iso(s.end), "reason": s.reason} for s in case.suspensions
        ],
        "reimbursement": (
            {r.funder: str(r.amount) for r in case.reimbursements} if case.reimbursements else None
        ),
        # What the learner owes each funder and where it stands (SPEC §4b).
        "debts": [debts.debt_row(d) for d in case.debts],
        "breach": (
            {"date": _iso(case.breach_date), "category": case.breach_category}
            if case.breach_date
            else None
        ),
        "exempted": case.exempted,
        "exemption": (
            {
                "reference": case.exemption_ref,
                "decided_by": case.exemption_decided_by,
                "decided_on": _iso(case.exemption_decided_on),
            }
            if case.exempted
            else None
        ),
        # What can be done now, and why not: the triggers, then the actions that keep the state.
        "available": [_availability(a) for a in actions if a.changes_state],
        # A message belongs to the case's threads (workflow.threads), read by some only.
        "actions": [
            _availability(a)
            for a in actions
            if not a.changes_state and a.trigger != CaseAction.MESSAGE
        ],
        "events": [
            {
                "seq": e.seq,
                "trigger": e.trigger,
                "from": e.from_state.value if e.from_state else None,
                "to": e.to_state.value,
                "effective_date": e.effective_date.isoformat(),
                "recorded_at": e.recorded_at.isoformat(),
                "actor": e.actor,
                "reason": e.reason,
                "note": e.note,  # kept in case_texts: the retention purge erases it
                "payload": e.payload,
            }
            for e in case.events
        ],
    }


def _availability(a: Availability) -> dict[str, Any]:
    return {
        "trigger": str(a.trigger),
        "label": a.label,
        "allowed": a.allowed,
        "refusals": [message for _, message in a.failures],
        "inputs": sorted(a.inputs),
    }


@dataclass(frozen=True)
class CaseFilter:
    """What the case list may be narrowed to (CLI, pages, API and exports share it)."""

    state: State | None = None
    scheme: str | None = None
    campaign: int | None = None  # the campaign's year
    employer: int | None = None
    institute: int | None = None
    departement: str | None = None  # the employer's
    search: str | None = None  # learner's name or contract number

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        out: list[sa.ColumnElement[bool]] = []
        if self.state is not None:
            out.append(Case.state == self.state)
        if self.scheme:
            out.append(Case.scheme_id == self.scheme)
        if self.campaign is not None:
            out.append(Campaign.year == self.campaign)
        if self.employer is not None:
            out.append(Offer.employer_id == self.employer)
        if self.institute is not None:
            out.append(Learner.institute_id == self.institute)
        if self.departement:
            dep = self.departement.strip().upper()
            out.append(sa.func.substr(Employer.commune_insee, 1, len(dep)) == dep)
        if self.search and self.search.strip():
            # The beginning of the learner's last or first name, or of the contract number;
            # each test is a range on its own index (workflow.sqltext), and the few cases
            # found are united before the join, so that no database scans the cases.
            text = self.search.strip().lower()
            named = sa.select(Learner.id).where(
                sa.or_(
                    starts_with_ci(Learner.last_name, text),
                    starts_with_ci(Learner.first_name, text),
                )
            )
            found = sa.union(
                sa.select(Case.id).where(Case.learner_id.in_(named)),
                sa.select(Case.id).where(starts_with_ci(Case.contract_number, text)),
            )
            out.append(Case.id.in_(found))
        return out


SORTS = ("recent", "last_event")


def case_rows(
    session: Session,
    state: State | None = None,
    limit: int = 500,
    *,
    before: int | None = None,
    where: sa.ColumnElement[bool] | None = None,
    filters: CaseFilter | None = None,
    sort: str = "recent",
    after_event: tuple[date, int] | None = None,
) -> list[dict[str, Any]]:
    """One row per case in one query (no per-row lookups), with keyset pagination: newest case
    first (`before` = the last id shown), or latest event first (`after_event` = the last
    (date, id) shown) — both served by an index, whatever the number of cases."""
    query = (
        sa.select(
            Case.id,
            Case.state,
            Case.scheme_id,
            Campaign.year,
            Learner.first_name,
            Learner.last_name,
            Employer.name,
            Case.tier,
            Case.contract_number,
            Case.last_effective_date,
        )
        .join(Campaign, Campaign.id == Case.campaign_id)
        .join(Learner, Learner.id == Case.learner_id)
        .join(Offer, Offer.id == Case.offer_id)
        .join(Employer, Employer.id == Offer.employer_id)
        .limit(limit)
    )
    if sort == "last_event":
        query = query.order_by(Case.last_effective_date.desc(), Case.id.desc())
        if after_event is not None:
            query = query.where(
                sa.tuple_(Case.last_effective_date, Case.id) < sa.tuple_(*after_event)
            )
    else:
        query = query.order_by(Case.id.desc())
        if before is not None:
            query = query.where(Case.id < before)
    if state is not None:
        query = query.where(Case.state == state)
    if where is not None:
        query = query.where(where)
    if filters is not None:
        query = query.where(*filters.conditions())
    return [
        {
            "id": r[0],
            "state": r[1].value,
            "scheme": r[2],
            "campaign": r[3],
            "learner": f"{r[4]} {r[5]}",
            "employer": r[6],
            "tier": r[7],
            "contract_number": r[8],
            "last_event": r[9].isoformat(),
        }
        for r in session.execute(query)
    ]


__all__ = [
    "CaseFilter",
    "case_detail",
    "case_rows",
]
