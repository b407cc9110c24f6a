"""The nightly run on SQLite and PostgreSQL: automatic transitions, payments, reminders,
idempotence, catch-up, one run at a time."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from jobs.lease import RunRefused, exclusive_run
from jobs.nightly import run_nightly
from tests.conftest import World
from tests.integration.test_case_service import D, fire, signed_case
from workflow import cases, payments
from workflow.models import Case, CaseEvent, JobRun, OutboxMessage, Payment, Reimbursement
from workflow.states import State


def nightly(w: World, as_of: str, **kw: object) -> dict[str, int]:
    return run_nightly(w.engine, D(as_of), schemes=w.schemes, send_mail=False, **kw).totals  # type: ignore[arg-type]


def test_spec_example_through_the_nightly_run(world: World) -> None:
    """SPEC §4 / issue: nightly as of 2027-08-15 creates 11 months × 2 funders, 1 479.68 per
    funder; a rerun creates nothing; breach on 2028-03-16 → 1 078.93 per funder."""
    w = world
    case = signed_case(w)
    first = nightly(w, "2027-08-15")
    assert first["transitions"] == 1  # start_training, dated when it was due
    assert first["payments"] == 22
    with w.uow() as uow:
        s = uow.session
        started = s.scalars(sa.select(CaseEvent).where(CaseEvent.trigger == "start_training")).one()
        assert (started.effective_date, started.actor) == (D("2026-09-07"), "traitement de nuit")
        totals = dict(
            s.execute(
                sa.select(Payment.funder, sa.func.sum(Payment.amount)).group_by(Payment.funder)
            ).all()
        )
    assert totals == {"employer": Decimal("1479.68"), "region": Decimal("1479.68")}
    again = nightly(w, "2027-08-15")
    assert again["payments"] == 0 and again["transitions"] == 0 and again["reminders"] == 0
    fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    fire(w, case, "breach", "2028-03-16", reason="Démission", params={"category": "resignation"})
    with w.uow() as uow:
        refunds = dict(
            uow.session.execute(sa.select(Reimbursement.funder, Reimbursement.amount)).all()
        )
    assert refunds == {"employer": Decimal("1078.93"), "region": Decimal("1078.93")}
    assert nightly(w, "2028-05-01")["payments"] == 0  # nothing after the breach


def test_catch_up_runs_every_missed_day_with_its_own_date(world: World) -> None:
    w = world
    signed_case(w)
    nightly(w, "2026-09-01")
    report = run_nightly(w.engine, D("2026-10-12"), schemes=w.schemes, send_mail=False)
    assert [r["as_of"] for r in report.runs][:2] == ["2026-09-02", "2026-09-03"]
    assert len(report.runs) == 41
    by_day = {r["as_of"]: r["counts"] for r in report.runs}
    assert by_day["2026-09-07"]["transitions"] == 1  # training started that day
    assert by_day["2026-10-10"]["payments"] == 2  # September, due on the 10th
    with w.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count(JobRun.id))) == 42


def test_a_second_run_refuses_while_one_is_running(world: World) -> None:
    w = world
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with exclusive_run(w.engine):
            holding.set()
            release.wait(timeout=30)

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(timeout=30)
    try:
        with pytest.raises(RunRefused, match="déjà en cours"):
            nightly(w, "2026-09-01")
    finally:
        release.set()
        thread.join(timeout=30)
    nightly(w, "2026-09-01")  # free again
    with w.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count(JobRun.id))) == 1


def test_reminders_are_created_once_per_case_kind_and_due_date(world: World) -> None:
    w = world
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    fire(w, case, "submit", "2026-06-01")
    assert nightly(w, "2026-06-21")["reminders"] == 0  # 21 days not yet passed
    assert nightly(w, "2026-06-22")["reminders"] == 1
    assert nightly(w, "2026-06-25", catch_up=False)["reminders"] == 0
    with w.uow() as uow:
        message = uow.session.execute(
            sa.select(OutboxMessage.kind, OutboxMessage.due_date, OutboxMessage.recipient)
        ).one()
    assert tuple(message) == (
        "application_without_interview",
        D("2026-06-22"),
        "direction0@exemple.fr",
    )


def test_employer_shares_are_notified_then_confirmed(world: World) -> None:
    w = world
    signed_case(w)
    nightly(w, "2026-10-10")
    with w.uow() as uow:
        statuses = dict(uow.session.execute(sa.select(Payment.funder, Payment.status)).all())
        statements = uow.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.kind == "employer_statement")
        ).all()
    assert statuses == {"employer": "notified", "region": "due"}
    assert len(statements) == 1
    with w.uow() as uow:
        employer_id = uow.session.get(Case, 1).offer.employer_id  # type: ignore[union-attr]
    assert payments.confirm_employer(w.uow(), employer_id, D("2026-09-01"), on=D("2026-10-20"),
                                     actor="ehpad") == 1  # fmt: skip
    with w.uow() as uow:
        statuses = dict(uow.session.execute(sa.select(Payment.funder, Payment.status)).all())
    assert statuses == {"employer": "paid", "region": "due"}


def employer_shares(w: World) -> list[tuple[object, ...]]:
    with w.uow() as uow:
        return [
            tuple(row)
            for row in uow.session.execute(
                sa.select(Payment.period, Payment.status, Payment.status_changed_on,
                          Payment.status_changed_by)
                .where(Payment.funder == "employer").order_by(Payment.period)
            )
        ]  # fmt: skip


def statement_keys(w: World) -> list[str]:
    with w.uow() as uow:
        return list(
            uow.session.scalars(
                sa.select(OutboxMessage.dedup_key)
                .where(OutboxMessage.kind == "employer_statement")
                .order_by(OutboxMessage.dedup_key)
            )
        )


def test_employer_shares_are_written_notified_with_their_statement_or_not_at_all(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs import steps

    w = world
    signed_case(w)
    real = steps.insert_employer_statements

    def broken(*args: object, **kw: object) -> int:
        raise RuntimeError("panne pendant les relevés")

    # The statements fail inside the payments step's transaction: no share is left notified
    # without its statement — no payment is written at all.
    monkeypatch.setattr(steps, "insert_employer_statements", broken)
    with pytest.raises(RuntimeError, match="panne"):
        nightly(w, "2026-10-10")
    assert employer_shares(w) == [] and statement_keys(w) == []
    with w.uow() as uow:  # the runs page says where it failed, in French
        error = uow.session.scalars(sa.select(JobRun.error)).one()
    assert error == (
        "Échec à l'étape « paiements » : erreur interne (RuntimeError) — détails dans le journal "
        "du traitement."
    )

    monkeypatch.setattr(steps, "insert_employer_statements", real)
    counts = nightly(w, "2026-10-10")
    assert counts["payments"] == 2 and counts["employer_statements"] == 1
    assert employer_shares(w) == [
        (D("2026-09-01"), "notified", D("2026-10-10"), "traitement de nuit")
    ]
    employer_id = statement_keys(w)[0].split(":")[1]
    assert statement_keys(w) == [f"employer:{employer_id}:employer_statement:2026-09-01"]
    # The rerun writes nothing more.
    assert nightly(w, "2026-10-10", catch_up=False)["employer_statements"] == 0
    assert len(statement_keys(w)) == 1


def test_employer_shares_left_due_are_notified_by_the_statements_step(world: World) -> None:
    w = world
    case = signed_case(w)
    # Written one case at a time (cases.record_payments), as `due`: the statements step finds them.
    assert cases.record_payments(w.uow(), case, D("2026-11-10"), schemes=w.schemes) == 4
    assert [status for _, status, _, _ in employer_shares(w)] == ["due", "due"]
    counts = nightly(w, "2026-11-10", catch_up=False)
    assert counts["payments"] == 0 and counts["employer_statements"] == 2
    assert employer_shares(w) == [
        (D("2026-09-01"), "notified", D("2026-11-10"), "traitement de nuit"),
        (D("2026-10-01"), "notified", D("2026-11-10"), "traitement de nuit"),
    ]
    assert len(statement_keys(w)) == 2


def test_completion_is_automatic_the_day_after_the_commitment_end(world: World) -> None:
    w = world
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    nightly(w, "2029-08-31")
    with w.uow() as uow:
        assert uow.session.get(Case, case).state is State.SERVING  # type: ignore[union-attr]
    nightly(w, "2029-09-02", catch_up=False)
    with w.uow() as uow:
        done = uow.session.scalars(
            sa.select(CaseEvent).where(CaseEvent.trigger == "complete")
        ).one()
        assert uow.session.get(Case, case).state is State.COMPLETED  # type: ignore[union-attr]
        assert done.effective_date == date(2029, 9, 1)
