"""Schemes as configuration: `config/schemes/*.yaml`, validated with pydantic (SPEC §2, §4).

Values that may change over time are *dated* (OpenFisca style): a mapping from the date a value
applies from to the value and the reference of the text that set it. A lookup takes a date — the
case's contract date — so a new rate never rewrites an older contract.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workflow import money
from workflow.errors import FidelisError
from workflow.paths import config_dir
from workflow.validation import shown

T = TypeVar("T")

BREACH_REASONS = (
    "resignation",
    "dismissal",
    "training_abandoned",
    "refused_post",
    "diploma_failed",
    "medical_inaptitude",
    "force_majeure",
    "employer_default",
    "employer_closure",
    "other",
)
SUSPENSION_REASONS = (
    "maternity",
    "paternity",
    "adoption",
    "parental_leave",
    "sick_leave",
    "disponibilite",
)
SECTORS = ("home_care", "elderly", "disability", "hospital", "other")
REMINDER_KINDS = (
    "application_without_interview",
    "selection_without_contract",
    "contract_unsigned",
    "training_ended_without_service",
    "service_attestation_missing",
    "employer_share_unconfirmed",
    "commitment_end_approaching",
)

BreachReason = Literal[
    "resignation",
    "dismissal",
    "training_abandoned",
    "refused_post",
    "diploma_failed",
    "medical_inaptitude",
    "force_majeure",
    "employer_default",
    "employer_closure",
    "other",
]
SuspensionReason = Literal[
    "maternity", "paternity", "adoption", "parental_leave", "sick_leave", "disponibilite"
]
Sector = Literal["home_care", "elderly", "disability", "hospital", "other"]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
# An amount a scheme pays or charges: a zero or negative one is a typing mistake.
Amount = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]
# A funder code as the YAML writes it, in `funders` and under each tier's `monthly`.
FunderCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=20)]
# The party who signs every contract besides its signing funders.
LEARNER = "learner"


class SchemeError(FidelisError):
    """A scheme file is missing, unreadable or invalid; the message names the file and the key."""


class UnknownScheme(FidelisError):
    def __init__(self, scheme_id: str, known: list[str]) -> None:
        super().__init__(
            f"Dispositif inconnu : « {shown(scheme_id)} ». "
            f"Dispositifs configurés : {', '.join(known) or 'aucun'}."
        )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatedValue(_Strict, Generic[T]):
    value: T
    reference: str = Field(min_length=1)


class Dated(_Strict, Generic[T]):
    """A value that changes over time: {start date: {value, reference}}."""

    values: dict[date, DatedValue[T]]

    @model_validator(mode="before")
    @classmethod
    def _wrap(cls, data: Any) -> Any:
        # The YAML writes the mapping directly under the key; accept both shapes.
        if isinstance(data, Mapping) and "values" not in data:
            return {"values": data}
        return data

    @field_validator("values")
    @classmethod
    def _not_empty_and_in_order(
        cls, values: dict[date, DatedValue[T]]
    ) -> dict[date, DatedValue[T]]:
        if not values:
            raise ValueError("au moins une valeur datée est requise")
        # Read in file order: a date out of order is most likely a typo in it.
        starts = list(values)
        for before, after in pairwise(starts):
            if after <= before:
                raise ValueError(
                    f"{after.isoformat()}: les dates doivent se suivre dans l'ordre croissant "
                    f"(cette date suit le {before.isoformat()})"
                )
        return values

    def at(self, on: date) -> T:
        """The value in force on `on`: the one with the latest start date not after it."""
        return self.entry_at(on).value

    def entry_at(self, on: date) -> DatedValue[T]:
        starts = sorted(d for d in self.values if d <= on)
        if not starts:
            first = min(self.values)
            raise SchemeError(
                f"aucune valeur en vigueur le {on.isoformat()} (première le {first.isoformat()})"
            )
        return self.values[starts[-1]]


class Rurality(_Strict):
    rule: Literal["not_in_urban_epci"] = "not_in_urban_epci"
    urban_epci_types: frozenset[str] = frozenset({"CA", "CU", "METRO", "MET69"})
    reference: str | None = None


class Eligibility(_Strict):
    sectors: tuple[Sector, ...] = Field(min_length=1)
    recruitment_difficulty_required: bool = True
    rurality: Rurality | None = None


class Tier(_Strict):
    label: str
    monthly: dict[FunderCode, Dated[Amount]]
    commitment_months: Dated[Annotated[int, Field(ge=1)]]


class Allowance(_Strict):
    proration: money.Proration = "calendar_days"
    payment_day: Dated[Annotated[int, Field(ge=1, le=28)]]
    cumulable_with: tuple[str, ...] = ()


class Commitment(_Strict):
    part_time: Literal["prorata", "full"] = "prorata"
    suspension_reasons: tuple[SuspensionReason, ...] = ()
    # The shortest suspension, in calendar days, that suspends the commitment, per reason
    # (SPEC §4 « sick leave over a month »: `{sick_leave: 31}`); a reason not listed has none.
    suspension_min_days: dict[SuspensionReason, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _minimums_for_accepted_reasons(self) -> Commitment:
        for reason in self.suspension_min_days:
            if reason not in self.suspension_reasons:
                raise ValueError(
                    f"suspension_min_days.{reason}: motif absent de suspension_reasons "
                    f"(motifs acceptés : {', '.join(self.suspension_reasons) or 'aucun'})"
                )
        return self

    def min_days(self, reason: str) -> int | None:
        """The minimum length of a suspension for `reason`, if the scheme sets one."""
        return next((n for code, n in self.suspension_min_days.items() if code == reason), None)

    def counts(self, reason: str, start: date, end: date) -> bool:
        """Whether a closed suspension [start, end] suspends the commitment: one shorter than
        its reason's minimum does not (the learner's ordinary short absences are service)."""
        minimum = self.min_days(reason)
        return minimum is None or (end - start).days + 1 >= minimum


class ProrataUnservedRule(_Strict):
    kind: Literal["prorata_unserved"]


class FullRefundRule(_Strict):
    kind: Literal["full_refund"]


class SlidingStepRule(_Strict):
    within_months: int = Field(ge=1)
    rate: Decimal = Field(ge=0, le=1)


class SlidingScaleRule(_Strict):
    kind: Literal["sliding_scale"]
    steps: tuple[SlidingStepRule, ...] = Field(min_length=1)
    after: Decimal = Field(default=Decimal(0), ge=0, le=1)

    @model_validator(mode="after")
    def _steps_increase(self) -> SlidingScaleRule:
        # money.SlidingScale reads "the first step whose limit exceeds the time served".
        limits = [s.within_months for s in self.steps]
        for i in range(1, len(limits)):
            if limits[i] <= limits[i - 1]:
                raise ValueError(
                    f"steps.{i}.within_months: les paliers doivent être en nombre de mois "
                    f"strictement croissant ({limits[i]} après {limits[i - 1]})"
                )
        return self


class CespRule(_Strict):
    kind: Literal["cesp"]
    penalty_per_month: Amount
    penalty_cap: Amount


BreachRuleConfig = Annotated[
    ProrataUnservedRule | FullRefundRule | SlidingScaleRule | CespRule, Field(discriminator="kind")
]


class Breach(_Strict):
    rule: Dated[BreachRuleConfig]
    day_count: Literal["30E/360"] = "30E/360"
    exempting_reasons: tuple[BreachReason, ...] = ()
    recovery_days: Dated[Annotated[int, Field(ge=0)]]


class Documents(_Strict):
    """What the scheme's documents say of the funding body (SPEC §5)."""

    place: str  # "Fait à …"
    signatory: str  # who signs for the funding body
    address: str
    court: str  # the competent administrative court
    data_protection_contact: str


class Retention(_Strict):
    years_after_closure: int = Field(ge=1)


# -- funders as data (issue 13 item 3) ----------------------------------------------------------

# How a funder's shares reach the learner (SPEC §4): `transfer`, a SEPA pain.001 file debited
# from the funder's own account; `statement`, the case's employer pays the learner and confirms
# on a monthly statement; `external`, paid outside Fidelis, recorded only.
FunderChannel = Literal["transfer", "statement", "external"]
FUNDER_CHANNELS: tuple[FunderChannel, ...] = ("transfer", "statement", "external")
# The code that names the case's own employer as a funder: the only one paid by `statement`,
# the only one whose debts go back to it (`recovery.channel: employer`).
EMPLOYER = "employer"


class DebtorAccount(_Strict):
    """The account a `transfer` funder's SEPA files debit; what the scheme leaves out comes from
    the settings (FIDELIS_SEPA_<FUNDER>_NAME / _IBAN / _BIC, workflow.settings)."""

    name: str | None = Field(default=None, min_length=1, max_length=70)
    iban: str | None = None
    bic: str | None = Field(default=None, pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")

    @field_validator("iban")
    @classmethod
    def _iban(cls, value: str | None) -> str | None:
        from schwifty import IBAN
        from schwifty.exceptions import SchwiftyException

        if value is None:
            return None
        try:
            return str(IBAN(value).compact)
        except SchwiftyException:
            raise ValueError(f"IBAN invalide : « {shown(value)} »") from None


class FunderSignature(_Strict):
    """A funder that signs the contract: the heading of its block and who signs for it."""

    # Who signs, e.g. « La Présidente de la Région …, ou son représentant »; none: the case's
    # employer's name (the employer signs for itself).
    title: str | None = Field(default=None, min_length=1)
    # The block's heading; none: « Pour » and the funder's label.
    heading: str | None = Field(default=None, min_length=1)


class FunderRecovery(_Strict):
    """How a debt owed to the funder is recovered: a « titre de recette » (or order to repay)
    paid to `payee`, or repaid to the case's employer, who confirms (`employer`)."""

    channel: Literal["title", "employer"] = "title"
    # Who the learner repays, as the recovery order names it; none: the funder's label.
    payee: str | None = Field(default=None, min_length=1)


class Funder(_Strict):
    """One funder of a scheme, as the YAML declares it under `funders: {code: …}`."""

    # How a sentence names it: « la Région Occitanie / Pyrénées-Méditerranée », « l'employeur ».
    label: str = Field(min_length=1)
    # How the contract names it once introduced: « la Région », « l'ARS ».
    short: str | None = Field(default=None, min_length=1)
    channel: FunderChannel
    debtor: DebtorAccount | None = None
    signs: FunderSignature | None = None
    recovery: FunderRecovery = FunderRecovery()

    @model_validator(mode="before")
    @classmethod
    def _channel_said(cls, data: Any) -> Any:
        # "channel: field required" says nothing of what to write: name the three choices.
        if isinstance(data, Mapping) and "channel" not in data:
            raise ValueError(
                "channel: mode de paiement manquant (transfer : virement SEPA du financeur, "
                "statement : l'employeur verse et confirme, external : versé hors Fidelis)"
            )
        return data

    @property
    def signs_contract(self) -> bool:
        return self.signs is not None

    def payee(self) -> str:
        return self.recovery.payee or self.label


def _check_funders(funders: Mapping[str, Funder]) -> None:
    """What pydantic cannot say of one funder alone: the employer's channels, the debtor account
    of a transfer funder only."""
    for code, funder in funders.items():
        if code == LEARNER:
            raise ValueError(f"funders.{code}: « {LEARNER} » désigne l'apprenant, pas un financeur")
        if funder.channel == "statement" and code != EMPLOYER:
            raise ValueError(
                f"funders.{code}.channel: « statement » (relevé mensuel, l'employeur verse et "
                f"confirme) est réservé à l'employeur du dossier, déclaré sous le code "
                f"« {EMPLOYER} »"
            )
        if funder.recovery.channel == "employer" and code != EMPLOYER:
            raise ValueError(
                f"funders.{code}.recovery.channel: « employer » (remboursé à l'employeur) est "
                f"réservé au financeur « {EMPLOYER} »"
            )
        if funder.signs is not None and funder.signs.title is None and code != EMPLOYER:
            raise ValueError(
                f"funders.{code}.signs.title: qui signe pour ce financeur (par exemple « La "
                "Présidente de la Région …, ou son représentant ») est obligatoire"
            )
        if funder.debtor is not None and funder.channel != "transfer":
            raise ValueError(
                f"funders.{code}.debtor: un compte à débiter ne sert qu'au mode « transfer » "
                f"(ce financeur est payé en « {funder.channel} »)"
            )


def check_funders_agree(schemes: Mapping[str, Scheme]) -> None:
    """A funder code names one payer across schemes: the same channel and the same debtor
    account everywhere (one SEPA file per funder gathers its shares of every scheme)."""
    seen: dict[str, tuple[str, Funder]] = {}
    for scheme_id, scheme in schemes.items():
        for code, funder in scheme.declared_funders.items():
            if code not in seen:
                seen[code] = (scheme_id, funder)
                continue
            other_id, other = seen[code]
            if (funder.channel, funder.debtor) != (other.channel, other.debtor):
                raise SchemeError(
                    f"{scheme_id}: funders.{code}: le financeur « {code} » est déclaré autrement "
                    f"dans le dispositif {other_id} (mode de paiement ou compte à débiter) : un "
                    "code de financeur désigne un seul payeur ; donnez-lui un autre code"
                )


# -- the scheme ----------------------------------------------------------------------------------


class Assignment(_Strict):
    """Who a running case nobody assigned by hand goes to (workflow.queue.assign_by_rule): by
    the employer's département (its INSEE code's first two characters), an agent's address."""

    by_departement: dict[
        Annotated[str, Field(pattern=r"^(\d{2}|2A|2B)$")],
        Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)],
    ] = Field(min_length=1)


class Scheme(_Strict):
    # A scheme dumped (`model_dump`) names its funders by the field's name: read both back.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    label: str
    funding_body: str
    region_code: str = Field(pattern=r"^\d{2}$")
    contract_prefix: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]*$")
    training: str
    # `funders` in the YAML: {code: declaration}, in the order the documents list them.
    declared_funders: dict[FunderCode, Funder] = Field(alias="funders", min_length=1)
    references: dict[str, str] = Field(default_factory=dict)
    eligibility: Eligibility
    tiers: dict[str, Tier] = Field(min_length=1)
    allowance: Allowance
    commitment: Commitment
    breach: Breach
    reminders: dict[
        Literal[
            "application_without_interview",
            "selection_without_contract",
            "contract_unsigned",
            "training_ended_without_service",
            "service_attestation_missing",
            "employer_share_unconfirmed",
            "commitment_end_approaching",
            "debt_overdue",  # SPEC §4b: days after a debt's due date
            "debt_instalment_missed",  # days after a missed instalment before the plan lapses
        ],
        Annotated[int, Field(ge=0)],
    ] = Field(default_factory=dict)
    retention: Retention
    documents: Documents
    # The queue's automatic assignment (optional; workflow.queue).
    assignment: Assignment | None = None

    @model_validator(mode="after")
    def _every_tier_pays_every_funder(self) -> Scheme:
        # `funders` is the declaration (a mapping: each code once), and every tier gives an
        # amount for each declared funder and for no other (a code outside it would never be
        # paid).
        _check_funders(self.declared_funders)
        declared = ", ".join(self.funders)
        for code, tier in self.tiers.items():
            unknown = [f for f in tier.monthly if f not in self.funders]
            if unknown:
                raise ValueError(
                    f"tiers.{code}.monthly.{unknown[0]}: financeur non déclaré dans funders "
                    f"(financeurs déclarés : {declared})"
                )
            missing = [f for f in self.funders if f not in tier.monthly]
            if missing:
                raise ValueError(
                    f"tiers.{code}.monthly: montant manquant pour le(s) financeur(s) "
                    f"{', '.join(missing)}"
                )
        return self

    @model_validator(mode="after")
    def _breach_rules_compute(self) -> Scheme:
        # Build each dated rule now, so a rule money.py refuses fails at load, not at a breach.
        for start in self.breach.rule.values:
            try:
                self.breach_rule(start)
            except ValueError as exc:
                raise ValueError(
                    f"breach.rule.{start.isoformat()}.value: règle de remboursement refusée "
                    f"({_french_rule_error(str(exc))})"
                ) from None
        return self

    # -- funders -----------------------------------------------------------------------------

    @property
    def funders(self) -> tuple[str, ...]:
        """The funders' codes, in the order the scheme declares them."""
        return tuple(self.declared_funders)

    def funder(self, code: str) -> Funder:
        try:
            return self.declared_funders[code]
        except KeyError:
            raise FidelisError(
                f"Financeur inconnu pour le dispositif {self.id} : « {shown(code)} » "
                f"(financeurs : {', '.join(self.funders)})."
            ) from None

    def funders_paid_by(self, channel: FunderChannel) -> tuple[str, ...]:
        return tuple(c for c, f in self.declared_funders.items() if f.channel == channel)

    def signing_funders(self) -> tuple[str, ...]:
        """The funders that sign the contract, in the scheme's order (after the learner)."""
        return tuple(c for c, f in self.declared_funders.items() if f.signs is not None)

    def signing_parties(self) -> tuple[str, ...]:
        """Who signs the contract, in the order they sign by default: the learner, then the
        signing funders."""
        return (LEARNER, *self.signing_funders())

    def party_label(self, party: str) -> str:
        """How a message names a signing party: « l'apprenant », « l'employeur », « le
        financeur (l'Agence régionale de santé …) »; an unknown code as it is."""
        if party == LEARNER:
            return "l'apprenant"
        funder = self.declared_funders.get(party)
        if funder is None:
            return party
        return funder.label if party == EMPLOYER else f"le financeur ({funder.label})"

    # -- lookups -----------------------------------------------------------------------------

    def tier(self, code: str) -> Tier:
        try:
            return self.tiers[code]
        except KeyError:
            raise FidelisError(
                f"Palier inconnu pour le dispositif {self.id} : « {code} » "
                f"(paliers : {', '.join(self.tiers)})."
            ) from None

    def monthly(self, tier: str, on: date) -> dict[str, Decimal]:
        """Per funder, the monthly allowance of `tier` for a contract signed on `on`."""
        t = self.tier(tier)
        return {funder: t.monthly[funder].at(on) for funder in self.funders}

    def commitment_months(self, tier: str, on: date) -> int:
        return self.tier(tier).commitment_months.at(on)

    def payment_day(self, on: date) -> int:
        return self.allowance.payment_day.at(on)

    def recovery_days(self, on: date) -> int:
        return self.breach.recovery_days.at(on)

    def breach_rule(self, on: date) -> money.BreachRule:
        cfg = self.breach.rule.at(on)
        match cfg:
            case ProrataUnservedRule():
                return money.ProrataUnserved()
            case FullRefundRule():
                return money.FullRefund()
            case SlidingScaleRule(steps=steps, after=after):
                return money.SlidingScale(
                    steps=tuple(money.SlidingStep(s.within_months, s.rate) for s in steps),
                    after=after,
                )
            case CespRule(penalty_per_month=per_month, penalty_cap=cap):
                return money.CespStyle(penalty_per_month=per_month, penalty_cap=cap)
        raise AssertionError(cfg)  # pragma: no cover - the discriminated union is exhaustive

    def is_exempting(self, reason: str) -> bool:
        return reason in self.breach.exempting_reasons

    def part_time_counts_prorata(self) -> bool:
        return self.commitment.part_time == "prorata"


_DATE_REPR = re.compile(r"datetime\.date\((\d+), (\d+), (\d+)\)")
_RULE_KINDS = frozenset({"prorata_unserved", "full_refund", "sliding_scale", "cesp"})


def _french_rule_error(message: str) -> str:
    """money.py's checks speak English to programmers; say them in French to the scheme author."""
    if "increasing" in message:
        return "les paliers doivent être en nombre de mois strictement croissant"
    if "within_months" in message:
        return "le nombre de mois d'un palier doit être au moins 1"
    if "rate" in message or "after" in message:
        return "un taux doit être compris entre 0 et 1"
    if "penalty" in message:
        return "une pénalité ne peut pas être négative"
    return "règle incohérente"


def _expected(ctx: Mapping[str, Any]) -> str:
    # Pydantic writes "'a', 'b' or 'c'" for a literal's choices.
    return str(ctx.get("expected", "")).replace(" or ", " ou ")


# Pydantic's error types, in French; `{…}` are read from the error's context.
_MESSAGES: dict[str, str] = {
    "missing": "champ obligatoire",
    "extra_forbidden": "clé inconnue",
    "int_parsing": "nombre entier attendu",
    "int_type": "nombre entier attendu",
    "int_from_float": "nombre entier attendu (sans décimales)",
    "decimal_parsing": "nombre attendu (par exemple « 150.00 »)",
    "decimal_type": "nombre attendu (par exemple « 150.00 »)",
    "decimal_max_digits": "au plus {max_digits} chiffres",
    "decimal_max_places": "au plus {decimal_places} décimales",
    "decimal_whole_digits": "trop de chiffres avant la virgule",
    "float_parsing": "nombre attendu",
    "bool_parsing": "oui ou non attendu (true ou false)",
    "bool_type": "oui ou non attendu (true ou false)",
    "date_parsing": "date invalide (format AAAA-MM-JJ attendu)",
    "date_type": "date attendue (format AAAA-MM-JJ)",
    "date_from_datetime_parsing": "date invalide ou impossible (format AAAA-MM-JJ attendu)",
    "date_from_datetime_inexact": "date attendue, sans heure (format AAAA-MM-JJ)",
    "literal_error": "valeur inconnue, valeurs possibles : {expected}",
    "enum": "valeur inconnue, valeurs possibles : {expected}",
    "union_tag_invalid": "type de règle inconnu, valeurs possibles : {expected_tags}",
    "union_tag_not_found": "la clé « {discriminator} » est obligatoire",
    "greater_than": "doit être strictement supérieur à {gt}",
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "less_than": "doit être strictement inférieur à {lt}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "string_type": "texte attendu",
    "string_too_short": "ne doit pas être vide",
    "string_pattern_mismatch": "format invalide (motif attendu : {pattern})",
    "too_short": "au moins {min_length} élément(s) attendu(s)",
    "too_long": "au plus {max_length} élément(s) attendu(s)",
    "dict_type": "dictionnaire de clés attendu",
    "model_type": "dictionnaire de clés attendu",
    "model_attributes_type": "dictionnaire de clés attendu",
    "list_type": "liste attendue",
    "tuple_type": "liste attendue",
    "set_type": "liste attendue",
    "frozen_set_type": "liste attendue",
}


def _french(err: Mapping[str, Any]) -> str:
    ctx = dict(err.get("ctx") or {})
    if "expected" in ctx:
        ctx["expected"] = _expected(ctx)
    template = _MESSAGES.get(str(err["type"]))
    if template is None:
        return f"valeur refusée : {shown(str(err.get('input', '')))}"
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template.split(" {")[0].rstrip(" :(,")


def _key_text(part: object) -> str:
    # Pydantic names a date key of a mapping by its repr: show it as the YAML wrote it.
    if m := _DATE_REPR.fullmatch(str(part)):
        return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    return str(part)


def _format_error(err: Mapping[str, Any]) -> str:
    """`key.path: message`, with the keys as the YAML writes them and the message in French.
    Pydantic puts the wrapper's "values", a mapping key's "[key]" and a rule's kind in the path,
    and dates as objects; our own validators name the sub-key in their message
    ("tiers.2x150.monthly: …"), which is moved into the path."""
    parts: list[str] = []
    for p in err["loc"]:
        if p in ("values", "[key]") or (p in _RULE_KINDS and parts[-1:] == ["value"]):
            continue
        parts.append(_key_text(p))
    if err["type"] == "value_error":
        message = str(err["msg"]).removeprefix("Value error, ")
        key, sep, rest = message.partition(": ")
        if sep and re.fullmatch(r"[\w.\-]+", key):
            parts.append(key)
            message = rest
    else:
        message = _french(err)
    return f"{'.'.join(parts) or '(racine)'}: {message}"


class _Loader(yaml.SafeLoader):
    """YAML without implicit dates: `2027-02-30` stays text for pydantic to refuse with its key,
    where PyYAML's own conversion would raise a bare ValueError."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _duplicate_key(node: yaml.Node, path: tuple[str, ...] = ()) -> str | None:
    """The path of the first key written twice in one mapping (PyYAML keeps the last silently)."""
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(node, path)]
    while stack:
        current, where = stack.pop()
        if id(current) in seen_nodes:  # an alias: already walked
            continue
        seen_nodes.add(id(current))
        if isinstance(current, yaml.MappingNode):
            keys: set[str] = set()
            for key_node, value_node in current.value:
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                if key in keys:
                    return ".".join((*where, key))
                keys.add(key)
                stack.append((value_node, (*where, key)))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, (*where, str(i))) for i, item in enumerate(current.value))
    return None


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemeError(f"{path}: fichier introuvable") from None
    except IsADirectoryError:
        raise SchemeError(f"{path}: est un dossier, pas un fichier de dispositif") from None
    except OSError as exc:
        raise SchemeError(f"{path}: illisible ({exc.strerror})") from exc
    except UnicodeDecodeError:
        raise SchemeError(f"{path}: illisible (le fichier doit être encodé en UTF-8)") from None
    try:
        node = yaml.compose(text, Loader=_Loader)
        if node is not None and (twice := _duplicate_key(node)):
            raise SchemeError(f"{path}: {twice}: clé écrite deux fois")
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as exc:
        raise SchemeError(f"{path}: YAML invalide: {exc}") from exc
    except (ValueError, TypeError, RecursionError) as exc:
        # A constructor's own error (e.g. an impossible number); never a traceback.
        raise SchemeError(f"{path}: YAML invalide ({exc})") from exc


def load_scheme(path: Path) -> Scheme:
    """Read and validate one scheme file; errors name the file and the key, in French."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise SchemeError(f"{path}: le fichier doit contenir un dictionnaire de clés")
    try:
        scheme = Scheme.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: {_format_error(err)}" for err in exc.errors()]
        raise SchemeError("\n".join(lines)) from None
    if scheme.id != path.stem:
        raise SchemeError(
            f"{path}: id: « {scheme.id} » doit être le nom du fichier sans extension "
            f"(« {path.stem} »)"
        )
    return scheme


def scheme_dirs() -> list[Path]:
    """`config/schemes`, plus the folders in FIDELIS_SCHEME_DIRS (os.pathsep separated)."""
    dirs = [config_dir() / "schemes"]
    extra = os.environ.get("FIDELIS_SCHEME_DIRS", "")
    dirs.extend(Path(p) for p in extra.split(os.pathsep) if p)
    return dirs


class SchemeRegistry(Mapping[str, Scheme]):
    def __init__(self, schemes: Mapping[str, Scheme]) -> None:
        self._schemes = dict(schemes)

    @classmethod
    def load(cls, dirs: list[Path] | None = None) -> SchemeRegistry:
        schemes: dict[str, Scheme] = {}
        for folder in dirs if dirs is not None else scheme_dirs():
            for path in sorted(folder.glob("*.yaml")):
                scheme = load_scheme(path)
                if scheme.id in schemes:
                    raise SchemeError(f"{path}: id: « {scheme.id} » est déjà défini ailleurs")
                schemes[scheme.id] = scheme
        check_funders_agree(schemes)
        return cls(schemes)

    def __getitem__(self, scheme_id: str) -> Scheme:
        try:
            return self._schemes[scheme_id]
        except KeyError:
            raise UnknownScheme(scheme_id, sorted(self._schemes)) from None

    def __contains__(self, scheme_id: object) -> bool:
        return scheme_id in self._schemes

    def __iter__(self) -> Iterator[str]:
        return iter(self._schemes)

    def __len__(self) -> int:
        return len(self._schemes)


@cache
def _cached_registry(dirs: tuple[Path, ...]) -> SchemeRegistry:
    return SchemeRegistry.load(list(dirs))


def registry() -> SchemeRegistry:
    """The schemes of this process's configuration (loaded once per set of folders)."""
    return _cached_registry(tuple(scheme_dirs()))


__all__ = [
    "EMPLOYER",
    "FUNDER_CHANNELS",
    "LEARNER",
    "SECTORS",
    "Assignment",
    "CespRule",
    "DebtorAccount",
    "FullRefundRule",
    "Funder",
    "FunderChannel",
    "ProrataUnservedRule",
    "Scheme",
    "SchemeRegistry",
    "SlidingScaleRule",
    "UnknownScheme",
    "load_scheme",
    "registry",
]
