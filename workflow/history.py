"""A verifiable history: a case's events replayed from scratch, compared with what is stored.

`replay` is a pure function of the events (their triggers, dates and payloads): it rebuilds the
state, the dates and facts the events set, and the suspensions. `verify_case` compares that with
the stored case, checks the projections against the rules (workflow.ledger) applied to the stored
facts — which the replay has just vouched for — and the money: every payment is an instalment of
the schedule, and the reimbursements are those the breach recorded. The first difference says
where a history and its case part ways (a row altered by hand, a rule changed under old data)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from workflow import ledger, regularisation
from workflow.events import OPEN
from workflow.models import Case, CaseEvent
from workflow.schemes import Scheme
from workflow.states import ACTIONS, STATE_LABELS, State, Trigger


@dataclass
class Replayed:
    """What a case's events say about it."""

    state: State | None = None
    last_effective_date: date | None = None
    tier: str | None = None
    contract_number: str | None = None
    interview_date: date | None = None
    contract_date: date | None = None
    diploma_date: date | None = None
    service_start: date | None = None
    part_time_ratio: Decimal = Decimal(1)
    allowance_ended_on: date | None = None
    breach_date: date | None = None
    breach_category: str | None = None
    exempted: bool = False
    exemption_ref: str | None = None
    exemption_decided_by: str | None = None
    exemption_decided_on: date | None = None
    attested_on: date | None = None
    suspensions: list[tuple[date, date | None, str]] = field(default_factory=list)
    working_times: list[tuple[date, Decimal]] = field(default_factory=list)
    # Fields the history cannot vouch for (a name the events do not hold).
    unverified: set[str] = field(default_factory=set)
    reimbursement: dict[str, Decimal] | None = None
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Difference:
    case_id: int
    what: str
    stored: Any
    replayed: Any

    def __str__(self) -> str:
        return (
            f"Dossier n° {self.case_id} — {self.what} : enregistré {_show(self.stored)}, "
            f"d'après l'historique {_show(self.replayed)}"
        )


def _show(value: Any) -> str:
    if value is None:
        return "(vide)"
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, State):
        return f"« {STATE_LABELS[value]} »"
    return f"« {value} »"


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def replay(events: Iterable[CaseEvent]) -> Replayed:
    """Rebuild a case from its events, checking that each follows the actions table."""
    r = Replayed()
    for e in events:
        p = e.payload or {}
        if r.last_effective_date is not None and e.effective_date < r.last_effective_date:
            r.problems.append(
                f"l'événement n° {e.seq} ({e.trigger}) est daté du "
                f"{e.effective_date:%d/%m/%Y}, avant le précédent"
            )
        if e.trigger != OPEN:
            a = ACTIONS.get(e.trigger)
            expected = None if a is None else (a.dest or r.state)
            if a is None or e.from_state != r.state or e.to_state != expected:
                r.problems.append(
                    f"l'événement n° {e.seq} ({e.trigger}) ne suit pas la table des actions "
                    f"({e.from_state} → {e.to_state} depuis {r.state})"
                )
        r.state = e.to_state
        r.last_effective_date = e.effective_date
        _apply(r, e.trigger, e.effective_date, e.actor, p)
    return r


def _apply(r: Replayed, trigger: str, on: date, actor: str, p: dict[str, Any]) -> None:
    match trigger:
        case Trigger.INTERVIEW:
            r.interview_date = _date(p.get("interview_date"))
        case "contract_issued":
            r.contract_number = p.get("number", r.contract_number)
            r.tier = p.get("tier", r.tier)
        case Trigger.SIGN:
            r.tier = p.get("tier", r.tier)
            r.contract_number = p.get("contract_number", r.contract_number)
            r.contract_date = on
        case Trigger.START_SERVICE:
            r.diploma_date = _date(p.get("diploma_date"))
            r.service_start = on
            r.allowance_ended_on = on
            if p.get("part_time"):
                r.part_time_ratio = Decimal(p["part_time"])
        case Trigger.WITHDRAW:
            if r.contract_date is not None:
                r.allowance_ended_on = on
        case Trigger.BREACH:
            r.breach_date = on
            r.breach_category = p.get("category")
            if r.service_start is None:
                r.allowance_ended_on = on
            if p.get("exemption"):
                r.exempted = True
                r.exemption_ref = p["exemption"]
                r.exemption_decided_by = actor
                if p.get("exemption_by"):  # a name given apart, kept out of the history
                    r.unverified.add("exemption_decided_by")
                r.exemption_decided_on = _date(p.get("exemption_on")) or on
            r.reimbursement = {f: Decimal(a) for f, a in (p.get("reimbursement") or {}).items()}
        case "attest_service":
            r.attested_on = on
        case "suspend":
            # A suspension reported late starts before its event's date: its own is `from`.
            start = _date(p.get("from")) or on
            r.suspensions.append((start, _date(p.get("to")), p.get("reason", "")))
        case "change_working_time":
            r.working_times.append((_date(p.get("from")) or on, Decimal(p["part_time"])))
        case "resume":
            for i, (start, end, reason) in enumerate(r.suspensions):
                if end is None:
                    r.suspensions[i] = (start, _date(p.get("to")), reason)


FIELDS = (
    ("state", "état"),
    ("last_effective_date", "date du dernier événement"),
    ("tier", "palier"),
    ("contract_number", "numéro de contrat"),
    ("interview_date", "date de l'entretien"),
    ("contract_date", "date du contrat"),
    ("diploma_date", "date du diplôme"),
    ("service_start", "prise de poste"),
    ("part_time_ratio", "quotité de temps partiel"),
    ("allowance_ended_on", "fin de l'allocation"),
    ("breach_date", "date de rupture"),
    ("breach_category", "motif de rupture"),
    ("exempted", "exonération"),
    ("exemption_ref", "référence de l'exonération"),
    ("exemption_decided_by", "auteur de l'exonération"),
    ("exemption_decided_on", "date de l'exonération"),
    ("attested_on", "dernière attestation de service"),
)


def verify_case(case: Case, scheme: Scheme) -> list[Difference]:
    """Every difference between `case` as stored and as its history tells it (first first)."""
    r = replay(case.events)
    out = [Difference(case.id, "historique", "incohérent", problem) for problem in r.problems]
    for name, what in FIELDS:
        if name in r.unverified:
            continue
        stored, replayed = getattr(case, name), getattr(r, name)
        if stored != replayed:
            out.append(Difference(case.id, what, stored, replayed))
    stored_suspensions = [(x.start, x.end, x.reason) for x in case.suspensions]
    if sorted(stored_suspensions) != sorted(r.suspensions):
        out.append(Difference(case.id, "suspensions", stored_suspensions, r.suspensions))
    stored_times = sorted((w.start, w.ratio) for w in case.working_times)
    if stored_times != sorted(r.working_times):
        out.append(Difference(case.id, "temps de travail", stored_times, sorted(r.working_times)))
    out += _projections(case, scheme)
    out += _money(case, scheme, r)
    return out


def _projections(case: Case, scheme: Scheme) -> Iterator[Difference]:
    terms = ledger.CaseTerms.of(case, scheme)
    expected_end = ledger.commitment_end(terms)
    if case.commitment_ends_on != expected_end:
        yield Difference(case.id, "fin d'engagement", case.commitment_ends_on, expected_end)
    created = {(p.period, p.funder) for p in case.payments}
    pending = [i.due_date for i in ledger.allowance_schedule(terms)
               if (i.period, i.funder) not in created]  # fmt: skip
    # The next payment's due date is a lower bound of every instalment not yet created.
    if pending and (case.next_payment_due is None or case.next_payment_due > min(pending)):
        yield Difference(
            case.id, "prochaine échéance de paiement", case.next_payment_due, min(pending)
        )


def _money(case: Case, scheme: Scheme, r: Replayed) -> Iterator[Difference]:
    """SPEC §4b's invariant, per funder and month with payments: payments not cancelled −
    overpaid == entitlement (or less while a complementary payment is pending); and the
    overpayment debts hold what was overpaid."""
    owed = regularisation.entitlement(ledger.CaseTerms.of(case, scheme))
    overpaid: dict[str, Decimal] = defaultdict(Decimal)
    for (period, funder), rows in sorted(regularisation.by_month(case.payments).items()):
        overpaid[funder] += sum((p.overpaid for p in rows), Decimal(0))
        if regularisation.decided_cancelled(rows):
            continue
        net = regularisation.held(rows)
        right = owed.get((period, funder), Decimal(0))
        pending = case.complement_due is not None and net < right
        if net != right and not pending:
            what = f"paiement {period:%m/%Y} ({funder}) hors trop-perçu"
            yield Difference(case.id, what, net, right)
    debts: dict[str, Decimal] = defaultdict(Decimal)
    for d in case.debts:
        if d.kind == "overpayment":
            debts[d.funder] += d.amount
    for funder in sorted(set(overpaid) | set(debts)):
        if overpaid[funder] != debts[funder]:
            what = f"trop-perçus ({funder})"
            yield Difference(case.id, what, debts[funder], overpaid[funder])
    stored = {x.funder: x.amount for x in case.reimbursements} or None
    if stored != r.reimbursement and (stored or r.reimbursement):
        yield Difference(case.id, "reversement", stored, r.reimbursement)


def verify(
    s: Session, case_ids: Sequence[int] | None, schemes: Any, *, batch: int = 500
) -> Iterator[tuple[int, list[Difference]]]:
    """(case id, differences) for the given cases, or every case, read `batch` at a time."""
    query = sa.select(Case.id).order_by(Case.id)
    if case_ids is not None:
        query = query.where(Case.id.in_(case_ids))
    ids = list(s.scalars(query))
    for start in range(0, len(ids), batch):
        chunk = s.scalars(
            sa.select(Case)
            .where(Case.id.in_(ids[start : start + batch]))
            .order_by(Case.id)
            .options(
                selectinload(Case.events),
                selectinload(Case.payments),
                selectinload(Case.suspensions),
                selectinload(Case.working_times),
                selectinload(Case.reimbursements),
                selectinload(Case.debts),
                selectinload(Case.learner),
            )
        ).all()
        for case in chunk:
            yield case.id, verify_case(case, schemes[case.scheme_id])
        s.expunge_all()


__all__ = ["Difference", "Replayed", "replay", "verify", "verify_case"]
