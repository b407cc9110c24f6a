"""Hypothesis stateful test through the real case service: random actions — triggers and the
actions that keep the state, contracts, payments — with random dates, sometimes back-dated.
After each step the case's effective dates never decrease and `case verify` finds nothing
(SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
import itertools
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from stdnum import luhn

from tests.conftest import IBAN, World
from workflow import cases, contracts, directory
from workflow.errors import FidelisError
from workflow.history import verify_case
from workflow.models import Case, CaseEvent
from workflow.states import Trigger

_learners = itertools.count(1)
PARAMS: dict[str, dict[str, str]] = {
    "interview": {"interview_date": "2026-06-09"},
    "sign": {"tier": "2x150"},
    "start_service": {"diploma_date": "2027-07-05"},
    "breach": {"category": "resignation"},
}
REASONS = {"reject": "Profil", "withdraw": "Renonce", "breach": "Démission"}
SIRET = "7328293200009" + luhn.calc_check_digit("7328293200009")  # not one of the world's
shift = st.integers(min_value=-40, max_value=200)


def build_case_life(w: World, offer: int, scan: Path) -> type[RuleBasedStateMachine]:
    class CaseLife(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            n = next(_learners)
            learner = directory.add_learner(
                w.uow(), first_name=f"Prénom{n}", last_name="Aléatoire", birth_date=date(2002, 1, 1),
                email=f"h{n}@exemple.fr", institute_id=w.institute, training_start=date(2026, 9, 7),
                training_end=date(2027, 7, 2), iban=IBAN, today=date(2026, 5, 1),
            )  # fmt: skip
            self.case = cases.open_case(w.uow(), offer, learner, on=date(2026, 5, 30))
            self.day = date(2026, 5, 30)

        def _try(self, call: Any) -> None:
            with contextlib.suppress(FidelisError):  # a refusal: the invariants check the rest
                call()

        def _on(self, days: int) -> date:
            return self.day + timedelta(days=days)

        @rule(trigger=st.sampled_from(list(Trigger)), days=shift)
        def fire(self, trigger: Trigger, days: int) -> None:
            self._try(lambda: cases.fire(
                w.uow(), self.case, trigger, on=self._on(days), actor="hypothesis",
                reason=REASONS.get(trigger), params=PARAMS.get(trigger), schemes=w.schemes,
            ))  # fmt: skip

        @rule(days=st.integers(min_value=-5, max_value=120))
        def advance(self, days: int) -> None:
            """The case's natural next step (so that random runs reach service and beyond)."""
            with w.uow() as uow:
                case = uow.session.get(Case, self.case)
                assert case is not None
                state = case.state.value
            if state == "selected":
                self.issue_and_sign_contract(days)
            step = {
                "listed": "submit", "applied": "interview", "interviewed": "select",
                "selected": "sign", "contracted": "start_training",
                "in_training": "start_service", "serving": "complete",
            }.get(state)  # fmt: skip
            if step is not None:
                self.fire(Trigger(step), days)

        @rule(days=shift)
        def issue_and_sign_contract(self, days: int) -> None:
            on = self._on(days)
            self._try(lambda: contracts.generate_contract(
                w.uow(), self.case, tier="2x150", on=on, schemes=w.schemes))  # fmt: skip
            for party in ("learner", "employer", "region"):
                self._try(lambda party=party: contracts.sign_contract(  # type: ignore[misc]
                    w.uow(), self.case, party=party, on=on, name=party, schemes=w.schemes))  # fmt: skip

        @rule(days=shift, length=st.one_of(st.none(), st.integers(0, 120)))
        def suspend(self, days: int, length: int | None) -> None:
            start = self._on(days)
            end = None if length is None else start + timedelta(days=length)
            self._try(lambda: cases.suspend(
                w.uow(), self.case, start=start, end=end, reason="maternity", schemes=w.schemes))  # fmt: skip

        @rule(days=shift)
        def resume(self, days: int) -> None:
            self._try(
                lambda: cases.resume(w.uow(), self.case, on=self._on(days), schemes=w.schemes)
            )

        @rule(days=shift)
        def attest(self, days: int) -> None:
            self._try(lambda: cases.attest_service(
                w.uow(), self.case, on=self._on(days), schemes=w.schemes))  # fmt: skip

        @rule(days=shift)
        def note(self, days: int) -> None:
            self._try(lambda: cases.add_note(
                w.uow(), self.case, "note", on=self._on(days), schemes=w.schemes))  # fmt: skip

        @rule(days=st.one_of(st.none(), shift))
        def attach_scan(self, days: int | None) -> None:
            on = None if days is None else self._on(days)
            self._try(lambda: contracts.attach_scan(
                w.uow(), self.case, scan, on=on, schemes=w.schemes))  # fmt: skip

        @rule(days=st.integers(0, 400))
        def payments(self, days: int) -> None:
            cases.record_payments(w.uow(), self.case, self._on(days), schemes=w.schemes)

        @invariant()
        def dates_never_go_backwards_and_the_history_verifies(self) -> None:
            with w.uow() as uow:
                s = uow.session
                dates = list(s.scalars(
                    sa.select(CaseEvent.effective_date)
                    .where(CaseEvent.case_id == self.case).order_by(CaseEvent.seq)
                ))  # fmt: skip
                assert dates == sorted(dates)
                case = s.get(Case, self.case)
                assert case is not None and case.last_effective_date == dates[-1]
                assert verify_case(case, w.schemes[case.scheme_id]) == []
                self.day = case.last_effective_date

    return CaseLife


def test_random_actions_keep_dates_in_order_and_the_history_verifiable(
    world: World, tmp_path: Path
) -> None:
    w = world
    employer = directory.add_employer(
        w.uow(), name="EHPAD aléatoire", siret=SIRET, commune="48095",
        sector="elderly", recruitment_difficulty=True, email="alea@exemple.fr",
    )  # fmt: skip
    offer = directory.list_employer(
        w.uow(), campaign_id=w.campaign, employer_id=employer, places=99, scheme_registry=w.schemes
    )
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4 scan")
    machine = build_case_life(w, offer, scan)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=15,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
