"""The named regularisation scenarios of `scenarios/regularisation.yaml` (SPEC §4b), each run
through the real services on SQLite and PostgreSQL: the payments, overpayments and
reimbursement after an event that moves the allowance period, recorded late."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from jobs.nightly import run_nightly
from tests.conftest import SCHEME, World, build_world
from tests.integration.test_case_service import contract_signed_by_all, to_selected
from workflow import cases, contracts, directory, payments
from workflow.errors import FidelisError
from workflow.history import verify_case
from workflow.models import Case, Debt, Payment
from workflow.schemes import SchemeRegistry
from workflow.views import case_detail

SCENARIOS = yaml.safe_load(
    (Path(__file__).parent / "scenarios" / "regularisation.yaml").read_text(encoding="utf-8")
)
D = date.fromisoformat


def _d(value: Any) -> date:
    return value if isinstance(value, date) else D(str(value))


def _month(value: Any) -> date:
    year, month = str(value).split("-")
    return date(int(year), int(month), 1)


def with_rates(schemes: SchemeRegistry, rates: dict[str, dict[Any, str]]) -> SchemeRegistry:
    """The registry with new dated monthly amounts for every tier of the default scheme."""
    raw = schemes[SCHEME].model_dump(mode="python")
    for tier in raw["tiers"].values():
        for funder, values in rates.items():
            for start, amount in values.items():
                tier["monthly"][funder]["values"][_d(start)] = {
                    "value": Decimal(amount),
                    "reference": "Délibération de test",
                }
    changed = type(schemes[SCHEME]).model_validate(raw)
    return SchemeRegistry({**dict(schemes), SCHEME: changed})


def _step(w: World, case: int, kind: str, arg: Any) -> None:
    match kind:
        case "nightly":
            run_nightly(w.engine, _d(arg), schemes=w.schemes, catch_up=False, send_mail=False)
        case "record_payments":
            cases.record_payments(w.uow(), case, _d(arg), schemes=w.schemes)
        case "export":
            payments.export_sepa(w.uow(), _month(arg["period"]), on=_d(arg["date"]), actor="trésor")
        case "confirm":
            with w.uow() as uow:
                employer = uow.session.get(Case, case).offer.employer_id  # type: ignore[union-attr]
            payments.confirm_employer(
                w.uow(), employer, _month(arg["period"]), on=_d(arg["date"]), actor="employeur"
            )
        case "cancel":
            with w.uow() as uow:
                payment = uow.session.scalars(
                    sa.select(Payment.id).where(
                        Payment.case_id == case,
                        Payment.period == _month(arg["period"]),
                        Payment.funder == arg["funder"],
                    )
                ).one()
            payments.cancel(
                w.uow(), payment, reason=arg["reason"], on=_d(arg["date"]), actor="agent"
            )
        case "fire":
            cases.fire(
                w.uow(), case, arg["trigger"], on=_d(arg["date"]), actor="agent",
                reason=arg.get("reason"),
                params={k: str(v) for k, v in (arg.get("params") or {}).items()},
                schemes=w.schemes,
            )  # fmt: skip
        case "correct_training":
            cases.correct_training(
                w.uow(), case, training_end=_d(arg["end"]), on=_d(arg["date"]), actor="agent",
                schemes=w.schemes,
            )  # fmt: skip
        case "update_learner":
            with w.uow() as uow:
                learner = uow.session.get(Case, case).learner_id  # type: ignore[union-attr]
            directory.update_learner(w.uow(), learner, training_end=_d(arg["end"]))
        case "issue":
            contracts.generate_contract(
                w.uow(), case, tier="2x150", on=_d(arg["date"]), schemes=w.schemes
            )
        case "sign_parties":
            for party in ("learner", "employer", "region"):
                contracts.sign_contract(
                    w.uow(), case, party=party, on=_d(arg["date"]), name=party, schemes=w.schemes
                )
        case _:
            raise AssertionError(f"unknown step {kind!r}")


def _rows(w: World) -> list[tuple[Any, ...]]:
    with w.engine.connect() as conn:
        return [tuple(r) for t in ("payments", "debts", "case_events", "cases")
                for r in conn.execute(sa.text(f"SELECT * FROM {t} ORDER BY id"))]  # fmt: skip


def _line(p: Payment) -> str:
    line = f"{p.period:%Y-%m} {p.funder} {p.amount} {p.status}"
    return line + (f" overpaid {p.overpaid}" if p.overpaid else "")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_regularisation_scenario(scenario: dict[str, Any], engine: sa.Engine, schemes: Any) -> None:
    if scenario.get("rates"):
        schemes = with_rates(schemes, scenario["rates"])
    w = build_world(engine, schemes)
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    to_selected(w, case)
    if scenario.get("signed", True):
        contract_signed_by_all(w, case)
        cases.fire(w.uow(), case, "sign", on=D("2026-07-06"), actor="agent", schemes=w.schemes)
    for step in scenario["steps"]:
        ((kind, arg),) = ((k, v) for k, v in step.items() if k != "refused")
        refused = arg.get("refused") if isinstance(arg, dict) else None
        if refused:
            before = _rows(w)
            with pytest.raises(FidelisError) as error:
                _step(w, case, kind, arg)
            assert refused in str(error.value)
            assert _rows(w) == before
        else:
            _step(w, case, kind, arg)
    expect = scenario["expect"]
    with w.uow() as uow:
        s = uow.session
        c = s.get(Case, case)
        assert c is not None
        assert [_line(p) for p in c.payments] == expect["payments"]
        detail = case_detail(s, case, w.schemes)
        assert detail["entitlement"] == expect["entitlement"]
        owed: dict[str, Decimal] = {}
        for d in s.scalars(sa.select(Debt).where(Debt.case_id == case, Debt.kind == "overpayment")):
            owed[d.funder] = owed.get(d.funder, Decimal(0)) + d.amount
        assert {f: str(a) for f, a in owed.items()} == expect["overpayments"]
        if "reimbursement" in expect:
            assert detail["reimbursement"] == expect["reimbursement"]
        # SEPA never carried a payment beyond the entitlement, and the history verifies.
        assert verify_case(c, w.schemes[c.scheme_id]) == []
