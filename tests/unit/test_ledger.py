"""The per-case rules of `workflow.ledger` on plain values: SPEC §4's example, a running
suspension, part time as the scheme counts it, cancelled payments, a case without a contract."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from workflow import ledger
from workflow.paths import config_dir
from workflow.schemes import Scheme, SchemeRegistry

D = date.fromisoformat
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "schemes"
REGISTRY = SchemeRegistry.load([config_dir() / "schemes", FIXTURES])
OCC: Scheme = REGISTRY["occitanie-fidelisation-as"]
ARS: Scheme = REGISTRY["ars-bfc-cae"]


def spec_case(**changes: object) -> ledger.CaseTerms:
    """SPEC §4: 2x150, signed 2026-07-06, training 2026-09-07 → 2027-07-02, service 2027-09-01."""
    values: dict[str, object] = {
        "tier": "2x150",
        "contract_date": D("2026-07-06"),
        "training_start": D("2026-09-07"),
        "training_end": D("2027-07-02"),
        "allowance_ended_on": D("2027-09-01"),
        "service_start": D("2027-09-01"),
    }
    values.update(changes)
    return ledger.CaseTerms.from_values(OCC, **values)  # type: ignore[arg-type]


def totals(schedule: list[ledger.money.Instalment]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for i in schedule:
        out[i.funder] = out.get(i.funder, Decimal(0)) + i.amount
    return out


def test_the_spec_example() -> None:
    terms = spec_case()
    assert terms.contract_date == D("2026-07-06") and terms.commitment_months == 24
    schedule = ledger.allowance_schedule(terms)
    assert totals(schedule) == {"employer": Decimal("1479.68"), "region": Decimal("1479.68")}
    assert ledger.commitment_end(terms) == D("2029-08-31")
    assert ledger.served_days(terms, D("2028-03-16")) == 195
    assert ledger.served_days(terms, D("2027-08-31")) is None  # before service
    paid = [ledger.Paid(i.period, i.funder, i.amount, "paid") for i in schedule]
    amounts = ledger.reimbursement(terms, paid, D("2028-03-16"))
    assert amounts == {"employer": Decimal("1078.93"), "region": Decimal("1078.93")}


def test_a_running_suspension_leaves_the_end_unknown_and_is_clipped_at_a_breach() -> None:
    closed = spec_case(suspensions=[(D("2028-01-01"), D("2028-01-30"))])
    assert ledger.commitment_end(closed) == D("2029-09-30")  # 30 days later
    running = spec_case(suspensions=[(D("2028-01-01"), D("2028-01-30")), (D("2028-03-01"), None)])
    assert running.suspended_since == D("2028-03-01")
    assert ledger.commitment_end(running) is None
    assert ledger.suspension_periods(running, until=D("2028-03-16")) == [
        ledger.money.Period(D("2028-01-01"), D("2028-01-30")),
        ledger.money.Period(D("2028-03-01"), D("2028-03-15")),
    ]
    # 195 days, less 29 (1-30 January: on 30E/360 the 31st counts as the 30th) and 15 (1-15 March).
    assert ledger.served_days(running, D("2028-03-16")) == 195 - 29 - 15


def test_part_time_counts_only_where_the_scheme_says_so() -> None:
    prorata = spec_case(part_time_ratio=Decimal("0.8"))
    assert prorata.part_time_ratio == Decimal("0.8")
    # 731 days (2027-09-01 → 2029-08-31) / 0.8 = 913.75, rounded up: 914 days.
    assert (
        ledger.commitment_end(prorata) == D("2027-09-01") + timedelta(days=913) == D("2030-03-02")
    )
    full = ledger.CaseTerms.from_values(
        ARS,
        tier="cae",
        contract_date=D("2026-07-06"),
        training_start=D("2026-09-07"),
        training_end=D("2027-07-02"),
        service_start=D("2027-09-01"),
        part_time_ratio=Decimal("0.8"),
    )
    assert full.part_time_ratio == 1
    assert ledger.commitment_end(full) == D("2029-02-28")  # 18 months, as at full time


def test_a_cancelled_payment_leaves_the_base_and_is_not_owed_again() -> None:
    terms = spec_case(allowance_ended_on=D("2026-11-01"), service_start=None)
    schedule = ledger.allowance_schedule(terms)
    first = schedule[0]
    paid = [ledger.Paid(first.period, first.funder, first.amount, "cancelled")]
    base = ledger.reimbursement_base(schedule, paid)
    assert base[first.funder] == totals(schedule)[first.funder] - first.amount
    # A breach before service repays the whole base, per funder of the scheme.
    assert ledger.reimbursement(terms, paid, D("2026-11-01")) == {f: base[f] for f in OCC.funders}


def test_without_tier_or_contract_nothing_is_owed_and_no_end_is_known() -> None:
    for terms in (spec_case(tier=None), spec_case(contract_date=None)):
        assert terms.contract is None
        assert ledger.allowance_schedule(terms) == []
        assert ledger.commitment_end(terms) is None
        with pytest.raises(ValueError, match="signed contract"):
            ledger.reimbursement(terms, [], D("2028-03-16"))


def test_terms_are_frozen_all_the_way_down() -> None:
    terms = spec_case()
    assert terms.contract is not None
    with pytest.raises(FrozenInstanceError):
        terms.service_start = None  # type: ignore[misc]
    with pytest.raises(TypeError):
        terms.contract.monthly["region"] = Decimal(0)  # type: ignore[index]


def test_the_contract_terms_are_those_in_force_on_the_contract_date() -> None:
    def monthly(signed: str) -> Decimal:
        terms = ledger.CaseTerms.from_values(
            ARS,
            tier="cae",
            contract_date=D(signed),
            training_start=D("2026-09-07"),
            training_end=D("2027-07-02"),
        )
        assert terms.contract is not None
        return terms.contract.monthly["ars"]

    assert (monthly("2025-12-31"), monthly("2026-01-01")) == (Decimal("500.00"), Decimal("600.00"))
