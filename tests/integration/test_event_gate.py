"""The event gate: every action goes through its named guards and the one event writer, under
one date policy — refuse, in French, never move a date (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.conftest import World
from tests.integration.test_case_service import (
    D,
    contract_signed_by_all,
    fire,
    signed_case,
    snapshot,
    to_selected,
)
from workflow import cases, contracts
from workflow.cli import app
from workflow.errors import GuardFailed, InvalidInput
from workflow.history import verify
from workflow.models import Case, CaseEvent, Payment
from workflow.states import State
from workflow.views import case_detail


def serving_case(w: World) -> int:
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    return case


def events_of(w: World, case: int) -> list[tuple[str, date]]:
    with w.engine.connect() as conn:
        rows = conn.execute(
            sa.select(CaseEvent.trigger, CaseEvent.effective_date)
            .where(CaseEvent.case_id == case)
            .order_by(CaseEvent.seq)
        ).all()
    return [(t, d) for t, d in rows]


def last_effective(w: World, case: int) -> date:
    with w.engine.connect() as conn:
        value = conn.scalar(sa.select(Case.last_effective_date).where(Case.id == case))
    assert isinstance(value, date)
    return value


def test_a_resume_dated_before_the_last_event_is_refused(world: World) -> None:
    """Reproduced: attest on 2028-03-01, then resume on 2028-02-01 moved the case's last
    effective date back to 2028-02-01."""
    w = world
    case = serving_case(w)
    cases.suspend(w.uow(), case, start=D("2028-01-01"), end=None, reason="maternity",
                  schemes=w.schemes)  # fmt: skip
    cases.attest_service(w.uow(), case, on=D("2028-03-01"), schemes=w.schemes)
    before = snapshot(w)
    with pytest.raises(GuardFailed, match="ne reculent jamais") as refused:
        cases.resume(w.uow(), case, on=D("2028-02-01"), schemes=w.schemes)
    assert refused.value.guards == ("chronological",)
    assert snapshot(w) == before
    assert last_effective(w, case) == D("2028-03-01")
    cases.resume(w.uow(), case, on=D("2028-03-02"), schemes=w.schemes)
    assert last_effective(w, case) == D("2028-03-02")


def test_a_scan_attached_without_a_date_keeps_the_case_s_dates(
    world: World, tmp_path: Path
) -> None:
    """Reproduced: `contract attach` without `--on` was dated today, and followed in the
    history by a nightly `start_training` dated months earlier."""
    w = world
    case = signed_case(w)  # signed by the three parties on 2026-07-01, `sign` on 2026-07-06
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4 signed scan")
    contracts.attach_scan(w.uow(), case, scan, schemes=w.schemes)
    fire(w, case, "start_training", "2026-09-07")
    history = events_of(w, case)
    assert ("scan_attached", D("2026-07-06")) in history  # the case's last event: sign
    dates = [d for _, d in history]
    assert dates == sorted(dates)
    before = snapshot(w)
    with pytest.raises(GuardFailed, match="ne reculent jamais"):
        contracts.attach_scan(w.uow(), case, scan, on=D("2026-08-01"), schemes=w.schemes)
    assert snapshot(w) == before


def test_signing_refuses_when_another_case_cannot_be_withdrawn_that_day(world: World) -> None:
    """The learner's other case has an event dated after the signature: its withdrawal is not
    moved to a later date, the signature is refused and says which case."""
    w = world
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    other = cases.open_case(w.uow(), w.offers[1], w.learners[0], on=D("2026-05-30"))
    to_selected(w, case)
    contract_signed_by_all(w, case)
    fire(w, other, "submit", "2026-07-10")
    before = snapshot(w)
    with pytest.raises(GuardFailed, match=f"dossier n° {other}") as refused:
        fire(w, case, "sign", "2026-07-06")
    assert refused.value.guards == ("other_cases_withdrawable",)
    assert snapshot(w) == before
    assert fire(w, case, "sign", "2026-07-10") is State.CONTRACTED
    assert events_of(w, other)[-1] == ("withdraw", D("2026-07-10"))


def test_actions_that_keep_the_state_refuse_by_named_guards(world: World) -> None:
    w = world
    case = signed_case(w)
    with pytest.raises(GuardFailed) as refused:
        cases.suspend(w.uow(), case, start=D("2027-01-01"), end=None, reason="holidays",
                      schemes=w.schemes)  # fmt: skip
    assert refused.value.guards[:2] == ("state", "suspension_reason_accepted")
    assert "Suspendre l'engagement" in str(refused.value)
    with pytest.raises(GuardFailed, match="aucune suspension en cours") as no_suspension:
        cases.resume(w.uow(), case, on=D("2027-01-01"), schemes=w.schemes)
    assert "suspension_running" in no_suspension.value.guards
    with pytest.raises(InvalidInput, match="obligatoire"):
        cases.add_note(w.uow(), case, "   ", schemes=w.schemes)


def test_every_case_lists_the_actions_that_keep_the_state_with_their_refusals(
    world: World,
) -> None:
    w = world
    case = serving_case(w)
    with w.uow() as uow:
        detail = case_detail(uow.session, case, w.schemes, today=D("2027-10-01"))
    actions = {a["trigger"]: a for a in detail["actions"]}
    assert set(actions) == {
        "suspend",
        "resume",
        "attest_service",
        "note",
        "scan_attached",
        "correct_training",
    }
    assert actions["suspend"]["allowed"] is True
    assert actions["resume"] == {
        "trigger": "resume",
        "label": "Reprendre l'engagement",
        "allowed": False,
        "refusals": ["aucune suspension en cours sur ce dossier"],
        "inputs": [],
    }
    assert {a["trigger"] for a in detail["available"]} == {"complete", "breach"}


def test_a_note_is_an_event_dated_no_earlier_than_the_last(world: World) -> None:
    w = world
    case = serving_case(w)  # last event 2027-09-01
    cases.add_note(w.uow(), case, "Appel de la directrice : tout va bien.", actor="agent",
                   schemes=w.schemes, clock=lambda: D("2027-01-01"))  # fmt: skip
    trigger, on = events_of(w, case)[-1]
    assert (trigger, on) == ("note", D("2027-09-01"))
    with w.uow() as uow:
        note = uow.session.scalars(
            sa.select(CaseEvent).where(CaseEvent.case_id == case).order_by(CaseEvent.seq.desc())
        ).first()
        # The text is kept beside the append-only row, where the retention purge can erase it.
        assert note is not None and note.note == "Appel de la directrice : tout va bien."
        assert note.payload == {}


def test_every_event_bumps_the_case_version(world: World) -> None:
    w = world
    case = serving_case(w)
    with w.engine.connect() as conn:
        version = conn.scalar(sa.select(Case.version).where(Case.id == case))
    cases.attest_service(w.uow(), case, on=D("2028-09-01"), schemes=w.schemes)
    with w.engine.connect() as conn:
        assert conn.scalar(sa.select(Case.version).where(Case.id == case)) == version + 1


def test_verify_finds_a_history_and_a_case_that_part_ways(world: World) -> None:
    w = world
    case = serving_case(w)
    cases.record_payments(w.uow(), case, D("2027-08-31"), schemes=w.schemes)
    runner = CliRunner()
    url = w.engine.url.render_as_string(hide_password=False)
    clean = runner.invoke(app, ["--db", url, "case", "verify", "--all"])
    assert clean.exit_code == 0, clean.output
    assert "1 dossier(s) vérifié(s) : conformes" in clean.output
    with w.engine.begin() as conn:  # what a hand-made UPDATE would do
        conn.execute(
            sa.update(Case).where(Case.id == case).values(commitment_ends_on=D("2030-01-01"))
        )
    with w.uow() as uow:
        found = dict(verify(uow.session, [case], w.schemes))
    assert [d.what for d in found[case]] == ["fin d'engagement"]
    assert found[case][0].stored == D("2030-01-01") and found[case][0].replayed == D("2029-08-31")
    refused = runner.invoke(app, ["--db", url, "case", "verify", str(case)])
    assert refused.exit_code == 1
    assert (
        f"Dossier n° {case} — fin d'engagement : enregistré 01/01/2030, d'après l'historique "
        "31/08/2029" in " ".join(refused.output.split())
    )
    with w.engine.begin() as conn:
        conn.execute(sa.update(Case).where(Case.id == case).values(
            commitment_ends_on=D("2029-08-31"), state=State.COMPLETED))  # fmt: skip
        conn.execute(sa.update(Payment).where(Payment.case_id == case).values(amount=Decimal("1")))
    with w.uow() as uow:
        whats = [d.what for d in dict(verify(uow.session, [case], w.schemes))[case]]
    assert whats[0] == "état" and any(w.startswith("paiement ") for w in whats)
