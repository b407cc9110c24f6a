"""A nightly run killed with SIGKILL at several points, then rerun, leaves exactly what one clean
run leaves: no payment, reminder or transition twice, none missing. And two runs started at once:
one runs, the other refuses."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.synthetic import generate

FIDELIS = str(Path(sys.executable).parent / "fidelis")
AS_OF = "2027-08-15"


def start(db: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "FIDELIS_DB": str(db), "FIDELIS_DOCUMENTS_DIR": str(db.parent / "docs")}
    return subprocess.Popen(
        [FIDELIS, "nightly", "--as-of", AS_OF, "--no-mail", *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def outcome(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Everything the run writes, without its timestamps."""
    conn = sqlite3.connect(db)
    queries = {
        "cases": "SELECT id, state, version, last_effective_date, next_payment_due, commitment_ends_on FROM cases",
        "events": "SELECT case_id, seq, trigger, from_state, to_state, effective_date, actor FROM case_events",
        "payments": "SELECT case_id, period, funder, amount, due_date, status FROM payments",
        "outbox": "SELECT dedup_key, kind, case_id, employer_id, due_date, recipient, status FROM outbox",
    }
    result = {name: sorted(conn.execute(q).fetchall()) for name, q in queries.items()}
    conn.close()
    return result


def _lease_held(db: Path) -> bool:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM job_leases").fetchone()[0] > 0
    finally:
        conn.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "template.db"
    generate(f"sqlite:///{path}", 4000)
    return path


@pytest.fixture(scope="module")
def clean(
    template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, list[tuple[object, ...]]], float]:
    db = tmp_path_factory.mktemp("clean") / "clean.db"
    shutil.copy(template, db)
    began = time.monotonic()
    proc = start(db)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return outcome(db), time.monotonic() - began


@pytest.mark.parametrize("fraction", [0.25, 0.45, 0.65, 0.85])
def test_killed_then_rerun_equals_one_clean_run(
    template: Path,
    clean: tuple[dict[str, list[tuple[object, ...]]], float],
    tmp_path: Path,
    fraction: float,
) -> None:
    expected, duration = clean
    db = tmp_path / "killed.db"
    shutil.copy(template, db)
    proc = start(db)
    time.sleep(duration * fraction)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    rerun = start(db)
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    assert outcome(db) == expected
    conn = sqlite3.connect(db)
    statuses = [r[0] for r in conn.execute("SELECT status FROM job_runs ORDER BY id")]
    conn.close()
    assert statuses[-1] == "succeeded"


def test_two_runs_started_at_once_one_runs_one_refuses(template: Path, tmp_path: Path) -> None:
    db = tmp_path / "twice.db"
    shutil.copy(template, db)
    # A run last year: the next one catches up day by day until AS_OF, long enough (hundreds of
    # nights) for the second process to start while the first holds the run.
    earlier = subprocess.run(
        [FIDELIS, "nightly", "--as-of", "2026-10-01", "--no-mail"],
        env={**os.environ, "FIDELIS_DB": str(db), "FIDELIS_DOCUMENTS_DIR": str(tmp_path / "docs")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert earlier.returncode == 0, earlier.stderr
    first = start(db)
    deadline = time.monotonic() + 60
    while not _lease_held(db):  # wait until the first one holds the run
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    second = start(db)
    _, second_err = second.communicate(timeout=600)
    _, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    assert second.returncode == 1
    assert "déjà en cours" in second_err
