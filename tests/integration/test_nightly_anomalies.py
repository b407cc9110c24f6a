"""Anomalies of the nightly run on SQLite and PostgreSQL (issue 12, part 6): an automatic
transition the case service refuses is recorded, counted and shown, once per (case, trigger);
a caseworker resolves it with a note; the system closes it when the transition fires later; a
crash still fails the run.

The case reproduced: an attestation dated after the commitment end (2029-08-31) makes the
nightly `complete`, due on 2029-09-01, earlier than the case's last event — the `chronological`
guard refuses, and the case used to stay `serving` with nothing said."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from jobs import steps
from jobs.nightly import run_nightly
from tests.conftest import World
from tests.integration.test_case_service import D, fire, signed_case
from tests.integration.test_reports import Cli, make_cli
from tests.integration.test_web import csrf_of, login, web  # noqa: F401 (fixture)
from workflow import anomalies, cases
from workflow.errors import ConcurrentModification, GuardFailed, InvalidInput, NotFound
from workflow.models import Case, JobRun, RunAnomaly, utcnow
from workflow.states import State

COMPLETE = "Clore l'engagement honoré"
CHRONOLOGICAL = (
    "la date d'effet (01/09/2029) précède le dernier événement du dossier (10/09/2029) : "
    "les dates d'un dossier ne reculent jamais"
)


def attested_after_the_end(w: World) -> int:
    """A serving case whose commitment ends on 2029-08-31, attested on 2029-09-10."""
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    with w.uow() as uow:
        assert uow.session.get(Case, case).commitment_ends_on == D("2029-08-31")  # type: ignore[union-attr]
    cases.attest_service(w.uow(), case, on=D("2029-09-10"), actor="ehpad")
    return case


def nightly(w: World, as_of: str, catch_up: bool = False) -> list[dict[str, Any]]:
    report = run_nightly(w.engine, D(as_of), schemes=w.schemes, send_mail=False, catch_up=catch_up)
    return report.runs


def rows(w: World) -> list[RunAnomaly]:
    with w.uow() as uow:
        found = list(uow.session.scalars(sa.select(RunAnomaly).order_by(RunAnomaly.id)))
        uow.session.expunge_all()  # readable after the unit of work rolls back
        return found


def state_of(w: World, case: int) -> State:
    with w.uow() as uow:
        return uow.session.get(Case, case).state  # type: ignore[union-attr]


def test_a_refused_completion_is_an_anomaly_counted_in_the_run(world: World) -> None:
    w = world
    case = attested_after_the_end(w)
    [run] = nightly(w, "2029-09-15")
    assert state_of(w, case) is State.SERVING
    assert run["counts"]["transitions"] == 0 and run["counts"]["anomalies"] == 1
    with w.uow() as uow:
        stored = uow.session.get(JobRun, run["id"])
        assert stored is not None and stored.status == "succeeded"
        assert stored.counts["anomalies"] == 1
    [anomaly] = rows(w)
    assert (anomaly.case_id, anomaly.trigger, anomaly.effective_date) == (
        case,
        "complete",
        D("2029-09-01"),
    )
    assert (anomaly.run_id, anomaly.last_run_id) == (run["id"], run["id"])
    assert anomaly.guards == [{"name": "chronological", "message": CHRONOLOGICAL}]
    assert anomaly.message == f"Action « {COMPLETE} » refusée : {CHRONOLOGICAL}"
    assert anomaly.resolved_at is None
    with w.uow() as uow:
        assert anomalies.open_anomaly_count(uow.session) == 1
        [row] = anomalies.anomaly_rows(uow.session, limit=10)
    assert row["action"] == COMPLETE and row["guards"][0]["name"] == "chronological"


def test_the_command_line_shows_the_anomalies_of_the_run(
    world: World, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    case = attested_after_the_end(w)
    cli: Cli = make_cli(monkeypatch)
    result = cli(db_url, "nightly", "--as-of", "2029-09-15", "--no-mail")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())  # Rich wraps the table's cells
    assert "anomalies" in text and "Anomalies : 1 transition(s) automatique(s) refusée(s)" in text
    assert COMPLETE in text and "01/09/2029" in text
    assert "précède le dernier événement du dossier (10/09/2029)" in text
    assert re.search(rf"│ 1 +│ {case} +│ {COMPLETE} +│ 01/09/2029 +│", result.stdout)
    # The JSON of the run and of the list: English keys, French texts.
    again = cli(db_url, "nightly", "--as-of", "2029-09-16", "--no-mail", "--json")
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert data["totals"]["anomalies"] == 1
    [met] = data["anomalies"]
    listed = cli(db_url, "anomalies", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert row == met
    assert {"id", "case_id", "trigger", "effective_date", "guards", "message", "run_id",
            "detected_at", "resolved_at", "resolved_by", "note"} <= set(row)  # fmt: skip
    assert (row["case_id"], row["trigger"], row["effective_date"]) == (
        case,
        "complete",
        "2029-09-01",
    )
    assert row["guards"] == [{"name": "chronological", "message": CHRONOLOGICAL}]
    assert (
        row["run_id"] == data["runs"][0]["id"] - 1 and row["last_run_id"] == data["runs"][0]["id"]
    )
    # Resolved from the command line: a note is required, then it leaves the open list.
    refused = cli(db_url, "anomalies", "resolve", str(row["id"]), "--note", "  ")
    assert isinstance(refused.exception, InvalidInput)  # `fidelis` prints it, exit code 1
    assert "Une note est obligatoire" in str(refused.exception)
    done = cli(db_url, "anomalies", "resolve", str(row["id"]), "--note", "Clos à la main",
               "--actor", "gestionnaire")  # fmt: skip
    assert done.exit_code == 0 and f"Anomalie n° {row['id']} résolue." in done.stdout
    assert "Aucune anomalie ouverte." in cli(db_url, "anomalies", "list").stdout
    every = cli(db_url, "anomalies", "list", "--all")
    assert "résolue le" in every.stdout and "gestionnaire" in every.stdout


def test_a_later_run_meeting_the_same_refusal_does_not_duplicate_it(world: World) -> None:
    w = world
    attested_after_the_end(w)
    [first] = nightly(w, "2029-09-15")
    [second] = nightly(w, "2029-09-16")
    later = nightly(w, "2029-09-19", catch_up=True)  # three more days, each meets it again
    assert second["counts"]["anomalies"] == 1
    assert [r["counts"]["anomalies"] for r in later] == [1, 1, 1]
    [anomaly] = rows(w)
    assert (anomaly.run_id, anomaly.last_run_id) == (first["id"], later[-1]["id"])
    with w.uow() as uow:
        met = anomalies.anomaly_rows(uow.session, run_ids=[second["id"]])
    assert met == []  # the second run met it, but a later one met it last


def test_a_caseworker_resolves_with_a_note_and_a_refusal_writes_nothing(world: World) -> None:
    w = world
    attested_after_the_end(w)
    nightly(w, "2029-09-15")
    [anomaly] = rows(w)
    with pytest.raises(InvalidInput, match="Une note est obligatoire"):
        anomalies.resolve(w.uow(), anomaly.id, "gestionnaire", " ")
    with pytest.raises(NotFound, match="Anomalie introuvable : n° 999"):
        anomalies.resolve(w.uow(), 999, "gestionnaire", "vu")
    assert rows(w)[0].resolved_at is None
    anomalies.resolve(w.uow(), anomaly.id, "gestionnaire", " Attestation à redater. ")
    [done] = rows(w)
    assert done.resolved_at is not None
    assert (done.resolved_by, done.resolution_note) == ("gestionnaire", "Attestation à redater.")
    with pytest.raises(
        InvalidInput, match=r"déjà résolue \(le \d\d/\d\d/\d{4}, par gestionnaire\)"
    ):
        anomalies.resolve(w.uow(), anomaly.id, "autre", "encore")
    assert rows(w)[0].resolved_by == "gestionnaire"
    assert anomalies.list_anomalies(w.uow()) == []
    assert [r["id"] for r in anomalies.list_anomalies(w.uow(), open_only=False)] == [anomaly.id]
    # Resolved but still refused: the next run says so again, in a new anomaly.
    nightly(w, "2029-09-16")
    assert [(a.id == anomaly.id, a.resolved_at is None) for a in rows(w)] == [
        (True, False),
        (False, True),
    ]


def test_the_anomaly_closes_itself_when_the_nightly_run_fires_later(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No correction a caseworker can make today lets the nightly `complete` through after a late
    attestation, so the refusal is played by a stand-in for one night: the next night the real
    case service fires it, and the run closes the anomaly."""
    w = world
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    real = steps.cases.fire
    refusal = GuardFailed("complete", [("after_commitment_end", "refusé pour l'essai")], COMPLETE)

    def refuse(*args: object, **kw: object) -> State:
        raise refusal

    monkeypatch.setattr(steps.cases, "fire", refuse)
    [first] = nightly(w, "2029-09-15")
    assert first["counts"]["anomalies"] == 1 and state_of(w, case) is State.SERVING
    assert rows(w)[0].guards == [{"name": "after_commitment_end", "message": "refusé pour l'essai"}]
    monkeypatch.setattr(steps.cases, "fire", real)
    [run] = nightly(w, "2029-09-16")
    assert run["counts"]["transitions"] == 1 and run["counts"]["anomalies"] == 0
    assert state_of(w, case) is State.COMPLETED
    [anomaly] = rows(w)
    assert anomaly.resolved_at is not None and anomaly.resolved_by == "traitement de nuit"
    assert anomaly.resolution_note == (
        f"Action « {COMPLETE} » effectuée, date d'effet 01/09/2029 (traitement de nuit)."
    )
    with w.uow() as uow:
        assert anomalies.open_anomaly_count(uow.session) == 0
        assert anomalies.anomaly_rows(uow.session, open_only=False)[0]["note"] == (
            anomaly.resolution_note
        )


def test_the_anomaly_closes_itself_when_a_caseworker_fires_the_transition(world: World) -> None:
    w = world
    case = attested_after_the_end(w)
    nightly(w, "2029-09-15")
    fire(w, case, "complete", "2029-09-10", actor="gestionnaire")
    assert rows(w)[0].resolved_at is None  # closed by the next run, which sees the case moved on
    [run] = nightly(w, "2029-09-16")
    assert run["counts"]["anomalies"] == 0
    [anomaly] = rows(w)
    assert anomaly.resolved_by == "traitement de nuit"
    assert anomaly.resolution_note == (
        f"Action « {COMPLETE} » effectuée, date d'effet 10/09/2029 (gestionnaire)."
    )


def test_a_crash_still_fails_the_run_and_records_no_anomaly(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    case = attested_after_the_end(w)

    def crash(*args: object, **kw: object) -> State:
        raise RuntimeError("panne du disque")

    monkeypatch.setattr(steps.cases, "fire", crash)
    with pytest.raises(RuntimeError, match="panne du disque"):
        nightly(w, "2029-09-15")
    with w.uow() as uow:
        status, error = uow.session.execute(sa.select(JobRun.status, JobRun.error)).one()
    assert status == "failed"
    assert error == (
        "Échec à l'étape « transitions » : erreur interne (RuntimeError) — détails dans le "
        "journal du traitement."
    )
    assert rows(w) == [] and state_of(w, case) is State.SERVING


def test_other_refusals_are_anomalies_and_a_concurrent_change_is_retried(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A French refusal that is not a guard's (a bad value met by the transition's side effects)
    is recorded without guard names; a case changed meanwhile is simply met again tomorrow."""
    w = world
    attested_after_the_end(w)
    raised: list[Exception] = [ConcurrentModification("Le dossier", 1)]

    def refuse(*args: object, **kw: object) -> State:
        raise raised[0]

    monkeypatch.setattr(steps.cases, "fire", refuse)
    [run] = nightly(w, "2029-09-15")
    assert run["counts"]["anomalies"] == 0 and rows(w) == []
    raised[0] = InvalidInput("Le modèle du certificat est introuvable.")
    [run] = nightly(w, "2029-09-16")
    assert run["counts"]["anomalies"] == 1
    [anomaly] = rows(w)
    assert anomaly.guards == [] and anomaly.message == "Le modèle du certificat est introuvable."


def test_the_database_keeps_one_open_anomaly_per_case_and_trigger(world: World) -> None:
    w = world
    case = attested_after_the_end(w)
    [run] = nightly(w, "2029-09-15")
    values = {"run_id": run["id"], "last_run_id": run["id"], "case_id": case,
              "trigger": "complete", "effective_date": D("2029-09-01"), "guards": [],
              "message": "m"}  # fmt: skip
    with w.uow() as uow, pytest.raises(sa.exc.IntegrityError):
        uow.session.add(RunAnomaly(**values))
        uow.session.flush()
    with w.uow() as uow:  # once the open one is resolved, a new one may open
        uow.session.execute(sa.update(RunAnomaly).values(resolved_at=utcnow()))
        uow.session.add(RunAnomaly(**values))
        uow.commit()
    assert [a.resolved_at is None for a in rows(w)] == [False, True]


def test_the_runs_page_shows_the_anomalies_and_a_caseworker_resolves_one(
    web: tuple[World, TestClient, dict[str, str]],  # noqa: F811
) -> None:
    w, client, _ = web
    case = attested_after_the_end(w)
    nightly(w, "2029-09-15")
    (anomaly,) = rows(w)
    login(client, "employer")
    assert client.get("/traitements").status_code == 403
    assert "Anomalies du traitement" not in client.get("/").text  # the caseworkers' to-do
    client.post("/deconnexion", data={"csrf": csrf_of(client.get("/").text)})
    login(client, "region")
    assert "Anomalies du traitement de nuit à traiter : <strong>1</strong>" in client.get("/").text
    page = client.get("/traitements")
    assert f'href="/dossiers/{case}"' in page.text and "Clore l&#39;engagement honoré" in page.text
    assert "ne reculent jamais" in page.text
    blank = client.post(f"/traitements/anomalies/{anomaly.id}",
                        data={"csrf": csrf_of(page.text), "note": " "})  # fmt: skip
    assert blank.status_code == 400 and "note" in blank.text.lower()
    assert rows(w)[0].resolved_at is None
    done = client.post(f"/traitements/anomalies/{anomaly.id}", follow_redirects=False,
                       data={"csrf": csrf_of(page.text), "note": "Clos à la main"})  # fmt: skip
    assert done.status_code == 303
    assert rows(w)[0].resolution_note == "Clos à la main"
    assert "Aucune anomalie ouverte." in client.get("/traitements").text
