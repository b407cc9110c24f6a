"""The nightly run (SPEC §6): for one as-of date, the steps in order, recorded in `job_runs`.

`run_nightly(engine, as_of)` first catches up: every day after the last successful run up to
`as_of` is run in turn with its own date, so automatic transitions and payments carry the dates
they were due. Only one run at a time (jobs.lease)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from jobs import steps
from jobs.lease import exclusive_run
from workflow.clock import today_paris
from workflow.db import session_factory
from workflow.errors import FidelisError, InvalidInput
from workflow.models import JobRun, utcnow
from workflow.reports.labels import STEP_LABELS
from workflow.schemes import SchemeRegistry, registry

if TYPE_CHECKING:
    from jobs.outbox import Mailing

Step = Callable[[steps.StepContext], int]
log = logging.getLogger("fidelis.nightly")


def _send_outbox(ctx: steps.StepContext) -> int:
    assert ctx.mailing is not None  # the step runs only when the run sends mail
    done = ctx.mailing.send(ctx.factory, ctx.schemes)
    if done.stopped:
        ctx.notes.append(f"Courriels : {done.stopped}.")
    return done.sent


STEPS: tuple[tuple[str, Step], ...] = (
    ("transitions", steps.transitions_due),
    ("payments", steps.payments_due),
    ("regularisations", steps.complementary_payments),
    ("employer_statements", steps.employer_statements),
    ("reminders", steps.reminders),
    ("commitment_checks", steps.commitment_checks),
    ("retention", steps.retention_purge),
    ("seal", steps.seal_history),
    ("outbox", _send_outbox),
)


@dataclass
class RunReport:
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for run in self.runs:
            for name, count in run["counts"].items():
                out[name] = out.get(name, 0) + count
        return out


def last_success(engine: sa.Engine) -> date | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.max(JobRun.as_of)).where(JobRun.status == "succeeded")
        ).scalar()


def days_to_run(engine: sa.Engine, as_of: date, catch_up: bool = True) -> list[date]:
    last = last_success(engine)
    if not catch_up or last is None or last >= as_of:
        return [as_of]
    return [last + timedelta(days=n) for n in range(1, (as_of - last).days + 1)]


def run_nightly(
    engine: sa.Engine,
    as_of: date,
    *,
    schemes: SchemeRegistry | None = None,
    catch_up: bool = True,
    send_mail: bool = True,
    on_day: Callable[[date], None] | None = None,
    only_steps: tuple[str, ...] | None = None,
) -> RunReport:
    """Run (or catch up to) the nightly job for `as_of`; raise RunRefused if one is running, and
    InvalidInput for a day after tomorrow (today is the clock's: workflow.clock)."""
    from jobs.outbox import Mailing
    from workflow.mailer import smtp_settings_from_env

    check_as_of(as_of)
    schemes = schemes or registry()
    report = RunReport()
    mailing = Mailing(smtp_settings_from_env()) if send_mail else None
    with exclusive_run(engine) as holder:
        _close_interrupted_runs(engine)
        for day in days_to_run(engine, as_of, catch_up):
            report.runs.append(_run_day(engine, day, schemes, holder, mailing, only_steps))
            if on_day:
                on_day(day)
    return report


def check_as_of(as_of: date) -> None:
    """The run records payments and closes commitments for good: no later than tomorrow."""
    latest = today_paris() + timedelta(days=1)
    if as_of > latest:
        raise InvalidInput(
            f"Le traitement de nuit ne peut pas être lancé pour le {as_of:%d/%m/%Y} : au plus "
            f"tard pour demain, le {latest:%d/%m/%Y} (les paiements et les clôtures qu'il "
            "enregistre ne se défont pas).",
            "as_of",
        )


def failure_text(step: str, exc: BaseException) -> str:
    """What the runs page says of a failed run, in French: Fidelis's own errors are French
    already; anything else is named by its type, the details going to the log."""
    where = f"Échec à l'étape « {STEP_LABELS.get(step, step)} »"
    if isinstance(exc, FidelisError):
        return f"{where} : {exc}"[:2000]
    log.error("nightly run failed at step %s", step, exc_info=exc)
    what = "arrêt demandé" if isinstance(exc, KeyboardInterrupt) else "erreur interne"
    return f"{where} : {what} ({type(exc).__name__}) — détails dans le journal du traitement."


def _close_interrupted_runs(engine: sa.Engine) -> None:
    """A run still 'running' while we hold the lease was killed: say so in its row."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(JobRun)
            .where(JobRun.status == "running")
            .values(status="failed", finished_at=utcnow(), error="interrompu (processus arrêté)")
        )


def _run_day(
    engine: sa.Engine,
    day: date,
    schemes: SchemeRegistry,
    holder: str,
    mailing: Mailing | None,
    only_steps: tuple[str, ...] | None,
) -> dict[str, Any]:
    factory = session_factory(engine)
    with factory() as s:
        run = JobRun(as_of=day, holder=holder, counts={}, status="running")
        s.add(run)
        s.commit()
        run_id = run.id
    ctx = steps.StepContext(factory, schemes, day, run_id, mailing=mailing)
    counts: dict[str, int] = {}
    seconds: dict[str, float] = {}
    name = ""
    try:
        for name, step in STEPS:
            if (only_steps and name not in only_steps) or (name == "outbox" and mailing is None):
                continue
            started = time.perf_counter()
            counts[name] = step(ctx)
            counts.update(ctx.extra_counts)
            ctx.extra_counts.clear()
            seconds[name] = round(time.perf_counter() - started, 3)
            with factory() as s:
                s.execute(sa.update(JobRun).where(JobRun.id == run_id).values(counts=dict(counts)))
                s.commit()
    except BaseException as exc:
        with factory() as s:
            s.execute(
                sa.update(JobRun)
                .where(JobRun.id == run_id)
                .values(status="failed", finished_at=utcnow(), error=failure_text(name, exc))
            )
            s.commit()
        raise
    note = " ".join(ctx.notes) or None
    with factory() as s:
        s.execute(
            sa.update(JobRun)
            .where(JobRun.id == run_id)
            .values(status="succeeded", finished_at=utcnow(), counts=counts, note=note)
        )
        s.commit()
    return {
        "id": run_id,
        "as_of": day.isoformat(),
        "counts": counts,
        "seconds": seconds,
        "note": note,
    }


__all__ = [
    "run_nightly",
]
