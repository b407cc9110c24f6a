"""The named money scenarios of `scenarios/money.yaml` (OpenFisca style), one test each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from workflow.money import (
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
    served_days,
)

SCENARIOS_FILE = Path(__file__).parent / "scenarios" / "money.yaml"
OUTPUT_KEYS = {
    "allowance_total",
    "instalments",
    "commitment_end",
    "served_days",
    "reimbursement",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    input: Mapping[str, Any]
    output: Mapping[str, Any]


def _dec(value: object) -> Decimal:
    # Amounts are written as strings (or integers) in the YAML: a float would already be inexact.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"amount {value!r} must be a quoted string or an integer, not a float")
    return Decimal(value)


def _amounts(mapping: Mapping[str, object]) -> dict[str, Decimal]:
    return {str(funder): _dec(amount) for funder, amount in mapping.items()}


def _date(value: object) -> date:
    if not isinstance(value, date):
        raise TypeError(f"{value!r} is not an ISO date")
    return value


def _rule(cfg: Mapping[str, Any]) -> BreachRule:
    kind = cfg["kind"]
    if kind == "prorata_unserved":
        return ProrataUnserved()
    if kind == "full_refund":
        return FullRefund()
    if kind == "sliding_scale":
        return SlidingScale(
            steps=tuple(
                SlidingStep(int(s["within_months"]), _dec(s["rate"])) for s in cfg["steps"]
            ),
            after=_dec(cfg.get("after", 0)),
        )
    if kind == "cesp":
        return CespStyle(_dec(cfg["penalty_per_month"]), _dec(cfg["penalty_cap"]))
    raise ValueError(f"unknown breach rule kind {kind!r}")


def _load() -> list[Scenario]:
    raw = yaml.safe_load(SCENARIOS_FILE.read_text(encoding="utf-8"))
    assert isinstance(raw, list), "money.yaml must be a list of scenarios"
    scenarios = [Scenario(s["name"], s["input"], s["output"]) for s in raw]
    names = [s.name for s in scenarios]
    assert len(set(names)) == len(names), "scenario names must be unique"
    for s in scenarios:
        unknown = set(s.output) - OUTPUT_KEYS
        assert not unknown, f"{s.name}: unknown output key(s) {sorted(unknown)}"
    return scenarios


SCENARIOS = _load()


def _schedule(allowance: Mapping[str, Any]) -> list[Instalment]:
    training = allowance["training"]
    period = allowance_period(
        _date(training["start"]),
        _date(training["end"]),
        _date(allowance["contract_date"]),
        _date(allowance["ended_on"]) if allowance.get("ended_on") else None,
    )
    if period is None:
        return []
    return allowance_schedule(
        period[0],
        period[1],
        _amounts(allowance["monthly"]),
        allowance.get("proration", "calendar_days"),
        int(allowance.get("payment_day", 10)),
    )


def _totals(schedule: list[Instalment], funders: Mapping[str, object]) -> dict[str, Decimal]:
    totals = {funder: Decimal("0.00") for funder in funders}
    for i in schedule:
        totals[i.funder] += i.amount
    return totals


def test_the_scenarios_file_covers_the_briefs_cases() -> None:
    kinds = {s.input["breach"]["rule"]["kind"] for s in SCENARIOS}
    assert {"prorata_unserved", "full_refund", "sliding_scale"} <= kinds
    assert any(s.input["breach"].get("exempted") for s in SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_money_scenario(scenario: Scenario) -> None:
    allowance = scenario.input["allowance"]
    commitment = scenario.input["commitment"]
    breach = scenario.input.get("breach")
    expected = scenario.output

    monthly = _amounts(allowance["monthly"])
    schedule = _schedule(allowance)
    totals = _totals(schedule, monthly)
    service_start = _date(commitment["service_start"]) if "service_start" in commitment else None
    months = int(commitment["months"])
    suspensions = [
        Period(_date(p["start"]), _date(p["end"])) for p in commitment.get("suspensions", [])
    ]
    ratio = _dec(commitment.get("part_time_ratio", "1"))

    if "allowance_total" in expected:
        assert totals == _amounts(expected["allowance_total"])

    for label, amount in expected.get("instalments", {}).items():
        got = [i.amount for i in schedule if i.period_label == str(label)]
        assert got, f"no instalment for {label}"
        assert got == [_dec(amount)] * len(monthly), label

    if "commitment_end" in expected:
        assert service_start is not None
        assert commitment_end(service_start, months, suspensions, ratio) == _date(
            expected["commitment_end"]
        )

    if "served_days" in expected:
        assert service_start is not None and breach is not None
        served = served_days(service_start, _date(breach["date"]), suspensions, ratio)
        assert served == _dec(expected["served_days"])

    if "reimbursement" in expected:
        assert breach is not None
        base = _amounts(breach["base"]) if "base" in breach else totals
        result = breach_reimbursement(
            _rule(breach["rule"]),
            BreachInput(
                base=base,
                breach_date=_date(breach["date"]),
                service_start=service_start,
                commitment_months=months,
                suspensions=suspensions,
                part_time_ratio=ratio,
                last_monthly=monthly,
                exempted=bool(breach.get("exempted", False)),
            ),
        )
        assert result == _amounts(expected["reimbursement"])
