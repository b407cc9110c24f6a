"""The money rules of SPEC §4 applied to one case: its allowance schedule, its commitment end and
its breach reimbursement. The arithmetic lives in `workflow.money`; this module only gathers a
case's facts for it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from workflow import money
from workflow.models import Case, Payment
from workflow.schemes import Scheme


def allowance_schedule(case: Case, scheme: Scheme) -> list[money.Instalment]:
    """Every instalment the case's contract gives rise to, past and future (empty before `sign`)."""
    if case.contract_date is None or case.tier is None:
        return []
    period = money.allowance_period(
        case.learner.training_start,
        case.learner.training_end,
        case.contract_date,
        case.allowance_ended_on,
    )
    if period is None:
        return []
    return money.allowance_schedule(
        period[0],
        period[1],
        scheme.monthly(case.tier, case.contract_date),
        scheme.allowance.proration,
        scheme.payment_day(case.contract_date),
    )


def suspension_periods(case: Case, until: date | None = None) -> list[money.Period] | None:
    """Closed suspensions as periods; a running one is clipped at the day before `until`, or makes
    the answer unknowable (None) when no `until` is given."""
    periods = []
    for s in case.suspensions:
        end = s.end
        if end is None:
            if until is None:
                return None
            end = until - timedelta(days=1)
        if end >= s.start:
            periods.append(money.Period(s.start, end))
    return periods


def commitment_months(case: Case, scheme: Scheme) -> int | None:
    if case.tier is None or case.contract_date is None:
        return None
    return scheme.commitment_months(case.tier, case.contract_date)


def commitment_end(case: Case, scheme: Scheme) -> date | None:
    """None before service starts, or while a suspension is running (its length is not known)."""
    months = commitment_months(case, scheme)
    if case.service_start is None or months is None:
        return None
    periods = suspension_periods(case)
    if periods is None:
        return None
    return money.commitment_end(case.service_start, months, periods, part_time_ratio(case, scheme))


def part_time_ratio(case: Case, scheme: Scheme) -> Decimal:
    """Part-time service counts pro rata only where the scheme says so (SPEC §4)."""
    return case.part_time_ratio if scheme.part_time_counts_prorata() else Decimal(1)


def reimbursement_base(
    schedule: Iterable[money.Instalment], payments: Iterable[Payment]
) -> dict[str, Decimal]:
    """Per funder: payments already created (cancelled ones excluded) plus the instalments still to
    fall due for days before the breach (SPEC §4)."""
    base: dict[str, Decimal] = {}
    created = set()
    for p in payments:
        created.add((p.period, p.funder))
        if p.status != "cancelled":
            base[p.funder] = base.get(p.funder, Decimal(0)) + p.amount
    for i in schedule:
        base.setdefault(i.funder, Decimal(0))
        if (i.period, i.funder) not in created:
            base[i.funder] += i.amount
    return base


def reimbursement(case: Case, scheme: Scheme, breach_date: date) -> dict[str, Decimal]:
    """Per funder, what the breach of `case` on `breach_date` costs the learner. The case must
    already carry the breach (allowance ended, exemption decided)."""
    assert case.contract_date is not None and case.tier is not None
    schedule = allowance_schedule(case, scheme)
    base = reimbursement_base(schedule, case.payments)
    for funder in scheme.funders:
        base.setdefault(funder, Decimal(0))
    last_monthly = scheme.monthly(case.tier, case.contract_date)
    months = scheme.commitment_months(case.tier, case.contract_date)
    return money.breach_reimbursement(
        scheme.breach_rule(case.contract_date),
        money.BreachInput(
            base=base,
            breach_date=breach_date,
            service_start=case.service_start,
            commitment_months=months,
            suspensions=suspension_periods(case, until=breach_date) or [],
            part_time_ratio=part_time_ratio(case, scheme),
            last_monthly=last_monthly,
            exempted=case.exempted,
        ),
    )
