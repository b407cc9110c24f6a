"""Engines, sessions, the unit of work, and schema upgrades (Alembic).

SQLite takes turns between writers with a file lock. A transaction that reads, then writes,
gets SQLITE_BUSY at once when another writer holds the lock (waiting could deadlock), so
`busy_timeout` never helps it. Hence SQLAlchemy's pysqlite recipe: the driver emits no BEGIN of
its own; a write unit of work (`UnitOfWork`, `writing(engine)`) begins `BEGIN IMMEDIATE`, taking
the write lock first and waiting up to `BUSY_TIMEOUT_MS` for it; plain sessions (pages, exports)
begin `BEGIN` and, in WAL mode, read without blocking or being blocked. A lock still not
obtained after the wait becomes `DatabaseBusy`, a French error."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from workflow.errors import ConcurrentModification, DatabaseBusy, FidelisError
from workflow.paths import migrations_dir

DEFAULT_URL = "sqlite:///fidelis.db"


def database_url(url: str | None = None) -> str:
    """`--db`, else $FIDELIS_DB, else the SQLite file ./fidelis.db (SPEC §7). A bare path is
    taken as a SQLite file."""
    url = url or os.environ.get("FIDELIS_DB") or DEFAULT_URL
    if "://" not in url:
        url = f"sqlite:///{url}"
    return url


BUSY_TIMEOUT_MS = 30_000
# The execution option that marks a write unit of work (BEGIN IMMEDIATE on SQLite).
WRITE_OPTION = "fidelis_write"


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The pysqlite recipe: no BEGIN from the driver; `_sqlite_begin` emits ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # Readers and the writer do not block each other (stays set in the file; no-op in memory).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    writes = conn.get_execution_options().get(WRITE_OPTION, False)
    # On the driver's connection, as the driver's own BEGIN was: transaction control is no
    # statement of ours (nor of the tests that count statements).
    driver = conn.connection.driver_connection
    assert driver is not None  # a connection being begun is checked out
    try:
        driver.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
    except sqlite3.OperationalError as exc:
        busy = _busy(exc)
        if busy is None:
            raise
        raise busy from None


def _busy(exc: BaseException) -> DatabaseBusy | None:
    """« database is locked » after the busy timeout: a French error, not a traceback."""
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return DatabaseBusy(BUSY_TIMEOUT_MS / 1000)
    return None


def _sqlite_busy(context: sa.engine.ExceptionContext) -> BaseException | None:
    return _busy(context.original_exception)


def make_engine(url: str | None = None, **kwargs: Any) -> sa.Engine:
    engine = sa.create_engine(database_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        sa.event.listen(engine, "handle_error", _sqlite_busy, retval=True)
    return engine


def writing(engine: sa.Engine) -> sa.Engine:
    """`engine` for a write unit of work: on SQLite its transactions take the write lock first
    (BEGIN IMMEDIATE), waiting their turn instead of failing half-way."""
    return engine.execution_options(**{WRITE_OPTION: True})


def alembic_config(engine: sa.Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)


def check_schema(engine: sa.Engine) -> None:
    """Refuse to work on a database whose schema is not the code's (missing or older)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        state = "vide" if current is None else f"à la version {current}"
        raise FidelisError(f"La base {where} est {state} ; lancez d'abord « fidelis db upgrade ».")


class UnitOfWork:
    """One transaction: rolls back unless `commit()` is called (cosmicpython, chapter 6). A
    write unit by default: on SQLite it waits for the write lock before its first statement.
    `writes=False` for a long read (an export, a report), which must not hold writers back."""

    session: Session

    def __init__(self, session_factory: Callable[[], Session], *, writes: bool = True) -> None:
        self._factory = session_factory
        self._writes = writes

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        bind = self.session.get_bind()
        if self._writes and isinstance(bind, sa.Engine):
            self.session.bind = writing(bind)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        try:
            self.session.commit()
        except StaleDataError as err:
            self.session.rollback()
            raise ConcurrentModification() from err

    def rollback(self) -> None:
        self.session.rollback()


class Joined(UnitOfWork):
    """The caller's transaction lent to an existing use case (a declaration accepted fires
    `cases.suspend`, a learner's IBAN goes through `directory.update_learner`): its commit only
    flushes, and the caller commits both together; on an error the caller rolls back."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def commit(self) -> None:
        self.session.flush()

    def rollback(self) -> None:
        return None


def session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


__all__ = [
    "Joined",
    "UnitOfWork",
    "check_schema",
    "database_url",
    "make_engine",
    "session_factory",
    "upgrade",
]
