"""The rest of SPEC §4 through the case service (issue 13, item 6), on SQLite and PostgreSQL:
working time that changes during service, the minimum length of a sick leave, the exemption
decision's own date and author, suspensions reported late. `verify` finds nothing after each."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.conftest import World
from tests.integration.test_case_service import D, fire, snapshot
from tests.integration.test_event_gate import serving_case
from workflow import cases, money
from workflow.cli import app
from workflow.errors import GuardFailed
from workflow.history import verify
from workflow.models import Case, CaseEvent, Reimbursement, WorkingTime

S = D("2027-09-01")  # serving_case's service start, 2x150: 24 months → 2029-08-31


def row(w: World, case: int) -> Case:
    with w.uow() as uow:
        found = uow.session.get_one(Case, case)
        uow.session.expunge(found)
        return found


def clean(w: World, case: int) -> None:
    with w.uow() as uow:
        assert [d for _, d in verify(uow.session, [case], w.schemes) if d] == []


def test_a_change_of_working_time_moves_the_commitment_end(world: World) -> None:
    w = world
    case = serving_case(w)
    assert row(w, case).commitment_ends_on == D("2029-08-31")
    cases.change_working_time(w.uow(), case, start=D("2028-09-01"), ratio="0,5", actor="agent",
                              schemes=w.schemes)  # fmt: skip
    # 366 of 731 days served at full time; the 365 left take 730 at half time.
    expected = money.commitment_end(
        S, 24, working_times=[money.WorkingTime(D("2028-09-01"), Decimal("0.5"))]
    )
    assert expected == D("2030-08-31")
    assert row(w, case).commitment_ends_on == expected
    with w.engine.connect() as conn:
        stored = conn.execute(sa.select(WorkingTime.start, WorkingTime.ratio)).all()
    assert [(s, r) for s, r in stored] == [(D("2028-09-01"), Decimal("0.5"))]
    clean(w, case)


def test_a_breach_counts_the_days_served_at_each_ratio(world: World) -> None:
    w = world
    case = serving_case(w)
    cases.record_payments(w.uow(), case, D("2027-08-15"), schemes=w.schemes)
    cases.change_working_time(w.uow(), case, start=D("2027-12-01"), ratio="50 %",
                              schemes=w.schemes)  # fmt: skip
    fire(w, case, "breach", "2028-03-16", params={"category": "resignation"})
    with w.engine.connect() as conn:
        owed = dict(conn.execute(sa.select(Reimbursement.funder, Reimbursement.amount)).all())
    # SPEC §4's example served 195 days at full time; here 90 + 105 × 0.5 = 142.5.
    unserved = Decimal(720) - Decimal("142.5")
    share = money.round_cents(Decimal("1479.68") * unserved / 720)
    assert owed == {"employer": share, "region": share}
    assert share > Decimal("1078.93")
    clean(w, case)


def test_a_working_time_change_is_refused_before_service_and_twice_a_day(world: World) -> None:
    w = world
    case = serving_case(w)
    before = snapshot(w)
    with pytest.raises(GuardFailed, match="doit suivre la prise de poste") as refused:
        cases.change_working_time(w.uow(), case, start=S, ratio="0.8", schemes=w.schemes)
    assert refused.value.guards == ("working_time_after_service_start",)
    assert snapshot(w) == before
    cases.change_working_time(w.uow(), case, start=D("2028-01-01"), ratio="0.8",
                              schemes=w.schemes)  # fmt: skip
    with pytest.raises(GuardFailed, match="déjà enregistré le 01/01/2028"):
        cases.change_working_time(w.uow(), case, start=D("2028-01-01"), ratio="0.5",
                                  schemes=w.schemes)  # fmt: skip


def test_a_sick_leave_recorded_shorter_than_a_month_is_refused(world: World) -> None:
    w = world
    case = serving_case(w)
    before = snapshot(w)
    with pytest.raises(GuardFailed, match=r"au moins 31 jours \(ici 10\)") as refused:
        cases.suspend(w.uow(), case, start=D("2028-01-01"), end=D("2028-01-10"),
                      reason="sick_leave", schemes=w.schemes)  # fmt: skip
    assert refused.value.guards == ("suspension_long_enough",)
    assert snapshot(w) == before
    # 31 days is "over a month": it suspends.
    cases.suspend(w.uow(), case, start=D("2028-01-01"), end=D("2028-01-31"),
                  reason="sick_leave", schemes=w.schemes)  # fmt: skip
    assert row(w, case).commitment_ends_on == D("2029-10-01")
    clean(w, case)


def test_a_running_sick_leave_that_ends_short_does_not_count(world: World) -> None:
    w = world
    case = serving_case(w)
    cases.suspend(w.uow(), case, start=D("2028-01-01"), end=None, reason="sick_leave",
                  schemes=w.schemes)  # fmt: skip
    assert row(w, case).commitment_ends_on is None  # unknown while it runs
    cases.resume(w.uow(), case, on=D("2028-01-21"), schemes=w.schemes)  # 20 days
    assert row(w, case).commitment_ends_on == D("2029-08-31")  # service, not suspension
    with w.engine.connect() as conn:
        payload = conn.scalar(sa.select(CaseEvent.payload).where(CaseEvent.trigger == "resume"))
    assert payload is not None and payload["counted"] is False
    clean(w, case)


def test_the_exemption_decision_keeps_its_own_date_and_author(world: World) -> None:
    w = world
    case = serving_case(w)
    fire(w, case, "breach", "2028-03-16", actor="agent.saisie", params={
        "category": "medical_inaptitude", "exemption": "DEC-2028-17",
        "exemption_on": "2028-04-02", "exemption_by": "Mme Vice-présidente"})  # fmt: skip
    stored = row(w, case)
    assert (stored.exemption_ref, stored.exemption_decided_on, stored.exemption_decided_by) == (
        "DEC-2028-17",
        D("2028-04-02"),
        "Mme Vice-présidente",
    )
    assert stored.breach_date == D("2028-03-16")
    with w.engine.connect() as conn:
        payload = conn.scalar(sa.select(CaseEvent.payload).where(CaseEvent.trigger == "breach"))
    # No name in the append-only history: the author stays on the case row.
    assert payload is not None and payload["exemption_by"] is True
    assert payload["exemption_on"] == "2028-04-02"
    clean(w, case)


def test_the_exemption_decision_defaults_to_the_breach(world: World) -> None:
    w = world
    case = serving_case(w)
    fire(w, case, "breach", "2028-03-16", actor="agent.saisie",
         params={"category": "force_majeure", "exemption": "DEC-9"})  # fmt: skip
    stored = row(w, case)
    assert (stored.exemption_decided_on, stored.exemption_decided_by) == (
        D("2028-03-16"),
        "agent.saisie",
    )
    clean(w, case)


def test_exemption_details_without_an_exemption_are_refused(world: World) -> None:
    w = world
    case = serving_case(w)
    before = snapshot(w)
    with pytest.raises(GuardFailed, match="ne se donnent qu'avec sa référence"):
        fire(w, case, "breach", "2028-03-16",
             params={"category": "resignation", "exemption_by": "Quelqu'un"})  # fmt: skip
    assert snapshot(w) == before


def test_a_suspension_reported_after_an_attestation_regularises_the_end(world: World) -> None:
    w = world
    case = serving_case(w)
    cases.attest_service(w.uow(), case, on=D("2028-09-02"), schemes=w.schemes)
    cases.suspend(w.uow(), case, start=D("2028-01-10"), end=D("2028-03-09"),
                  reason="maternity", schemes=w.schemes)  # fmt: skip
    stored = row(w, case)
    # 60 days later than the nominal end; the event is dated on the attestation's day.
    assert stored.commitment_ends_on == D("2029-08-31") + (D("2028-03-10") - D("2028-01-10"))
    assert stored.last_effective_date == D("2028-09-02")
    with w.engine.connect() as conn:
        event = conn.execute(
            sa.select(CaseEvent.effective_date, CaseEvent.payload).where(
                CaseEvent.trigger == "suspend"
            )
        ).one()
    assert event.effective_date == D("2028-09-02") and event.payload["from"] == "2028-01-10"
    clean(w, case)
    # A late suspension overlapping a recorded one is still refused.
    with pytest.raises(GuardFailed, match="chevauche"):
        cases.suspend(w.uow(), case, start=D("2028-03-01"), end=D("2028-04-30"),
                      reason="maternity", schemes=w.schemes)  # fmt: skip


def test_the_cli_records_a_working_time_and_shows_it(world: World) -> None:
    w = world
    case = serving_case(w)
    runner = CliRunner()
    url = w.engine.url.render_as_string(hide_password=False)
    result = runner.invoke(app, ["--db", url, "case", "working-time", str(case),
                                 "--from", "2028-09-01", "--part-time", "0,8"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "quotité 0,8 à partir du 01/09/2028" in " ".join(result.output.split())
    shown = runner.invoke(app, ["--db", url, "case", "show", str(case), "--json"])
    assert '"working_times"' in shown.output and '"from": "2028-09-01"' in shown.output
    terms_end = row(w, case).commitment_ends_on
    assert isinstance(terms_end, date) and terms_end > D("2029-08-31")
    refused = runner.invoke(app, ["--db", url, "case", "working-time", str(case),
                                  "--from", "2028-10-01", "--part-time", "1,5"])  # fmt: skip
    assert refused.exit_code == 1
    verified = runner.invoke(app, ["--db", url, "case", "verify", str(case)])
    assert verified.exit_code == 0, verified.output
