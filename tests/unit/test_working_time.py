"""Part time that changes during service (SPEC §4, issue 13 item 6): each stretch of service
counts at its own ratio, in the commitment end and in the days served at a breach."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow import money
from workflow.money import Period, WorkingTime, commitment_end, ratio_segments, served_days

S = date(2027, 9, 1)
HALF, FULL = Decimal("0.5"), Decimal(1)
RATIOS = st.sampled_from([Decimal("0.5"), Decimal("0.6"), Decimal("0.75"), Decimal("0.8"), FULL])


def test_half_time_from_the_second_year_doubles_what_is_left() -> None:
    # 2027-09-01 → 2028-08-31 at full time: 366 of the 731 days due (2028 is a leap year); the
    # 365 left take 730 days at half time from 2028-09-01, so the end is 2030-08-31.
    assert commitment_end(S, 24, working_times=[WorkingTime(date(2028, 9, 1), HALF)]) == date(
        2030, 8, 31
    )


def test_back_to_full_time_after_a_half_time_stretch() -> None:
    # 30 days at half time accrue 15: the end moves 15 days later than the nominal 2029-08-31.
    changes = [WorkingTime(date(2027, 10, 1), HALF), WorkingTime(date(2027, 10, 31), FULL)]
    assert commitment_end(S, 24, working_times=changes) == date(2029, 9, 15)


def test_a_suspension_during_a_part_time_stretch_accrues_nothing() -> None:
    changes = [WorkingTime(date(2027, 10, 1), HALF), WorkingTime(date(2027, 10, 31), FULL)]
    leave = Period(date(2027, 10, 11), date(2027, 10, 20))  # 10 days of the half-time stretch
    # 20 half-time days accrue 10 instead of 15: 5 days more than without the leave.
    assert commitment_end(S, 24, [leave], working_times=changes) == date(2029, 9, 20)


def test_served_days_count_each_stretch_at_its_ratio() -> None:
    # Six 30E/360 months at full time (180), then six at half time (90).
    change = [WorkingTime(date(2028, 3, 1), HALF)]
    assert served_days(S, date(2028, 9, 1), working_times=change) == Decimal(270)
    # A change after the breach changes nothing.
    late = [WorkingTime(date(2028, 9, 1), HALF)]
    assert served_days(S, date(2028, 9, 1), working_times=late) == Decimal(360)


def test_the_breach_reimbursement_reads_the_stretches() -> None:
    data = money.BreachInput(
        base={"region": Decimal("1479.68")},
        breach_date=date(2028, 3, 16),
        service_start=S,
        commitment_months=24,
        working_times=(WorkingTime(date(2027, 12, 1), HALF),),
    )
    # Served: 90 days at full time (Sep–Nov) + 105 × 0.5 (Dec 1 → Mar 16) = 142.5; unserved
    # 577.5 of 720.
    owed = money.breach_reimbursement(money.ProrataUnserved(), data)
    assert owed == {"region": money.round_cents(Decimal("1479.68") * Decimal("577.5") / 720)}


def test_segments_merge_no_changes_and_refuse_two_on_one_day() -> None:
    same = [WorkingTime(date(2028, 1, 1), Decimal("0.8"))]
    assert ratio_segments(S, Decimal("0.8"), same) == [WorkingTime(S, Decimal("0.8"))]
    at_start = [WorkingTime(S, HALF)]
    assert ratio_segments(S, FULL, at_start) == [WorkingTime(S, HALF)]
    with pytest.raises(ValueError, match="two working-time changes"):
        ratio_segments(S, FULL, [WorkingTime(date(2028, 1, 1), HALF)] * 2)
    with pytest.raises(ValueError, match="part_time_ratio"):
        ratio_segments(S, FULL, [WorkingTime(date(2028, 1, 1), Decimal(0))])


@st.composite
def suspensions(draw: st.DrawFn) -> list[Period]:
    out = []
    cursor = S - timedelta(days=draw(st.integers(0, 40)))
    for _ in range(draw(st.integers(0, 3))):
        start = cursor + timedelta(days=draw(st.integers(0, 400)))
        end = start + timedelta(days=draw(st.integers(0, 200)))
        out.append(Period(start, end))
        cursor = start + timedelta(days=draw(st.integers(0, 60)))  # may overlap the previous
    return out


@st.composite
def changes(draw: st.DrawFn) -> list[WorkingTime]:
    days = draw(st.lists(st.integers(1, 1500), max_size=4, unique=True))
    return [WorkingTime(S + timedelta(days=d), draw(RATIOS)) for d in days]


@given(st.integers(1, 48), RATIOS, suspensions())
def test_one_stretch_is_the_closed_form(months: int, ratio: Decimal, periods: list[Period]) -> None:
    """The day-by-day accrual at a single ratio gives the closed form: the rule is one rule."""
    nominal = (money.add_months(S, months) - timedelta(days=1) - S).days + 1
    walked = money._commitment_end_by_segments(S, nominal, periods, [WorkingTime(S, ratio)])
    assert walked == commitment_end(S, months, periods, ratio)


@given(st.integers(1, 48), RATIOS, suspensions(), changes())
def test_the_end_is_where_the_accrued_service_reaches_the_duration(
    months: int, ratio: Decimal, periods: list[Period], moves: list[WorkingTime]
) -> None:
    """Counted day by day: the service accrued up to the end reaches the nominal duration, and
    the day before it does not."""
    end = commitment_end(S, months, periods, ratio, moves)
    nominal = (money.add_months(S, months) - timedelta(days=1) - S).days + 1
    segments = ratio_segments(S, ratio, moves)

    def accrued(until: date) -> Decimal:
        total, day = Decimal(0), S
        while day <= until:
            if not any(p.start <= day <= p.end for p in periods):
                total += [s for s in segments if s.start <= day][-1].ratio
            day += timedelta(days=1)
        return total

    assert accrued(end) >= nominal > accrued(end - timedelta(days=1))


@given(RATIOS, suspensions(), changes(), st.integers(0, 1500))
def test_served_days_are_the_stretches_summed(
    ratio: Decimal, periods: list[Period], moves: list[WorkingTime], served_for: int
) -> None:
    breach = S + timedelta(days=served_for)
    total = served_days(S, breach, periods, ratio, moves)
    segments = ratio_segments(S, ratio, moves)
    bounds = [*(s.start for s in segments), max(breach, segments[-1].start)]
    pieces = sum(
        (
            served_days(start, min(end, breach), periods) * seg.ratio
            for seg, start, end in zip(segments, bounds, bounds[1:], strict=False)
            if start < min(end, breach)
        ),
        Decimal(0),
    )
    assert total == pieces
    assert total <= served_days(S, breach, periods)  # part time never serves more than full
