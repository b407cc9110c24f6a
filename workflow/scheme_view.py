"""A scheme as a caseworker reads it: the values in force on a date, each with the reference of
the text that set it, and its rules in French (`fidelis scheme show --on`, `scheme check`).

Plain functions of a loaded `Scheme` (no database): `in_force` is the JSON a script reads,
`rule_text` and `summary` the words a person reads."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from workflow.documents.french import percent
from workflow.documents.labels import suspension_reason_label
from workflow.schemes import (
    CespRule,
    Dated,
    FullRefundRule,
    ProrataUnservedRule,
    Scheme,
    SlidingScaleRule,
)

T = TypeVar("T")

__all__ = [
    "PART_TIME_TEXT",
    "PRORATION_TEXT",
    "dated_at",
    "in_force",
    "rule_text",
    "shown",
    "summary",
]

PRORATION_TEXT = {
    "calendar_days": "au prorata des jours calendaires du mois",
    "whole_months": "par mois entier (tout mois commencé est dû)",
}
PART_TIME_TEXT = {
    "prorata": "le service à temps partiel compte au prorata de la quotité",
    "full": "le service à temps partiel compte comme un temps plein",
}


def dated_at(values: Dated[T], on: date) -> dict[str, Any] | None:
    """The value of `values` in force on `on` as JSON: {value, since, reference}, or None when
    its first value applies only later."""
    starts = [d for d in values.values if d <= on]
    if not starts:
        return None
    since = max(starts)
    entry = values.values[since]
    value: Any = entry.value
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    elif not isinstance(value, int):
        value = str(value)
    return {"value": value, "since": since.isoformat(), "reference": entry.reference}


def rule_text(rule: object) -> str:
    """A breach rule's configuration in one French sentence."""
    match rule:
        case ProrataUnservedRule():
            return "remboursement au prorata des jours non servis (30E/360)"
        case FullRefundRule():
            return "remboursement intégral, quelle que soit la durée servie"
        case SlidingScaleRule(steps=steps, after=after):
            parts = [
                f"{percent(s.rate)} avant {s.within_months}\u00a0mois de service" for s in steps
            ]
            return "barème dégressif : " + " ; ".join([*parts, f"{percent(after)} au-delà"])
        case CespRule(penalty_per_month=per_month, penalty_cap=cap):
            return (
                "dernière mensualité × mois non servis, plus une pénalité de "
                f"{per_month} € par mois plafonnée à {cap} €"
            ).replace(".", ",")
    return str(rule)


def shown(scheme: Scheme) -> dict[str, Any]:
    """The scheme file as `scheme show --json` gives it: `funders` stays the list of codes it
    always was (a contract checked from outside, SPEC §7); the funders' declarations (label,
    channel, signature, recovery) are added as `funder_declarations`."""
    dumped = scheme.model_dump(mode="json", by_alias=True)
    return {**dumped, "funders": list(scheme.funders), "funder_declarations": dumped["funders"]}


def in_force(scheme: Scheme, on: date) -> dict[str, Any]:
    """Every dated value of `scheme` in force on `on`, and the rules that are not dated."""
    dumped = scheme.model_dump(mode="json", by_alias=True)
    commitment = scheme.commitment
    return {
        "on": on.isoformat(),
        "tiers": {
            code: {
                "label": tier.label,
                "monthly": {f: dated_at(tier.monthly[f], on) for f in tier.monthly},
                "commitment_months": dated_at(tier.commitment_months, on),
            }
            for code, tier in scheme.tiers.items()
        },
        "proration": scheme.allowance.proration,
        "payment_day": dated_at(scheme.allowance.payment_day, on),
        "breach": {
            "rule": dated_at(scheme.breach.rule, on),
            "recovery_days": dated_at(scheme.breach.recovery_days, on),
            "day_count": scheme.breach.day_count,
            "exempting_reasons": list(scheme.breach.exempting_reasons),
        },
        "part_time": commitment.part_time,
        "suspension_reasons": [
            {
                "code": reason,
                "label": suspension_reason_label(reason),
                "min_days": commitment.min_days(reason),
            }
            for reason in commitment.suspension_reasons
        ],
        # As the scheme declares them, whatever their shape.
        # The codes, as `scheme show --json` always gave them; each one's declaration beside.
        "funders": list(scheme.funders),
        "funder_declarations": dumped["funders"],
    }


def summary(scheme: Scheme) -> str:
    """What `scheme check` says of a valid file, in two lines."""
    firsts = [
        d for tier in scheme.tiers.values() for dated in tier.monthly.values() for d in dated.values
    ]
    firsts += [d for tier in scheme.tiers.values() for d in tier.commitment_months.values]
    return (
        f"{scheme.id} — {scheme.label} : {len(scheme.tiers)} palier(s) "
        f"({', '.join(scheme.tiers)}), financeur(s) {', '.join(scheme.funders)}, "
        f"valeurs datées à partir du {min(firsts):%d/%m/%Y}."
    )
