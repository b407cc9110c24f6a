"""The case service on a real database — SQLite and PostgreSQL (each test runs on both)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import IBAN, SCHEME, World
from workflow import cases, contracts, directory
from workflow.errors import (
    ConcurrentModification,
    FidelisError,
    GuardFailed,
    InvalidInput,
    TriggerRefused,
)
from workflow.models import Case, CaseEvent, Payment, Reimbursement, Suspension
from workflow.states import State
from workflow.views import case_detail

D = date.fromisoformat


def fire(w: World, case: int, trigger: str, on: str, **kw: Any) -> State:
    kw.setdefault("actor", "test")
    return cases.fire(w.uow(), case, trigger, on=D(on), schemes=w.schemes, **kw)


def to_selected(w: World, case: int) -> None:
    fire(w, case, "submit", "2026-06-01")
    fire(w, case, "interview", "2026-06-10", params={"interview_date": "2026-06-09"})
    fire(w, case, "select", "2026-06-12")


def contract_signed_by_all(
    w: World, case: int, tier: str = "2x150", issued: str = "2026-06-20", signed: str = "2026-07-01"
) -> None:
    contracts.generate_contract(w.uow(), case, tier=tier, on=D(issued), schemes=w.schemes)
    # Every party of the case's scheme (the learner, its signing funders: the ARS for its own).
    with w.uow() as uow:
        scheme = w.schemes[uow.session.get(Case, case).scheme_id]  # type: ignore[union-attr]
    names = {"learner": "Apprenant", "employer": "Directrice", "region": "Élu"}
    for party in scheme.signing_parties():
        contracts.sign_contract(w.uow(), case, party=party, on=D(signed),
                                name=names.get(party, "Signataire"), schemes=w.schemes)  # fmt: skip


def signed_case(w: World, learner: int = 0, offer: int = 0) -> int:
    case = cases.open_case(w.uow(), w.offers[offer], w.learners[learner], on=D("2026-05-30"))
    to_selected(w, case)
    contract_signed_by_all(w, case)
    fire(w, case, "sign", "2026-07-06")
    return case


def snapshot(w: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the case tables: to prove that a refusal wrote nothing."""
    with w.engine.connect() as conn:
        return {
            table.__tablename__: sorted(
                tuple(row) for row in conn.execute(sa.select(table.__table__))
            )
            for table in (Case, CaseEvent, Payment, Reimbursement, Suspension)
        }


def test_spec_example_end_to_end(world: World) -> None:
    """SPEC §4: training 2026-09-07 → 2027-07-02 on 2x150, service from 2027-09-01, breach on
    2028-03-16 → 1 479.68 paid per funder, 1 078.93 to repay per funder."""
    w = world
    case = signed_case(w)
    assert fire(w, case, "start_training", "2026-09-07") is State.IN_TRAINING
    assert cases.record_payments(w.uow(), case, D("2027-08-15"), schemes=w.schemes) == 22
    assert cases.record_payments(w.uow(), case, D("2027-08-15"), schemes=w.schemes) == 0
    fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    assert fire(w, case, "breach", "2028-03-16", reason="Démission",
                params={"category": "resignation"}) is State.BREACHED  # fmt: skip

    with w.uow() as uow:
        detail = case_detail(uow.session, case, w.schemes)
    assert detail["state"] == "breached"
    assert detail["contract_number"] == "OCC-AS-2026-00001"
    assert detail["service"] == {
        "start": "2027-09-01",
        "commitment_end": "2029-08-31",
        "diploma_date": "2027-07-09",
        "part_time": "1.000",
    }
    per_funder: dict[str, Decimal] = {}
    for p in detail["payments"]:
        per_funder[p["funder"]] = per_funder.get(p["funder"], Decimal(0)) + Decimal(p["amount"])
    assert per_funder == {"employer": Decimal("1479.68"), "region": Decimal("1479.68")}
    assert detail["payments"][0] == {
        "period": "2026-09", "funder": "employer", "amount": "120.00", "due_date": "2026-10-10",
        "status": "due", "reason": None, "overpaid": "0.00", "complement": False,
    }  # fmt: skip
    assert detail["entitlement"] == {"employer": "1479.68", "region": "1479.68"}
    assert detail["reimbursement"] == {"employer": "1078.93", "region": "1078.93"}
    assert detail["exempted"] is False
    assert [(e["trigger"], e["from"], e["to"]) for e in detail["events"]] == [
        ("open", None, "listed"),
        ("submit", "listed", "applied"),
        ("interview", "applied", "interviewed"),
        ("select", "interviewed", "selected"),
        ("contract_issued", "selected", "selected"),
        ("contract_signed", "selected", "selected"),
        ("contract_signed", "selected", "selected"),
        ("contract_signed", "selected", "selected"),
        ("sign", "selected", "contracted"),
        ("start_training", "contracted", "in_training"),
        ("start_service", "in_training", "serving"),
        ("breach", "serving", "breached"),
    ]
    assert detail["events"][-1]["payload"]["reimbursement"] == {
        "employer": "1078.93",
        "region": "1078.93",
    }


def test_breach_in_training_repays_everything_due_for_days_before_it(world: World) -> None:
    w = world
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    cases.record_payments(w.uow(), case, D("2026-11-10"), schemes=w.schemes)  # Sept + Oct
    fire(
        w, case, "breach", "2026-11-16", reason="Abandon", params={"category": "training_abandoned"}
    )
    with w.uow() as uow:
        refunds = uow.session.execute(
            sa.select(
                Reimbursement.funder,
                Reimbursement.base,
                Reimbursement.amount,
                Reimbursement.due_date,
            ).order_by(Reimbursement.funder)
        ).all()
    # Sept 120.00 + Oct 150.00 (created) + Nov 1–15: 150 × 15/30 = 75.00 (still to fall due);
    # due on breach + recovery_days (30).
    assert [tuple(r) for r in refunds] == [
        ("employer", Decimal("345.00"), Decimal("345.00"), D("2026-12-16")),
        ("region", Decimal("345.00"), Decimal("345.00"), D("2026-12-16")),
    ]


def test_exempted_breach_repays_nothing_and_records_the_decision(world: World) -> None:
    w = world
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    fire(w, case, "breach", "2026-12-01", actor="m.couvert", reason="Inaptitude",
         params={"category": "medical_inaptitude", "exemption": "CP/2026-12/01"})  # fmt: skip
    with w.uow() as uow:
        detail = case_detail(uow.session, case, w.schemes)
    assert detail["reimbursement"] == {"employer": "0.00", "region": "0.00"}
    assert detail["exemption"] == {
        "reference": "CP/2026-12/01", "decided_by": "m.couvert", "decided_on": "2026-12-01",
    }  # fmt: skip


def test_cancelled_payments_leave_the_reimbursement_base(world: World) -> None:
    w = world
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    cases.record_payments(w.uow(), case, D("2026-11-10"), schemes=w.schemes)
    with w.uow() as uow:
        october = uow.session.scalars(
            sa.select(Payment).where(Payment.period == D("2026-10-01"), Payment.funder == "region")
        ).one()
        october.status, october.status_reason = "cancelled", "Correction : mois non dû"
        uow.commit()
    fire(
        w, case, "breach", "2026-11-01", reason="Abandon", params={"category": "training_abandoned"}
    )
    with w.uow() as uow:
        amounts = dict(
            uow.session.execute(sa.select(Reimbursement.funder, Reimbursement.amount)).all()
        )
    assert amounts == {"employer": Decimal("270.00"), "region": Decimal("120.00")}


def test_signing_withdraws_the_learners_other_open_cases(world: World) -> None:
    w = world
    other = cases.open_case(w.uow(), w.offers[1], w.learners[0], on=D("2026-05-30"))
    fire(w, other, "submit", "2026-06-01")
    case = signed_case(w, learner=0, offer=0)
    with w.uow() as uow:
        detail = case_detail(uow.session, other, w.schemes)
        signed = case_detail(uow.session, case, w.schemes)
    assert detail["state"] == "withdrawn"
    last = detail["events"][-1]
    assert (last["trigger"], last["actor"]) == ("withdraw", cases.SYSTEM_ACTOR)
    assert f"dossier n° {case}" in last["reason"]
    assert signed["events"][-1]["payload"]["withdrawn_cases"] == [other]


def test_the_case_lists_the_triggers_available_now_with_the_failed_guards(world: World) -> None:
    w = world
    a = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    b = cases.open_case(w.uow(), w.offers[0], w.learners[1], on=D("2026-05-30"))
    to_selected(w, a)  # the offer's only place
    fire(w, b, "submit", "2026-06-01")
    fire(w, b, "interview", "2026-06-10", params={"interview_date": "2026-06-09"})
    with w.uow() as uow:
        available = case_detail(uow.session, b, w.schemes, today=D("2026-06-20"))["available"]
    by_trigger = {x["trigger"]: x for x in available}
    assert set(by_trigger) == {"select", "reject", "withdraw"}
    assert by_trigger["select"]["allowed"] is False
    assert by_trigger["select"]["refusals"] == ["il ne reste aucune place sur cette offre"]
    assert by_trigger["reject"] == {
        "trigger": "reject", "label": "Ne pas retenir", "allowed": True, "refusals": [],
        "inputs": ["reason"],
    }  # fmt: skip


def test_a_refused_trigger_writes_nothing(world: World) -> None:
    w = world
    case = signed_case(w)
    before = snapshot(w)
    refusals: list[Callable[[], object]] = [
        lambda: fire(w, case, "start_training", "2026-09-06"),  # before training start
        lambda: fire(w, case, "complete", "2030-01-01"),  # not from contracted
        lambda: fire(w, case, "breach", "2026-09-10", params={"category": "bored"}),
        lambda: fire(w, case, "breach", "2026-09-10", params={"colour": "blue"}),
        lambda: fire(w, case, "fly", "2026-09-10"),
        lambda: fire(w, case, "withdraw", "2026-07-01", reason="x"),  # before the last event
        lambda: cases.suspend(w.uow(), case, start=D("2026-10-01"), end=None, reason="maternity",
                              schemes=w.schemes),  # not serving
    ]  # fmt: skip
    for refuse in refusals:
        with pytest.raises(FidelisError):
            refuse()
    assert snapshot(w) == before


def test_withdrawing_a_contract_with_payments_is_refused(world: World) -> None:
    w = world
    case2 = signed_case(w, learner=1, offer=1)
    # A payment on a contract still in `contracted` (a correction, say): no plain withdrawal.
    with w.uow() as uow:
        uow.session.add(Payment(case_id=case2, period=D("2026-07-01"), funder="region",
                                amount=Decimal("10.00"), due_date=D("2026-08-10")))  # fmt: skip
        uow.commit()
    with pytest.raises(GuardFailed) as refused:
        fire(w, case2, "withdraw", "2026-08-01", reason="Renonce")
    assert refused.value.guards == ("no_payment_if_contracted",)


def test_suspension_pushes_the_commitment_end_and_guards_completion(world: World) -> None:
    w = world
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    cases.suspend(w.uow(), case, start=D("2028-01-01"), end=None, reason="maternity",
                  schemes=w.schemes)  # fmt: skip
    with pytest.raises(GuardFailed):  # a running suspension: the end is not known yet
        fire(w, case, "complete", "2029-09-01")
    cases.resume(w.uow(), case, on=D("2028-04-10"))  # suspended 2028-01-01 … 2028-04-09: 100 days
    with w.uow() as uow:
        detail = case_detail(uow.session, case, w.schemes)
    assert detail["service"]["commitment_end"] == "2029-12-09"
    assert detail["suspensions"] == [
        {"from": "2028-01-01", "to": "2028-04-09", "reason": "maternity"}
    ]
    with pytest.raises(GuardFailed, match="09/12/2029"):
        fire(w, case, "complete", "2029-12-09")
    assert fire(w, case, "complete", "2029-12-10") is State.COMPLETED
    with pytest.raises(InvalidInput, match="non accepté"):
        cases.suspend(w.uow(), case, start=D("2030-01-01"), end=None, reason="holidays",
                      schemes=w.schemes)  # fmt: skip


def test_contract_numbers_are_gapless_per_scheme_and_year(world: World) -> None:
    w = world
    numbers = []
    for i in range(3):
        case = signed_case(w, learner=i, offer=i)
        with w.uow() as uow:
            numbers.append(uow.session.get(Case, case).contract_number)  # type: ignore[union-attr]
    assert numbers == ["OCC-AS-2026-00001", "OCC-AS-2026-00002", "OCC-AS-2026-00003"]


def _race(monkeypatch: pytest.MonkeyPatch, w: World, *calls: Callable[[], object]) -> list[object]:
    """Run the calls in threads that all read the case before any of them writes. On SQLite a
    unit of work holds the write lock from its first read (BEGIN IMMEDIATE): the others wait
    their turn there, so the threads start together and take turns."""
    barrier = threading.Barrier(len(calls))
    real = cases.check

    def after_everyone_has_read(*args: Any, **kwargs: Any) -> State:
        barrier.wait(timeout=20)
        return real(*args, **kwargs)

    if w.engine.dialect.name != "sqlite":
        monkeypatch.setattr(cases, "check", after_everyone_has_read)
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_two_caseworkers_firing_on_one_case_one_wins_the_other_is_told(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    results = _race(
        monkeypatch,
        w,
        lambda: fire(w, case, "submit", "2026-06-01", actor="alice"),
        lambda: fire(w, case, "withdraw", "2026-06-01", reason="Renonce", actor="bob"),
    )
    if w.engine.dialect.name == "sqlite":
        _took_turns(w, case, results)
        return
    winners = [r for r in results if isinstance(r, State)]
    losers = [r for r in results if isinstance(r, ConcurrentModification)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert "modifié entre-temps" in str(losers[0])
    with w.uow() as uow:
        detail = case_detail(uow.session, case, w.schemes)
    winner = winners[0]
    assert detail["state"] == winner.value  # type: ignore[attr-defined]
    expected = "submit" if winner is State.APPLIED else "withdraw"
    assert [e["trigger"] for e in detail["events"]] == ["open", expected]


def _took_turns(w: World, case: int, results: list[object]) -> None:
    """SQLite: the second caseworker waited for the first and acted on the state it left —
    submit then withdraw both apply; withdraw first refuses the submit. Never a lost update."""
    with w.uow() as uow:
        triggers = [e["trigger"] for e in case_detail(uow.session, case, w.schemes)["events"]]
    if triggers == ["open", "submit", "withdraw"]:
        assert results == [State.APPLIED, State.WITHDRAWN], results
    else:
        assert triggers == ["open", "withdraw"], triggers
        assert isinstance(results[0], TriggerRefused) and results[1] is State.WITHDRAWN, results


def test_two_selections_racing_for_the_last_place(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    a = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    b = cases.open_case(w.uow(), w.offers[0], w.learners[1], on=D("2026-05-30"))
    for case in (a, b):
        fire(w, case, "submit", "2026-06-01")
        fire(w, case, "interview", "2026-06-10", params={"interview_date": "2026-06-09"})
    results = _race(
        monkeypatch,
        w,
        lambda: fire(w, a, "select", "2026-06-12"),
        lambda: fire(w, b, "select", "2026-06-12"),
    )
    winners = [r for r in results if isinstance(r, State)]
    losers = [r for r in results if not isinstance(r, State)]
    assert winners == [State.SELECTED] and len(losers) == 1, results
    # The loser is refused either way: its write loses on the offer's version, or (when the
    # winner has committed before its guards read the places) no place is left.
    loser = losers[0]
    assert isinstance(loser, ConcurrentModification) or (
        isinstance(loser, GuardFailed) and "places_left" in loser.guards
    ), loser
    with w.uow() as uow:
        selected = uow.session.scalars(sa.select(Case.id).where(Case.state == State.SELECTED)).all()
    assert len(selected) == 1


def test_events_are_append_only_in_the_database(world: World) -> None:
    w = world
    cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    for statement in ("UPDATE case_events SET actor = 'mallory'", "DELETE FROM case_events"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), w.engine.begin() as conn:
            conn.execute(sa.text(statement))


def test_a_second_scheme_runs_on_the_same_engine(world: World) -> None:
    """The ARS fixture scheme: one funder, whole months, 18 months, sliding scale, region 27."""
    w = world
    uow = w.uow
    ars = "ars-bfc-cae"
    institute = directory.add_institute(uow(), name="IFSI de Dijon", commune="21231", schemes=[ars],
                                        scheme_registry=w.schemes)  # fmt: skip
    campaign = directory.open_campaign(uow(), scheme_id=ars, year=2026, scheme_registry=w.schemes)
    # Dijon is in a métropole: fine for this scheme, which has no rurality rule.
    employer = directory.add_employer(uow(), name="CHU Dijon Bourgogne", siret="26210037300014",
                                      commune="21231", sector="hospital",
                                      recruitment_difficulty=False)  # fmt: skip
    offer = directory.list_employer(uow(), campaign_id=campaign, employer_id=employer, places=3,
                                    scheme_registry=w.schemes)  # fmt: skip
    learner = directory.add_learner(uow(), first_name="Zoé", last_name="Morel",
                                    birth_date=D("2001-02-03"), email="zoe@exemple.fr",
                                    institute_id=institute, training_start=D("2026-09-14"),
                                    training_end=D("2027-06-30"), iban=IBAN,
                                    today=D("2026-06-01"))  # fmt: skip
    case = cases.open_case(uow(), offer, learner, on=D("2026-06-01"))
    to_selected(w, case)
    contract_signed_by_all(w, case, tier="cae")
    fire(w, case, "sign", "2026-07-01")
    fire(w, case, "start_training", "2026-09-14")
    fire(w, case, "start_service", "2027-07-15", params={"diploma_date": "2027-07-05"})
    fire(w, case, "breach", "2027-11-20", reason="Démission", params={"category": "resignation"})
    with uow() as u:
        detail = case_detail(u.session, case, w.schemes)
    assert detail["contract_number"] == "ARS-BFC-CAE-2026-00001"
    assert {i["funder"] for i in detail["schedule"]} == {"ars"}
    assert len(detail["schedule"]) == 10  # September … June, whole months
    assert detail["schedule"][0]["due_date"] == "2026-10-05"
    assert detail["service"]["commitment_end"] is not None
    # 10 × 600.00 = 6 000.00; leaving within 6 months of service: 100 %.
    assert detail["reimbursement"] == {"ars": "6000.00"}
    # Occitanie's offer refuses an urban employer; the ARS scheme's does not care.
    assert ars != SCHEME
