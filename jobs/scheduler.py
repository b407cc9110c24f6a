"""`fidelis scheduler`: the nightly run at 02:00 Europe/Paris, in its own process (SPEC §6).

APScheduler 3 keeps its jobs in this process: it cannot share a job store between processes, so
run exactly one scheduler per database (systemd unit in the README). The job has a fixed id,
`coalesce=True` (missed firings collapse into one), `max_instances=1` and a misfire grace of
hours; on start it catches up from the last successful run, and each run catches up too."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

import sqlalchemy as sa
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from jobs.lease import RunRefused
from jobs.nightly import run_nightly
from workflow.clock import PARIS, today_paris

JOB_ID = "fidelis-nightly"
MISFIRE_GRACE = 6 * 3600

log = logging.getLogger("fidelis.scheduler")


def nightly_job(engine: sa.Engine, clock: Callable[[], date] = today_paris) -> None:
    try:
        report = run_nightly(engine, clock())
        log.info("nightly run done: %s", report.totals)
    except RunRefused as exc:
        log.warning("%s", exc)


def build_scheduler(engine: sa.Engine) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=PARIS)
    scheduler.add_job(
        nightly_job,
        CronTrigger(hour=2, minute=0, timezone=PARIS),
        args=[engine],
        id=JOB_ID,
        name="Traitement de nuit Fidelis",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=MISFIRE_GRACE,
        replace_existing=True,
    )
    return scheduler


def serve(engine: sa.Engine) -> None:  # pragma: no cover - blocks until stopped
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    nightly_job(engine)  # catch up from the last successful run before waiting for 02:00
    build_scheduler(engine).start()


__all__ = [
    "serve",
]
