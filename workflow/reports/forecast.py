"""The budget forecast (issue 7, point 4): the allowance payments still to come, month by month
and per funder, until the last training ends; and what a new campaign of N contracts per tier
would cost.

Payments still to come, as of a date D. For every case with a contract whose training ends
after D or ended less than two months before it (a schedule's last instalment falls due at most
on the payment day of the month after the training ends, so older cases have nothing left), the
schedule is `ledger.allowance_schedule` of the case's terms, read from its row's columns (no case
is loaded): the reference the nightly payments step is tested against, cent for cent.
Instalments already created as payments falling due on or before D are subtracted (a cancelled
payment is not created again: it is subtracted too); everything else is still to come,
including an instalment overdue but not yet created (the next nightly run, which catches up
every missed day, creates it).

What the forecast assumes: contracts run as signed — the allowance runs to the planned training
end unless the case already recorded its end (service start, breach or withdrawal: the
schedule then stops the day before, and only its remaining instalments are counted).
Suspensions stop the commitment clock during service, not the allowance (SPEC §4): a case can
only be suspended while serving, when its allowance has ended, so they change nothing here.
Contracts not yet signed (selected cases) are not counted: the new-campaign estimate covers them.

Expected recoveries (SPEC §4b): what the learners' debts still owed should bring back, per
month and funder — the unpaid instalments of a running plan at their due dates, or else the
whole balance at the debt's due date; anything already late counts in the month of D.

A new campaign: N contracts of each tier, all training from `start` to `end` (default: ten
months, the scheme's « 10 months of training aid »), signed before the training starts, with
the amounts in force on `start` — the same `ledger.allowance_schedule`, times N.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import ledger, money
from workflow.errors import InvalidInput
from workflow.models import Case, Debt, DebtInstalment, Learner, Payment
from workflow.schemes import Scheme, SchemeRegistry
from workflow.states import State

__all__ = [
    "CampaignCost",
    "Forecast",
    "MonthRow",
    "TierCost",
    "expected_recoveries",
    "forecast",
    "new_campaign_cost",
    "parse_new_campaign",
]

ZERO = Decimal("0.00")
# A schedule's last instalment falls due at most on the payment day of the month after the
# training ends: a case whose training ended two months before D has nothing left after D.
_LAST_DUE_AFTER_END = timedelta(days=62)
DEFAULT_TRAINING_MONTHS = 10
ACTIVE = (State.CONTRACTED, State.IN_TRAINING)


@dataclass
class MonthRow:
    """One month of allowance (the month paid for; it falls due on the payment day of the next)."""

    period: date
    amounts: dict[str, Decimal] = field(default_factory=dict)
    cases: int = 0

    @property
    def total(self) -> Decimal:
        return sum(self.amounts.values(), ZERO)

    @property
    def label(self) -> str:
        return f"{self.period:%Y-%m}"

    def to_json(self, funders: Iterable[str]) -> dict[str, Any]:
        return {
            "period": self.label,
            "cases": self.cases,
            "amounts": {f: str(self.amounts.get(f, ZERO)) for f in funders},
            "total": str(self.total),
        }


def _months(rows: Mapping[date, MonthRow]) -> list[MonthRow]:
    """The rows in order, with the months between them that have nothing (a chart's x axis)."""
    if not rows:
        return []
    first, last = min(rows), max(rows)
    out = []
    month = first
    while month <= last:
        out.append(rows.get(month) or MonthRow(month))
        month = money.add_months(month, 1)
    return out


def _totals(rows: Iterable[MonthRow]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for row in rows:
        for funder, amount in row.amounts.items():
            totals[funder] = totals.get(funder, ZERO) + amount
    return totals


@dataclass
class Forecast:
    as_of: date
    scheme: str | None
    funders: list[str]
    months: list[MonthRow]
    active_contracts: int  # cases now contracted or in training
    cases: int  # cases with at least one instalment still to come
    last_training_end: date | None
    # What the debts still owed should bring back, by month of their (instalments') due dates.
    recoveries: list[MonthRow] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, Decimal]:
        return _totals(self.months)

    @property
    def recovery_funders(self) -> list[str]:
        return sorted({f for row in self.recoveries for f in row.amounts})

    @property
    def total(self) -> Decimal:
        return sum(self.totals.values(), ZERO)

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "scheme": self.scheme,
            "funders": self.funders,
            "active_contracts": self.active_contracts,
            "cases": self.cases,
            "last_training_end": self.last_training_end.isoformat()
            if self.last_training_end
            else None,
            "months": [m.to_json(self.funders) for m in self.months],
            "recoveries": [m.to_json(self.recovery_funders) for m in self.recoveries],
            "totals": {f: str(self.totals.get(f, ZERO)) for f in self.funders},
            "total": str(self.total),
        }


def forecast(
    session: Session, as_of: date, schemes: SchemeRegistry, *, scheme: str | None = None
) -> Forecast:
    """The payments still to come after `as_of`, per month and funder (see the module's doc)."""
    candidates = sa.and_(
        Case.contract_date.is_not(None),
        Case.tier.is_not(None),
        Learner.training_end >= as_of - _LAST_DUE_AFTER_END,
        *([Case.scheme_id == scheme] if scheme else []),
    )
    created = {
        (case_id, period, funder)
        for case_id, period, funder in session.execute(
            sa.select(Payment.case_id, Payment.period, Payment.funder)
            .join(Case, Case.id == Payment.case_id)
            .join(Learner, Learner.id == Case.learner_id)
            .where(candidates, Payment.due_date <= as_of)
        )
    }
    rows: dict[date, MonthRow] = {}
    funders: set[str] = set()
    counted = 0
    last_end: date | None = None
    query = (
        sa.select(
            Case.id,
            Case.scheme_id,
            Case.tier,
            Case.contract_date,
            Case.allowance_ended_on,
            Learner.training_start,
            Learner.training_end,
        )
        .join(Learner, Learner.id == Case.learner_id)
        .where(candidates)
        .order_by(Case.id)
    )
    for case_id, scheme_id, tier, contract_date, ended_on, start, end in session.execute(query):
        # The schedule reads the tier, the dates and the allowance's end, nothing else.
        terms = ledger.CaseTerms.from_values(
            schemes[scheme_id],
            tier=tier,
            contract_date=contract_date,
            training_start=start,
            training_end=end,
            allowance_ended_on=ended_on,
        )
        to_come = [
            i
            for i in ledger.allowance_schedule(terms)
            if (case_id, i.period, i.funder) not in created
        ]
        if not to_come:
            continue
        counted += 1
        last_end = end if last_end is None else max(last_end, end)
        periods = set()
        for i in to_come:
            row = rows.setdefault(i.period, MonthRow(i.period))
            row.amounts[i.funder] = row.amounts.get(i.funder, ZERO) + i.amount
            funders.add(i.funder)
            periods.add(i.period)
        for period in periods:
            rows[period].cases += 1
    active = session.scalar(
        sa.select(sa.func.count(Case.id)).where(
            Case.state.in_(ACTIVE), *([Case.scheme_id == scheme] if scheme else [])
        )
    )
    return Forecast(
        as_of=as_of,
        scheme=scheme,
        funders=sorted(funders),
        months=_months(rows),
        active_contracts=int(active or 0),
        cases=counted,
        last_training_end=last_end,
        recoveries=expected_recoveries(session, as_of, scheme=scheme),
    )


def expected_recoveries(
    session: Session, as_of: date, *, scheme: str | None = None
) -> list[MonthRow]:
    """The debts still owed, per month and funder of their expected repayment (module doc)."""
    owed = sa.and_(
        Debt.status.in_(("open", "partially_repaid")),
        *([Debt.scheme_id == scheme] if scheme else []),
    )
    this_month = as_of.replace(day=1)
    rows: dict[date, MonthRow] = {}
    debts_in: dict[date, set[int]] = {}

    def add(case_id: int, funder: str, due: date, amount: Decimal) -> None:
        month = max(due.replace(day=1), this_month)
        row = rows.setdefault(month, MonthRow(month))
        row.amounts[funder] = row.amounts.get(funder, ZERO) + amount
        debts_in.setdefault(month, set()).add(case_id)

    planned = session.execute(
        sa.select(Debt.case_id, Debt.funder, DebtInstalment.due_date, DebtInstalment.amount)
        .join(DebtInstalment, DebtInstalment.debt_id == Debt.id)
        .where(owed, Debt.plan_status == "active", DebtInstalment.status.in_(("pending", "missed")))
    )
    for case_id, funder, due, amount in planned:
        add(case_id, funder, due, amount)
    whole = session.execute(
        sa.select(
            Debt.case_id,
            Debt.funder,
            Debt.due_date,
            # Subtracted here: the stored cents' type does not carry through SQL arithmetic.
            Debt.amount,
            Debt.repaid,
            Debt.waived,
            Debt.written_off,
        ).where(owed, sa.or_(Debt.plan_status.is_(None), Debt.plan_status != "active"))
    )
    for case_id, funder, due, amount, repaid, waived, written_off in whole:
        add(case_id, funder, due, amount - repaid - waived - written_off)
    for month, cases in debts_in.items():
        rows[month].cases = len(cases)
    return _months(rows)


# -- a new campaign ------------------------------------------------------------------------------

_TIER_COUNT = re.compile(r"\s*([^=,\s]+)\s*=\s*(\d+)\s*")


def parse_new_campaign(text: str, scheme: Scheme) -> dict[str, int]:
    """ "2x150=10,2x200=5" -> {"2x150": 10, "2x200": 5}; an unknown tier or a malformed part is
    a French error naming the scheme's tiers."""
    counts: dict[str, int] = {}
    tiers = ", ".join(scheme.tiers)
    for part in text.split(","):
        if not part.strip():
            continue
        m = _TIER_COUNT.fullmatch(part)
        if m is None:
            raise InvalidInput(
                f"Nouvelle campagne illisible : « {part.strip()} » (attendu PALIER=NOMBRE, "
                f"p. ex. « {next(iter(scheme.tiers))}=10 » ; paliers : {tiers}).",
                "new_campaign",
            )
        tier, n = m[1], int(m[2])
        if tier not in scheme.tiers:
            raise InvalidInput(
                f"Palier inconnu pour le dispositif {scheme.id} : « {tier} » (paliers : {tiers}).",
                "new_campaign",
            )
        if n < 1:
            raise InvalidInput(
                f"Nombre de contrats invalide pour le palier {tier} : {n} (au moins 1).",
                "new_campaign",
            )
        if tier in counts:
            raise InvalidInput(f"Le palier {tier} est donné deux fois.", "new_campaign")
        counts[tier] = n
    if not counts:
        raise InvalidInput(
            f"Nouvelle campagne vide : donnez PALIER=NOMBRE (paliers : {tiers}).", "new_campaign"
        )
    return counts


@dataclass
class TierCost:
    tier: str
    label: str
    contracts: int
    commitment_months: int
    per_contract: dict[str, Decimal]
    total: dict[str, Decimal]

    def to_json(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "label": self.label,
            "contracts": self.contracts,
            "commitment_months": self.commitment_months,
            "per_contract": {f: str(a) for f, a in self.per_contract.items()},
            "total": {f: str(a) for f, a in self.total.items()},
        }


@dataclass
class CampaignCost:
    scheme: str
    start: date
    end: date
    funders: list[str]
    tiers: list[TierCost]
    months: list[MonthRow]

    @property
    def totals(self) -> dict[str, Decimal]:
        return _totals(self.months)

    @property
    def total(self) -> Decimal:
        return sum(self.totals.values(), ZERO)

    def to_json(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "training": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            "funders": self.funders,
            "tiers": [t.to_json() for t in self.tiers],
            "months": [m.to_json(self.funders) for m in self.months],
            "totals": {f: str(self.totals.get(f, ZERO)) for f in self.funders},
            "total": str(self.total),
        }


def default_training_end(start: date) -> date:
    """Ten months of training from `start`, the last day included."""
    return money.add_months(start, DEFAULT_TRAINING_MONTHS) - timedelta(days=1)


def new_campaign_cost(
    scheme: Scheme, counts: Mapping[str, int], start: date, end: date | None = None
) -> CampaignCost:
    """What `counts[tier]` contracts of each tier would cost, training from `start` to `end`
    (inclusive), contracts signed by `start`: per tier and per funder, and per month."""
    end = end or default_training_end(start)
    if end <= start:
        raise InvalidInput(
            f"La fin de formation ({end.isoformat()}) doit être postérieure à son début "
            f"({start.isoformat()}).",
            "end",
        )
    rows: dict[date, MonthRow] = {}
    tiers = []
    for tier, n in counts.items():
        terms = ledger.CaseTerms.from_values(
            scheme, tier=tier, contract_date=start, training_start=start, training_end=end
        )
        assert terms.commitment_months is not None  # a tier and a contract date are given
        schedule = ledger.allowance_schedule(terms)
        per_contract: dict[str, Decimal] = dict.fromkeys(scheme.funders, ZERO)
        for i in schedule:
            per_contract[i.funder] += i.amount
            row = rows.setdefault(i.period, MonthRow(i.period))
            row.amounts[i.funder] = row.amounts.get(i.funder, ZERO) + i.amount * n
        for row_period in {i.period for i in schedule}:
            rows[row_period].cases += n
        tiers.append(
            TierCost(
                tier=tier,
                label=scheme.tiers[tier].label,
                contracts=n,
                commitment_months=terms.commitment_months,
                per_contract=per_contract,
                total={f: a * n for f, a in per_contract.items()},
            )
        )
    return CampaignCost(
        scheme=scheme.id,
        start=start,
        end=end,
        funders=list(scheme.funders),
        tiers=tiers,
        months=_months(rows),
    )
