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
    def _not_empty(cls, values: dict[date, DatedValue[T]]) -> dict[date, DatedValue[T]]:
        if not values:
            raise ValueError("at least one dated value is required")
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
    monthly: dict[str, Dated[Money]]
    commitment_months: Dated[Annotated[int, Field(ge=1)]]


class Allowance(_Strict):
    proration: money.Proration = "calendar_days"
    payment_day: Dated[Annotated[int, Field(ge=1, le=28)]]
    cumulable_with: tuple[str, ...] = ()


class Commitment(_Strict):
    part_time: Literal["prorata", "full"] = "prorata"
    suspension_reasons: tuple[SuspensionReason, ...] = ()


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


class CespRule(_Strict):
    kind: Literal["cesp"]
    penalty_per_month: Money
    penalty_cap: Money


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


class Scheme(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    label: str
    funding_body: str
    region_code: str = Field(pattern=r"^\d{2}$")
    contract_prefix: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]*$")
    training: str
    funders: tuple[str, ...] = Field(min_length=1)
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
        ],
        Annotated[int, Field(ge=0)],
    ] = Field(default_factory=dict)
    retention: Retention
    documents: Documents

    @model_validator(mode="after")
    def _every_tier_pays_every_funder(self) -> Scheme:
        for code, tier in self.tiers.items():
            missing = [f for f in self.funders if f not in tier.monthly]
            if missing:
                raise ValueError(
                    f"tiers.{code}.monthly: missing amount for funder(s) {', '.join(missing)}"
                )
            unknown = [f for f in tier.monthly if f not in self.funders]
            if unknown:
                raise ValueError(
                    f"tiers.{code}.monthly: funder(s) {', '.join(unknown)} not in funders"
                )
        return self

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


def _key_text(part: object) -> str:
    # Pydantic names a date key of a mapping by its repr: show it as the YAML wrote it.
    if m := _DATE_REPR.fullmatch(str(part)):
        return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    return str(part)


def _format_error(err: Mapping[str, Any]) -> str:
    """`key.path: message`, with the keys as the YAML writes them. Pydantic puts the wrapper's
    "values" in the path and dates as objects; our own validators name the sub-key in their
    message ("tiers.2x150.monthly: …"), which is moved into the path."""
    parts = [_key_text(p) for p in err["loc"] if p != "values"]
    message = str(err["msg"])
    if err["type"] == "value_error":
        message = message.removeprefix("Value error, ")
        key, sep, rest = message.partition(": ")
        if sep and re.fullmatch(r"[\w.\-]+", key):
            parts.append(key)
            message = rest
    return f"{'.'.join(parts) or '(racine)'}: {message}"


def load_scheme(path: Path) -> Scheme:
    """Read and validate one scheme file; errors name the file and the key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SchemeError(f"{path}: illisible ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise SchemeError(f"{path}: YAML invalide: {exc}") from exc
    if not isinstance(raw, dict):
        raise SchemeError(f"{path}: le fichier doit contenir un dictionnaire de clés")
    try:
        scheme = Scheme.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: {_format_error(err)}" for err in exc.errors()]
        raise SchemeError("\n".join(lines)) from None
    if scheme.id != path.stem:
        raise SchemeError(f"{path}: id: « {scheme.id} » must match the file name « {path.stem} »")
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
    "SECTORS",
    "CespRule",
    "FullRefundRule",
    "ProrataUnservedRule",
    "Scheme",
    "SchemeRegistry",
    "SlidingScaleRule",
    "registry",
]
