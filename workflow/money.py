"""The money and commitment rules of SPEC §4 as pure functions.

No database, no I/O, no clock: every date is an argument, so any history can be computed or
replayed. Amounts are `Decimal` throughout and rounded half-up to the cent (SPEC §4: "Amounts are
`Decimal`, rounded half-up to the cent, never floats"); a float passed in is refused.

Date conventions used below:
- every `start`/`end` pair and every `Period` is *inclusive* at both ends;
- an *effective date* (of `start_service`, `breach`, `withdraw`) is the first day the new state
  applies, so the allowance stops the day before it and service is counted up to, not including,
  the breach date (the half-open interval [S, B) of SPEC §4).
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from fractions import Fraction
from itertools import pairwise
from typing import Literal, NamedTuple

__all__ = [
    "CENT",
    "DAYS_PER_MONTH_30E360",
    "BreachInput",
    "BreachRule",
    "CespStyle",
    "FullRefund",
    "Instalment",
    "Period",
    "ProrataUnserved",
    "Proration",
    "SlidingScale",
    "SlidingStep",
    "WorkingTime",
    "add_months",
    "allowance_period",
    "allowance_schedule",
    "breach_reimbursement",
    "commitment_end",
    "days_30e360",
    "ratio_segments",
    "round_cents",
    "served_days",
]

CENT = Decimal("0.01")
# SPEC §4: on the 30E/360 convention every month counts 30 days.
DAYS_PER_MONTH_30E360 = 30

Proration = Literal["calendar_days", "whole_months"]
_PRORATIONS: tuple[Proration, ...] = ("calendar_days", "whole_months")


# -- helpers ---------------------------------------------------------------------------------


def round_cents(amount: Decimal) -> Decimal:
    """Half-up to the cent (SPEC §4): 0.125 -> 0.13, where banker's rounding would give 0.12."""
    _require_decimal(amount, "amount")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _require_decimal(value: object, name: str) -> None:
    # A float would already carry a binary rounding error (2.675 is 2.67499…): SPEC §4 forbids them.
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__} ({value!r})")


def _require_order(start: date, end: date, what: str) -> None:
    if end < start:
        raise ValueError(f"{what}: end {end.isoformat()} is before start {start.isoformat()}")


def _require_ratio(ratio: Decimal) -> None:
    _require_decimal(ratio, "part_time_ratio")
    if not Decimal(0) < ratio <= Decimal(1):
        raise ValueError(f"part_time_ratio must be in (0, 1], got {ratio}")


def _require_months(months: int) -> None:
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise ValueError(f"commitment months must be an integer >= 1, got {months!r}")


def _days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _first_of_next_month(d: date) -> date:
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)


def add_months(d: date, months: int) -> date:
    """`d` moved by `months` months, keeping its day of the month. When the target month is too
    short (31 January + 1 month), the anniversary is the first day of the following month (1 March),
    so that "S + n months - 1 day" ends on the target month's last day (28/29 February): this is
    the first end at which the 30E/360 count of SPEC §4 reaches n × 30 days served."""
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    if d.day <= _days_in_month(year, month):
        return date(year, month, d.day)
    return _first_of_next_month(date(year, month, 1))


# -- allowance -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instalment:
    """One funder's allowance for one calendar month of the allowance period (SPEC §4)."""

    period: date  # first day of the month M
    funder: str  # "region", "employer", "ars", ...
    amount: Decimal
    due_date: date  # payment_day of month M+1, clamped to that month's last day

    @property
    def period_label(self) -> str:
        """The month as "YYYY-MM", as `case show --json` prints it (SPEC §7)."""
        return f"{self.period.year:04d}-{self.period.month:02d}"


def allowance_period(
    training_start: date,
    training_end: date,
    contract_date: date,
    ended_on: date | None = None,
) -> tuple[date, date] | None:
    """From the later of training start and contract date to the earlier of the planned training
    end (inclusive) and the day before `ended_on` (the effective date of start_service, breach or
    withdraw). None when empty."""
    _require_order(training_start, training_end, "training")
    # SPEC §4: nothing is owed for training days before the contract was signed…
    start = max(training_start, contract_date)
    end = training_end
    # …nor from the effective date of the event that ends the allowance (that day is no longer
    # a training day: the learner serves, has breached or has withdrawn).
    if ended_on is not None:
        end = min(end, ended_on - timedelta(days=1))
    if end < start:
        return None
    return start, end


def allowance_schedule(
    start: date,
    end: date,
    monthly: Mapping[str, Decimal],
    proration: Proration = "calendar_days",
    payment_day: int = 10,
) -> list[Instalment]:
    """One instalment per calendar month overlapping [start, end] (inclusive) and per funder
    (order: by period, then by the mapping's funder order).
    calendar_days: monthly × covered_days / days_in_month, rounded per instalment.
    whole_months: every month overlapping the period is paid in full (document this choice).

    On `whole_months`: SPEC §4 only names the option. We pay a month in full as soon as one day of
    it falls in the allowance period — the reading most favourable to the learner, and the one
    that makes "10 months of training aid" (SPEC §2) equal 10 × the monthly amount for a training
    running from mid-September to early July. A scheme that wants a different cut-off should use
    `calendar_days`.
    """
    _require_order(start, end, "allowance period")
    if proration not in _PRORATIONS:
        raise ValueError(f"proration must be one of {', '.join(_PRORATIONS)}, got {proration!r}")
    if isinstance(payment_day, bool) or not isinstance(payment_day, int):
        raise ValueError(f"payment_day must be an integer in 1..31, got {payment_day!r}")
    if not 1 <= payment_day <= 31:
        raise ValueError(f"payment_day must be in 1..31, got {payment_day}")
    for funder, amount in monthly.items():
        _require_decimal(amount, f"monthly[{funder!r}]")
        if amount < 0:
            raise ValueError(f"monthly[{funder!r}] must not be negative, got {amount}")

    instalments: list[Instalment] = []
    month_start = date(start.year, start.month, 1)
    while month_start <= end:
        next_month = _first_of_next_month(month_start)
        dim = _days_in_month(month_start.year, month_start.month)
        covered = (min(end, next_month - timedelta(days=1)) - max(start, month_start)).days + 1
        # SPEC §4: month M falls due on payment_day of M+1; a payment_day of 31 means the last day
        # of a shorter month rather than an invalid date.
        due = next_month.replace(
            day=min(payment_day, _days_in_month(next_month.year, next_month.month))
        )
        for funder, amount in monthly.items():
            # SPEC §4 calendar_days: monthly × covered_days / days_in_month, each instalment
            # rounded on its own (that is what is paid), so the total may differ from the exact
            # sum by less than a cent per month.
            value = amount if proration == "whole_months" else amount * covered / dim
            instalments.append(Instalment(month_start, funder, round_cents(value), due))
        month_start = next_month
    return instalments


# -- commitment ------------------------------------------------------------------------------


def days_30e360(start: date, end: date) -> int:
    """Days from start to end on the 30E/360 convention (Eurobond basis: day 31 -> 30, every month
    30 days): (y2-y1)*360 + (m2-m1)*30 + (d2-d1). 2027-09-01 -> 2028-03-16 is 195.

    Unlike US 30/360, 30E/360 does not touch the end of February: 2028-02-28 -> 2028-03-01 is 3.
    The count is additive (days(a, c) = days(a, b) + days(b, c)), which lets suspensions be
    subtracted from a service period without gaps or overlaps."""
    _require_order(start, end, "30E/360 day count")
    return _serial_30e360(end) - _serial_30e360(start)


def _serial_30e360(d: date) -> int:
    return d.year * 360 + d.month * DAYS_PER_MONTH_30E360 + min(d.day, DAYS_PER_MONTH_30E360)


@dataclass(frozen=True, slots=True)
class Period:
    """An inclusive date range, used for suspensions."""

    start: date
    end: date

    def __post_init__(self) -> None:
        _require_order(self.start, self.end, "period")

    @property
    def days(self) -> int:
        """Calendar days, inclusive: a one-day suspension lasts 1 day."""
        return (self.end - self.start).days + 1


def _merged(periods: Iterable[Period]) -> list[Period]:
    """Sorted, with overlapping or touching periods joined: a day suspended twice (two overlapping
    sick notes) stops the commitment clock once, not twice."""
    result: list[Period] = []
    for p in sorted(periods, key=lambda p: (p.start, p.end)):
        if result and p.start <= result[-1].end + timedelta(days=1):
            last = result[-1]
            result[-1] = Period(last.start, max(last.end, p.end))
        else:
            result.append(p)
    return result


def commitment_end(
    service_start: date,
    months: int,
    suspensions: Sequence[Period] = (),
    part_time_ratio: Decimal = Decimal(1),
    working_times: Sequence[WorkingTime] = (),
) -> date:
    """Nominal end = service_start + months - 1 day (2027-09-01, 24 -> 2029-08-31).
    Each suspension extends the end by its length in calendar days.
    Part-time pro rata (ratio in (0, 1]): the nominal duration in days is divided by the ratio
    (rounded up). `working_times` are changes of the ratio during service, each from its date:
    see `_commitment_end_by_segments`.

    Suspensions are those of the commitment clock: the part of one before service_start is
    ignored (the clock was not running), and one starting after the end reached so far is ignored
    (the commitment was already fulfilled). Overlapping suspensions count their days once."""
    _require_months(months)
    _require_ratio(part_time_ratio)
    nominal_end = add_months(service_start, months) - timedelta(days=1)
    segments = ratio_segments(service_start, part_time_ratio, working_times)
    if len(segments) > 1:
        nominal_days = (nominal_end - service_start).days + 1
        return _commitment_end_by_segments(service_start, nominal_days, suspensions, segments)
    end = nominal_end
    if part_time_ratio != 1:
        # SPEC §4 "Part-time service counts pro rata": at 80 % the same work takes 1/0.8 as long;
        # rounded up so that the learner never owes less than the full-time duration's worth.
        nominal_days = (nominal_end - service_start).days + 1
        days = (Decimal(nominal_days) / part_time_ratio).to_integral_value(rounding=ROUND_CEILING)
        end = service_start + timedelta(days=int(days) - 1)
    for s in _merged(suspensions):
        if s.end < service_start:
            continue
        if s.start > end:
            break
        # SPEC §4: each suspension extends the end by its length in (calendar) days.
        end += timedelta(days=Period(max(s.start, service_start), s.end).days)
    return end


def served_days(
    service_start: date,
    breach_date: date,
    suspensions: Sequence[Period] = (),
    part_time_ratio: Decimal = Decimal(1),
    working_times: Sequence[WorkingTime] = (),
) -> Decimal:
    """days_30e360(S, B) minus the 30E/360 days of each suspension clipped to [S, B);
    × part_time_ratio. With `working_times`, each stretch of service between two changes is
    counted so, at its own ratio (30E/360 is additive: the stretches add up to [S, B))."""
    _require_order(service_start, breach_date, "service (breach before service start)")
    _require_ratio(part_time_ratio)
    segments = ratio_segments(service_start, part_time_ratio, working_times)
    merged = _merged(suspensions)
    total = Decimal(0)
    for (start, ratio), (end, _) in pairwise([*segments, WorkingTime(breach_date, Decimal(1))]):
        lo, hi = start, min(end, breach_date)
        if lo < hi:
            # SPEC §4: part-time service counts pro rata (ratio 1 where the scheme says not).
            total += Decimal(_unsuspended_30e360(lo, hi, merged)) * ratio
    return total


def _unsuspended_30e360(start: date, end: date, merged: Sequence[Period]) -> int:
    """30E/360 days of the half-open [start, end) outside the (merged) suspensions."""
    days = days_30e360(start, end)
    for s in merged:
        # The inclusive suspension [a, b] is the half-open [a, b + 1), clipped to [start, end).
        lo = max(s.start, start)
        hi = min(s.end + timedelta(days=1), end)
        if lo < hi:
            days -= days_30e360(lo, hi)
    return days


class WorkingTime(NamedTuple):
    """A working-time ratio in force from a date (SPEC §4: part time counts pro rata)."""

    start: date
    ratio: Decimal


def ratio_segments(
    service_start: date, initial: Decimal, changes: Sequence[WorkingTime] = ()
) -> list[WorkingTime]:
    """The ratio of service from `service_start` on, as stretches: (first day, ratio), in date
    order, each different from the one before. A change dated on or before service start sets
    the ratio from the start; two changes on one day are refused (which one would hold?)."""
    _require_ratio(initial)
    segments = [WorkingTime(service_start, initial)]
    seen: set[date] = set()
    for change in sorted(changes):
        _require_ratio(change.ratio)
        if change.start in seen:
            raise ValueError(f"two working-time changes on {change.start.isoformat()}")
        seen.add(change.start)
        start = max(change.start, service_start)
        if start == segments[-1].start:
            segments[-1] = WorkingTime(start, change.ratio)
        else:
            segments.append(WorkingTime(start, change.ratio))
        if len(segments) > 1 and segments[-1].ratio == segments[-2].ratio:
            segments.pop()  # no change: the stretch before goes on
    return segments


def _commitment_end_by_segments(
    service_start: date,
    nominal_days: int,
    suspensions: Sequence[Period],
    segments: Sequence[WorkingTime],
) -> date:
    """The commitment ends on the day the service accrued reaches the nominal duration: each
    day of service outside suspensions accrues its ratio (1 at full time, 0.8 at 80 %), each
    suspended day nothing. At one ratio r this is the closed form of `commitment_end` — the
    nominal days / r, rounded up, pushed back by each suspension met — which
    tests/unit/test_money.py checks by property; exact fractions, never a float."""
    need = Fraction(nominal_days)
    merged = [s for s in _merged(suspensions) if s.end >= service_start]
    changes = [s.start for s in segments[1:]]
    cursor = service_start
    while True:
        inside = next((s for s in merged if s.start <= cursor <= s.end), None)
        if inside is not None:
            cursor = inside.end + timedelta(days=1)
            continue
        ratio = Fraction([s for s in segments if s.start <= cursor][-1].ratio)
        limits = [d for d in changes if d > cursor] + [s.start for s in merged if s.start > cursor]
        days = math.ceil(need / ratio)
        limit = min(limits, default=None)
        if limit is None or days <= (limit - cursor).days:
            return cursor + timedelta(days=days - 1)
        need -= (limit - cursor).days * ratio
        cursor = limit


# -- breach ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProrataUnserved:
    """SPEC §4 default: base × unserved / total (30E/360 days)."""

    kind: Literal["prorata_unserved"] = "prorata_unserved"


@dataclass(frozen=True, slots=True)
class FullRefund:
    """The whole base, however long the learner served."""

    kind: Literal["full_refund"] = "full_refund"


@dataclass(frozen=True, slots=True)
class SlidingStep:
    within_months: int  # leaving within this many months of service start...
    rate: Decimal  # ...repays this fraction (1 = 100 %)

    def __post_init__(self) -> None:
        if isinstance(self.within_months, bool) or self.within_months < 1:
            raise ValueError(f"sliding step within_months must be >= 1, got {self.within_months}")
        _require_decimal(self.rate, "sliding step rate")
        if not Decimal(0) <= self.rate <= Decimal(1):
            raise ValueError(f"sliding step rate must be in [0, 1], got {self.rate}")


@dataclass(frozen=True, slots=True)
class SlidingScale:
    """E.g. 100 % if leaving within 6 months, 50 % within 12, 0 after (SPEC §4)."""

    steps: tuple[SlidingStep, ...]  # e.g. (6 months: 1), (12 months: 0.5)
    after: Decimal = Decimal(0)  # rate after the last step
    kind: Literal["sliding_scale"] = "sliding_scale"

    def __post_init__(self) -> None:
        # "The first step whose limit exceeds the time served" only means something if the
        # steps are in increasing order of their limits.
        limits = [s.within_months for s in self.steps]
        if any(b <= a for a, b in pairwise(limits)):
            raise ValueError(
                f"sliding scale steps must have strictly increasing within_months, got {limits}"
            )
        _require_decimal(self.after, "sliding scale after")
        if not Decimal(0) <= self.after <= Decimal(1):
            raise ValueError(
                f"sliding scale rate after the last step must be in [0, 1], got {self.after}"
            )

    def rate(self, served: Decimal) -> Decimal:
        for step in self.steps:
            if step.within_months * DAYS_PER_MONTH_30E360 > served:
                return step.rate
        return self.after


@dataclass(frozen=True, slots=True)
class CespStyle:
    """Last monthly allowance × months unserved, plus a capped penalty (SPEC §4, CESP-style)."""

    penalty_per_month: Decimal  # penalty per unserved month (30E/360 months, rounded up)
    penalty_cap: Decimal
    kind: Literal["cesp"] = "cesp"

    def __post_init__(self) -> None:
        for name in ("penalty_per_month", "penalty_cap"):
            value: Decimal = getattr(self, name)
            _require_decimal(value, name)
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")


BreachRule = ProrataUnserved | FullRefund | SlidingScale | CespStyle


@dataclass(frozen=True, slots=True)
class BreachInput:
    # per funder: the allowance over the whole allowance period, cancelled payments excluded
    # (the caller computes it)
    base: Mapping[str, Decimal]
    breach_date: date  # B, the breach's effective date
    service_start: date | None  # S; None when the breach happens before service
    commitment_months: int
    suspensions: Sequence[Period] = ()
    part_time_ratio: Decimal = Decimal(1)
    last_monthly: Mapping[str, Decimal] = field(default_factory=dict)  # per funder, for CESP
    exempted: bool = False
    working_times: Sequence[WorkingTime] = ()  # changes of the ratio during service


def breach_reimbursement(rule: BreachRule, data: BreachInput) -> dict[str, Decimal]:
    """Per funder, rounded to the cent. Exempted -> 0 for every funder. Before service
    (service_start None or breach_date < service_start) -> 100 % of base, whatever the rule.
    During service:
    prorata_unserved: base × unserved / total with total = months × 30,
    unserved = max(0, total - served);
    full_refund: base;
    sliding_scale: base × rate of the first step whose within_months×30 > served (30E/360 days),
    else `after`;
    cesp: last_monthly × unserved months (ceil(unserved/30))
    + min(penalty_cap, penalty_per_month × unserved months).

    The funders are those of `base`, then any other of `last_monthly` (with a base of 0)."""
    _require_months(data.commitment_months)
    _require_ratio(data.part_time_ratio)
    if not isinstance(rule, ProrataUnserved | FullRefund | SlidingScale | CespStyle):
        raise TypeError(f"unknown breach rule {rule!r}")
    for funder, value in [*data.base.items(), *data.last_monthly.items()]:
        _require_decimal(value, f"amount for {funder!r}")
    funders = [*data.base, *(f for f in data.last_monthly if f not in data.base)]
    zero = Decimal(0)

    # SPEC §4: an exempting reason sets the reimbursement to 0 (the decision is recorded by the
    # caller).
    if data.exempted:
        return {f: round_cents(zero) for f in funders}
    # SPEC §4: a breach before service starts (contracted, in training, trained but not hired)
    # repays 100 %, whatever the scheme's rule for breaches during service.
    if data.service_start is None or data.breach_date < data.service_start:
        return {f: round_cents(data.base.get(f, zero)) for f in funders}

    served = served_days(
        data.service_start,
        data.breach_date,
        data.suspensions,
        data.part_time_ratio,
        data.working_times,
    )
    total = Decimal(data.commitment_months * DAYS_PER_MONTH_30E360)
    unserved = max(zero, total - served)

    def reimbursement(funder: str) -> Decimal:
        base = data.base.get(funder, zero)
        if isinstance(rule, ProrataUnserved):
            # SPEC §4 example: 1 479.68 × 525 / 720 = 1 078.93.
            return base * unserved / total
        if isinstance(rule, FullRefund):
            return base
        if isinstance(rule, SlidingScale):
            return base * rule.rate(served)
        # CESP-style: whole 30E/360 months, rounded up (a started month counts).
        months = (unserved / DAYS_PER_MONTH_30E360).to_integral_value(rounding=ROUND_CEILING)
        penalty = min(rule.penalty_cap, rule.penalty_per_month * months)
        return data.last_monthly.get(funder, zero) * months + penalty

    return {f: round_cents(reimbursement(f)) for f in funders}
