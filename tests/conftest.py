"""Shared fixtures: databases (SQLite file and a real PostgreSQL server started by the session),
the scheme registry with the test fixtures, and a small world of institutes, employers, offers
and learners built through the services."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.pgserver import PostgresServer, start_server
from workflow import directory
from workflow.db import UnitOfWork, make_engine, session_factory, upgrade
from workflow.paths import config_dir
from workflow.schemes import SchemeRegistry

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCHEME = "occitanie-fidelisation-as"
ARS = "ars-bfc-cae"


# The tests' "today" (workflow.clock, FIDELIS_TODAY — the commands they run in a subprocess
# inherit it): after every date their stories use, so that the horizon of effective dates (a
# year after today) and the nightly run's "no later than tomorrow" accept them all, whatever day
# the machine says it is.
TODAY = date(2029, 12, 1)


@pytest.fixture(scope="session", autouse=True)
def injected_today() -> Iterator[date]:
    # Session-wide, so that module fixtures (and the processes they start) have it too.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FIDELIS_TODAY", TODAY.isoformat())
        yield TODAY


@pytest.fixture(autouse=True)
def documents_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test stores its documents in its own folder."""
    folder = tmp_path / "documents"
    monkeypatch.setenv("FIDELIS_DOCUMENTS_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def schemes() -> SchemeRegistry:
    return SchemeRegistry.load([config_dir() / "schemes", FIXTURES / "schemes"])


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = start_server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """A database migrated once; each test gets a copy (CREATE DATABASE … TEMPLATE)."""
    engine = make_engine(pg_server.create_database(f"template_{uuid.uuid4().hex[:8]}"))
    upgrade(engine)
    name = str(engine.url.database)
    engine.dispose()
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "fidelis.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        server: PostgresServer = request.getfixturevalue("pg_server")
        yield server.create_database(template=request.getfixturevalue("pg_template"))


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@dataclass
class World:
    """What the case tests need: ids of things built through the real services."""

    engine: sa.Engine
    schemes: SchemeRegistry
    institute: int
    campaign: int
    offers: list[int]
    learners: list[int]

    def uow(self) -> UnitOfWork:
        return UnitOfWork(session_factory(self.engine))


# Real rural communes of Occitanie (communautés de communes).
RURAL_OCCITANIE = ("48095", "12145", "09225")
VALID_SIRETS = ("73282932000074", "55210055400013", "44306184100047")
IBAN = "FR7630006000011234567890189"


@pytest.fixture
def world(engine: sa.Engine, schemes: SchemeRegistry) -> World:
    return build_world(engine, schemes)


def build_world(engine: sa.Engine, schemes: SchemeRegistry) -> World:
    """An institute, a 2026 campaign with three rural employers' offers (a place each) and
    three learners, built through the services."""

    def uow() -> UnitOfWork:
        return UnitOfWork(session_factory(engine))

    institute = directory.add_institute(
        uow(), name="IFAS de Mende", commune="48095", schemes=[SCHEME], scheme_registry=schemes
    )
    campaign = directory.open_campaign(uow(), scheme_id=SCHEME, year=2026, scheme_registry=schemes)
    offers = []
    for i, (insee, siret) in enumerate(zip(RURAL_OCCITANIE, VALID_SIRETS, strict=True)):
        employer = directory.add_employer(
            uow(), name=f"EHPAD {i}", siret=siret, commune=insee, sector="elderly",
            recruitment_difficulty=True, email=f"direction{i}@exemple.fr",
        )  # fmt: skip
        offers.append(
            directory.list_employer(
                uow(), campaign_id=campaign, employer_id=employer, places=1, scheme_registry=schemes
            )
        )
    learners = [
        directory.add_learner(
            uow(),
            first_name=f"Apprenant{i}",
            last_name="Test",
            birth_date=date(2003, 1, 1),
            email=f"a{i}@exemple.fr",
            institute_id=institute,
            training_start=date(2026, 9, 7),
            training_end=date(2027, 7, 2),
            iban=IBAN,
            today=date(2026, 6, 1),
        )
        for i in range(3)
    ]
    return World(engine, schemes, institute, campaign, offers, learners)
