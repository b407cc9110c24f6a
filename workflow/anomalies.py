"""Anomalies of the nightly run: an automatic transition the case service refused (a guard said
no, e.g. `complete` after an attestation dated past the commitment end) is recorded for a
caseworker rather than skipped in silence (issue 12).

At most one open anomaly per (case, trigger): a later run meeting the same refusal updates it
(its last run, date wanted and reasons) instead of adding a row. It is closed by the system when
the case leaves the state the trigger starts from — the nightly run fired it, or someone did by
hand — or by a caseworker with a note (`resolve`). A resolved anomaly whose refusal comes back
is recorded again: resolving says the case was dealt with, not that it may be ignored.

The nightly step records and closes (`record`, `close_settled`); the command line lists and
resolves (`list_anomalies`, `resolve`); the web pages read `open_anomaly_count` and
`anomaly_rows` inside their own session."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import validation
from workflow.clock import PARIS
from workflow.db import UnitOfWork
from workflow.errors import InvalidInput, NotFound
from workflow.models import Case, CaseEvent, RunAnomaly, utcnow
from workflow.states import STATE_LABELS, TRIGGER_LABELS, Trigger, spec

__all__ = [
    "action_label",
    "anomaly_rows",
    "close_settled",
    "list_anomalies",
    "open_anomaly_count",
    "record",
    "resolve",
]


def action_label(trigger: str) -> str:
    """The trigger as a caseworker knows it: « Clore l'engagement honoré » (complete)."""
    try:
        return TRIGGER_LABELS[Trigger(trigger)]
    except ValueError:
        return trigger


# -- written by the nightly run ---------------------------------------------------------------


def record(
    uow: UnitOfWork,
    *,
    run_id: int,
    case_id: int,
    trigger: str,
    effective_date: date,
    failures: Sequence[tuple[str, str]],
    message: str,
) -> int:
    """Record that `run_id` could not fire `trigger` on a case; return the anomaly's id. The open
    anomaly of the same (case, trigger), if any, is brought up to date instead of duplicated."""
    guards = [{"name": name, "message": text} for name, text in failures]
    with uow:
        s = uow.session
        anomaly = s.scalars(
            sa.select(RunAnomaly).where(
                RunAnomaly.case_id == case_id,
                RunAnomaly.trigger == trigger,
                RunAnomaly.resolved_at.is_(None),
            )
        ).one_or_none()
        if anomaly is None:
            anomaly = RunAnomaly(run_id=run_id, case_id=case_id, trigger=trigger)
            s.add(anomaly)
        anomaly.last_run_id = run_id
        anomaly.effective_date = effective_date
        anomaly.guards = guards
        anomaly.message = message
        s.flush()
        anomaly_id = anomaly.id
        uow.commit()
    return anomaly_id


def close_settled(uow: UnitOfWork, *, actor: str) -> int:
    """Close the open anomalies whose case has left the state their trigger starts from (the
    transition fired, by the nightly run or by hand, or the case went another way); return how
    many. The note says which, in French."""
    closed = 0
    with uow:
        s = uow.session
        rows = s.execute(
            sa.select(RunAnomaly, Case.state)
            .join(Case, Case.id == RunAnomaly.case_id)
            .where(RunAnomaly.resolved_at.is_(None))
        ).all()
        for anomaly, state in rows:
            trigger = Trigger(anomaly.trigger)
            if state in spec(trigger).sources:
                continue
            fired = s.execute(
                sa.select(CaseEvent.effective_date, CaseEvent.actor)
                .where(CaseEvent.case_id == anomaly.case_id, CaseEvent.trigger == trigger.value)
                .order_by(CaseEvent.seq.desc())
                .limit(1)
            ).first()
            label = action_label(trigger)
            if fired is not None:
                on, by = fired
                note = f"Action « {label} » effectuée, date d'effet {on:%d/%m/%Y} ({by})."
            else:
                note = (
                    f"Le dossier est passé à l'état « {STATE_LABELS[state]} » : l'action "
                    f"« {label} » n'est plus due."
                )
            _close(anomaly, actor, note)
            closed += 1
        uow.commit()
    return closed


def _close(anomaly: RunAnomaly, actor: str, note: str) -> None:
    anomaly.resolved_at = utcnow()
    anomaly.resolved_by = actor
    anomaly.resolution_note = note


# -- read and resolved by a caseworker --------------------------------------------------------


def _row(a: RunAnomaly) -> dict[str, Any]:
    return {
        "id": a.id,
        "case_id": a.case_id,
        "trigger": a.trigger,
        "action": action_label(a.trigger),
        "effective_date": a.effective_date.isoformat(),
        "guards": [dict(g) for g in a.guards],
        "message": a.message,
        "run_id": a.run_id,
        "last_run_id": a.last_run_id,
        "detected_at": a.detected_at.isoformat(),
        "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
        "resolved_by": a.resolved_by,
        "note": a.resolution_note,
    }


def anomaly_rows(
    s: Session,
    limit: int | None = None,
    *,
    open_only: bool = True,
    run_ids: Iterable[int] | None = None,
) -> list[dict[str, Any]]:
    """Anomalies newest first, as JSON-ready rows (English keys, French texts); `run_ids` keeps
    those the given runs met (first or again)."""
    query = sa.select(RunAnomaly).order_by(RunAnomaly.id.desc())
    if open_only:
        query = query.where(RunAnomaly.resolved_at.is_(None))
    if run_ids is not None:
        query = query.where(RunAnomaly.last_run_id.in_(list(run_ids)))
    if limit is not None:
        query = query.limit(limit)
    return [_row(a) for a in s.scalars(query)]


def open_anomaly_count(s: Session) -> int:
    return (
        s.scalar(sa.select(sa.func.count(RunAnomaly.id)).where(RunAnomaly.resolved_at.is_(None)))
        or 0
    )


def list_anomalies(uow: UnitOfWork, open_only: bool = True) -> list[dict[str, Any]]:
    with uow:
        return anomaly_rows(uow.session, open_only=open_only)


def resolve(uow: UnitOfWork, anomaly_id: int, actor: str, note: str) -> None:
    """A caseworker closes an anomaly, saying what was done; refused (nothing written) without a
    note, for an unknown id, or when it is closed already."""
    text = validation.text(note, "note", field="note")
    if not text:
        raise InvalidInput(
            "Une note est obligatoire pour résoudre une anomalie : dites ce qui a été fait.",
            "note",
        )
    with uow:
        anomaly = uow.session.get(RunAnomaly, anomaly_id)
        if anomaly is None:
            raise NotFound("Anomalie", anomaly_id)
        if anomaly.resolved_at is not None:
            raise InvalidInput(
                f"L'anomalie n° {anomaly_id} est déjà résolue "
                f"(le {anomaly.resolved_at.astimezone(PARIS):%d/%m/%Y}, par {anomaly.resolved_by})."
            )
        _close(anomaly, actor, text)
        uow.commit()
