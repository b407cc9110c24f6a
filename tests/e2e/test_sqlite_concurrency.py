"""SQLite, the default backend, with more than one writer: the nightly run (a `fidelis nightly`
process catching up six weeks) while a caseworker's process fires triggers in a loop, and two
nightly runs started together. Every round: the nightly run succeeds, the caseworker's actions
all go through, and of two runs started at once exactly one runs while the other refuses in
French — never « database is locked », never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from bench.synthetic import generate

FIDELIS = str(Path(sys.executable).parent / "fidelis")
ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2027-03-15"
LAST_RUN = "2027-02-20"  # the template's last run: each round catches up 23 days
ROUNDS = 10
CASEWORKERS = 2


def env(db: Path) -> dict[str, str]:
    return {**os.environ, "FIDELIS_DB": str(db), "FIDELIS_DOCUMENTS_DIR": str(db.parent / "docs")}


def nightly(db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [FIDELIS, "nightly", "--as-of", AS_OF, "--no-mail"],
        env=env(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def caseworker(db: str, stop: str, share: str, shares: str) -> None:
    """Fire triggers on the open campaign's cases whose id modulo `shares` is `share` (submit,
    interview, reject), one unit of work each, until `stop` exists; print what happened as
    JSON. Run in its own process."""
    import sqlalchemy as sa

    from workflow import cases
    from workflow.db import UnitOfWork, make_engine, session_factory
    from workflow.errors import DatabaseBusy, FidelisError
    from workflow.models import Case
    from workflow.schemes import registry
    from workflow.states import State

    engine = make_engine(db)
    factory = session_factory(engine)
    schemes = registry()
    on = date.fromisoformat(AS_OF)
    steps = {
        State.LISTED: ("submit", {}, None),
        State.APPLIED: ("interview", {"interview_date": AS_OF}, None),
        State.INTERVIEWED: ("reject", {}, "Profil ne correspondant pas"),
    }
    with factory() as s:
        todo = s.execute(
            sa.select(Case.id, Case.state)
            .where(Case.state.in_(steps), Case.id % int(shares) == int(share))
            .order_by(Case.id)
        ).all()
    fired, refused, failed = 0, 0, []
    print("ready", flush=True)
    for case_id, state in todo:
        while state in steps and not os.path.exists(stop):
            trigger, params, reason = steps[state]
            try:
                state = cases.fire(
                    UnitOfWork(factory), case_id, trigger, on=on, params=params, reason=reason,
                    actor="agent", schemes=schemes,
                )  # fmt: skip
                fired += 1
            except DatabaseBusy as exc:
                failed.append(str(exc))
                break
            except FidelisError:
                refused += 1
                break
            except Exception as exc:  # anything else is what this test is looking for
                failed.append(f"{type(exc).__name__}: {exc}")
                break
    print(json.dumps({"fired": fired, "refused": refused, "failed": failed}), flush=True)
    engine.dispose()


def start_caseworker(db: Path, stop: Path, share: int) -> subprocess.Popen[str]:
    code = "import sys; from tests.e2e.test_sqlite_concurrency import caseworker as c; c(*sys.argv[1:])"
    process = subprocess.Popen(
        [sys.executable, "-c", code, f"sqlite:///{db}", str(stop), str(share), str(CASEWORKERS)],
        cwd=ROOT, env=env(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def runs(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute("SELECT as_of, status FROM job_runs ORDER BY id").fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("concurrency") / "template.db"
    generate(f"sqlite:///{path}", 1500)
    first = subprocess.run(
        [FIDELIS, "nightly", "--as-of", LAST_RUN, "--no-mail"],
        env=env(path), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    return path


CATCH_UP = (date.fromisoformat(AS_OF) - date.fromisoformat(LAST_RUN)).days


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_the_nightly_run_succeeds_while_a_caseworker_writes(
    template: Path, tmp_path: Path, round_: int
) -> None:
    db = tmp_path / "fidelis.db"
    shutil.copy(template, db)
    stop = tmp_path / "stop"
    workers = [start_caseworker(db, stop, share) for share in range(CASEWORKERS)]
    run = nightly(db)
    _, run_err = run.communicate(timeout=600)
    stop.touch()
    assert run.returncode == 0, run_err
    assert "Traceback" not in run_err
    for worker in workers:
        worker_out, worker_err = worker.communicate(timeout=120)
        assert worker.returncode == 0, worker_err
        report = json.loads(worker_out.strip().splitlines()[-1])
        assert report["failed"] == [] and report["refused"] == 0, report
        assert report["fired"] > 0
    statuses = runs(db)
    assert statuses[-CATCH_UP:] == [
        ((date.fromisoformat(LAST_RUN) + timedelta(days=n)).isoformat(), "succeeded")
        for n in range(1, CATCH_UP + 1)
    ]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_nightly_runs_started_together_one_runs_one_refuses(
    template: Path, tmp_path: Path, round_: int
) -> None:
    db = tmp_path / "fidelis.db"
    shutil.copy(template, db)
    first, second = nightly(db), nightly(db)
    outcomes = []
    for process in (first, second):
        _, err = process.communicate(timeout=600)
        assert "Traceback" not in err, err
        outcomes.append((process.returncode, err))
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 1], outcomes
    refused = next(err for code, err in outcomes if code == 1)
    assert "déjà en cours" in refused and "rien n'a été lancé" in refused, refused
    statuses = runs(db)
    assert [s for _, s in statuses[-CATCH_UP:]] == ["succeeded"] * CATCH_UP
    assert len(statuses) == 1 + CATCH_UP  # the template's run, then one run per day, once
