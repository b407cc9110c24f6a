"""At most one nightly run at a time (SPEC §6).

On PostgreSQL a session-level advisory lock is the authority: the server releases it when the
holding connection dies, so a run killed with kill -9 never blocks the next one. Everywhere a
lease row says who runs (host, pid) and since when; on SQLite it is the lock itself, and a lease
whose process is dead on this host, or whose time is over, is taken over."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from workflow.errors import FidelisError
from workflow.models import JobLease, utcnow

ADVISORY_KEY = 0x46494445  # "FIDE"
LEASE_TTL = timedelta(hours=6)


class RunRefused(FidelisError):
    pass


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _dead_here(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _take_lease(conn: sa.Connection, name: str, holder: str, now: datetime) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        insert(JobLease)
        .values(name=name, holder=holder, acquired_at=now, expires_at=now + LEASE_TTL)
        .on_conflict_do_nothing()
    )
    current = conn.execute(sa.select(JobLease).where(JobLease.name == name)).one()
    if current.holder == holder:
        return
    if current.expires_at > now and not _dead_here(current.holder):
        raise RunRefused(
            f"Un traitement de nuit est déjà en cours depuis le "
            f"{current.acquired_at:%d/%m/%Y à %H:%M} UTC ({current.holder}) : "
            "attendez sa fin, rien n'a été lancé."
        )
    taken = conn.execute(
        sa.update(JobLease)
        .where(JobLease.name == name, JobLease.holder == current.holder)
        .values(holder=holder, acquired_at=now, expires_at=now + LEASE_TTL)
    )
    if taken.rowcount != 1:
        raise RunRefused("Un autre traitement de nuit vient de démarrer : rien n'a été lancé.")


@contextmanager
def exclusive_run(engine: sa.Engine, name: str = "nightly") -> Iterator[str]:
    """Hold the run for the duration of the block; raise RunRefused if someone else holds it."""
    holder = holder_id()
    lock_conn: sa.Connection | None = None
    if engine.dialect.name == "postgresql":
        lock_conn = engine.connect()
        got = lock_conn.execute(sa.select(sa.func.pg_try_advisory_lock(ADVISORY_KEY))).scalar()
        lock_conn.commit()
        if not got:
            lock_conn.close()
            raise RunRefused(
                "Un traitement de nuit est déjà en cours sur cette base (verrou PostgreSQL) : "
                "rien n'a été lancé."
            )
    try:
        with engine.begin() as conn:
            if lock_conn is not None:
                # The advisory lock is ours: any lease row left is from a dead run.
                conn.execute(sa.delete(JobLease).where(JobLease.name == name))
            _take_lease(conn, name, holder, utcnow())
        try:
            yield holder
        finally:
            with engine.begin() as conn:
                conn.execute(
                    sa.delete(JobLease).where(JobLease.name == name, JobLease.holder == holder)
                )
    finally:
        if lock_conn is not None:
            lock_conn.execute(sa.select(sa.func.pg_advisory_unlock(ADVISORY_KEY)))
            lock_conn.close()
