"""The APScheduler wiring of `fidelis scheduler` (SPEC §6), without starting it."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from jobs.scheduler import JOB_ID, MISFIRE_GRACE, build_scheduler, nightly_job
from workflow.clock import PARIS


def test_one_nightly_job_at_two_in_the_morning_paris_time() -> None:
    engine = sa.create_engine("sqlite://")
    scheduler = build_scheduler(engine)
    (job,) = scheduler.get_jobs()
    assert job.id == JOB_ID
    assert job.coalesce is True and job.max_instances == 1
    assert job.misfire_grace_time == MISFIRE_GRACE >= 3600
    after = datetime(2026, 9, 6, 12, 0, tzinfo=PARIS)
    fire = job.trigger.get_next_fire_time(None, after)
    assert (fire.hour, fire.minute, fire.date()) == (2, 0, date(2026, 9, 7))
    assert fire.utcoffset().total_seconds() == 7200  # Paris summer time: 00:00 UTC
    engine.dispose()


def test_a_refused_run_is_logged_not_raised(monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    from jobs import scheduler
    from jobs.lease import RunRefused

    def refuse(*args: object, **kwargs: object) -> None:
        raise RunRefused("Un traitement de nuit est déjà en cours")

    monkeypatch.setattr(scheduler, "run_nightly", refuse)
    nightly_job(sa.create_engine("sqlite://"), clock=lambda: date(2026, 9, 1))
    assert "déjà en cours" in caplog.text
