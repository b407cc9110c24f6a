"""The state machine against SPEC §3's table, exhaustively."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date

import pytest

from workflow.errors import GuardFailed, TriggerRefused, UnknownTrigger
from workflow.states import (
    GUARDS,
    TRANSITIONS,
    GuardContext,
    State,
    Trigger,
    available_triggers,
    machine,
    next_state,
    triggers_from,
)

# SPEC §3, copied by hand from the specification (not from the code under test).
SPEC_TABLE: dict[str, tuple[set[str], str]] = {
    "submit": ({"listed"}, "applied"),
    "interview": ({"applied"}, "interviewed"),
    "select": ({"interviewed"}, "selected"),
    "reject": ({"applied", "interviewed"}, "rejected"),
    "withdraw": ({"listed", "applied", "interviewed", "selected", "contracted"}, "withdrawn"),
    "sign": ({"selected"}, "contracted"),
    "start_training": ({"contracted"}, "in_training"),
    "start_service": ({"in_training"}, "serving"),
    "complete": ({"serving"}, "completed"),
    "breach": ({"contracted", "in_training", "serving"}, "breached"),
}
ALL_STATES = [
    "listed", "applied", "interviewed", "selected", "contracted", "in_training", "serving",
    "completed", "breached", "rejected", "withdrawn",
]  # fmt: skip


@dataclass(frozen=True)
class Facts:
    """Every guard's facts set to 'yes'."""

    campaign_open: bool = True
    learner_authorised: bool = True
    places_left: int = 1
    engaged_elsewhere: bool = False
    has_payments: bool = False
    tiers: frozenset[str] = frozenset({"2x150", "2x200"})
    tier: str | None = None
    iban_valid: bool = True
    training_start: date | None = date(2026, 9, 7)
    training_end: date | None = date(2027, 7, 2)
    contract_date: date | None = date(2026, 7, 1)
    commitment_end: date | None = date(2029, 8, 31)
    contract_issued: bool = True
    contract_tier: str | None = "2x150"
    contract_signed_by: frozenset[str] = frozenset({"learner", "employer", "region"})
    # The parties of an Occitanie contract, as workflow.facts reads them from the scheme.
    signing_parties: Mapping[str, str] = field(
        default_factory=lambda: {
            "learner": "l'apprenant", "employer": "l'employeur", "region": "le financeur"
        }
    )  # fmt: skip
    breach_reasons: frozenset[str] = frozenset({"resignation", "medical_inaptitude"})
    exempting_reasons: frozenset[str] = frozenset({"medical_inaptitude"})

    def terms_changed(self, on: date) -> tuple[str, ...]:
        return ()


# Inputs that satisfy every guard of every trigger.
GOOD_PARAMS = {
    "interview_date": date(2029, 9, 1),
    "tier": "2x150",
    "diploma_date": date(2029, 9, 1),
    "category": "resignation",
}


def ctx(state: str, **kw: object) -> GuardContext:
    base = GuardContext(
        state=State(state),
        effective_date=date(2029, 9, 2),
        facts=Facts(),
        last_effective_date=date(2026, 1, 1),
        reason="motif",
        params=GOOD_PARAMS,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_the_table_in_the_code_is_the_specs() -> None:
    assert {t.trigger.value: ({s.value for s in t.sources}, t.dest.value) for t in TRANSITIONS} == (
        SPEC_TABLE
    )
    assert [s.value for s in State] == ALL_STATES


@pytest.mark.parametrize("state", ALL_STATES)
@pytest.mark.parametrize("trigger", list(SPEC_TABLE))
def test_every_state_trigger_pair_is_allowed_or_refused_as_the_spec_says(
    state: str, trigger: str
) -> None:
    sources, dest = SPEC_TABLE[trigger]
    if state in sources:
        assert next_state(trigger, ctx(state)) == State(dest)
    else:
        with pytest.raises(TriggerRefused) as refused:
            next_state(trigger, ctx(state))
        assert not isinstance(refused.value, GuardFailed)
        assert "impossible depuis l'état" in str(refused.value)


def test_unknown_trigger_is_a_clear_error() -> None:
    with pytest.raises(UnknownTrigger, match="« fly »"):
        next_state("fly", ctx("listed"))


def test_one_shared_machine_without_models() -> None:
    m = machine()
    assert m is machine()
    assert m.models == []
    assert not m.auto_transitions
    assert set(m.events) == set(SPEC_TABLE)


@pytest.mark.parametrize(
    ("trigger", "state", "change", "guard", "words"),
    [
        ("submit", "listed", {"facts": Facts(campaign_open=False)}, "campaign_open", "campagne"),
        ("submit", "listed", {"facts": Facts(learner_authorised=False)}, "learner_authorised",
         "institut autorisé"),
        ("interview", "applied", {"params": {}}, "interview_date_given", "date de l'entretien"),
        ("interview", "applied", {"params": {"interview_date": date(2030, 1, 1)}},
         "interview_date_not_after_effective", "postérieure"),
        ("select", "interviewed", {"facts": Facts(places_left=0)}, "places_left", "aucune place"),
        ("select", "interviewed", {"facts": Facts(engaged_elsewhere=True)}, "not_engaged_elsewhere",
         "ailleurs"),
        ("reject", "applied", {"reason": " "}, "reason_given", "motif"),
        ("withdraw", "contracted", {"facts": Facts(has_payments=True)}, "no_payment_if_contracted",
         "paiements"),
        ("sign", "selected", {"params": {}}, "tier_chosen", "palier"),
        ("sign", "selected", {"params": {"tier": "3x100"}}, "tier_chosen", "palier inconnu"),
        ("sign", "selected", {"facts": Facts(iban_valid=False)}, "valid_iban", "IBAN"),
        ("sign", "selected", {"facts": Facts(training_end=date(2026, 1, 1))}, "training_dates",
         "dates de formation"),
        ("sign", "selected", {"facts": Facts(contract_issued=False)}, "contract_signed",
         "aucun contrat à jour"),
        ("sign", "selected", {"facts": Facts(contract_signed_by=frozenset({"learner"}))},
         "contract_signed", "pas signé par l'employeur, le financeur"),
        ("sign", "selected", {"params": {"tier": "2x200"}}, "contract_signed",
         "porte sur le palier « 2x150 », pas « 2x200 »"),
        ("start_training", "contracted", {"effective_date": date(2026, 9, 6),
                                          "last_effective_date": None},
         "not_before_training_start", "ne commence que"),
        ("start_service", "in_training", {"params": {"diploma_date": date(2030, 1, 1)}},
         "service_not_before_diploma", "diplôme"),
        ("complete", "serving", {"effective_date": date(2029, 8, 31)}, "after_commitment_end",
         "31/08/2029"),
        ("breach", "serving", {"params": {}}, "category_given", "motif de rupture"),
        ("breach", "serving", {"params": {"category": "resignation", "exemption": "D-1"}},
         "exemption_allowed", "exonération"),
        ("submit", "listed", {"effective_date": date(2025, 12, 31)}, "chronological",
         "ne reculent jamais"),
    ],
)  # fmt: skip
def test_a_failed_guard_is_named_and_explained_in_french(
    trigger: str, state: str, change: dict[str, object], guard: str, words: str
) -> None:
    with pytest.raises(GuardFailed) as refused:
        next_state(trigger, ctx(state, **change))
    assert guard in refused.value.guards
    assert words in str(refused.value)
    assert guard in GUARDS


def test_available_triggers_judge_facts_but_not_form_input() -> None:
    listed = {a.trigger: a for a in available_triggers(ctx("listed", params={}, reason=None))}
    assert set(listed) == {Trigger.SUBMIT, Trigger.WITHDRAW}
    assert listed[Trigger.SUBMIT].allowed
    assert listed[Trigger.WITHDRAW].allowed  # the reason is asked for by the form

    full = available_triggers(ctx("interviewed", facts=Facts(places_left=0)))
    select = next(a for a in full if a.trigger is Trigger.SELECT)
    assert not select.allowed
    assert select.failures[0][0] == "places_left"


def test_terminal_states_have_no_trigger() -> None:
    for state in ("completed", "breached", "rejected", "withdrawn"):
        assert triggers_from(State(state)) == []


def test_every_guard_has_a_french_label_for_the_diagram() -> None:
    from workflow.states import GUARD_LABELS, GUARDS

    assert set(GUARD_LABELS) == set(GUARDS)
