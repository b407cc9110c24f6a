"""The money and commitment rules of SPEC §4 (`workflow.money`), from the spec's worked examples."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.money import (
    CENT,
    BreachInput,
    BreachRule,
    CespStyle,
    FullRefund,
    Instalment,
    Period,
    ProrataUnserved,
    SlidingScale,
    SlidingStep,
    allowance_period,
    allowance_schedule,
    breach_reimbursement,
    commitment_end,
    days_30e360,
    round_cents,
    served_days,
)

D = Decimal
TIER_2X150 = {"employer": D("150.00"), "region": D("150.00")}
BASE_2X150 = {"employer": D("1479.68"), "region": D("1479.68")}
S = date(2027, 9, 1)  # the spec's service start
SLIDING = SlidingScale(steps=(SlidingStep(6, D(1)), SlidingStep(12, D("0.5"))), after=D(0))


def _by_funder(schedule: list[Instalment], funder: str) -> list[Instalment]:
    return [i for i in schedule if i.funder == funder]


def _total(schedule: list[Instalment], funder: str) -> Decimal:
    return sum((i.amount for i in _by_funder(schedule, funder)), D(0))


def _breach(
    breach_date: date,
    *,
    service_start: date | None = S,
    months: int = 24,
    base: dict[str, Decimal] | None = None,
    **kwargs: object,
) -> BreachInput:
    return BreachInput(
        base=BASE_2X150 if base is None else base,
        breach_date=breach_date,
        service_start=service_start,
        commitment_months=months,
        **kwargs,  # type: ignore[arg-type]
    )


# -- rounding --------------------------------------------------------------------------------


def test_round_cents_is_half_up_not_bankers() -> None:
    assert round_cents(D("0.125")) == D("0.13")  # half-even would give 0.12
    assert round_cents(D("2.675")) == D("2.68")  # the float 2.675 would give 2.67
    assert round_cents(D("0.005")) == D("0.01")
    assert round_cents(D("0.0049999")) == D("0.00")
    assert round_cents(D("1078.93333")) == D("1078.93")
    assert round_cents(D(150)) == D("150.00")
    assert str(round_cents(D(150))) == "150.00"
    assert D("0.01") == CENT


def test_round_cents_refuses_floats() -> None:
    with pytest.raises(TypeError):
        round_cents(2.675)  # type: ignore[arg-type]


def test_half_up_instalment_of_a_half_month_at_100_01_is_50_01() -> None:
    # 100.01 × 15 / 30 = 50.005 exactly: half-up gives 50.01 (half-even would give 50.00).
    schedule = allowance_schedule(date(2026, 11, 16), date(2026, 11, 30), {"region": D("100.01")})
    assert [i.amount for i in schedule] == [D("50.01")]


def test_half_up_prorata_reimbursement_of_50_005_is_50_01() -> None:
    # Half the commitment served: 100.01 × 360 / 720 = 50.005 -> 50.01.
    result = breach_reimbursement(
        ProrataUnserved(), _breach(date(2028, 9, 1), base={"region": D("100.01")})
    )
    assert result == {"region": D("50.01")}


# -- allowance -------------------------------------------------------------------------------


def test_spec_example_training_2026_09_07_to_2027_07_02_tier_2x150_pays_1479_68_per_funder() -> (
    None
):
    schedule = allowance_schedule(date(2026, 9, 7), date(2027, 7, 2), TIER_2X150)

    for funder in ("employer", "region"):
        mine = _by_funder(schedule, funder)
        assert [i.period_label for i in mine] == [
            "2026-09", "2026-10", "2026-11", "2026-12", "2027-01",
            "2027-02", "2027-03", "2027-04", "2027-05", "2027-06", "2027-07",
        ]  # fmt: skip
        assert mine[0].amount == D("120.00")  # 24 days of 30
        assert all(i.amount == D("150.00") for i in mine[1:-1])  # October–June
        assert mine[-1].amount == D("9.68")  # 2 days of 31: 9.677…
        assert _total(schedule, funder) == D("1479.68")
        # Month M is due on the 10th of M+1.
        assert [i.due_date for i in mine] == [
            date(2026, 10, 10), date(2026, 11, 10), date(2026, 12, 10), date(2027, 1, 10),
            date(2027, 2, 10), date(2027, 3, 10), date(2027, 4, 10), date(2027, 5, 10),
            date(2027, 6, 10), date(2027, 7, 10), date(2027, 8, 10),
        ]  # fmt: skip
        assert all(i.period.day == 1 for i in mine)


def test_schedule_is_ordered_by_period_then_by_the_mappings_funder_order() -> None:
    schedule = allowance_schedule(
        date(2026, 9, 7), date(2026, 10, 31), {"region": D(150), "employer": D(150)}
    )
    assert [(i.period_label, i.funder) for i in schedule] == [
        ("2026-09", "region"),
        ("2026-09", "employer"),
        ("2026-10", "region"),
        ("2026-10", "employer"),
    ]


def test_schedule_across_a_year_end_and_a_leap_february() -> None:
    schedule = allowance_schedule(date(2027, 12, 17), date(2028, 2, 14), {"ars": D("290.00")})
    assert [(i.period_label, i.amount, i.due_date) for i in schedule] == [
        ("2027-12", D("140.32"), date(2028, 1, 10)),  # 290 × 15 / 31 = 140.322…
        ("2028-01", D("290.00"), date(2028, 2, 10)),
        ("2028-02", D("140.00"), date(2028, 3, 10)),  # 290 × 14 / 29 (leap year)
    ]


def test_single_day_period_pays_one_day() -> None:
    schedule = allowance_schedule(date(2027, 4, 30), date(2027, 4, 30), {"region": D(150)})
    assert [(i.period_label, i.amount) for i in schedule] == [("2027-04", D("5.00"))]


def test_payment_day_31_is_clamped_to_the_last_day_of_a_short_month() -> None:
    schedule = allowance_schedule(
        date(2027, 1, 1), date(2027, 4, 30), {"region": D(150)}, payment_day=31
    )
    assert [i.due_date for i in schedule] == [
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
        date(2027, 5, 31),
    ]


def test_whole_months_proration_pays_every_overlapping_month_in_full() -> None:
    schedule = allowance_schedule(
        date(2026, 9, 7), date(2027, 7, 2), TIER_2X150, proration="whole_months"
    )
    for funder in TIER_2X150:
        mine = _by_funder(schedule, funder)
        assert len(mine) == 11
        assert all(i.amount == D("150.00") for i in mine)
        assert _total(schedule, funder) == D("1650.00")


def test_zero_monthly_amount_gives_zero_instalments() -> None:
    schedule = allowance_schedule(date(2027, 1, 5), date(2027, 1, 20), {"region": D(0)})
    assert [i.amount for i in schedule] == [D("0.00")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": date(2027, 2, 1), "end": date(2027, 1, 31)}, "before start"),
        ({"payment_day": 0}, "payment_day"),
        ({"payment_day": 32}, "payment_day"),
        ({"monthly": {"region": D(-1)}}, "negative"),
        ({"proration": "weekly"}, "proration"),
    ],
)
def test_allowance_schedule_refuses_nonsense(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "start": date(2027, 1, 1),
        "end": date(2027, 3, 31),
        "monthly": {"region": D(150)},
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        allowance_schedule(**args)  # type: ignore[arg-type]


def test_allowance_schedule_refuses_float_amounts() -> None:
    with pytest.raises(TypeError):
        allowance_schedule(date(2027, 1, 1), date(2027, 1, 31), {"region": 150.0})  # type: ignore[dict-item]


def test_allowance_period_is_the_training_when_signed_before_it() -> None:
    assert allowance_period(date(2026, 9, 7), date(2027, 7, 2), date(2026, 6, 15)) == (
        date(2026, 9, 7),
        date(2027, 7, 2),
    )


def test_allowance_period_starts_on_the_contract_date_when_signed_during_training() -> None:
    assert allowance_period(date(2026, 9, 7), date(2027, 7, 2), date(2026, 10, 12)) == (
        date(2026, 10, 12),
        date(2027, 7, 2),
    )


def test_allowance_period_ends_the_day_before_ended_on() -> None:
    # A breach (or early start_service) effective 2027-01-16: the last paid day is the 15th.
    assert allowance_period(
        date(2026, 9, 7), date(2027, 7, 2), date(2026, 6, 15), date(2027, 1, 16)
    ) == (date(2026, 9, 7), date(2027, 1, 15))


def test_allowance_period_keeps_the_planned_end_when_ended_on_is_later() -> None:
    # start_service on 2027-09-01, after the planned training end.
    assert allowance_period(
        date(2026, 9, 7), date(2027, 7, 2), date(2026, 6, 15), date(2027, 9, 1)
    ) == (date(2026, 9, 7), date(2027, 7, 2))
    # ended_on the day after the planned end: the planned end is still paid.
    assert allowance_period(
        date(2026, 9, 7), date(2027, 7, 2), date(2026, 6, 15), date(2027, 7, 3)
    ) == (date(2026, 9, 7), date(2027, 7, 2))


def test_allowance_period_is_none_when_empty() -> None:
    training = (date(2026, 9, 7), date(2027, 7, 2))
    # signed after the training ended
    assert allowance_period(*training, date(2027, 7, 3)) is None
    # withdrawn on the first day of training: no training day is owed
    assert allowance_period(*training, date(2026, 6, 15), date(2026, 9, 7)) is None
    # ended before the contract took effect
    assert allowance_period(*training, date(2026, 10, 1), date(2026, 9, 20)) is None


def test_allowance_period_of_one_day() -> None:
    assert allowance_period(
        date(2026, 9, 7), date(2027, 7, 2), date(2026, 6, 15), date(2026, 9, 8)
    ) == (date(2026, 9, 7), date(2026, 9, 7))


def test_allowance_period_refuses_a_training_ending_before_it_starts() -> None:
    with pytest.raises(ValueError, match="training"):
        allowance_period(date(2027, 7, 2), date(2026, 9, 7), date(2026, 6, 15))


# -- 30E/360 ---------------------------------------------------------------------------------


def test_spec_example_30e360_from_2027_09_01_to_2028_03_16_is_195() -> None:
    assert days_30e360(date(2027, 9, 1), date(2028, 3, 16)) == 195


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (date(2027, 9, 1), date(2027, 9, 1), 0),
        (date(2027, 9, 1), date(2028, 9, 1), 360),
        (date(2027, 9, 1), date(2029, 9, 1), 720),
        (date(2027, 1, 30), date(2027, 1, 31), 0),  # the 31st counts as the 30th
        (date(2027, 1, 31), date(2027, 2, 1), 1),
        (date(2027, 3, 31), date(2027, 4, 30), 30),
        (date(2027, 1, 1), date(2027, 1, 31), 29),  # end on the 31st -> 30
        (date(2027, 1, 31), date(2027, 2, 28), 28),  # February is not stretched on 30E/360
        (date(2028, 2, 28), date(2028, 3, 1), 3),
        (date(2028, 2, 29), date(2028, 3, 1), 2),
        (date(2027, 2, 28), date(2027, 3, 1), 3),
        (date(2027, 12, 31), date(2028, 1, 1), 1),
    ],
)
def test_30e360_edge_cases(start: date, end: date, days: int) -> None:
    assert days_30e360(start, end) == days


def test_30e360_refuses_an_end_before_the_start() -> None:
    with pytest.raises(ValueError, match="before start"):
        days_30e360(date(2028, 3, 16), date(2027, 9, 1))


# -- commitment ------------------------------------------------------------------------------


def test_spec_example_commitment_end_2027_09_01_24_months_is_2029_08_31() -> None:
    assert commitment_end(date(2027, 9, 1), 24) == date(2029, 8, 31)


def test_commitment_end_of_a_36_month_tier() -> None:
    assert commitment_end(date(2027, 9, 1), 36) == date(2030, 8, 31)


def test_commitment_end_18_months_from_mid_month() -> None:
    assert commitment_end(date(2027, 10, 15), 18) == date(2029, 4, 14)


def test_commitment_end_from_a_31st_ends_on_the_last_day_of_a_shorter_month() -> None:
    assert commitment_end(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert commitment_end(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert commitment_end(date(2027, 1, 31), 2) == date(2027, 3, 30)


def test_suspension_extends_the_commitment_end_by_its_length_in_days() -> None:
    sick_leave = Period(date(2028, 1, 10), date(2028, 2, 8))
    assert sick_leave.days == 30
    assert commitment_end(S, 24, [sick_leave]) == date(2029, 9, 30)


def test_several_suspensions_add_up() -> None:
    suspensions = [
        Period(date(2028, 1, 10), date(2028, 2, 8)),  # 30 days
        Period(date(2028, 6, 1), date(2028, 11, 27)),  # 180 days
    ]
    assert commitment_end(S, 24, suspensions) == date(2029, 8, 31) + timedelta(days=210)


def test_overlapping_suspensions_count_each_day_once() -> None:
    suspensions = [
        Period(date(2028, 1, 10), date(2028, 2, 8)),
        Period(date(2028, 2, 1), date(2028, 2, 8)),  # inside the first
    ]
    assert commitment_end(S, 24, suspensions) == date(2029, 9, 30)


def test_suspension_running_past_the_nominal_end_still_extends_by_its_full_length() -> None:
    # The clock stops on 2029-08-01 with 31 days left; it restarts on 2029-10-01.
    late = Period(date(2029, 8, 1), date(2029, 9, 30))
    assert commitment_end(S, 24, [late]) == date(2029, 8, 31) + timedelta(days=61)


def test_suspension_days_before_service_start_do_not_extend_the_commitment() -> None:
    before = Period(date(2027, 8, 1), date(2027, 8, 31))
    straddling = Period(date(2027, 8, 22), date(2027, 9, 10))  # 10 days during service
    assert commitment_end(S, 24, [before]) == date(2029, 8, 31)
    assert commitment_end(S, 24, [straddling]) == date(2029, 9, 10)


def test_part_time_at_50_percent_doubles_the_commitment_in_days() -> None:
    # 731 calendar days (2028 is a leap year) / 0.5 = 1 462 days.
    assert commitment_end(S, 24, part_time_ratio=D("0.5")) == S + timedelta(days=1461)


def test_part_time_at_80_percent_rounds_the_days_up() -> None:
    # 731 / 0.8 = 913.75 -> 914 days: 2027-09-01 + 913.
    assert commitment_end(S, 24, part_time_ratio=D("0.8")) == date(2030, 3, 2)


def test_part_time_and_suspension_combine() -> None:
    sick_leave = Period(date(2028, 1, 10), date(2028, 2, 8))
    assert commitment_end(S, 24, [sick_leave], D("0.8")) == date(2030, 3, 2) + timedelta(days=30)


@pytest.mark.parametrize("months", [0, -1])
def test_commitment_end_refuses_months_below_one(months: int) -> None:
    with pytest.raises(ValueError, match="months"):
        commitment_end(S, months)


@pytest.mark.parametrize("ratio", [D(0), D("-0.5"), D("1.01"), D(2)])
def test_commitment_end_refuses_a_ratio_outside_0_1(ratio: Decimal) -> None:
    with pytest.raises(ValueError, match="part_time_ratio"):
        commitment_end(S, 24, part_time_ratio=ratio)


def test_period_refuses_an_end_before_its_start() -> None:
    with pytest.raises(ValueError, match="before start"):
        Period(date(2028, 2, 8), date(2028, 1, 10))


def test_period_days_are_inclusive() -> None:
    assert Period(date(2028, 2, 1), date(2028, 2, 1)).days == 1
    assert Period(date(2028, 2, 1), date(2028, 2, 29)).days == 29


# -- served days -----------------------------------------------------------------------------


def test_spec_example_served_days_from_2027_09_01_to_2028_03_16_is_195() -> None:
    assert served_days(S, date(2028, 3, 16)) == 195


def test_served_days_subtract_suspensions_on_30e360() -> None:
    # A whole-January suspension is 30 days on 30E/360, though January has 31.
    january = Period(date(2028, 1, 1), date(2028, 1, 31))
    assert served_days(S, date(2028, 3, 16), [january]) == 165


def test_served_days_clip_suspensions_to_service_up_to_the_breach() -> None:
    # Running suspension, clipped at the day before the breach: [2028-03-01, 2028-03-16) = 15.
    running = Period(date(2028, 3, 1), date(2028, 6, 30))
    before_service = Period(date(2027, 8, 1), date(2027, 8, 31))
    straddling_start = Period(date(2027, 8, 20), date(2027, 9, 10))  # 10 days in service
    after_breach = Period(date(2028, 4, 1), date(2028, 4, 30))
    assert served_days(S, date(2028, 3, 16), [running]) == 180
    assert served_days(S, date(2028, 3, 16), [before_service, after_breach]) == 195
    assert served_days(S, date(2028, 3, 16), [straddling_start]) == 185


def test_served_days_part_time_counts_pro_rata() -> None:
    assert served_days(S, date(2028, 3, 16), part_time_ratio=D("0.8")) == D(156)


def test_served_days_refuse_a_breach_before_service() -> None:
    with pytest.raises(ValueError):
        served_days(S, date(2027, 8, 31))


# -- breach ----------------------------------------------------------------------------------


def test_spec_example_breach_2028_03_16_after_service_from_2027_09_01_repays_1078_93_per_funder() -> (
    None
):
    assert served_days(S, date(2028, 3, 16)) == 195  # unserved: 720 - 195 = 525
    result = breach_reimbursement(ProrataUnserved(), _breach(date(2028, 3, 16)))
    assert result == {"employer": D("1078.93"), "region": D("1078.93")}


def test_prorata_breach_on_the_first_day_of_service_repays_everything() -> None:
    result = breach_reimbursement(ProrataUnserved(), _breach(S))
    assert result == BASE_2X150


def test_prorata_breach_after_the_commitment_repays_nothing() -> None:
    result = breach_reimbursement(ProrataUnserved(), _breach(date(2029, 10, 1)))
    assert result == {"employer": D("0.00"), "region": D("0.00")}


def test_prorata_breach_with_a_suspension_counts_fewer_served_days() -> None:
    january = Period(date(2028, 1, 1), date(2028, 1, 31))
    result = breach_reimbursement(
        ProrataUnserved(), _breach(date(2028, 3, 16), suspensions=[january])
    )
    # served 165, unserved 555: 1 479.68 × 555 / 720 = 1 140.586…
    assert result == {"employer": D("1140.59"), "region": D("1140.59")}


def test_prorata_breach_part_time_counts_served_days_pro_rata() -> None:
    result = breach_reimbursement(
        ProrataUnserved(), _breach(date(2028, 3, 16), part_time_ratio=D("0.5"))
    )
    # served 97.5, unserved 622.5: 1 479.68 × 622.5 / 720 = 1 279.306…
    assert result == {"employer": D("1279.31"), "region": D("1279.31")}


@pytest.mark.parametrize(
    "rule",
    [ProrataUnserved(), FullRefund(), SLIDING, CespStyle(D(200), D(1000))],
    ids=lambda r: r.kind,
)
def test_breach_before_service_repays_100_percent_whatever_the_rule(rule: BreachRule) -> None:
    # Training abandoned: no service start at all.
    base = {"employer": D("642.58"), "region": D("642.58")}
    result = breach_reimbursement(rule, _breach(date(2027, 1, 16), service_start=None, base=base))
    assert result == base
    # Trained but the breach takes effect before the planned service start.
    result = breach_reimbursement(rule, _breach(date(2027, 8, 31)))
    assert result == BASE_2X150


def test_full_refund_during_service_repays_the_whole_base() -> None:
    result = breach_reimbursement(FullRefund(), _breach(date(2029, 8, 1)))
    assert result == BASE_2X150


@pytest.mark.parametrize(
    ("breach_date", "rate"),
    [
        (date(2027, 12, 1), D(1)),  # 3 months served: within 6 -> 100 %
        (date(2028, 3, 1), D("0.5")),  # 6 months served: not within 6, within 12 -> 50 %
        (date(2028, 6, 1), D("0.5")),  # 9 months served: within 12 -> 50 %
        (date(2028, 8, 31), D("0.5")),  # 359 days: still within 12
        (date(2028, 9, 1), D(0)),  # 12 months: after the last step -> 0 %
        (date(2028, 10, 1), D(0)),  # 13 months served -> 0 %
    ],
    ids=["3-months", "6-months", "9-months", "359-days", "12-months", "13-months"],
)
def test_sliding_scale(breach_date: date, rate: Decimal) -> None:
    result = breach_reimbursement(SLIDING, _breach(breach_date))
    expected = round_cents(D("1479.68") * rate)
    assert result == {"employer": expected, "region": expected}


def test_sliding_scale_at_9_months_repays_half() -> None:
    result = breach_reimbursement(SLIDING, _breach(date(2028, 6, 1)))
    assert result == {"employer": D("739.84"), "region": D("739.84")}


def test_sliding_scale_rate_after_the_last_step() -> None:
    rule = SlidingScale(steps=(SlidingStep(6, D(1)),), after=D("0.25"))
    result = breach_reimbursement(rule, _breach(date(2028, 10, 1)))
    assert result == {"employer": D("369.92"), "region": D("369.92")}


def test_sliding_scale_refuses_unordered_steps_and_bad_rates() -> None:
    with pytest.raises(ValueError, match="increasing"):
        SlidingScale(steps=(SlidingStep(12, D("0.5")), SlidingStep(6, D(1))))
    with pytest.raises(ValueError, match="rate"):
        SlidingStep(6, D("1.5"))
    with pytest.raises(ValueError, match="within_months"):
        SlidingStep(0, D(1))
    with pytest.raises(ValueError, match="after"):
        SlidingScale(steps=(), after=D(-1))


def test_cesp_with_the_penalty_capped() -> None:
    # Unserved 525 days -> 18 months (17.5 rounded up): 150 × 18 + min(1 000, 200 × 18).
    rule = CespStyle(penalty_per_month=D(200), penalty_cap=D(1000))
    result = breach_reimbursement(rule, _breach(date(2028, 3, 16), last_monthly=TIER_2X150))
    assert result == {"employer": D("3700.00"), "region": D("3700.00")}


def test_cesp_without_reaching_the_cap() -> None:
    # Served 675, unserved 45 days -> 2 months: 150 × 2 + min(1 000, 200 × 2).
    rule = CespStyle(penalty_per_month=D(200), penalty_cap=D(1000))
    assert served_days(S, date(2029, 7, 16)) == 675
    result = breach_reimbursement(rule, _breach(date(2029, 7, 16), last_monthly=TIER_2X150))
    assert result == {"employer": D("700.00"), "region": D("700.00")}


def test_cesp_after_the_commitment_is_zero() -> None:
    rule = CespStyle(penalty_per_month=D(200), penalty_cap=D(1000))
    result = breach_reimbursement(rule, _breach(date(2029, 9, 1), last_monthly=TIER_2X150))
    assert result == {"employer": D("0.00"), "region": D("0.00")}


def test_cesp_refuses_a_negative_penalty() -> None:
    with pytest.raises(ValueError, match="penalty_cap"):
        CespStyle(penalty_per_month=D(200), penalty_cap=D(-1))


@pytest.mark.parametrize(
    "rule",
    [ProrataUnserved(), FullRefund(), SLIDING, CespStyle(D(200), D(1000))],
    ids=lambda r: r.kind,
)
@pytest.mark.parametrize("service_start", [S, None], ids=["during-service", "before-service"])
def test_exemption_sets_the_reimbursement_to_zero_for_every_funder(
    rule: BreachRule, service_start: date | None
) -> None:
    data = _breach(
        date(2028, 3, 16), service_start=service_start, exempted=True, last_monthly=TIER_2X150
    )
    result = breach_reimbursement(rule, data)
    assert result == {"employer": D("0.00"), "region": D("0.00")}


def test_breach_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="months"):
        breach_reimbursement(ProrataUnserved(), _breach(date(2028, 3, 16), months=0))
    with pytest.raises(ValueError, match="part_time_ratio"):
        breach_reimbursement(
            ProrataUnserved(), _breach(date(2028, 3, 16), part_time_ratio=D("1.5"))
        )


# -- properties ------------------------------------------------------------------------------

dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
amounts = st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False)
funder_maps = st.dictionaries(
    st.sampled_from(["region", "employer", "ars"]), amounts, min_size=1, max_size=3
)


@st.composite
def periods(draw: st.DrawFn, max_days: int = 800) -> tuple[date, date]:
    start = draw(dates)
    return start, start + timedelta(days=draw(st.integers(0, max_days)))


@given(periods(), funder_maps, st.integers(1, 31))
def test_property_calendar_days_schedule_sums_to_the_exact_prorata_within_rounding(
    period: tuple[date, date], monthly: dict[str, Decimal], payment_day: int
) -> None:
    start, end = period
    schedule = allowance_schedule(start, end, monthly, payment_day=payment_day)

    months = sorted({i.period for i in schedule})
    # One instalment per (month, funder), for every month overlapping the period.
    assert len(schedule) == len(months) * len(monthly)
    assert len({(i.period, i.funder) for i in schedule}) == len(schedule)
    assert months[0] == start.replace(day=1)
    assert months[-1] == end.replace(day=1)

    for funder, amount in monthly.items():
        exact = D(0)
        day = start
        while day <= end:  # day by day: monthly / days in that day's month
            next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
            dim = (next_month - day.replace(day=1)).days
            exact += amount / dim
            day += timedelta(days=1)
        total = _total(schedule, funder)
        assert abs(total - exact) <= D("0.005") * len(months) + D("1e-20")

    for i in schedule:
        assert i.amount >= 0
        assert i.amount == i.amount.quantize(CENT)
        assert i.amount <= monthly[i.funder]
        assert i.due_date > i.period


@given(dates, st.integers(1, 120))
def test_property_commitment_end_completes_months_of_30e360_days(start: date, months: int) -> None:
    # The end is the first date by which months × 30 days (30E/360) have been served, give or take
    # the calendar's short months: serving through `end` completes the count, and `end` itself
    # is not beyond it.
    end = commitment_end(start, months)
    assert end >= start
    assert days_30e360(start, end + timedelta(days=1)) >= months * 30
    assert days_30e360(start, end) <= months * 30


@given(
    amounts,
    st.integers(0, 1500),
    st.integers(0, 1500),
    st.sampled_from([12, 18, 24, 36]),
    st.sampled_from([D(1), D("0.8"), D("0.5")]),
)
def test_property_prorata_reimbursement_is_between_0_and_base_and_decreasing_in_breach_date(
    base: Decimal, offset_a: int, offset_b: int, months: int, ratio: Decimal
) -> None:
    early, late = sorted([S + timedelta(days=offset_a), S + timedelta(days=offset_b)])

    def repay(on: date) -> Decimal:
        data = _breach(on, months=months, base={"region": base}, part_time_ratio=ratio)
        return breach_reimbursement(ProrataUnserved(), data)["region"]

    assert D(0) <= repay(late) <= repay(early) <= base
