"""Engines, sessions, the unit of work, and schema upgrades (Alembic)."""

from __future__ import annotations

import os
from collections.abc import Callable
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from workflow.errors import ConcurrentModification, FidelisError
from workflow.paths import migrations_dir

DEFAULT_URL = "sqlite:///fidelis.db"


def database_url(url: str | None = None) -> str:
    """`--db`, else $FIDELIS_DB, else the SQLite file ./fidelis.db (SPEC §7). A bare path is
    taken as a SQLite file."""
    url = url or os.environ.get("FIDELIS_DB") or DEFAULT_URL
    if "://" not in url:
        url = f"sqlite:///{url}"
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str | None = None, **kwargs: Any) -> sa.Engine:
    engine = sa.create_engine(database_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


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
    """One transaction: rolls back unless `commit()` is called (cosmicpython, chapter 6)."""

    session: Session

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._factory = session_factory

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
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


def session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


__all__ = [
    "UnitOfWork",
    "check_schema",
    "database_url",
    "make_engine",
    "session_factory",
    "upgrade",
]
