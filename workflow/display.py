"""What a caseworker, an employer or an institute reads, in French: the Jinja filters of the web
pages and the cells of the command line's tables. Amounts ("1 479,68 €"), days ("07/09/2026"),
months ("septembre 2026"), and the labels of the codes the database stores (payment, message,
document and run statuses, funders, message kinds, events, states, suspension reasons, sectors,
signing parties). The views give ISO strings and decimal strings (the JSON API and `--json`
share them), so every filter takes those as well as dates and Decimals. A code without a label
is shown as is rather than hidden."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from jinja2 import Environment

from workflow.clock import PARIS
from workflow.documents.french import euros, month_fr
from workflow.documents.labels import funder_label, sector_label, suspension_reason_label
from workflow.reports.labels import (
    DEBT_KIND_LABELS,
    DEBT_STATUS_LABELS,
    DOCUMENT_STATUS_LABELS,
    INSTALMENT_STATUS_LABELS,
    MESSAGE_KIND_LABELS,
    MESSAGE_STATUS_LABELS,
    PAYMENT_STATUS_LABELS,
    PLAN_STATUS_LABELS,
    RUN_STATUS_LABELS,
    STEP_LABELS,
    event_label,
    funder_title,
    state_label,
)
from workflow.schemes import registry


def amount_fr(value: Decimal | str | int | None) -> str:
    """Decimal("1479.68") or "1479.68" -> "1 479,68 €"; None -> ""."""
    if value is None or value == "":
        return ""
    try:
        return euros(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value)


def _as_date(value: date | str) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value)
    try:
        if len(text) == 7:  # a month, "2026-09"
            return date.fromisoformat(f"{text}-01")
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def day_fr(value: date | str | None) -> str:
    """date(2026, 9, 7) or "2026-09-07" -> "07/09/2026"; None -> ""."""
    if value is None or value == "":
        return ""
    d = _as_date(value)
    return d.strftime("%d/%m/%Y") if d else str(value)


def moment_fr(value: datetime | str | None) -> str:
    """A timestamp (aware, or its ISO string) as Paris reads it: « 07/09/2026 14:05 »."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


def month_label(value: date | str | None) -> str:
    """date(2026, 9, 1), "2026-09" or "2026-09-01" -> "septembre 2026"."""
    if value is None or value == "":
        return ""
    d = _as_date(value)
    return month_fr(d) if d else str(value)


def _blank_or(label: Callable[[str], str]) -> Callable[[Any], str]:
    """`label` of the code, "" for a missing one."""
    return lambda code: label(str(code)) if code else ""


def _lookup(labels: Mapping[str, str]) -> Callable[[Any], str]:
    return _blank_or(lambda code: labels.get(code, code))


def scheme_label(code: str) -> str:
    """A scheme by its label (« Fidélisation des aides-soignants… »), never its file's id."""
    found = registry()
    return found[code].label if code in found else code


# A signing party: the learner, or a funder by its code (workflow.schemes, `signs`).
PARTY_LABELS = {"learner": "apprenant"}

FILTERS: dict[str, Callable[..., str]] = {
    "euros": amount_fr,
    "day": day_fr,
    "moment": moment_fr,
    "month": month_label,
    "payment_status": _lookup(PAYMENT_STATUS_LABELS),
    "message_kind": _lookup(MESSAGE_KIND_LABELS),
    "message_status": _lookup(MESSAGE_STATUS_LABELS),
    "document_status": _lookup(DOCUMENT_STATUS_LABELS),
    "run_status": _lookup(RUN_STATUS_LABELS),
    "debt_status": _lookup(DEBT_STATUS_LABELS),
    "debt_kind": _lookup(DEBT_KIND_LABELS),
    "plan_status": _lookup(PLAN_STATUS_LABELS),
    "instalment_status": _lookup(INSTALMENT_STATUS_LABELS),
    "step": _lookup(STEP_LABELS),
    "party": _blank_or(lambda code: PARTY_LABELS.get(code) or funder_label(code)),
    "funder": _blank_or(funder_title),
    "event": _blank_or(event_label),
    "state": state_label,
    "suspension_reason": _blank_or(suspension_reason_label),
    "sector": _blank_or(sector_label),
    "scheme": _blank_or(scheme_label),
}


def install(env: Environment) -> None:
    """Make the filters available to every page of `env`."""
    env.filters.update(FILTERS)


__all__ = [
    "FILTERS",
    "amount_fr",
    "day_fr",
    "moment_fr",
    "month_label",
    "scheme_label",
]
