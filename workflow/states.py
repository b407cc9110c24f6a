"""The case life cycle as data: states, triggers and guards of SPEC §3.

One `transitions.Machine` serves the whole process (`model=None`, `auto_transitions=False`): a case
is never given a machine of its own. To fire, the case service hands the machine a small proxy that
carries the state and a `GuardContext`; the guards are plain named functions of that context, so a
refusal can say, in French, which guard failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import cache
from typing import Any, Protocol

from transitions import Machine, MachineError

from workflow.errors import GuardFailed, TriggerRefused, UnknownTrigger


class State(StrEnum):
    LISTED = "listed"
    APPLIED = "applied"
    INTERVIEWED = "interviewed"
    SELECTED = "selected"
    CONTRACTED = "contracted"
    IN_TRAINING = "in_training"
    SERVING = "serving"
    COMPLETED = "completed"
    BREACHED = "breached"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


STATE_LABELS: Mapping[State, str] = {
    State.LISTED: "Inscrit sur l'offre",
    State.APPLIED: "Candidature envoyée",
    State.INTERVIEWED: "Entretien passé",
    State.SELECTED: "Retenu par l'employeur",
    State.CONTRACTED: "Contrat signé",
    State.IN_TRAINING: "En formation",
    State.SERVING: "En poste (engagement de servir)",
    State.COMPLETED: "Engagement honoré",
    State.BREACHED: "Rupture",
    State.REJECTED: "Non retenu",
    State.WITHDRAWN: "Retiré",
}

TERMINAL_STATES = frozenset({State.COMPLETED, State.BREACHED, State.REJECTED, State.WITHDRAWN})
# Cases that signing elsewhere withdraws automatically (SPEC §3).
PRE_CONTRACT_STATES = frozenset({State.LISTED, State.APPLIED, State.INTERVIEWED, State.SELECTED})
# Cases that hold the learner (and one of the offer's places) in a campaign.
ENGAGED_STATES = frozenset(
    {State.SELECTED, State.CONTRACTED, State.IN_TRAINING, State.SERVING, State.COMPLETED}
)


class Trigger(StrEnum):
    SUBMIT = "submit"
    INTERVIEW = "interview"
    SELECT = "select"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    SIGN = "sign"
    START_TRAINING = "start_training"
    START_SERVICE = "start_service"
    COMPLETE = "complete"
    BREACH = "breach"


TRIGGER_LABELS: Mapping[Trigger, str] = {
    Trigger.SUBMIT: "Envoyer la candidature",
    Trigger.INTERVIEW: "Enregistrer l'entretien",
    Trigger.SELECT: "Retenir l'apprenant",
    Trigger.REJECT: "Ne pas retenir",
    Trigger.WITHDRAW: "Retirer le dossier",
    Trigger.SIGN: "Enregistrer la signature du contrat",
    Trigger.START_TRAINING: "Démarrer la période d'allocation",
    Trigger.START_SERVICE: "Enregistrer la prise de poste",
    Trigger.COMPLETE: "Clore l'engagement honoré",
    Trigger.BREACH: "Enregistrer une rupture",
}


class CaseFacts(Protocol):
    """What the guards may know about a case beyond its state. The case service answers these
    from the database (lazily); tests answer them from plain values."""

    @property
    def campaign_open(self) -> bool: ...
    @property
    def learner_authorised(self) -> bool: ...
    @property
    def places_left(self) -> int: ...
    @property
    def engaged_elsewhere(self) -> bool: ...
    @property
    def has_payments(self) -> bool: ...
    @property
    def tiers(self) -> frozenset[str]: ...
    @property
    def tier(self) -> str | None: ...
    @property
    def iban_valid(self) -> bool: ...
    @property
    def training_start(self) -> date | None: ...
    @property
    def training_end(self) -> date | None: ...
    @property
    def contract_date(self) -> date | None: ...
    @property
    def commitment_end(self) -> date | None: ...
    @property
    def contract_issued(self) -> bool: ...
    @property
    def contract_tier(self) -> str | None: ...
    @property
    def contract_signed_by(self) -> frozenset[str]: ...
    @property
    def breach_reasons(self) -> frozenset[str]: ...
    @property
    def exempting_reasons(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class GuardContext:
    state: State
    effective_date: date
    facts: CaseFacts
    last_effective_date: date | None = None
    reason: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Guard:
    name: str
    check: Callable[[GuardContext], bool]
    message: Callable[[GuardContext], str]
    # True when the guard depends on what the user types (a date, a reason): it cannot be
    # judged before the form is filled, so it does not hide a trigger from the "available" list.
    needs_input: bool = False


def _d(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "?"


def _tier(ctx: GuardContext) -> str | None:
    return ctx.params.get("tier") or ctx.facts.tier


SIGNING_PARTIES = {"learner": "l'apprenant", "employer": "l'employeur", "region": "le financeur"}


def _contract_ok(c: GuardContext) -> bool:
    f = c.facts
    return (
        f.contract_issued
        and f.contract_signed_by >= SIGNING_PARTIES.keys()
        and (_tier(c) is None or _tier(c) == f.contract_tier)
    )


def _contract_message(c: GuardContext) -> str:
    f = c.facts
    if not f.contract_issued:
        return "aucun contrat à jour n'est émis pour ce dossier (fidelis contract generate)"
    missing = [
        label for party, label in SIGNING_PARTIES.items() if party not in f.contract_signed_by
    ]
    if missing:
        return "le contrat n'est pas signé par " + ", ".join(missing)
    return f"le contrat émis porte sur le palier « {f.contract_tier} », pas « {_tier(c)} »"


GUARDS: Mapping[str, Guard] = {
    g.name: g
    for g in (
        Guard(
            "chronological",
            lambda c: c.last_effective_date is None or c.effective_date >= c.last_effective_date,
            lambda c: (
                f"la date d'effet ({_d(c.effective_date)}) précède le dernier événement du "
                f"dossier ({_d(c.last_effective_date)}) : les dates d'un dossier ne reculent jamais"
            ),
            needs_input=True,
        ),
        Guard(
            "campaign_open",
            lambda c: c.facts.campaign_open,
            lambda c: "la campagne n'est pas ouverte",
        ),
        Guard(
            "learner_authorised",
            lambda c: c.facts.learner_authorised,
            lambda c: "l'apprenant n'est pas inscrit dans un institut autorisé pour ce dispositif",
        ),
        Guard(
            "interview_date_given",
            lambda c: c.params.get("interview_date") is not None,
            lambda c: "la date de l'entretien (interview_date) est obligatoire",
            needs_input=True,
        ),
        Guard(
            "interview_date_not_after_effective",
            lambda c: (
                c.params.get("interview_date") is None
                or c.params["interview_date"] <= c.effective_date
            ),
            lambda c: (
                f"la date de l'entretien ({_d(c.params.get('interview_date'))}) est postérieure "
                f"à la date d'effet ({_d(c.effective_date)})"
            ),
            needs_input=True,
        ),
        Guard(
            "places_left",
            lambda c: c.facts.places_left > 0,
            lambda c: "il ne reste aucune place sur cette offre",
        ),
        Guard(
            "not_engaged_elsewhere",
            lambda c: not c.facts.engaged_elsewhere,
            lambda c: "l'apprenant est déjà retenu ou sous contrat ailleurs dans cette campagne",
        ),
        Guard(
            "reason_given",
            lambda c: bool(c.reason and c.reason.strip()),
            lambda c: "un motif (--reason) est obligatoire",
            needs_input=True,
        ),
        Guard(
            "no_payment_if_contracted",
            lambda c: c.state is not State.CONTRACTED or not c.facts.has_payments,
            lambda c: (
                "des paiements existent déjà pour ce contrat : enregistrez une rupture (breach)"
            ),
        ),
        Guard(
            "tier_chosen",
            lambda c: _tier(c) in c.facts.tiers,
            lambda c: (
                "le palier (tier) doit être choisi parmi : " + ", ".join(sorted(c.facts.tiers))
                if _tier(c) is None
                else f"palier inconnu « {_tier(c)} » (paliers : {', '.join(sorted(c.facts.tiers))})"
            ),
            needs_input=True,
        ),
        Guard("contract_signed", _contract_ok, _contract_message),
        Guard(
            "valid_iban",
            lambda c: c.facts.iban_valid,
            lambda c: "l'IBAN de l'apprenant est absent ou invalide",
        ),
        Guard(
            "training_dates",
            lambda c: (
                c.facts.training_start is not None
                and c.facts.training_end is not None
                and c.facts.training_end > c.facts.training_start
            ),
            lambda c: "les dates de formation de l'apprenant sont absentes ou incohérentes",
        ),
        Guard(
            "not_before_training_start",
            lambda c: (
                c.facts.training_start is not None and c.effective_date >= c.facts.training_start
            ),
            lambda c: f"la formation ne commence que le {_d(c.facts.training_start)}",
            needs_input=True,
        ),
        Guard(
            "not_before_contract_date",
            lambda c: (
                c.facts.contract_date is not None and c.effective_date >= c.facts.contract_date
            ),
            lambda c: f"le contrat n'a été signé que le {_d(c.facts.contract_date)}",
            needs_input=True,
        ),
        Guard(
            "diploma_date_given",
            lambda c: c.params.get("diploma_date") is not None,
            lambda c: "la date d'obtention du diplôme (diploma_date) est obligatoire",
            needs_input=True,
        ),
        Guard(
            "service_not_before_diploma",
            lambda c: (
                c.params.get("diploma_date") is None or c.effective_date >= c.params["diploma_date"]
            ),
            lambda c: (
                f"la prise de poste ({_d(c.effective_date)}) précède l'obtention du diplôme "
                f"({_d(c.params.get('diploma_date'))})"
            ),
            needs_input=True,
        ),
        Guard(
            "after_commitment_end",
            lambda c: (
                c.facts.commitment_end is not None and c.effective_date > c.facts.commitment_end
            ),
            lambda c: f"l'engagement de servir court jusqu'au {_d(c.facts.commitment_end)} inclus",
            needs_input=True,
        ),
        Guard(
            "category_given",
            lambda c: c.params.get("category") in c.facts.breach_reasons,
            lambda c: (
                "le motif de rupture (category) est obligatoire, parmi : "
                + ", ".join(sorted(c.facts.breach_reasons))
                if c.params.get("category") is None
                else f"motif de rupture inconnu « {c.params['category']} »"
            ),
            needs_input=True,
        ),
        Guard(
            "exemption_allowed",
            lambda c: (
                c.params.get("exemption") is None
                or c.params.get("category") in c.facts.exempting_reasons
            ),
            lambda c: (
                f"le motif « {c.params.get('category')} » n'ouvre pas droit à exonération dans "
                "ce dispositif (motifs exonératoires : "
                + ", ".join(sorted(c.facts.exempting_reasons))
                + ")"
            ),
            needs_input=True,
        ),
    )
}

# Each guard as the condition it checks, for the state diagram's table (its failure message,
# above, says what is wrong with one case).
GUARD_LABELS: Mapping[str, str] = {
    "chronological": "date d'effet non antérieure au dernier événement",
    "campaign_open": "campagne ouverte",
    "learner_authorised": "apprenant autorisé à candidater",
    "interview_date_given": "date de l'entretien renseignée",
    "interview_date_not_after_effective": "entretien au plus tard à la date d'effet",
    "places_left": "une place encore libre sur l'offre",
    "not_engaged_elsewhere": "apprenant sans autre contrat en cours",
    "reason_given": "motif renseigné",
    "no_payment_if_contracted": "aucune allocation déjà versée",
    "tier_chosen": "palier choisi",
    "contract_signed": "contrat signé par les trois parties",
    "valid_iban": "IBAN de l'apprenant valide",
    "training_dates": "dates de formation connues",
    "not_before_training_start": "pas avant le début de la formation",
    "not_before_contract_date": "pas avant la date du contrat",
    "diploma_date_given": "date du diplôme renseignée",
    "service_not_before_diploma": "prise de poste après le diplôme",
    "after_commitment_end": "engagement arrivé à son terme",
    "category_given": "motif de rupture choisi",
    "exemption_allowed": "exonération permise par le dispositif",
}


@dataclass(frozen=True)
class TransitionSpec:
    trigger: Trigger
    sources: tuple[State, ...]
    dest: State
    guards: tuple[str, ...]


_S = State
# SPEC §3, one row per trigger. Every trigger also checks that effective dates never go backwards.
TRANSITIONS: tuple[TransitionSpec, ...] = (
    TransitionSpec(
        Trigger.SUBMIT, (_S.LISTED,), _S.APPLIED, ("campaign_open", "learner_authorised")
    ),
    TransitionSpec(
        Trigger.INTERVIEW,
        (_S.APPLIED,),
        _S.INTERVIEWED,
        ("interview_date_given", "interview_date_not_after_effective"),
    ),
    TransitionSpec(
        Trigger.SELECT, (_S.INTERVIEWED,), _S.SELECTED, ("places_left", "not_engaged_elsewhere")
    ),
    TransitionSpec(Trigger.REJECT, (_S.APPLIED, _S.INTERVIEWED), _S.REJECTED, ("reason_given",)),
    TransitionSpec(
        Trigger.WITHDRAW,
        (_S.LISTED, _S.APPLIED, _S.INTERVIEWED, _S.SELECTED, _S.CONTRACTED),
        _S.WITHDRAWN,
        ("reason_given", "no_payment_if_contracted"),
    ),
    TransitionSpec(
        Trigger.SIGN,
        (_S.SELECTED,),
        _S.CONTRACTED,
        ("tier_chosen", "valid_iban", "training_dates", "contract_signed"),
    ),
    TransitionSpec(
        Trigger.START_TRAINING,
        (_S.CONTRACTED,),
        _S.IN_TRAINING,
        ("not_before_training_start", "not_before_contract_date"),
    ),
    TransitionSpec(
        Trigger.START_SERVICE,
        (_S.IN_TRAINING,),
        _S.SERVING,
        ("diploma_date_given", "service_not_before_diploma"),
    ),
    TransitionSpec(Trigger.COMPLETE, (_S.SERVING,), _S.COMPLETED, ("after_commitment_end",)),
    TransitionSpec(
        Trigger.BREACH,
        (_S.CONTRACTED, _S.IN_TRAINING, _S.SERVING),
        _S.BREACHED,
        ("category_given", "exemption_allowed"),
    ),
)
COMMON_GUARDS = ("chronological",)

# The parameters (`--set KEY=VALUE`) each trigger reads; any other key is refused.
TRIGGER_PARAMS: Mapping[Trigger, frozenset[str]] = {
    Trigger.INTERVIEW: frozenset({"interview_date"}),
    Trigger.SIGN: frozenset({"tier"}),
    Trigger.START_SERVICE: frozenset({"diploma_date", "part_time"}),
    Trigger.BREACH: frozenset({"category", "exemption"}),
}


def spec(trigger: Trigger) -> TransitionSpec:
    return _SPECS[trigger]


_SPECS = {t.trigger: t for t in TRANSITIONS}


def parse_trigger(name: str) -> Trigger:
    try:
        return Trigger(name)
    except ValueError:
        raise UnknownTrigger(name, [t.value for t in Trigger]) from None


def triggers_from(state: State) -> list[Trigger]:
    """The triggers the table defines from `state`, whatever their guards say."""
    return [t.trigger for t in TRANSITIONS if state in t.sources]


def guards_of(trigger: Trigger) -> tuple[Guard, ...]:
    return tuple(GUARDS[name] for name in (*COMMON_GUARDS, *_SPECS[trigger].guards))


def failed_guards(
    trigger: Trigger, ctx: GuardContext, *, include_input: bool = True
) -> list[tuple[str, str]]:
    """(name, French message) of each guard of `trigger` that refuses `ctx`."""
    return [
        (g.name, g.message(ctx))
        for g in guards_of(trigger)
        if (include_input or not g.needs_input) and not g.check(ctx)
    ]


@dataclass(frozen=True)
class Availability:
    trigger: Trigger
    label: str
    allowed: bool
    failures: tuple[tuple[str, str], ...]
    inputs: frozenset[str]


def _inputs(trigger: Trigger) -> frozenset[str]:
    """What a form for `trigger` must ask: its parameters, and the reason where one is required."""
    needs_reason = "reason_given" in _SPECS[trigger].guards
    return TRIGGER_PARAMS.get(trigger, frozenset()) | ({"reason"} if needs_reason else set())


def available_triggers(ctx: GuardContext) -> list[Availability]:
    """For each trigger defined from the case's state: can it fire now (judging only what does not
    depend on the form's input), and if not, which guards say no."""
    out = []
    for trigger in triggers_from(ctx.state):
        failures = failed_guards(trigger, ctx, include_input=False)
        out.append(
            Availability(
                trigger,
                TRIGGER_LABELS[trigger],
                not failures,
                tuple(failures),
                _inputs(trigger),
            )
        )
    return out


class _CaseProxy:
    """What the shared machine sees of a case: just its state."""

    __slots__ = ("state",)

    def __init__(self, state: State) -> None:
        self.state = state


def _condition(guard: Guard) -> Callable[[Any], bool]:
    def check(event: Any) -> bool:
        return guard.check(event.kwargs["ctx"])

    check.__name__ = guard.name
    return check


@cache
def machine() -> Machine:
    """The one machine of the process, built on first use (no work at import time)."""
    return Machine(
        model=None,
        states=list(State),
        initial=State.LISTED,
        transitions=[
            {
                "trigger": t.trigger.value,
                "source": list(t.sources),
                "dest": t.dest,
                "conditions": [_condition(g) for g in guards_of(t.trigger)],
            }
            for t in TRANSITIONS
        ],
        auto_transitions=False,
        send_event=True,
    )


def next_state(trigger: Trigger | str, ctx: GuardContext) -> State:
    """Run `trigger` through the machine for a case in `ctx.state`; return the new state or
    raise (UnknownTrigger; TriggerRefused when not allowed from this state; GuardFailed naming
    the guards).
    The caller persists the result inside its transaction: the machine changes nothing else."""
    trig = trigger if isinstance(trigger, Trigger) else parse_trigger(trigger)
    if ctx.state not in _SPECS[trig].sources:
        raise TriggerRefused(
            f"Action « {TRIGGER_LABELS[trig]} » ({trig}) impossible depuis l'état "
            f"« {STATE_LABELS[ctx.state]} ». Actions possibles maintenant : "
            + (
                ", ".join(f"« {TRIGGER_LABELS[t]} » ({t})" for t in triggers_from(ctx.state))
                or "aucune"
            )
            + ".",
            trig,
        )
    failures = failed_guards(trig, ctx)
    if failures:
        raise GuardFailed(trig, failures, TRIGGER_LABELS[trig])
    proxy = _CaseProxy(ctx.state)
    try:
        fired = machine().events[trig.value].trigger(proxy, ctx=ctx)
    except MachineError as exc:  # pragma: no cover - the table check above already refused it
        raise TriggerRefused(str(exc), trig) from exc
    if not fired:  # pragma: no cover - guards are the same functions as the conditions
        raise GuardFailed(
            trig, [("machine", "refusé par la machine à états")], TRIGGER_LABELS[trig]
        )
    return State(proxy.state)
