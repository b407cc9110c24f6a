"""The case service (SPEC §3): open a case, fire a trigger, suspend and resume.

Each function is one use case in one transaction: the state change, the append-only event row
and the side effects (withdrawals, reimbursements, contract number) commit together or not at
all. Cases carry a version number: two caseworkers firing on the same case at once — one wins,
the other gets `ConcurrentModification` and nothing of theirs is written.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from workflow import debts, events, ledger
from workflow.archive import DocumentStore
from workflow.clock import Clock, today_paris
from workflow.db import UnitOfWork
from workflow.documents.store import (
    current_contract,
    default_store,
    invalidate_stale_contracts,
    issue_letter,
)
from workflow.errors import ConcurrentModification, GuardFailed, InvalidInput, NotFound
from workflow.facts import DbFacts
from workflow.models import (
    Case,
    CaseEvent,
    Learner,
    Offer,
    Payment,
    Reimbursement,
    Suspension,
    WorkingTime,
)
from workflow.regularisation import regularise
from workflow.schemes import Scheme, SchemeRegistry, registry
from workflow.states import (
    ACTIONS,
    PRE_CONTRACT_STATES,
    CaseAction,
    GuardContext,
    State,
    Trigger,
    check,
    parse_trigger,
)

SYSTEM_ACTOR = "système"


def default_actor() -> str:
    try:
        return getpass.getuser()
    except OSError:  # pragma: no cover - no user name in some containers
        return "inconnu"


def parse_params(action: str, raw: Mapping[str, str]) -> dict[str, Any]:
    """`--set KEY=VALUE` pairs typed by the action's declared parameters (workflow.states);
    a key the action does not read is refused."""
    declared = ACTIONS[action].params
    allowed = [p.name for p in declared if p.name != "reason"]
    params: dict[str, Any] = {}
    for key, value in raw.items():
        param = ACTIONS[action].param(key)
        if param is None or key == "reason":
            expected = ", ".join(sorted(allowed)) or "aucun"
            raise InvalidInput(
                f"Paramètre « {key} » inconnu pour l'action « {action} » "
                f"(paramètres : {expected}).",
                key,
            )
        params[key] = param.parse(value)
    return params


def _load_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("Dossier", case_id)
    return case


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else str(v) for k, v in params.items()}


def act(
    s: Session,
    case: Case,
    scheme: Scheme,
    name: str,
    *,
    on: date,
    actor: str,
    reason: str | None = None,
    note: str | None = None,
    params: Mapping[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
    effects: events.Effects | None = None,
    clock: Clock = today_paris,
) -> CaseEvent:
    """The gate every change of a case goes through, inside the caller's transaction: its
    inputs are bounded (workflow.validation.LIMITS), the action's guards judge it against
    `clock`'s today (workflow.states — a refusal names them, in French, and nothing is
    written), then the one event writer records it (workflow.events) with `effects`."""
    ACTIONS[name].check_bounds(reason, params or {})
    ctx = GuardContext(
        state=case.state,
        effective_date=on,
        facts=DbFacts(s, case, scheme),
        last_effective_date=case.last_effective_date,
        reason=reason,
        params=params or {},
        today=clock(),
    )
    new_state = check(name, ctx)
    return events.write(
        s,
        case,
        name,
        on=on,
        actor=actor,
        scheme=scheme,
        reason=reason,
        note=note,
        payload=payload,
        to_state=new_state if ACTIONS[name].changes_state else None,
        effects=effects,
    )


def open_case(
    uow: UnitOfWork,
    offer_id: int,
    learner_id: int,
    *,
    actor: str | None = None,
    on: date | None = None,
    clock: Clock = today_paris,
) -> int:
    """Register a learner against a listed offer: a new case in state `listed`."""
    with uow:
        case = opened(
            uow.session, offer_id, learner_id, actor=actor or default_actor(), on=on, clock=clock
        )
        uow.commit()
        return case.id


def opened(
    s: Session,
    offer_id: int,
    learner_id: int,
    *,
    actor: str,
    on: date | None = None,
    clock: Clock = today_paris,
) -> Case:
    """`open_case` inside the caller's transaction (a learner's application opens and submits
    in one: workflow.spaces)."""
    offer = s.get(Offer, offer_id)
    if offer is None:
        raise NotFound("Offre", offer_id)
    learner = s.get(Learner, learner_id)
    if learner is None:
        raise NotFound("Apprenant", learner_id)
    if not offer.campaign.is_open:
        raise InvalidInput(f"La campagne {offer.campaign.year} de cette offre est close.")
    duplicate = s.scalars(
        sa.select(Case.id).where(Case.offer_id == offer_id, Case.learner_id == learner_id)
    ).first()
    if duplicate is not None:
        raise InvalidInput(
            f"Cet apprenant a déjà un dossier sur cette offre (dossier n° {duplicate})."
        )
    effective = on or clock()
    events.check_horizon(events.OPEN, effective, clock())
    case = Case(
        offer=offer,
        learner=learner,
        campaign_id=offer.campaign_id,
        scheme_id=offer.campaign.scheme_id,
        state=State.LISTED,
        last_effective_date=effective,
    )
    s.add(case)
    s.flush()
    events.write(s, case, events.OPEN, on=effective, actor=actor, scheme=None)
    return case


def fire(
    uow: UnitOfWork,
    case_id: int,
    trigger: str,
    *,
    on: date | None = None,
    actor: str | None = None,
    reason: str | None = None,
    params: Mapping[str, str] | None = None,
    schemes: SchemeRegistry | None = None,
    clock: Clock = today_paris,
    store: DocumentStore | None = None,
) -> State:
    """Fire `trigger` on a case with an effective date; return the new state. Raises
    UnknownTrigger, TriggerRefused / GuardFailed, InvalidInput, NotFound or ConcurrentModification,
    and then nothing is written."""
    with changing(uow, case_id, schemes) as (s, case, scheme):
        return fired(
            s, case, scheme, trigger, on=on, actor=actor, reason=reason, params=params,
            clock=clock, store=store,
        )  # fmt: skip


def fired(
    s: Session,
    case: Case,
    scheme: Scheme,
    trigger: str,
    *,
    on: date | None = None,
    actor: str | None = None,
    reason: str | None = None,
    params: Mapping[str, str] | None = None,
    clock: Clock = today_paris,
    store: DocumentStore | None = None,
) -> State:
    """`fire` inside the caller's transaction: several cases changed all or nothing (an
    institute's diplomas for a cohort, workflow.partner_spaces)."""
    trig = parse_trigger(trigger)
    typed = parse_params(trig, params or {})
    effective = on or clock()
    who = actor or default_actor()
    docs = store or default_store()
    act(
        s,
        case,
        scheme,
        trig,
        on=effective,
        actor=who,
        reason=reason,
        params=typed,
        payload=_without_names(_jsonable(typed)),
        effects=lambda: _side_effects(s, case, scheme, trig, effective, who, typed, docs),
        clock=clock,
    )
    return case.state


def _without_names(payload: dict[str, Any]) -> dict[str, Any]:
    """No name in the append-only history (docs/ARCHITECTURE.md): an exemption decision's author
    stays on the case row, and the event only says that one was given."""
    if "exemption_by" in payload:
        payload["exemption_by"] = True
    return payload


def _side_effects(
    s: Session,
    case: Case,
    scheme: Scheme,
    trig: Trigger,
    on: date,
    actor: str,
    params: dict[str, Any],
    store: DocumentStore,
) -> dict[str, Any]:
    """What a trigger changes besides the state; returns what the event should remember."""
    match trig:
        case Trigger.INTERVIEW:
            case.interview_date = params["interview_date"]
        case Trigger.SELECT:
            _claim_place(s, case.offer)
        case Trigger.SIGN:
            # The tier is the signed contract's (the `contract_signed` guard checked they agree).
            case.tier = params.get("tier") or case.tier
            case.contract_date = on
            case.contract_terms = _signed_terms(s, case, scheme, on)
            withdrawn = _withdraw_other_cases(s, case, scheme, on)
            return {
                "tier": case.tier,
                "contract_number": case.contract_number,
                "withdrawn_cases": withdrawn,
            }
        case Trigger.START_SERVICE:
            case.diploma_date = params["diploma_date"]
            case.service_start = on
            case.allowance_ended_on = on
            if "part_time" in params:
                case.part_time_ratio = params["part_time"]
            return _regularised(s, case, scheme, trig, on, actor)
        case Trigger.WITHDRAW:
            if case.contract_date is not None:
                case.allowance_ended_on = on
            invalidate_stale_contracts(s, case, "dossier retiré")
            return _regularised(s, case, scheme, trig, on, actor)
        case Trigger.COMPLETE:
            letter = issue_letter(s, store, case, scheme, "completion_certificate", on, actor)
            return {"document": letter.id}
        case Trigger.BREACH:
            effects = _breach(s, case, scheme, on, actor, params)
            letter = issue_letter(s, store, case, scheme, "recovery_order", on, actor)
            for debt in case.debts:  # the order states their numbers (SPEC §4b)
                if debt.kind == "breach" and debt.document_id is None:
                    debt.document_id = letter.id
            return {**effects, "document": letter.id}
    return {}


def _regularised(
    s: Session, case: Case, scheme: Scheme, name: str, on: date, actor: str
) -> dict[str, Any]:
    """Regularise the case's payments after `name` moved its allowance period (SPEC §4b);
    what changed goes into the event's payload."""
    why = ACTIONS[name].fact
    return regularise(s, case, scheme, on=on, actor=actor, why=why).payload()


def _signed_terms(s: Session, case: Case, scheme: Scheme, on: date) -> dict[str, Any]:
    """The terms the case is paid by from now on: those its contract recorded at issue (the
    `contract_terms_in_force` guard checked they are the scheme's on the signature date), or,
    for a contract issued before terms were recorded, the scheme's in force on `on`."""
    doc = current_contract(s, case.id)
    if doc is not None and doc.terms is not None:
        return dict(doc.terms)
    assert case.tier is not None  # the `tier_chosen` guard said so
    return ledger.ContractTerms.of(scheme, case.tier, on).record()


def _claim_place(s: Session, offer: Offer) -> None:
    """Bump the offer's version against the one the places were counted with: of two selections
    racing for its last place, the second finds the version changed and gives up."""
    claimed: sa.CursorResult[Any] = s.execute(  # type: ignore[assignment]
        sa.update(Offer)
        .where(Offer.id == offer.id, Offer.version == offer.version)
        .values(version=Offer.version + 1)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise ConcurrentModification("L'offre", offer.id)
    s.expire(offer, ["version"])


def _breach(
    s: Session, case: Case, scheme: Scheme, on: date, actor: str, params: dict[str, Any]
) -> dict[str, Any]:
    case.breach_date = on
    case.breach_category = params["category"]
    if case.service_start is None:
        case.allowance_ended_on = on
    if params.get("exemption"):
        case.exempted = True
        case.exemption_ref = params["exemption"]
        # The decision's own author and date when given (SPEC §4: who, when, reference).
        case.exemption_decided_by = params.get("exemption_by") or actor
        case.exemption_decided_on = params.get("exemption_on") or on
    # The payments follow the period the breach ends first (SPEC §4b); the base is what is left.
    regularised = _regularised(s, case, scheme, Trigger.BREACH, on, actor)
    s.flush()
    s.refresh(case, ["payments", "suspensions"])
    terms, paid = ledger.CaseTerms.of(case, scheme), ledger.payments_of(case)
    amounts = ledger.reimbursement(terms, paid, on)
    base = ledger.reimbursement_base(ledger.allowance_schedule(terms), paid)
    # The recovery delay is the signed contract's (SPEC §4b).
    recovery = terms.contract.recovery_days if terms.contract else scheme.recovery_days(on)
    due = on + timedelta(days=recovery)
    for funder, amount in amounts.items():
        s.add(
            Reimbursement(
                case_id=case.id,
                funder=funder,
                base=base.get(funder, Decimal(0)),
                amount=amount,
                due_date=due,
            )
        )
    # One debt per funder owed something (SPEC §4b), numbered before the recovery order states it.
    seq = events.next_seq(s, case)
    opened = [
        debts.open_debt(
            s, case, scheme, funder=f, kind="breach", amount=a, on=on, due=due, event_seq=seq
        )
        for f, a in amounts.items()
        if a > 0
    ]
    s.flush()
    return {
        **regularised,
        "reimbursement": {f: str(a) for f, a in amounts.items()},
        "debts": [d.id for d in opened],
        "exempted": case.exempted,
        "recovery_due": due.isoformat(),
    }


def _withdraw_other_cases(s: Session, signed: Case, scheme: Scheme, on: date) -> list[int]:
    """SPEC §3: signing withdraws the learner's other open cases of the same campaign, on the
    signature's date, through the same gate (a case whose last event is later refuses, and so
    does the signature: dates never go backwards, and are never moved)."""
    others = s.scalars(
        sa.select(Case)
        .where(
            Case.learner_id == signed.learner_id,
            Case.campaign_id == signed.campaign_id,
            Case.id != signed.id,
            Case.state.in_(PRE_CONTRACT_STATES),
        )
        .order_by(Case.id)
    ).all()
    reason = f"Contrat signé avec un autre employeur (dossier n° {signed.id})."
    for other in others:
        try:
            act(
                s,
                other,
                scheme,
                Trigger.WITHDRAW,
                on=on,
                actor=SYSTEM_ACTOR,
                reason=reason,
                payload={"signed_case": signed.id},
                effects=lambda other=other: _invalidate(s, other, signed.id),  # type: ignore[misc]
            )
        except GuardFailed as refused:
            raise GuardFailed(
                Trigger.SIGN,
                [
                    (
                        "other_cases_withdrawable",
                        f"l'autre dossier n° {other.id} de l'apprenant ne peut être retiré "
                        f"le {on:%d/%m/%Y} ({' ; '.join(m for _, m in refused.failures)})",
                    )
                ],
                ACTIONS[Trigger.SIGN].label,
            ) from None
    return [o.id for o in others]


def _invalidate(s: Session, other: Case, signed_id: int) -> None:
    invalidate_stale_contracts(
        s, other, f"contrat signé avec un autre employeur (dossier {signed_id})"
    )


def suspend(
    uow: UnitOfWork,
    case_id: int,
    *,
    start: date,
    end: date | None,
    reason: str,
    actor: str | None = None,
    schemes: SchemeRegistry | None = None,
    store: DocumentStore | None = None,
) -> int:
    """Record a suspension of the commitment (SPEC §4) from `start`; `end` None while it runs.
    Its amendment letter is issued in the same transaction. One reported late — starting before
    the case's last event, an attestation say — is accepted: see `_reported_on`."""
    who = actor or default_actor()
    with changing(uow, case_id, schemes) as (s, case, scheme):
        suspension = Suspension(case_id=case.id, start=start, end=end, reason=reason)
        on = _reported_on(case, start)

        def record() -> dict[str, Any]:
            s.add(suspension)
            s.flush()
            letter = issue_letter(
                s,
                store or default_store(),
                case,
                scheme,
                "amendment",
                on,
                who,
                change="suspension",
                details={
                    "from": start.isoformat(),
                    "to": end.isoformat() if end else "",
                    "reason": reason,
                },
            )
            return {"document": letter.id}

        act(
            s,
            case,
            scheme,
            CaseAction.SUSPEND,
            on=on,
            actor=who,
            reason=reason,
            params={"start": start, "end": end},
            payload={
                "from": start.isoformat(),
                "to": end.isoformat() if end else None,
                "reason": reason,
            },
            effects=record,
        )
        return suspension.id


def resume(
    uow: UnitOfWork,
    case_id: int,
    *,
    on: date,
    actor: str | None = None,
    schemes: SchemeRegistry | None = None,
) -> None:
    """End the running suspension: service resumes on `on` (the suspension ends the day before);
    a resume is dated when service resumes, never before the case's last event. A suspension
    that ends shorter than its reason's minimum stays in the history but does not count
    (`ledger.counted_suspensions`): it is only known short once it ends, and the learner's
    return cannot be refused — so the rule of SPEC §4 (« sick leave over a month ») is read as
    a Région would, a short sick leave being ordinary service; `counted` in the event says so."""
    with changing(uow, case_id, schemes) as (s, case, scheme):
        running = s.scalars(
            sa.select(Suspension).where(Suspension.case_id == case.id, Suspension.end.is_(None))
        ).first()

        def close() -> dict[str, Any]:
            assert running is not None  # the `suspension_running` guard said so
            running.end = on - timedelta(days=1)
            counted = scheme.commitment.counts(running.reason, running.start, running.end)
            return {"suspension": running.id, "to": running.end.isoformat(), "counted": counted}

        act(
            s,
            case,
            scheme,
            CaseAction.RESUME,
            on=on,
            actor=actor or default_actor(),
            effects=close,
        )


def _reported_on(case: Case, start: date) -> date:
    """The effective date of an event whose period starts on `start`: that day, or — reported
    late, after later events such as an attestation — the case's last event's date. SPEC §3's
    dates never go backwards, so the event cannot be dated `start`; the period keeps its own
    dates in the payload, and the commitment end is recomputed from them in the same
    transaction (the regularisation)."""
    return max(start, case.last_effective_date)


def change_working_time(
    uow: UnitOfWork,
    case_id: int,
    *,
    start: date,
    ratio: str,
    actor: str | None = None,
    schemes: SchemeRegistry | None = None,
) -> None:
    """A change of working time during service from `start` (SPEC §4: part time counts pro rata
    where the scheme says so); `ratio` as typed (« 0,8 », « 80 % »). Reported late, it is
    accepted like a suspension (`_reported_on`) and the commitment end recomputed."""
    typed = parse_params(CaseAction.CHANGE_WORKING_TIME, {"part_time": ratio})
    with changing(uow, case_id, schemes) as (s, case, scheme):

        def record() -> dict[str, Any]:
            s.add(WorkingTime(case_id=case.id, start=start, ratio=typed["part_time"]))
            s.flush()
            # The projections, computed next, read the case's working times with this one.
            s.refresh(case, ["working_times"])
            return {}

        act(
            s,
            case,
            scheme,
            CaseAction.CHANGE_WORKING_TIME,
            on=_reported_on(case, start),
            actor=actor or default_actor(),
            params={**typed, "start": start},
            payload={"from": start.isoformat(), "part_time": str(typed["part_time"])},
            effects=record,
        )


def attest_service(
    uow: UnitOfWork,
    case_id: int,
    *,
    on: date,
    actor: str | None = None,
    schemes: SchemeRegistry | None = None,
) -> None:
    """The employer's annual attestation that the learner serves (SPEC §6): an event, and the
    date the nightly commitment checks compare with."""
    with changing(uow, case_id, schemes) as (s, case, scheme):

        def attested() -> None:
            case.attested_on = on

        act(
            s,
            case,
            scheme,
            CaseAction.ATTEST_SERVICE,
            on=on,
            actor=actor or default_actor(),
            effects=attested,
        )


def correct_training(
    uow: UnitOfWork,
    case_id: int,
    *,
    training_start: date | None = None,
    training_end: date | None = None,
    on: date | None = None,
    actor: str | None = None,
    schemes: SchemeRegistry | None = None,
    clock: Clock = today_paris,
) -> dict[str, Any]:
    """Correct the training dates of a signed case's learner (the institute's correction, a
    training extended or cut short): the allowance period moves, and the payments are
    regularised in the same transaction (SPEC §4b). Returns the regularisation's summary."""
    who = actor or default_actor()
    effective = on or clock()
    params = {
        k: v for k, v in (("training_start", training_start), ("training_end", training_end)) if v
    }
    with changing(uow, case_id, schemes) as (s, case, scheme):
        outcome: dict[str, Any] = {}

        def corrected() -> dict[str, Any]:
            learner = case.learner
            learner.training_start = training_start or learner.training_start
            learner.training_end = training_end or learner.training_end
            outcome.update(
                _regularised(s, case, scheme, CaseAction.CORRECT_TRAINING, effective, who)
            )
            return outcome

        act(
            s,
            case,
            scheme,
            CaseAction.CORRECT_TRAINING,
            on=effective,
            actor=who,
            params=params,
            payload=_jsonable(params),
            effects=corrected,
            clock=clock,
        )
        return outcome


def add_note(
    uow: UnitOfWork,
    case_id: int,
    text: str,
    *,
    on: date | None = None,
    actor: str | None = None,
    schemes: SchemeRegistry | None = None,
    clock: Clock = today_paris,
) -> None:
    """A caseworker's note in the case's history, dated (by default) today or the case's last
    event if that is later — a note records when it was written, it changes no date."""
    with changing(uow, case_id, schemes) as (s, case, scheme):
        effective = on or max(clock(), case.last_effective_date)
        act(
            s,
            case,
            scheme,
            CaseAction.NOTE,
            on=effective,
            actor=actor or default_actor(),
            params={"text": text},
            note=text.strip(),  # in case_texts, which the retention purge can erase
            clock=clock,
        )


@contextmanager
def changing(
    uow: UnitOfWork, case_id: int, schemes: SchemeRegistry | None = None
) -> Iterator[tuple[Session, Case, Scheme]]:
    """One use case's transaction on one case: the case and its scheme loaded, then — if the
    block ends normally — flushed and committed; a version found changed anywhere on the way is
    ConcurrentModification, and the unit of work rolls everything back."""
    with uow:
        s = uow.session
        case = _load_case(s, case_id)
        scheme = (schemes or registry())[case.scheme_id]
        with _conflicts_reported(case_id):
            yield s, case, scheme
            s.flush()
            uow.commit()


@contextmanager
def _conflicts_reported(case_id: int) -> Iterator[None]:
    """A flush or commit that finds the case's version changed (someone else wrote it since we
    read it) becomes ConcurrentModification; the unit of work then rolls everything back."""
    try:
        yield
    except (StaleDataError, ConcurrentModification):
        raise ConcurrentModification("Le dossier", case_id) from None


def record_payments(
    uow: UnitOfWork, case_id: int, as_of: date, schemes: SchemeRegistry | None = None
) -> int:
    """Create the case's payments that have fallen due by `as_of`, once each (SPEC §4). The
    nightly run does this set-based for every case; this is the one-case form."""
    with changing(uow, case_id, schemes) as (s, case, scheme):
        existing = {(p.period, p.funder) for p in case.payments}
        created = 0
        for i in ledger.allowance_schedule(ledger.CaseTerms.of(case, scheme)):
            if i.due_date <= as_of and (i.period, i.funder) not in existing:
                s.add(
                    Payment(
                        case_id=case.id,
                        period=i.period,
                        funder=i.funder,
                        amount=i.amount,
                        due_date=i.due_date,
                    )
                )
                created += 1
        return created


__all__ = [
    "SYSTEM_ACTOR",
    "act",
    "add_note",
    "attest_service",
    "change_working_time",
    "changing",
    "correct_training",
    "default_actor",
    "fire",
    "fired",
    "open_case",
    "opened",
    "parse_params",
    "record_payments",
    "resume",
    "suspend",
]
