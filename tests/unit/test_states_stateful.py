"""Hypothesis stateful test: random triggers with random dates and random facts. The state is
always one SPEC §3's table allows, a refusal changes nothing, and replaying the recorded events
from `listed` gives the current state back."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tests.unit.test_states import ALL_STATES, SPEC_TABLE, Facts
from workflow.errors import TriggerRefused, UnknownTrigger
from workflow.states import GuardContext, State, next_state

facts = st.builds(
    Facts,
    campaign_open=st.booleans(),
    learner_authorised=st.booleans(),
    places_left=st.integers(0, 2),
    engaged_elsewhere=st.booleans(),
    has_payments=st.booleans(),
    iban_valid=st.booleans(),
    commitment_end=st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2032, 1, 1))),
)
params = st.fixed_dictionaries(
    {},
    optional={
        "interview_date": st.dates(date(2026, 1, 1), date(2032, 1, 1)),
        "tier": st.sampled_from(["2x150", "2x200", "bogus"]),
        "diploma_date": st.dates(date(2026, 1, 1), date(2032, 1, 1)),
        "category": st.sampled_from(["resignation", "medical_inaptitude", "nope"]),
        "exemption": st.just("DEC-1"),
    },
)


class CaseLife(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = State.LISTED
        self.last = date(2026, 1, 1)
        self.events: list[tuple[State, str, State, date]] = []

    @rule(
        trigger=st.sampled_from([*SPEC_TABLE, "unknown"]),
        days=st.integers(-60, 400),
        f=facts,
        p=params,
        reason=st.sampled_from([None, "", "un motif"]),
    )
    def fire(
        self, trigger: str, days: int, f: Facts, p: dict[str, object], reason: str | None
    ) -> None:
        on = self.last + timedelta(days=days)
        ctx = GuardContext(self.state, on, replace(f), self.last, reason, p)
        before = self.state
        try:
            after = next_state(trigger, ctx)
        except UnknownTrigger:
            assert trigger == "unknown"
            return
        except TriggerRefused:
            assert self.state == before
            return
        sources, dest = SPEC_TABLE[trigger]
        assert before.value in sources and after.value == dest
        assert on >= self.last
        self.events.append((before, trigger, after, on))
        self.state, self.last = after, on

    @invariant()
    def state_is_known_and_replayable(self) -> None:
        assert self.state.value in ALL_STATES
        replayed = State.LISTED
        for before, trigger, after, _ in self.events:
            assert before == replayed
            assert SPEC_TABLE[trigger][1] == after.value
            replayed = after
        assert replayed == self.state

    @invariant()
    def dates_never_go_backwards(self) -> None:
        dates = [e[3] for e in self.events]
        assert dates == sorted(dates)


CaseLife.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
test_case_life = CaseLife.TestCase
