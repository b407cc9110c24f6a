"""The documented deployment, for real: one PostgreSQL server, two `fidelis serve` workers (as
behind a reverse proxy) and one `fidelis scheduler`, each its own process. A session opened on
one worker is valid on the other (shared FIDELIS_SECRET_KEY, sessions in the database), an
action fired on one is seen at once on the other, the scheduler runs its catch-up while the
workers serve; and two nightly runs started at once on PostgreSQL: one runs, the other refuses."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from bench.synthetic import AS_OF, generate
from tests.pgserver import PostgresServer, _free_port

FIDELIS = str(Path(sys.executable).parent / "fidelis")
CASES = 3000
SECRET = "une-cle-partagee-par-tous-les-workers"
ON = AS_OF.isoformat()  # the synthetic database's today


def environment(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FIDELIS_DB": url,
        "FIDELIS_SECRET_KEY": SECRET,
        "FIDELIS_DOCUMENTS_DIR": str(tmp_path / "docs"),
        # The test speaks plain http to the workers, with no proxy in front: httpx would keep a
        # `Secure` cookie to itself (production runs behind HTTPS without this setting).
        "FIDELIS_INSECURE_COOKIES": "1",
    }


@pytest.fixture(scope="module")
def pg_url(pg_server: PostgresServer) -> str:
    url = pg_server.create_database()
    generate(url, CASES)
    return url


def fidelis(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FIDELIS, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM (as systemd does), then wait, and close its pipes."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def wait_until_up(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            if httpx.get(f"{base}/connexion", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base} did not start")


@pytest.fixture
def workers(pg_url: str, tmp_path: Path) -> Iterator[list[str]]:
    env = environment(pg_url, tmp_path)
    procs, bases = [], []
    for _ in range(2):
        port = _free_port()
        command = [FIDELIS, "serve", "--host", "127.0.0.1", "--port", str(port)]
        procs.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
        )
        bases.append(f"http://127.0.0.1:{port}")
    try:
        for base, proc in zip(bases, procs, strict=True):
            wait_until_up(base, proc)
        yield bases
    finally:
        for proc in procs:
            stop(proc)


def login(client: httpx.Client, email: str, password: str) -> None:
    page = client.get("/connexion")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, page.text
    answer = client.post(
        "/connexion", data={"email": email, "password": password, "csrf": found[1]}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text


def succeeded_runs(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.text("SELECT count(*) FROM job_runs WHERE status = 'succeeded'"))
            .scalar_one()
        )  # fmt: skip


def test_two_workers_and_a_scheduler_share_one_postgresql(
    pg_url: str, workers: list[str], tmp_path: Path
) -> None:
    env = environment(pg_url, tmp_path)
    added = fidelis(
        env, "user", "add", "--email", "agent@region.fr", "--name", "Agent Région",
        "--role", "region", "--password", "motdepasse-solide", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    token = json.loads(added.stdout)["api_token"]
    engine = sa.create_engine(pg_url)
    runs_before = succeeded_runs(engine)
    scheduler = subprocess.Popen(
        [FIDELIS, "scheduler"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first, second = workers
        # A browser session opened on one worker is honoured by the other.
        with httpx.Client(base_url=first) as on_first:
            login(on_first, "agent@region.fr", "motdepasse-solide")
            cookies = on_first.cookies
        with httpx.Client(base_url=second, cookies=cookies) as on_second:
            page = on_second.get("/dossiers")
            assert page.status_code == 200 and "Se déconnecter" in page.text

        # An action fired through one worker is seen by the other at once.
        with engine.connect() as conn:
            case_id = conn.execute(
                sa.text("SELECT min(id) FROM cases WHERE state = 'applied'")
            ).scalar_one()
        bearer = {"Authorization": f"Bearer {token}"}
        fired = httpx.post(
            f"{first}/api/v1/cases/{case_id}/fire",
            json={"trigger": "withdraw", "on": ON, "reason": "Déménagement"},
            headers=bearer, timeout=30,
        )  # fmt: skip
        assert fired.status_code == 200, fired.text
        assert fired.json()["state"] == "withdrawn"
        seen = httpx.get(f"{second}/api/v1/cases/{case_id}", headers=bearer, timeout=30)
        assert seen.status_code == 200 and seen.json()["state"] == "withdrawn"
        # Firing it again on the other worker is refused with a reason, and writes nothing.
        again = httpx.post(
            f"{second}/api/v1/cases/{case_id}/fire",
            json={"trigger": "withdraw", "on": ON, "reason": "Doublon"}, headers=bearer, timeout=30,
        )  # fmt: skip
        assert again.status_code == 400, again.text

        # Meanwhile the scheduler catches up with a nightly run of its own.
        deadline = time.monotonic() + 300
        while succeeded_runs(engine) == runs_before:
            assert scheduler.poll() is None, scheduler.communicate()[1]
            assert time.monotonic() < deadline, "the scheduler did not run"
            time.sleep(0.5)
        assert scheduler.poll() is None  # still waiting for 02:00
        with httpx.Client(base_url=second, cookies=cookies) as on_second:
            assert on_second.get("/traitements").status_code == 200
    finally:
        stop(scheduler)
        engine.dispose()
    with engine.connect() as conn:
        events = conn.execute(
            sa.text("SELECT count(*) FROM case_events WHERE case_id = :c AND trigger = 'withdraw'"),
            {"c": case_id},
        ).scalar_one()
    engine.dispose()
    assert events == 1


def _lease_held(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT count(*) FROM job_leases")).scalar_one())


def test_two_nightly_runs_at_once_on_postgresql_one_refuses(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    url = pg_server.create_database()
    generate(url, CASES)
    env = environment(url, tmp_path)
    # A run last year: the next one catches up night by night, long enough for the second
    # process to start while the first holds the run.
    earlier = fidelis(env, "nightly", "--as-of", "2026-10-01", "--no-mail")
    assert earlier.returncode == 0, earlier.stderr
    engine = sa.create_engine(url)
    try:
        command = [FIDELIS, "nightly", "--as-of", "2027-08-15", "--no-mail"]
        first = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        while not _lease_held(engine):
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        second = fidelis(env, "nightly", "--as-of", "2027-08-15", "--no-mail")
        _, first_err = first.communicate(timeout=600)
        assert first.returncode == 0, first_err
        assert second.returncode == 1, second.stderr
        assert "déjà en cours" in second.stderr
        with engine.connect() as conn:
            statuses = conn.execute(
                sa.text("SELECT status FROM job_runs ORDER BY id")
            ).scalars().all()  # fmt: skip
        assert statuses[-1] == "succeeded" and "running" not in statuses
    finally:
        engine.dispose()
