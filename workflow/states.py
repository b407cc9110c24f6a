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

from workflow import clock, validation
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
    """The ten triggers of SPEC §3: the actions that move a case to another state."""

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


class CaseAction(StrEnum):
    """The actions that keep the case in its state but are events of its history all the same."""

    SUSPEND = "suspend"
    RESUME = "resume"
    ATTEST_SERVICE = "attest_service"
    NOTE = "note"
    CONTRACT_ISSUED = "contract_issued"
    CONTRACT_SIGNED = "contract_signed"
    SCAN_ATTACHED = "scan_attached"
    CORRECT_TRAINING = "correct_training"
    CHANGE_WORKING_TIME = "change_working_time"
    # Electronic signature (workflow.esign, issue 16): invitations sent, a party's refusal.
    ESIGN_STARTED = "esign_started"
    ESIGN_REFUSED = "esign_refused"
    MESSAGE = "message"  # a message of the case's thread (workflow.threads)


# Who may do what: caseworkers and admins everything, the other roles what their action lists.
STAFF = frozenset({"region", "admin"})


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
    def signing_parties(self) -> Mapping[str, str]:
        """Who signs the case's contract (the learner, its scheme's signing funders), in the
        order they sign by default, with how a message names each (SPEC §5)."""
        ...

    @property
    def breach_reasons(self) -> frozenset[str]: ...
    @property
    def exempting_reasons(self) -> frozenset[str]: ...
    def terms_changed(self, on: date) -> tuple[str, ...]:
        """In French, each term of the current contract that differs from the scheme's values
        in force on `on` (SPEC §4b: the signed contract fixes the terms)."""
        ...


class ActionFacts(CaseFacts, Protocol):
    """What the guards of the actions that keep the state also ask (suspensions, signatures)."""

    @property
    def service_start(self) -> date | None: ...
    @property
    def suspensions(self) -> tuple[tuple[date, date | None], ...]: ...
    @property
    def suspension_reasons(self) -> Mapping[str, str]: ...
    @property
    def contract_exists(self) -> bool: ...
    @property
    def contract_issued_on(self) -> date | None: ...
    @property
    def signatures(self) -> Mapping[str, tuple[str, date]]: ...
    @property
    def suspension_min_days(self) -> Mapping[str, int]: ...
    @property
    def working_times(self) -> tuple[tuple[date, Any], ...]: ...


@dataclass(frozen=True)
class GuardContext:
    state: State
    effective_date: date
    facts: CaseFacts
    last_effective_date: date | None = None
    reason: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    # The day the action is asked on (the case service's clock); None: not judged (replays).
    today: date | None = None

    @property
    def more(self) -> ActionFacts:
        """The facts as the guards of state-keeping actions need them."""
        return self.facts  # type: ignore[return-value]


@dataclass(frozen=True)
class Guard:
    name: str
    # The condition it checks, as the state diagram and the documentation read it.
    label: str
    check: Callable[[GuardContext], bool]
    # What is wrong with one case when the check fails.
    message: Callable[[GuardContext], str]
    # True when the guard depends on what the user types (a date, a reason): it cannot be
    # judged before the form is filled, so it does not hide an action from the "available" list.
    needs_input: bool = False
    # How the command line gives what is missing (printed by the CLI only: a web page shows no
    # code or option name, issue 15).
    hint: str = ""


def _d(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "?"


def _tier(ctx: GuardContext) -> str | None:
    return ctx.params.get("tier") or ctx.facts.tier


def _corrected_training(c: GuardContext) -> tuple[date, date] | None:
    """The training dates a correction asks for, when given and in order."""
    start = c.params.get("training_start") or c.facts.training_start
    end = c.params.get("training_end") or c.facts.training_end
    given = c.params.get("training_start") or c.params.get("training_end")
    if not given or start is None or end is None or end < start:
        return None
    return start, end


def _contract_ok(c: GuardContext) -> bool:
    f = c.facts
    return (
        f.contract_issued
        and f.contract_signed_by >= f.signing_parties.keys()
        and (_tier(c) is None or _tier(c) == f.contract_tier)
    )


def _contract_message(c: GuardContext) -> str:
    f = c.facts
    if not f.contract_issued:
        return "aucun contrat à jour n'est émis pour ce dossier"
    missing = [
        label for party, label in f.signing_parties.items() if party not in f.contract_signed_by
    ]
    if missing:
        return "le contrat n'est pas signé par " + ", ".join(missing)
    return f"le contrat émis porte sur le palier « {f.contract_tier} », pas « {_tier(c)} »"


def _start(c: GuardContext) -> date:
    """The first day of a suspension or of a working time: its `start` when it was reported late
    (the event is then dated later, SPEC §3), else the effective date."""
    start = c.params.get("start")
    return start if isinstance(start, date) else c.effective_date


def _too_short(c: GuardContext) -> tuple[int, int] | None:
    """(days, minimum) when the suspension asked for is closed and shorter than its reason's
    minimum (SPEC §4 « sick leave over a month »)."""
    minimum, end = c.more.suspension_min_days.get(c.reason or ""), c.params.get("end")
    if minimum is None or end is None:
        return None
    days = (end - _start(c)).days + 1
    return (days, minimum) if days < minimum else None


def _overlapping(c: GuardContext) -> tuple[date, date | None] | None:
    """The recorded suspension that the one asked for (its start … `end`) would overlap."""
    start, end = _start(c), c.params.get("end")
    for other_start, other_end in c.more.suspensions:
        if other_end is None or (start <= other_end and (end is None or end >= other_start)):
            return other_start, other_end
    return None


def _running_suspension(c: GuardContext) -> date | None:
    return next((start for start, end in c.more.suspensions if end is None), None)


def _already_signed(c: GuardContext) -> tuple[str, date] | None:
    return c.more.signatures.get(c.params.get("party") or "")


def _accepted_reasons(c: GuardContext) -> str:
    return ", ".join(f"{label} ({code})" for code, label in c.more.suspension_reasons.items())


GUARDS: Mapping[str, Guard] = {
    g.name: g
    for g in (
        Guard(
            "chronological",
            "date d'effet non antérieure au dernier événement",
            lambda c: c.last_effective_date is None or c.effective_date >= c.last_effective_date,
            lambda c: (
                f"la date d'effet ({_d(c.effective_date)}) précède le dernier événement du "
                f"dossier ({_d(c.last_effective_date)}) : les dates d'un dossier ne reculent jamais"
            ),
            needs_input=True,
        ),
        Guard(
            "within_horizon",
            "date d'effet pas trop loin dans l'avenir",
            lambda c: c.today is None or c.effective_date <= clock.horizon(c.today),
            lambda c: (
                f"la date d'effet ({_d(c.effective_date)}) est trop loin dans l'avenir : au plus "
                f"tard le {_d(clock.horizon(c.today) if c.today else None)}, les dates d'un "
                "dossier ne pouvant plus reculer ensuite"
            ),
            needs_input=True,
        ),
        Guard(
            "campaign_open",
            "campagne ouverte",
            lambda c: c.facts.campaign_open,
            lambda c: "la campagne n'est pas ouverte",
        ),
        Guard(
            "learner_authorised",
            "apprenant autorisé à candidater",
            lambda c: c.facts.learner_authorised,
            lambda c: "l'apprenant n'est pas inscrit dans un institut autorisé pour ce dispositif",
        ),
        Guard(
            "interview_date_given",
            "date de l'entretien renseignée",
            lambda c: c.params.get("interview_date") is not None,
            lambda c: "la date de l'entretien est obligatoire",
            needs_input=True,
            hint="--set interview_date=AAAA-MM-JJ",
        ),
        Guard(
            "interview_date_not_after_effective",
            "entretien au plus tard à la date d'effet",
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
            "une place encore libre sur l'offre",
            lambda c: c.facts.places_left > 0,
            lambda c: "il ne reste aucune place sur cette offre",
        ),
        Guard(
            "not_engaged_elsewhere",
            "apprenant sans autre contrat en cours",
            lambda c: not c.facts.engaged_elsewhere,
            lambda c: "l'apprenant est déjà retenu ou sous contrat ailleurs dans cette campagne",
        ),
        Guard(
            "reason_given",
            "motif renseigné",
            lambda c: bool(c.reason and c.reason.strip()),
            lambda c: "un motif est obligatoire",
            needs_input=True,
            hint="--reason TEXTE",
        ),
        Guard(
            "no_payment_if_contracted",
            "aucune allocation déjà versée",
            lambda c: c.state is not State.CONTRACTED or not c.facts.has_payments,
            lambda c: (
                "des paiements existent déjà pour ce contrat : enregistrez une rupture (breach)"
            ),
        ),
        Guard(
            "tier_chosen",
            "palier choisi",
            lambda c: _tier(c) in c.facts.tiers,
            lambda c: (
                "le palier (tier) doit être choisi parmi : " + ", ".join(sorted(c.facts.tiers))
                if _tier(c) is None
                else f"palier inconnu « {_tier(c)} » (paliers : {', '.join(sorted(c.facts.tiers))})"
            ),
            needs_input=True,
        ),
        Guard(
            "contract_signed",
            "contrat signé par les trois parties",
            _contract_ok,
            _contract_message,
            hint="fidelis contract generate, puis fidelis contract sign ou contract esign start",
        ),
        Guard(
            "contract_terms_in_force",
            "conditions du contrat en vigueur à la signature",
            lambda c: not c.facts.terms_changed(c.effective_date),
            lambda c: (
                f"les valeurs du dispositif en vigueur le {_d(c.effective_date)} diffèrent de "
                f"celles du contrat émis ({' ; '.join(c.facts.terms_changed(c.effective_date))}) "
                ": émettez une nouvelle version du contrat avant signature"
            ),
            needs_input=True,
        ),
        Guard(
            "corrected_training_dates",
            "nouvelles dates de formation données et dans l'ordre",
            lambda c: _corrected_training(c) is not None,
            lambda c: (
                "indiquez un nouveau début ou une nouvelle fin de formation"
                if not (c.params.get("training_start") or c.params.get("training_end"))
                else "la fin de formation doit suivre son début"
            ),
            needs_input=True,
        ),
        Guard(
            "valid_iban",
            "IBAN de l'apprenant valide",
            lambda c: c.facts.iban_valid,
            lambda c: "l'IBAN de l'apprenant est absent ou invalide",
        ),
        Guard(
            "training_dates",
            "dates de formation connues",
            lambda c: (
                c.facts.training_start is not None
                and c.facts.training_end is not None
                and c.facts.training_end > c.facts.training_start
            ),
            lambda c: "les dates de formation de l'apprenant sont absentes ou incohérentes",
        ),
        Guard(
            "not_before_training_start",
            "pas avant le début de la formation",
            lambda c: (
                c.facts.training_start is not None and c.effective_date >= c.facts.training_start
            ),
            lambda c: f"la formation ne commence que le {_d(c.facts.training_start)}",
            needs_input=True,
        ),
        Guard(
            "not_before_contract_date",
            "pas avant la date du contrat",
            lambda c: (
                c.facts.contract_date is not None and c.effective_date >= c.facts.contract_date
            ),
            lambda c: f"le contrat n'a été signé que le {_d(c.facts.contract_date)}",
            needs_input=True,
        ),
        Guard(
            "diploma_date_given",
            "date du diplôme renseignée",
            lambda c: c.params.get("diploma_date") is not None,
            lambda c: "la date d'obtention du diplôme est obligatoire",
            needs_input=True,
            hint="--set diploma_date=AAAA-MM-JJ",
        ),
        Guard(
            "service_not_before_diploma",
            "prise de poste après le diplôme",
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
            "engagement arrivé à son terme",
            lambda c: (
                c.facts.commitment_end is not None and c.effective_date > c.facts.commitment_end
            ),
            lambda c: f"l'engagement de servir court jusqu'au {_d(c.facts.commitment_end)} inclus",
            needs_input=True,
        ),
        Guard(
            "category_given",
            "motif de rupture choisi",
            lambda c: c.params.get("category") in c.facts.breach_reasons,
            lambda c: (
                "le motif de rupture est obligatoire, parmi : "
                + ", ".join(sorted(c.facts.breach_reasons))
                if c.params.get("category") is None
                else f"motif de rupture inconnu « {c.params['category']} »"
            ),
            needs_input=True,
            hint="--set category=MOTIF",
        ),
        Guard(
            "exemption_allowed",
            "exonération permise par le dispositif",
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
        # -- suspensions of the commitment (SPEC §4) --
        Guard(
            "suspension_reason_accepted",
            "motif de suspension accepté par le dispositif",
            lambda c: c.reason in c.more.suspension_reasons,
            lambda c: (
                f"motif de suspension « {c.reason or ''} » non accepté par ce dispositif "
                f"(motifs : {_accepted_reasons(c)})"
            ),
            needs_input=True,
        ),
        Guard(
            "suspension_not_before_service",
            "suspension pendant le service",
            lambda c: c.more.service_start is not None and _start(c) >= c.more.service_start,
            lambda c: (
                f"la suspension ({_d(_start(c))}) commence avant la prise de poste "
                f"({_d(c.more.service_start)})"
            ),
            needs_input=True,
        ),
        Guard(
            "suspension_end_after_start",
            "fin de suspension après son début",
            lambda c: c.params.get("end") is None or c.params["end"] >= _start(c),
            lambda c: "la fin de la suspension précède son début",
            needs_input=True,
        ),
        Guard(
            "no_running_suspension",
            "aucune suspension en cours",
            lambda c: _running_suspension(c) is None,
            lambda c: f"une suspension est en cours depuis le {_d(_running_suspension(c))}",
        ),
        Guard(
            "no_overlapping_suspension",
            "pas de chevauchement avec une autre suspension",
            lambda c: _overlapping(c) is None,
            lambda c: (
                f"la suspension chevauche celle du {_d((_overlapping(c) or (None, None))[0])}"
                f" au {_d((_overlapping(c) or (None, None))[1])}"
            ),
            needs_input=True,
        ),
        Guard(
            "suspension_long_enough",
            "suspension au moins aussi longue que le minimum de son motif",
            lambda c: _too_short(c) is None,
            lambda c: (
                f"une suspension pour ce motif doit durer au moins "
                f"{(_too_short(c) or (0, 0))[1]} jours (ici {(_too_short(c) or (0, 0))[0]}) : "
                "une absence plus courte compte comme du service et ne prolonge pas l'engagement"
            ),
            needs_input=True,
        ),
        # -- working time during service (SPEC §4: part time counts pro rata) --
        Guard(
            "working_time_given",
            "quotité de temps de travail renseignée",
            lambda c: c.params.get("part_time") is not None,
            lambda c: "la quotité de temps de travail (ex. 0,8) est obligatoire",
            needs_input=True,
            hint="--set part_time=0.8",
        ),
        Guard(
            "working_time_after_service_start",
            "changement après la prise de poste",
            lambda c: c.more.service_start is not None and _start(c) > c.more.service_start,
            lambda c: (
                f"le changement de temps de travail ({_d(_start(c))}) doit suivre la prise de "
                f"poste ({_d(c.more.service_start)}) ; la quotité de départ se donne à la prise "
                "de poste"
            ),
            needs_input=True,
        ),
        Guard(
            "one_working_time_change_a_day",
            "un seul changement de temps de travail par jour",
            lambda c: all(start != _start(c) for start, _ in c.more.working_times),
            lambda c: f"un changement de temps de travail est déjà enregistré le {_d(_start(c))}",
            needs_input=True,
        ),
        Guard(
            "suspension_running",
            "une suspension en cours",
            lambda c: _running_suspension(c) is not None,
            lambda c: "aucune suspension en cours sur ce dossier",
        ),
        Guard(
            "resume_after_suspension_start",
            "reprise après le début de la suspension",
            lambda c: (
                _running_suspension(c) is None or _start(c) > (_running_suspension(c) or _start(c))
            ),
            lambda c: (
                f"la reprise ({_d(_start(c))}) doit suivre le début de la suspension "
                f"({_d(_running_suspension(c))})"
            ),
            needs_input=True,
        ),
        Guard(
            "exemption_details_with_exemption",
            "date et auteur de la décision seulement avec une exonération",
            lambda c: (
                c.params.get("exemption") is not None
                or (c.params.get("exemption_on") is None and c.params.get("exemption_by") is None)
            ),
            lambda c: (
                "la date (exemption_on) et l'auteur (exemption_by) d'une décision "
                "d'exonération ne se donnent qu'avec sa référence (exemption)"
            ),
            needs_input=True,
        ),
        # -- notes, contracts and signatures --
        Guard(
            "text_given",
            "texte renseigné",
            lambda c: bool((c.params.get("text") or "").strip()),
            lambda c: "le texte de la note est obligatoire",
            needs_input=True,
        ),
        Guard(
            "message_given",
            "message rédigé",
            lambda c: bool((c.params.get("text") or "").strip()),
            lambda c: "le texte du message est obligatoire",
            needs_input=True,
        ),
        Guard(
            "contract_current",
            "contrat à jour émis",
            lambda c: c.facts.contract_issued,
            lambda c: (
                "le dossier a changé depuis l'émission du contrat : régénérez-le avant signature"
                if c.more.contract_exists
                else "aucun contrat émis pour ce dossier : émettez d'abord le contrat"
            ),
        ),
        Guard(
            "contract_exists",
            "contrat émis",
            lambda c: c.more.contract_exists,
            lambda c: "aucun contrat émis pour ce dossier",
        ),
        Guard(
            "party_known",
            "partie signataire connue",
            lambda c: c.params.get("party") in c.facts.signing_parties,
            lambda c: (
                f"partie inconnue « {c.params.get('party') or ''} » "
                f"(parties : {', '.join(c.facts.signing_parties)})"
            ),
            needs_input=True,
        ),
        Guard(
            "party_not_signed",
            "partie n'ayant pas encore signé",
            lambda c: _already_signed(c) is None,
            lambda c: (
                f"le contrat est déjà signé par {c.facts.signing_parties.get(c.params['party'])} "
                f"({(_already_signed(c) or ('', None))[0]}, "
                f"le {_d((_already_signed(c) or ('', None))[1])})"
            ),
            needs_input=True,
        ),
        Guard(
            "signer_named",
            "nom du signataire renseigné",
            lambda c: bool((c.params.get("name") or "").strip()),
            lambda c: "le nom du signataire est obligatoire",
            needs_input=True,
        ),
        Guard(
            "not_before_contract_issue",
            "signature après l'émission du contrat",
            lambda c: (
                c.more.contract_issued_on is None or c.effective_date >= c.more.contract_issued_on
            ),
            lambda c: (
                f"signature datée du {_d(c.effective_date)}, avant l'émission du contrat "
                f"({_d(c.more.contract_issued_on)})"
            ),
            needs_input=True,
        ),
    )
}
# Each guard as the condition it checks (a view of GUARDS, for the state diagram's table).
GUARD_LABELS: Mapping[str, str] = {name: g.label for name, g in GUARDS.items()}
# What the command line adds to a refusal: how to give what is missing (never shown on a page).
GUARD_HINTS: Mapping[str, str] = {name: g.hint for name, g in GUARDS.items() if g.hint}


# -- the actions table ------------------------------------------------------------------------


def _text(value: str) -> str | None:
    return value.strip() or None


# The limit (workflow.validation.LIMITS) of each kind of input.
_PARAM_LIMITS = {"date": "date", "ratio": "number", "choice": "code", "text": "reference"}


@dataclass(frozen=True)
class Param:
    """One input of an action: its name (as `--set KEY=VALUE` and the forms spell it), its French
    label, how a form asks for it, and how the text typed becomes a value."""

    name: str
    label: str
    kind: str = "text"  # "date", "ratio", "choice" or "text": the form's widget
    optional: bool = False
    limit: str = ""  # its entry in workflow.validation.LIMITS; by default, its kind's

    def parse(self, value: str) -> Any:
        if self.kind == "date":
            return validation.parse_date(value, self.name)
        if self.kind == "ratio":
            return validation.ratio(value, self.name)
        return _text(self.bounded(value))

    def bounded(self, value: str) -> str:
        """`value` within the limit of the input's kind, free of control characters."""
        limit = self.limit or _PARAM_LIMITS[self.kind]
        return validation.text(value, limit, label=f"« {self.label} »", field=self.name)


REASON = Param("reason", "Motif", limit="reason")


@dataclass(frozen=True)
class Action:
    """Everything a case can undergo, declared once: its label, the states it applies from, the
    state it leads to (None: the state stays), its named guards, its inputs, who may do it."""

    name: str
    label: str  # a button: « Envoyer la candidature »
    fact: str  # the history's past fact once done: « Candidature envoyée »
    sources: frozenset[State]
    dest: State | None
    guards: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    roles: frozenset[str] = STAFF
    # Fired by the nightly run on its due date (it can also be recorded by hand).
    automatic: bool = False

    @property
    def changes_state(self) -> bool:
        return self.dest is not None

    @property
    def inputs(self) -> frozenset[str]:
        return frozenset(p.name for p in self.params)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def check_bounds(self, reason: str | None, params: Mapping[str, Any]) -> None:
        """Refuse (InvalidInput) a reason or a typed input beyond its limit or with control
        characters, whoever passes it (the gate calls this for every action)."""
        if reason is not None:
            (self.param("reason") or REASON).bounded(reason)
        for name, value in params.items():
            param = self.param(name)
            if param is not None and isinstance(value, str):
                param.bounded(value)


_S = State
_ALIVE = frozenset(
    {_S.SELECTED, _S.CONTRACTED, _S.IN_TRAINING, _S.SERVING, _S.COMPLETED, _S.BREACHED}
)
# SPEC §3 (the ten triggers) and the actions that keep the state. Every action also checks that
# effective dates never go backwards (COMMON_GUARDS).
ACTIONS: Mapping[str, Action] = {
    a.name: a
    for a in (
        Action(
            Trigger.SUBMIT,
            "Envoyer la candidature",
            "Candidature envoyée",
            frozenset({_S.LISTED}),
            _S.APPLIED,
            ("campaign_open", "learner_authorised"),
            roles=STAFF | {"institute", "learner"},  # a learner applies (issue 15)
        ),
        Action(
            Trigger.INTERVIEW,
            "Enregistrer l'entretien",
            "Entretien",
            frozenset({_S.APPLIED}),
            _S.INTERVIEWED,
            ("interview_date_given", "interview_date_not_after_effective"),
            (Param("interview_date", "Date de l'entretien", "date"),),
            roles=STAFF | {"employer"},
        ),
        Action(
            Trigger.SELECT,
            "Retenir l'apprenant",
            "Retenu par l'employeur",
            frozenset({_S.INTERVIEWED}),
            _S.SELECTED,
            ("places_left", "not_engaged_elsewhere"),
            roles=STAFF | {"employer"},
        ),
        Action(
            Trigger.REJECT,
            "Ne pas retenir",
            "Non retenu",
            frozenset({_S.APPLIED, _S.INTERVIEWED}),
            _S.REJECTED,
            ("reason_given",),
            (REASON,),
            roles=STAFF | {"employer"},
        ),
        Action(
            Trigger.WITHDRAW,
            "Retirer le dossier",
            "Retrait du dossier",
            frozenset({_S.LISTED, _S.APPLIED, _S.INTERVIEWED, _S.SELECTED, _S.CONTRACTED}),
            _S.WITHDRAWN,
            ("reason_given", "no_payment_if_contracted"),
            (REASON,),
            roles=STAFF | {"institute"},
        ),
        Action(
            Trigger.SIGN,
            "Enregistrer la signature du contrat",
            "Contrat signé par les trois parties",
            frozenset({_S.SELECTED}),
            _S.CONTRACTED,
            (
                "tier_chosen",
                "valid_iban",
                "training_dates",
                "contract_signed",
                "contract_terms_in_force",
            ),
            (Param("tier", "Palier", "choice", optional=True),),
        ),
        Action(
            Trigger.START_TRAINING,
            "Démarrer la période d'allocation",
            "Début de la période d'allocation",
            frozenset({_S.CONTRACTED}),
            _S.IN_TRAINING,
            ("not_before_training_start", "not_before_contract_date"),
            roles=STAFF | {"institute"},
            automatic=True,
        ),
        Action(
            Trigger.START_SERVICE,
            "Enregistrer la prise de poste",
            "Prise de poste",
            frozenset({_S.IN_TRAINING}),
            _S.SERVING,
            ("diploma_date_given", "service_not_before_diploma"),
            (
                Param("diploma_date", "Date d'obtention du diplôme", "date"),
                Param("part_time", "Quotité de temps partiel (ex. 0,8)", "ratio", optional=True),
            ),
            roles=STAFF | {"institute"},
        ),
        Action(
            Trigger.COMPLETE,
            "Clore l'engagement honoré",
            "Engagement honoré",
            frozenset({_S.SERVING}),
            _S.COMPLETED,
            ("after_commitment_end",),
            automatic=True,
        ),
        Action(
            Trigger.BREACH,
            "Enregistrer une rupture",
            "Rupture",
            frozenset({_S.CONTRACTED, _S.IN_TRAINING, _S.SERVING}),
            _S.BREACHED,
            ("category_given", "exemption_allowed", "exemption_details_with_exemption"),
            (
                Param("category", "Motif de rupture", "choice"),
                Param(
                    "exemption",
                    "Référence de la décision d'exonération (le cas échéant)",
                    optional=True,
                ),
                # The decision's own date and author (SPEC §4: who, when, reference); by
                # default the breach's date and the person recording it.
                Param("exemption_on", "Date de la décision d'exonération", "date", optional=True),
                Param(
                    "exemption_by",
                    "Auteur de la décision d'exonération",
                    optional=True,
                    limit="name",
                ),
            ),
        ),
        Action(
            CaseAction.SUSPEND,
            "Suspendre l'engagement",
            "Suspension de l'engagement",
            frozenset({_S.SERVING}),
            None,
            (
                "suspension_reason_accepted",
                "suspension_not_before_service",
                "suspension_end_after_start",
                "no_running_suspension",
                "no_overlapping_suspension",
                "suspension_long_enough",
            ),
            (
                Param("reason", "Motif de suspension", "choice"),
                Param("end", "Fin de la suspension (si connue)", "date", optional=True),
            ),
        ),
        Action(
            CaseAction.RESUME,
            "Reprendre l'engagement",
            "Reprise après suspension",
            frozenset({_S.SERVING}),
            None,
            ("suspension_running", "resume_after_suspension_start"),
        ),
        Action(
            CaseAction.CHANGE_WORKING_TIME,
            "Changement de temps de travail",
            "Changement de temps de travail",
            frozenset({_S.SERVING}),
            None,
            (
                "working_time_given",
                "working_time_after_service_start",
                "one_working_time_change_a_day",
            ),
            (Param("part_time", "Nouvelle quotité de temps de travail (ex. 0,8)", "ratio"),),
            roles=STAFF | {"employer"},
        ),
        Action(
            CaseAction.ATTEST_SERVICE,
            "Attester le service",
            "Attestation de service",
            frozenset({_S.SERVING}),
            None,
            roles=STAFF | {"employer"},
        ),
        Action(
            CaseAction.NOTE,
            "Ajouter une note",
            "Note",
            frozenset(State),
            None,
            ("text_given",),
            (Param("text", "Note", limit="note"),),
        ),
        Action(
            CaseAction.MESSAGE,
            "Envoyer un message",
            "Message",
            frozenset(State),
            None,
            ("message_given",),
            (Param("text", "Message", limit="note"),),
            # Whoever has a thread on the case (workflow.threads); the learner's role to come.
            roles=STAFF | {"employer", "learner"},
        ),
        Action(
            CaseAction.CONTRACT_ISSUED,
            "Émettre le contrat",
            "Contrat émis",
            frozenset({_S.SELECTED}),
            None,
            ("tier_chosen", "valid_iban", "training_dates"),
            (Param("tier", "Palier", "choice", optional=True),),
        ),
        Action(
            CaseAction.CONTRACT_SIGNED,
            "Enregistrer la signature d'une partie",
            "Signature d'une partie",
            frozenset({_S.SELECTED}),
            None,
            (
                "contract_current",
                "party_known",
                "party_not_signed",
                "signer_named",
                "not_before_contract_issue",
            ),
            (Param("party", "Partie", "choice"), Param("name", "Nom du signataire", limit="name")),
        ),
        Action(
            CaseAction.ESIGN_STARTED,
            "Envoyer le contrat à la signature électronique",
            "Contrat envoyé à la signature électronique",
            frozenset({_S.SELECTED}),
            None,
            ("contract_current",),
        ),
        Action(
            CaseAction.ESIGN_REFUSED,
            "Refuser de signer le contrat",
            "Signature du contrat refusée",
            frozenset({_S.SELECTED}),
            None,
            ("contract_current", "party_known", "reason_given"),
            (Param("party", "Partie", "choice"),),
        ),
        Action(
            CaseAction.SCAN_ATTACHED,
            "Joindre le contrat signé (scan)",
            "Contrat signé numérisé joint",
            _ALIVE,
            None,
            ("contract_exists",),
        ),
        Action(
            CaseAction.CORRECT_TRAINING,
            "Corriger les dates de formation",
            "Dates de formation corrigées",
            frozenset({_S.CONTRACTED, _S.IN_TRAINING, _S.SERVING}),
            None,
            ("corrected_training_dates",),
            (
                Param("training_start", "Nouveau début de formation", "date", optional=True),
                Param("training_end", "Nouvelle fin de formation", "date", optional=True),
            ),
        ),
    )
}
COMMON_GUARDS = ("chronological", "within_horizon")


# Views of ACTIONS, for the code that only deals with the ten triggers.
@dataclass(frozen=True)
class TransitionSpec:
    trigger: Trigger
    sources: tuple[State, ...]
    dest: State
    guards: tuple[str, ...]


TRANSITIONS: tuple[TransitionSpec, ...] = tuple(
    TransitionSpec(Trigger(a.name), tuple(s for s in State if s in a.sources), a.dest, a.guards)
    for a in ACTIONS.values()
    if a.dest is not None
)
TRIGGER_LABELS: Mapping[Trigger, str] = {
    Trigger(t.trigger): ACTIONS[t.trigger].label for t in TRANSITIONS
}
# The parameters (`--set KEY=VALUE`) each trigger reads; any other key is refused.
TRIGGER_PARAMS: Mapping[Trigger, frozenset[str]] = {
    t.trigger: ACTIONS[t.trigger].inputs - {"reason"}
    for t in TRANSITIONS
    if ACTIONS[t.trigger].inputs - {"reason"}
}


def action(name: str) -> Action:
    """The action called `name` (a trigger or a state-keeping action), or UnknownTrigger."""
    try:
        return ACTIONS[name]
    except KeyError:
        raise UnknownTrigger(name, list(ACTIONS)) from None


def label(name: str) -> str:
    """The French label of an action (a button), or of an event that is no action (`open`)."""
    found = ACTIONS.get(name)
    return found.label if found else EVENT_LABELS.get(name, name)


def param_label(action_name: str, name: str) -> str:
    """The French label of the input `name` of an action (for the forms)."""
    found = ACTIONS.get(action_name)
    param = found.param(name) if found else None
    return param.label if param else name


# The history's events as past facts: every action's, and the first event of every case.
EVENT_LABELS: Mapping[str, str] = {
    "open": "Ouverture du dossier",
    **{name: a.fact for name, a in ACTIONS.items()},
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


def guards_of(name: str) -> tuple[Guard, ...]:
    return tuple(GUARDS[g] for g in (*COMMON_GUARDS, *ACTIONS[name].guards))


def failed_guards(
    name: str, ctx: GuardContext, *, include_input: bool = True
) -> list[tuple[str, str]]:
    """(name, French message) of each guard of the action `name` that refuses `ctx`."""
    return [
        (g.name, g.message(ctx))
        for g in guards_of(name)
        if (include_input or not g.needs_input) and not g.check(ctx)
    ]


@dataclass(frozen=True)
class Availability:
    trigger: str  # the action's name (a Trigger for the ten triggers)
    label: str
    allowed: bool
    failures: tuple[tuple[str, str], ...]
    inputs: frozenset[str]
    changes_state: bool = True
    roles: frozenset[str] = STAFF


def available_actions(ctx: GuardContext, *, role: str | None = None) -> list[Availability]:
    """For each action defined from the case's state (triggers first): can it be done now
    (judging only what does not depend on the form's input), and if not, which guards say no.
    With `role`, only the actions that role may do."""
    out = []
    for a in ACTIONS.values():
        if ctx.state not in a.sources or (role is not None and role not in a.roles):
            continue
        failures = failed_guards(a.name, ctx, include_input=False)
        out.append(
            Availability(
                Trigger(a.name) if a.changes_state else a.name,
                a.label,
                not failures,
                tuple(failures),
                a.inputs,
                a.changes_state,
                a.roles,
            )
        )
    return out


def available_triggers(ctx: GuardContext) -> list[Availability]:
    """The ten triggers' part of `available_actions`."""
    return [a for a in available_actions(ctx) if a.changes_state]


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


def _refused_from_state(a: Action, state: State) -> str:
    if a.changes_state:
        return (
            f"Action « {a.label} » ({a.name}) impossible depuis l'état "
            f"« {STATE_LABELS[state]} ». Actions possibles maintenant : "
            + (
                ", ".join(f"« {TRIGGER_LABELS[t]} » ({t})" for t in triggers_from(state))
                or "aucune"
            )
            + "."
        )
    allowed = ", ".join(f"« {STATE_LABELS[s]} »" for s in State if s in a.sources)
    return (
        f"« {a.label} » ne s'enregistre pas dans l'état « {STATE_LABELS[state]} » "
        f"(états permis : {allowed})"
    )


def check(name: str, ctx: GuardContext) -> State:
    """Judge the action `name` for a case in `ctx`: return the state the case will be in (its
    own for an action that keeps the state), or raise UnknownTrigger, TriggerRefused (a trigger
    not defined from this state) or GuardFailed naming every guard that said no.
    The caller persists the result inside its transaction: nothing else changes here."""
    a = action(name)
    if a.changes_state:
        return next_state(Trigger(a.name), ctx)
    failures = failed_guards(a.name, ctx)
    if ctx.state not in a.sources:
        failures.insert(0, ("state", _refused_from_state(a, ctx.state)))
    if failures:
        raise GuardFailed(a.name, failures, a.label)
    return ctx.state


def next_state(trigger: Trigger | str, ctx: GuardContext) -> State:
    """Run `trigger` through the machine for a case in `ctx.state`; return the new state or
    raise (UnknownTrigger; TriggerRefused when not allowed from this state; GuardFailed naming
    the guards).
    The caller persists the result inside its transaction: the machine changes nothing else."""
    trig = trigger if isinstance(trigger, Trigger) else parse_trigger(trigger)
    if ctx.state not in _SPECS[trig].sources:
        raise TriggerRefused(_refused_from_state(ACTIONS[trig], ctx.state), trig)
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


__all__ = [
    "ACTIONS",
    "EVENT_LABELS",
    "GUARDS",
    "GUARD_HINTS",
    "GUARD_LABELS",
    "STAFF",
    "STATE_LABELS",
    "TRANSITIONS",
    "TRIGGER_LABELS",
    "Action",
    "Availability",
    "CaseAction",
    "CaseFacts",
    "Guard",
    "GuardContext",
    "Param",
    "State",
    "Trigger",
    "action",
    "available_actions",
    "available_triggers",
    "check",
    "failed_guards",
    "label",
    "machine",
    "next_state",
    "param_label",
    "parse_trigger",
]
