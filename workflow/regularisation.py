"""Entitlement and regularisation (SPEC §4b).

A case's **entitlement** is, per funder and month, the allowance of SPEC §4 over the allowance
period as its events define it *now* (`ledger.allowance_schedule`). Payments follow it: an event
that moves the period (a back-dated breach, withdrawal or service start, corrected training
dates) regularises the case's payments in its own transaction —

- a payment not yet sent (`due`) beyond its month's entitlement is reduced to it, or cancelled
  when nothing is left (reason « régularisation », the event named);
- a payment already sent or paid (`exported`, `notified`, `paid`) beyond it keeps its amount, and
  the excess becomes `overpaid`: an **overpayment** the learner owes that funder, recorded as a
  debt (workflow.debts), one per funder and regularisation;
- a month whose entitlement grew past what was paid for it gets a complementary payment (a new
  row, next `seq`) from the next nightly run (`jobs.schedule_sql.insert_complements`), which
  selects its cases by `complement_due`; a `due` payment of that month simply grows instead.

Invariant, per case, funder and month with payments: payments not cancelled − overpaid ==
entitlement, or less while a complement is pending. `fidelis case verify` checks it
(`workflow.history`), and `tests/integration/test_regularisation_stateful.py` over random event
sequences with back-dated events. Months the nightly run has not reached have no payment yet
and are not regularised: it will create them at the entitlement.

A caseworker's own cancellation of a payment (`payments.cancel`, any other reason) is a decision
that the month is not owed: such a month is left alone."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from workflow import events, ledger
from workflow.debts import open_debt
from workflow.models import Case, Payment
from workflow.schemes import Scheme

SENT = frozenset({"exported", "notified", "paid"})
REASON_PREFIX = "Régularisation"


def reason_for(what: str, on: date) -> str:
    """« Régularisation : rupture du 10/03/2027 »."""
    return f"{REASON_PREFIX} : {what[:1].lower()}{what[1:]} du {on:%d/%m/%Y}"


def is_regularisation(p: Payment) -> bool:
    return (p.status_reason or "").startswith(REASON_PREFIX)


def decided_cancelled(rows: list[Payment]) -> bool:
    """A month a caseworker decided is not owed (a cancellation that is no regularisation)."""
    return any(p.status == "cancelled" and not is_regularisation(p) for p in rows)


def by_month(payments: Iterable[Payment]) -> dict[tuple[date, str], list[Payment]]:
    """A case's payments per (month, funder): the instalment and its complements."""
    months: dict[tuple[date, str], list[Payment]] = defaultdict(list)
    for p in payments:
        months[(p.period, p.funder)].append(p)
    return months


def held(rows: Iterable[Payment]) -> Decimal:
    """What a month's payments leave with the learner: those not cancelled, less overpaid."""
    return sum((p.amount - p.overpaid for p in rows if p.status != "cancelled"), Decimal(0))


def entitlement(terms: ledger.CaseTerms) -> dict[tuple[date, str], Decimal]:
    """Per (month, funder), what the case's allowance period gives right to."""
    return {(i.period, i.funder): i.amount for i in ledger.allowance_schedule(terms)}


def entitlement_by_funder(terms: ledger.CaseTerms) -> dict[str, Decimal]:
    """Per funder, the whole allowance period's entitlement (every funder named, even at 0)."""
    totals = dict.fromkeys(terms.funders, Decimal(0))
    for (_, funder), amount in entitlement(terms).items():
        totals[funder] = totals.get(funder, Decimal(0)) + amount
    return totals


@dataclass
class Outcome:
    """What one regularisation changed: for the event's payload and the caller's message."""

    cancelled: list[int] = field(default_factory=list)
    adjusted: list[int] = field(default_factory=list)
    overpaid: dict[str, Decimal] = field(default_factory=dict)
    debts: list[str] = field(default_factory=list)
    complement_due: date | None = None

    def payload(self) -> dict[str, object]:
        if not (self.cancelled or self.adjusted or self.overpaid or self.complement_due):
            return {}
        return {
            "regularisation": {
                "cancelled": self.cancelled,
                "adjusted": self.adjusted,
                "overpaid": {f: str(a) for f, a in self.overpaid.items()},
                "debts": self.debts,
                "complement_due": self.complement_due.isoformat() if self.complement_due else None,
            }
        }


def regularise(
    s: Session, case: Case, scheme: Scheme, *, on: date, actor: str, why: str
) -> Outcome:
    """Bring the case's payments to its entitlement now (see the module's docstring), in the
    caller's transaction. `why` names the event (« rupture de l'engagement »)."""
    out = Outcome()
    if case.contract_date is None:
        return out
    s.flush()
    s.refresh(case, ["payments"])
    if not case.payments:
        return out
    terms = ledger.CaseTerms.of(case, scheme)
    owed = entitlement(terms)
    reason = reason_for(why, on)
    overpaid: dict[str, Decimal] = defaultdict(Decimal)
    for key, rows in sorted(by_month(case.payments).items()):
        if decided_cancelled(rows):
            continue
        live = sorted((p for p in rows if p.status != "cancelled"), key=lambda p: -p.seq)
        net = held(live)
        right = owed.get(key, Decimal(0))
        if net > right:
            excess = net - right
            for p in (p for p in live if p.status == "due"):
                cut = min(excess, p.amount)
                if cut == 0:
                    break
                excess -= cut
                p.status_reason = reason
                p.status_changed_on, p.status_changed_by = on, actor
                if cut == p.amount:
                    p.status = "cancelled"
                    out.cancelled.append(p.id)
                else:
                    p.amount -= cut
                    out.adjusted.append(p.id)
            for p in (p for p in live if p.status in SENT):
                add = min(excess, p.amount - p.overpaid)
                if add == 0:
                    continue
                excess -= add
                p.overpaid += add
                overpaid[p.funder] += add
        elif net < right:
            due = [p for p in live if p.status == "due"]
            if due:
                due[0].amount += right - net
                due[0].status_reason = reason
                due[0].status_changed_on, due[0].status_changed_by = on, actor
                out.adjusted.append(due[0].id)
            else:
                month_due = max(p.due_date for p in rows)
                if out.complement_due is None or month_due < out.complement_due:
                    out.complement_due = month_due
    if out.complement_due is not None:
        current = case.complement_due
        case.complement_due = min(current, out.complement_due) if current else out.complement_due
    recovery = terms.contract.recovery_days if terms.contract else scheme.recovery_days(on)
    # The event being written gives rise to the debts: its sequence number is the next one.
    seq = events.next_seq(s, case) if overpaid else None
    for funder, amount in overpaid.items():
        out.overpaid[funder] = amount
        debt = open_debt(
            s,
            case,
            scheme,
            funder=funder,
            kind="overpayment",
            amount=amount,
            on=on,
            due=on + timedelta(days=recovery),
            event_seq=seq,
        )
        out.debts.append(debt.number)
    s.flush()
    return out


__all__ = [
    "SENT",
    "Outcome",
    "by_month",
    "decided_cancelled",
    "entitlement",
    "entitlement_by_funder",
    "held",
    "is_regularisation",
    "reason_for",
    "regularise",
]
