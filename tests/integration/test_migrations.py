"""Alembic migrations: from empty to head, idempotent, reversible, and in step with the models."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from workflow.db import check_schema, make_engine, upgrade
from workflow.errors import FidelisError
from workflow.models import Base


def _fresh_url(kind: str, request: pytest.FixtureRequest, tmp_path: object) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/empty.db"
    server = request.getfixturevalue("pg_server")
    return str(server.create_database(f"empty_{uuid.uuid4().hex[:12]}"))


# SQLite's reflection cannot read the prefix-search expression indexes (workflow.sqltext);
# PostgreSQL's can, and checks them.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping")
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_from_empty_matches_the_models(
    kind: str, request: pytest.FixtureRequest, tmp_path: object
) -> None:
    engine = make_engine(_fresh_url(kind, request, tmp_path))
    with pytest.raises(FidelisError, match="fidelis db upgrade"):
        check_schema(engine)
    upgrade(engine)
    upgrade(engine)  # a second run changes nothing
    check_schema(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_downgrade_to_empty_and_back(
    kind: str, request: pytest.FixtureRequest, tmp_path: object
) -> None:
    from alembic import command

    from workflow.db import alembic_config

    engine = make_engine(_fresh_url(kind, request, tmp_path))
    upgrade(engine)
    command.downgrade(alembic_config(engine), "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert "case_events" in sa.inspect(engine).get_table_names()
    engine.dispose()
