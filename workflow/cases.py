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
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from workflow import ledger, validation
from workflow.archive import DocumentStore
from workflow.clock import Clock, today_paris
from workflow.contracts import default_store, invalidate_stale_contracts, issue_letter
from workflow.db import UnitOfWork
from workflow.documents.labels import suspension_reason_label
from workflow.errors import ConcurrentModification, InvalidInput, NotFound
from workflow.facts import DbFacts
from workflow.models import (
    Case,
    CaseEvent,
    Learner,
    Offer,
    Payment,
    Reimbursement,
    Suspension,
)
from workflow.schemes import Scheme, SchemeRegistry, registry
from workflow.states import (
    PRE_CONTRACT_STATES,
    STATE_LABELS,
    TRIGGER_PARAMS,
    GuardContext,
    State,
    Trigger,
    next_state,
    parse_trigger,
)

SYSTEM_ACTOR = "système"


def default_actor() -> str:
    try:
        return getpass.getuser()
    except OSError:  # pragma: no cover - no user name in some containers
        return "inconnu"


def parse_params(trigger: Trigger, raw: Mapping[str, str]) -> dict[str, Any]:
    """`--set KEY=VALUE` pairs, typed; a key the trigger does not read is refused."""
    allowed = TRIGGER_PARAMS.get(trigger, frozenset())
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in allowed:
            expected = ", ".join(sorted(allowed)) or "aucun"
            raise InvalidInput(
                f"Paramètre « {key} » inconnu pour l'action « {trigger} » "
                f"(paramètres : {expected}).",
                key,
            )
        if key in ("interview_date", "diploma_date"):
            params[key] = validation.parse_date(value, key)
        elif key == "part_time":
            params[key] = _ratio(value)
        else:
            params[key] = value.strip() or None
    return params


def _ratio(value: str) -> Decimal:
    try:
        ratio = Decimal(value.replace(",", ".").rstrip("%"))
    except InvalidOperation:
        ratio = Decimal(-1)
    if value.endswith("%"):
        ratio /= 100
    if not Decimal(0) < ratio <= Decimal(1):
        raise InvalidInput(
            f"Quotité de temps partiel invalide : « {value} » (entre 0 et 1, p. ex. 0,8 ou 80 %).",
            "part_time",
        )
    return ratio


def _load_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("Dossier", case_id)
    return case


def record_event(
    session: Session,
    case: Case,
    trigger: str,
    from_state: State | None,
    to_state: State,
    on: date,
    actor: str,
    reason: str | None,
    payload: dict[str, Any],
) -> CaseEvent:
    with session.no_autoflush:  # flushing is the caller's choice (see _commit)
        seq = session.scalar(
            sa.select(sa.func.coalesce(sa.func.max(CaseEvent.seq), 0)).where(
                CaseEvent.case_id == case.id
            )
        )
    event = CaseEvent(
        case_id=case.id,
        seq=(seq or 0) + 1,
        trigger=trigger,
        from_state=from_state,
        to_state=to_state,
        effective_date=on,
        actor=actor,
        reason=reason,
        payload=payload,
    )
    session.add(event)
    return event


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else str(v) for k, v in params.items()}


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
        s = uow.session
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
        record_event(
            s, case, "open", None, State.LISTED, effective, actor or default_actor(), None, {}
        )
        uow.commit()
        return case.id


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
    trig = parse_trigger(trigger)
    typed = parse_params(trig, params or {})
    effective = on or clock()
    who = actor or default_actor()
    with uow:
        s = uow.session
        case = _load_case(s, case_id)
        scheme = (schemes or registry())[case.scheme_id]
        with _conflicts_reported(case_id):
            _fire_loaded(
                s, case, scheme, trig, effective, who, reason, typed, store or default_store()
            )
        _commit(uow, case_id)
        return case.state


def _fire_loaded(
    s: Session,
    case: Case,
    scheme: Scheme,
    trig: Trigger,
    on: date,
    actor: str,
    reason: str | None,
    params: dict[str, Any],
    store: DocumentStore,
) -> None:
    ctx = GuardContext(
        state=case.state,
        effective_date=on,
        facts=DbFacts(s, case, scheme),
        last_effective_date=case.last_effective_date,
        reason=reason,
        params=params,
    )
    new_state = next_state(trig, ctx)
    payload = _jsonable(params)
    from_state = case.state
    case.state = new_state
    case.last_effective_date = on
    payload.update(_side_effects(s, case, scheme, trig, on, actor, params, store))
    record_event(s, case, trig.value, from_state, new_state, on, actor, reason, payload)


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
            # The schedule starts at the earliest on the contract date (SPEC §4).
            case.next_payment_due = on
            withdrawn = _withdraw_other_cases(s, case, on)
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
            case.commitment_ends_on = ledger.commitment_end(case, scheme)
        case Trigger.WITHDRAW:
            if case.contract_date is not None:
                case.allowance_ended_on = on
            invalidate_stale_contracts(s, case, "dossier retiré")
        case Trigger.COMPLETE:
            letter = issue_letter(s, store, case, scheme, "completion_certificate", on, actor)
            return {"document": letter.id}
        case Trigger.BREACH:
            effects = _breach(s, case, scheme, on, actor, params)
            letter = issue_letter(s, store, case, scheme, "recovery_order", on, actor)
            return {**effects, "document": letter.id}
    return {}


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
        case.exemption_decided_by = actor
        case.exemption_decided_on = on
    s.flush()
    s.refresh(case, ["payments", "suspensions"])
    amounts = ledger.reimbursement(case, scheme, on)
    base = ledger.reimbursement_base(ledger.allowance_schedule(case, scheme), case.payments)
    due = on + timedelta(days=scheme.recovery_days(case.contract_date or on))
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
    return {
        "reimbursement": {f: str(a) for f, a in amounts.items()},
        "exempted": case.exempted,
        "recovery_due": due.isoformat(),
    }


def _withdraw_other_cases(s: Session, signed: Case, on: date) -> list[int]:
    """SPEC §3: signing withdraws the learner's other open cases of the same campaign."""
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
        # Dates of a case never go backwards: the withdrawal takes effect no earlier than the
        # other case's last event.
        effective = max(on, other.last_effective_date)
        previous = other.state
        other.state = State.WITHDRAWN
        invalidate_stale_contracts(
            s, other, f"contrat signé avec un autre employeur (dossier {signed.id})"
        )
        other.last_effective_date = effective
        record_event(
            s,
            other,
            Trigger.WITHDRAW.value,
            previous,
            State.WITHDRAWN,
            effective,
            SYSTEM_ACTOR,
            reason,
            {"signed_case": signed.id},
        )
    return [o.id for o in others]


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
    """Record a suspension of the commitment (SPEC §4); `end` None while it runs."""
    with uow:
        s = uow.session
        case = _load_case(s, case_id)
        scheme = (schemes or registry())[case.scheme_id]
        accepted = scheme.commitment.suspension_reasons
        if reason not in accepted:
            raise InvalidInput(
                f"Motif de suspension « {reason} » non accepté par ce dispositif "
                f"(motifs : {', '.join(f'{suspension_reason_label(r)} ({r})' for r in accepted)}).",
                "reason",
            )
        if case.state is not State.SERVING or case.service_start is None:
            raise InvalidInput(
                "Une suspension ne s'enregistre que pendant l'engagement de servir "
                f"(état actuel : {STATE_LABELS[case.state]})."
            )
        if start < case.service_start:
            raise InvalidInput(
                f"La suspension ({start:%d/%m/%Y}) commence avant la prise de poste "
                f"({case.service_start:%d/%m/%Y})."
            )
        if end is not None and end < start:
            raise InvalidInput("La fin de la suspension précède son début.", "to")
        if start < case.last_effective_date:
            raise InvalidInput(
                f"La suspension ({start:%d/%m/%Y}) précède le dernier événement du dossier "
                f"({case.last_effective_date:%d/%m/%Y})."
            )
        for other in case.suspensions:
            if other.end is None or (start <= other.end and (end is None or end >= other.start)):
                raise InvalidInput(
                    f"La suspension chevauche celle du {other.start:%d/%m/%Y}"
                    + (f" au {other.end:%d/%m/%Y}." if other.end else " (en cours).")
                )
        suspension = Suspension(case_id=case.id, start=start, end=end, reason=reason)
        s.add(suspension)
        case.last_effective_date = start
        _update_commitment_end(s, case, scheme)
        letter = issue_letter(
            s,
            store or default_store(),
            case,
            scheme,
            "amendment",
            start,
            actor or default_actor(),
            change="suspension",
            details={
                "from": start.isoformat(),
                "to": end.isoformat() if end else "",
                "reason": reason,
            },
        )
        payload = {
            "from": start.isoformat(),
            "to": end.isoformat() if end else None,
            "reason": reason,
            "document": letter.id,
        }
        record_event(
            s,
            case,
            "suspend",
            case.state,
            case.state,
            start,
            actor or default_actor(),
            reason,
            payload,
        )
        _commit(uow, case_id)
        return suspension.id


def resume(
    uow: UnitOfWork,
    case_id: int,
    *,
    on: date,
    actor: str | None = None,
    schemes: SchemeRegistry | None = None,
) -> None:
    """End the running suspension: service resumes on `on` (the suspension ends the day before)."""
    with uow:
        s = uow.session
        case = _load_case(s, case_id)
        scheme = (schemes or registry())[case.scheme_id]
        running = [x for x in case.suspensions if x.end is None]
        if not running:
            raise InvalidInput("Aucune suspension en cours sur ce dossier.")
        suspension = running[0]
        if on <= suspension.start:
            raise InvalidInput(
                f"La reprise ({on:%d/%m/%Y}) doit suivre le début de la suspension "
                f"({suspension.start:%d/%m/%Y})."
            )
        suspension.end = on - timedelta(days=1)
        case.last_effective_date = on
        _update_commitment_end(s, case, scheme)
        record_event(
            s,
            case,
            "resume",
            case.state,
            case.state,
            on,
            actor or default_actor(),
            None,
            {"suspension": suspension.id, "to": suspension.end.isoformat()},
        )
        _commit(uow, case_id)


def _update_commitment_end(s: Session, case: Case, scheme: Scheme) -> None:
    """Recompute the stored commitment end after a suspension starts or ends (None while one
    runs): the nightly completions and reminders select serving cases by it."""
    s.flush()
    s.refresh(case, ["suspensions"])
    case.commitment_ends_on = ledger.commitment_end(case, scheme)


def _commit(uow: UnitOfWork, case_id: int) -> None:
    with _conflicts_reported(case_id):
        uow.session.flush()
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
    with uow:
        s = uow.session
        case = _load_case(s, case_id)
        scheme = (schemes or registry())[case.scheme_id]
        existing = {(p.period, p.funder) for p in case.payments}
        created = 0
        for i in ledger.allowance_schedule(case, scheme):
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
        uow.commit()
        return created


__all__ = [
    "SYSTEM_ACTOR",
    "fire",
    "open_case",
    "parse_params",
    "record_payments",
    "resume",
    "suspend",
]


def attest_service(uow: UnitOfWork, case_id: int, *, on: date, actor: str | None = None) -> None:
    """The employer's annual attestation that the learner serves (SPEC §6): an event, and the
    date the nightly commitment checks compare with."""
    with uow:
        s = uow.session
        case = _load_case(s, case_id)
        if case.state is not State.SERVING:
            raise InvalidInput(
                f"Une attestation de service ne s'enregistre que pendant l'engagement "
                f"(état actuel : {STATE_LABELS[case.state]})."
            )
        if on < case.last_effective_date:
            raise InvalidInput(
                f"L'attestation ({on:%d/%m/%Y}) précède le dernier événement du dossier "
                f"({case.last_effective_date:%d/%m/%Y})."
            )
        case.attested_on = on
        case.last_effective_date = on
        record_event(
            s,
            case,
            "attest_service",
            case.state,
            case.state,
            on,
            actor or default_actor(),
            None,
            {},
        )
        _commit(uow, case_id)
