"""A throwaway PostgreSQL server for the test session: initdb into a temporary folder, start on a
free port on 127.0.0.1, stop and remove at the end. No Docker, no skipping: when the binaries
are missing, `scripts/test` installs them; here a missing server is an error.

Set FIDELIS_TEST_PG_URL (an admin URL such as postgresql+psycopg://postgres@host:5432/postgres)
to use an existing server instead."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa


def _bindir() -> Path:
    if env := os.environ.get("FIDELIS_PG_BINDIR"):
        return Path(env)
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    if shutil.which("initdb"):
        return Path(shutil.which("initdb") or "").resolve().parent
    raise RuntimeError(
        "PostgreSQL server binaries not found (initdb). Run scripts/test, which installs them, "
        "or set FIDELIS_PG_BINDIR / FIDELIS_TEST_PG_URL."
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A PostgreSQL cluster in a temporary folder, on a free TCP port of 127.0.0.1."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.port = _free_port()
        # initdb refuses to run as root: then the cluster belongs to the `postgres` user, in a
        # folder it can reach (pytest's own temporary folders are private to root).
        self.base = Path(tempfile.mkdtemp(prefix="fidelis-pg-"))
        self.base.chmod(0o755)
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._ensure_postgres_user()
            shutil.chown(self.base, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]

    @staticmethod
    def _ensure_postgres_user() -> None:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._as, *args], capture_output=True, text=True, check=False, cwd=self.base
        )

    def start(self) -> PostgresServer:
        init = self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        started = self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w",
            "-t", "60", "-o", options, "start",
        )  # fmt: skip
        if started.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start:\n{started.stderr}\n{tail}")
        return self

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            clause = f' TEMPLATE "{template}"' if template else ""
            conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
        admin.dispose()
        return str(sa.make_url(self.url).set(database=name).render_as_string(hide_password=False))

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


class ExistingServer(PostgresServer):
    """FIDELIS_TEST_PG_URL: a server someone else runs; databases are created, never dropped."""

    def __init__(self, url: str) -> None:
        self._url = url

    def start(self) -> ExistingServer:
        return self

    @property
    def url(self) -> str:
        return self._url

    def stop(self) -> None:
        pass


def start_server() -> PostgresServer:
    if url := os.environ.get("FIDELIS_TEST_PG_URL"):
        return ExistingServer(url).start()
    server = PostgresServer()
    deadline = time.monotonic() + 5
    while True:  # a port taken between choosing and binding: try another one
        try:
            return server.start()
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            server.stop()
            server = PostgresServer()
