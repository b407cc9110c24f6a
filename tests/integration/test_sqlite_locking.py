"""SQLite's write lock as Fidelis uses it: a write unit of work begins `BEGIN IMMEDIATE` (it waits
for the lock before reading, so it never fails half-way), a page's read does not wait for a
writer, and a lock held longer than the busy timeout is a French error that wrote nothing."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import World
from tests.integration.test_case_service import D
from tests.integration.test_reports import make_cli
from workflow import cases, db
from workflow.db import UnitOfWork, make_engine, session_factory
from workflow.errors import DatabaseBusy
from workflow.models import Case, CaseEvent
from workflow.states import State


@pytest.fixture
def locker(world: World) -> Iterator[sqlite3.Connection]:
    """Another process's connection, as sqlite3 opens it."""
    path = world.engine.url.database
    assert path is not None
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    yield conn
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    conn.close()


# SQLite only: the `db_url` fixture, given just this one of its values.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def events(w: World) -> int:
    with w.engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count(CaseEvent.id))) or 0)


def test_the_file_is_in_wal_mode_and_writers_begin_immediate(
    world: World, locker: sqlite3.Connection
) -> None:
    """A write unit of work holds the write lock from its first read; a plain session, or a
    unit of work for a long read, holds none."""
    w = world
    assert locker.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    locker.execute("PRAGMA busy_timeout = 0")

    def others_can_write() -> bool:
        try:
            locker.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return False
        locker.execute("ROLLBACK")
        return True

    factory = session_factory(w.engine)
    for unit, holds_the_lock in (
        (UnitOfWork(factory), True),
        (UnitOfWork(factory, writes=False), False),
    ):
        with unit as uow:
            uow.session.scalars(sa.select(Case.id)).all()
            assert others_can_write() is not holds_the_lock
    with factory() as s:
        s.scalars(sa.select(Case.id)).all()
        assert others_can_write()
    assert others_can_write()


def test_a_writer_waits_for_the_lock_and_a_reader_does_not(
    world: World, locker: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The write that failed at once before (read, then write while another writer holds the
    lock) now waits its turn; meanwhile a page's read and an export go through."""
    w = world
    url = w.engine.url.render_as_string(hide_password=False)
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    locker.execute("BEGIN IMMEDIATE")
    locker.execute("UPDATE employers SET name = name")
    fired: list[object] = []
    writer = threading.Thread(
        target=lambda: fired.append(
            cases.fire(w.uow(), case, "submit", on=D("2026-06-01"), schemes=w.schemes)
        )
    )
    writer.start()
    with session_factory(w.engine)() as s:  # a page's read while the lock is held
        assert s.get(Case, case) is not None
    exported = make_cli(monkeypatch)(url, "export", "events", str(tmp_path / "historique.csv"))
    assert exported.exit_code == 0, exported.output  # an export reads without waiting
    writer.join(timeout=0.5)
    assert writer.is_alive() and fired == []  # waiting for the lock, not failed
    locker.execute("COMMIT")
    writer.join(timeout=30)
    assert fired == [State.APPLIED]


def test_a_lock_held_past_the_timeout_is_a_french_error_that_wrote_nothing(
    world: World,
    locker: sqlite3.Connection,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    w = world
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    before = events(w)
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 200)
    url = w.engine.url.render_as_string(hide_password=False)
    locker.execute("BEGIN IMMEDIATE")
    locker.execute("UPDATE employers SET name = name")

    engine = make_engine(url)  # new connections: the short timeout
    with pytest.raises(DatabaseBusy, match="occupée par un autre traitement depuis plus de 0,2 s"):
        cases.fire(
            UnitOfWork(session_factory(engine)), case, "submit", on=D("2026-06-01"),
            schemes=w.schemes,
        )  # fmt: skip
    engine.dispose()

    cli = make_cli(monkeypatch)
    for args in (["case", "fire", str(case), "submit", "--on", "2026-06-01"],
                 ["nightly", "--as-of", "2026-06-02", "--no-mail"]):  # fmt: skip
        result = cli(url, *args)
        assert result.exit_code == 1, result.output  # main() prints it in French, exit 1
        assert isinstance(result.exception, DatabaseBusy), result.exception
        assert "rien n'a été enregistré" in str(result.exception)
    locker.execute("ROLLBACK")
    assert events(w) == before
