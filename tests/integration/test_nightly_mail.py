"""The nightly run's sending step when mail cannot go out, counted in connection attempts (never
in seconds): with no SMTP server configured nothing is tried, the messages stay pending and the
run says so in French; with a server configured but down, one failed connection for the whole
catch-up, not one per message and day."""

from __future__ import annotations

import smtplib
from typing import Any

import pytest
import sqlalchemy as sa

from jobs.nightly import run_nightly
from tests.conftest import World
from tests.integration.test_case_service import D
from tests.integration.test_reports import Cli, make_cli
from tests.smtpserver import free_port
from workflow import cases
from workflow.errors import FidelisError
from workflow.models import JobRun, OutboxMessage


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every SMTP connection attempted in this process."""
    attempts: list[tuple[str, int]] = []
    real = smtplib.SMTP.connect

    def counted(self: smtplib.SMTP, host: str = "localhost", port: int = 0, **kw: Any) -> Any:
        attempts.append((host, port))
        return real(self, host, port, **kw)

    monkeypatch.setattr(smtplib.SMTP, "connect", counted)
    return attempts


def three_reminders_waiting(w: World) -> None:
    """Three applications without interview, a run on 2026-06-21: their reminders fall due on
    the 22nd, the first day of the next run's catch-up."""
    for offer, learner in zip(w.offers, w.learners, strict=True):
        case = cases.open_case(w.uow(), offer, learner, on=D("2026-05-30"))
        cases.fire(w.uow(), case, "submit", on=D("2026-06-01"), schemes=w.schemes)
    run_nightly(w.engine, D("2026-06-21"), schemes=w.schemes, send_mail=False)


def outbox(w: World) -> list[tuple[str, int]]:
    with w.engine.connect() as conn:
        rows = conn.execute(
            sa.select(OutboxMessage.status, OutboxMessage.attempts).order_by(OutboxMessage.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def notes(w: World) -> list[str | None]:
    with w.engine.connect() as conn:
        return list(conn.scalars(sa.select(JobRun.note).order_by(JobRun.id)))


def test_without_smtp_the_run_tries_nothing_and_says_so(
    world: World, connections: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    monkeypatch.delenv("FIDELIS_SMTP_HOST", raising=False)
    three_reminders_waiting(w)
    report = run_nightly(w.engine, D("2026-07-20"), schemes=w.schemes)
    assert len(report.runs) == 29
    assert connections == []
    assert outbox(w) == [("pending", 0)] * 3
    assert report.totals["outbox"] == 0
    assert all("envoi des courriels non configuré" in r["note"] for r in report.runs)
    assert notes(w)[1:] == [report.runs[0]["note"]] * 29


def test_a_server_down_costs_one_connection_per_run(
    world: World, connections: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    port = free_port()  # nothing listens there
    monkeypatch.setenv("FIDELIS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("FIDELIS_SMTP_PORT", str(port))
    three_reminders_waiting(w)
    report = run_nightly(w.engine, D("2026-07-20"), schemes=w.schemes)
    assert connections == [("127.0.0.1", port)]
    # The message tried is retried later with backoff; the others were not touched.
    assert outbox(w) == [("pending", 1), ("pending", 0), ("pending", 0)]
    assert all("injoignable" in r["note"] for r in report.runs)
    report = run_nightly(w.engine, D("2026-07-21"), schemes=w.schemes)
    assert connections == [("127.0.0.1", port)] * 2  # the next run tries once again


def test_outbox_send_without_smtp_is_a_french_error_that_changes_nothing(
    world: World, connections: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    monkeypatch.delenv("FIDELIS_SMTP_HOST", raising=False)
    three_reminders_waiting(w)
    run_nightly(w.engine, D("2026-06-22"), schemes=w.schemes, send_mail=False)
    assert outbox(w) == [("pending", 0)] * 3
    cli: Cli = make_cli(monkeypatch)
    result = cli(w.engine.url.render_as_string(hide_password=False), "outbox", "send")
    assert result.exit_code == 1  # main() prints a FidelisError in French and exits 1
    assert isinstance(result.exception, FidelisError)
    assert "Envoi des courriels non configuré" in str(result.exception)
    assert connections == []
    assert outbox(w) == [("pending", 0)] * 3
