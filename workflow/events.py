"""The one writer of a case's history (`case_events`).

Every change of a case — the ten triggers, suspensions, attestations, notes, contract issue,
signatures, scans — ends here, inside the caller's transaction: the date order is checked under
one policy (an event dated before the case's last one is refused, in French; never moved), the
state and the last effective date move, the caller's side effects run, the projections the
nightly run selects by (`commitment_ends_on`, `next_payment_due`) are brought up to date, the
case's version is bumped (optimistic locking) and the event row is appended, hash-chained to
the case's previous event (workflow.audit). Nothing else inserts into `case_events` (a test
greps for it).

No personal data goes into the append-only row: a reason or a note is written to `case_texts`,
which the event points to (the chain covers the reference, so the purge can erase the text
without breaking it — workflow.privacy); payloads carry ids, dates, codes and amounts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import ledger
from workflow.audit import GENESIS, event_hash
from workflow.errors import GuardFailed
from workflow.models import Case, CaseEvent, CaseText, utcnow
from workflow.schemes import Scheme
from workflow.states import GUARDS, GuardContext, State, label

OPEN = "open"
Effects = Callable[[], dict[str, Any] | None]


def check_chronology(case: Case, name: str, on: date) -> None:
    """The one date policy: an event is never dated before the case's last event."""
    guard = GUARDS["chronological"]
    ctx = GuardContext(case.state, on, None, case.last_effective_date)  # type: ignore[arg-type]
    if not guard.check(ctx):
        raise GuardFailed(name, [(guard.name, guard.message(ctx))], label(name))


def check_horizon(name: str, on: date, today: date) -> None:
    """The gate's `within_horizon` guard, for the first event (opening a case is no action)."""
    guard = GUARDS["within_horizon"]
    ctx = GuardContext(State.LISTED, on, None, today=today)  # type: ignore[arg-type]
    if not guard.check(ctx):
        raise GuardFailed(name, [(guard.name, guard.message(ctx))], label(name))


def write(
    s: Session,
    case: Case,
    name: str,
    *,
    on: date,
    actor: str,
    scheme: Scheme | None,
    reason: str | None = None,
    note: str | None = None,
    payload: dict[str, Any] | None = None,
    to_state: State | None = None,
    effects: Effects | None = None,
) -> CaseEvent:
    """Append the event `name` to `case`'s history, dated `on`, moving the case to `to_state`
    (None: it stays). `effects` runs once the case carries its new state and date; what it
    returns is added to the event's payload (ids, never a name). A `reason` or a `note` is kept
    in `case_texts`, referenced by the event. `scheme` may be None only for the first event,
    which has nothing to project yet."""
    opening = name == OPEN  # the first event: no earlier date, no earlier state
    if not opening:
        check_chronology(case, name, on)
    from_state = None if opening else case.state
    if to_state is not None:
        case.state = to_state
    case.last_effective_date = on
    case.updated_at = utcnow()  # an UPDATE even when nothing else changed: the version moves
    recorded = dict(payload or {})
    if effects is not None:
        recorded.update(effects() or {})
    if scheme is not None:
        refresh_projections(s, case, scheme)
    elif not opening:
        raise ValueError(f"the event {name!r} needs the case's scheme to update its projections")
    if case.id is None:
        s.flush()
    kind, free = ("note", note) if note is not None else ("reason", reason)
    text = CaseText(case_id=case.id, kind=kind, text=free) if free and free.strip() else None
    if text is not None:
        s.add(text)
        s.flush()  # its id goes into the event's hash
    seq, prev_hash = _last_link(s, case)
    fields: dict[str, Any] = {
        "case_id": case.id,
        "seq": seq,
        "trigger": str(name),
        "from_state": from_state.value if from_state else None,
        "to_state": case.state.value,
        "effective_date": on,
        "recorded_at": utcnow(),
        "actor": actor,
        "text_id": text.id if text is not None else None,
        "payload": recorded,
        "prev_hash": prev_hash,
    }
    event = CaseEvent(
        **{**fields, "from_state": from_state, "to_state": case.state},
        free_text=text,
        hash=event_hash(**fields),
    )
    s.add(event)
    return event


def _last_link(s: Session, case: Case) -> tuple[int, str]:
    """The next sequence number of the case's history and the hash it chains to."""
    with s.no_autoflush:  # flushing is the caller's choice
        last = s.execute(
            sa.select(CaseEvent.seq, CaseEvent.hash)
            .where(CaseEvent.case_id == case.id)
            .order_by(CaseEvent.seq.desc())
            .limit(1)
        ).first()
    return (1, GENESIS) if last is None else (last[0] + 1, last[1] or GENESIS)


def next_seq(s: Session, case: Case) -> int:
    """The sequence number the case's next event will get (what a row written in the event's
    transaction, before the event itself, records as its origin: a debt's `event_seq`)."""
    return _last_link(s, case)[0]


def refresh_projections(s: Session, case: Case, scheme: Scheme) -> None:
    """The columns the nightly run selects its work by, kept equal to what the case's facts say:
    the commitment end (None before service or while a suspension runs), and the next payment's
    due date — the contract date from signature on, a safe lower bound that the payments step
    moves forward (jobs.schedule_sql)."""
    if case.service_start is not None:
        s.flush()
        s.refresh(case, ["suspensions"])
        case.commitment_ends_on = ledger.commitment_end(ledger.CaseTerms.of(case, scheme))
    else:
        case.commitment_ends_on = None
    if case.contract_date is None:
        case.next_payment_due = None
    elif case.next_payment_due is None and not _schedule_done(s, case, scheme):
        case.next_payment_due = case.contract_date


def _schedule_done(s: Session, case: Case, scheme: Scheme) -> bool:
    """True once every instalment of the case's schedule has a payment row."""
    schedule = ledger.allowance_schedule(ledger.CaseTerms.of(case, scheme))
    if not schedule:
        return True
    s.flush()
    s.refresh(case, ["payments"])
    created = {(p.period, p.funder) for p in case.payments}
    return all((i.period, i.funder) in created for i in schedule)


__all__ = [
    "OPEN",
    "check_chronology",
    "check_horizon",
    "next_seq",
    "refresh_projections",
    "write",
]
