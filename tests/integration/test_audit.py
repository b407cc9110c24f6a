"""The tamper-evident history (issue 14): every event hash-chained to its case's previous one,
the nightly seals, and `fidelis audit verify` naming the first row altered, inserted or removed
(SQLite and PostgreSQL; on PostgreSQL the application's role may only read and append)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.conftest import World
from tests.integration.test_case_service import D, fire, signed_case
from workflow import audit, cases
from workflow.cli import app
from workflow.db import UnitOfWork, make_engine, session_factory
from workflow.models import CaseEvent, EventDigest


def history(w: World) -> int:
    """A signed case in training with a suspension-free history, sealed; return its id."""
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    with w.uow() as uow:
        audit.seal(uow.session)
        uow.commit()
    return case


def findings(w: World, case: int | None = None) -> list[str]:
    with w.uow() as uow:
        return [str(f) for f in audit.verify(uow.session, case)]


@contextmanager
def guards_off(w: World) -> Iterator[sa.Connection]:
    """What someone with the owner's access could do: lift the append-only triggers."""
    with w.engine.begin() as conn:
        if w.engine.dialect.name == "sqlite":
            conn.execute(sa.text("DROP TRIGGER IF EXISTS case_events_no_update"))
            conn.execute(sa.text("DROP TRIGGER IF EXISTS case_events_no_delete"))
            conn.execute(sa.text("DROP TRIGGER IF EXISTS case_events_no_replace"))
        else:
            conn.execute(sa.text("ALTER TABLE case_events DISABLE TRIGGER case_events_append_only"))
        yield conn


def event_id(w: World, case: int, seq: int) -> int:
    with w.engine.connect() as conn:
        found = conn.scalar(
            sa.select(CaseEvent.id).where(CaseEvent.case_id == case, CaseEvent.seq == seq)
        )
    assert isinstance(found, int)
    return found


def test_a_history_written_through_the_service_verifies(world: World) -> None:
    w = world
    case = history(w)
    cases.add_note(w.uow(), case, "après le scellé", schemes=w.schemes)  # chained, not yet sealed
    assert findings(w) == []
    result = CliRunner().invoke(app, ["--db", w.engine.url.render_as_string(False), "audit",
                                      "verify", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '"valid": true' in result.output


def test_an_updated_row_is_named(world: World) -> None:
    w = world
    case = history(w)
    target = event_id(w, case, 3)
    with guards_off(w) as conn:
        conn.execute(sa.update(CaseEvent).where(CaseEvent.id == target).values(actor="faussaire"))
    assert findings(w)[0] == (
        f"dossier n° {case}, événement n° 3, ligne {target} : contenu modifié depuis son "
        "enregistrement"
    )
    result = CliRunner().invoke(app, ["--db", w.engine.url.render_as_string(False), "audit",
                                      "verify"])  # fmt: skip
    assert result.exit_code == 1 and "Historique altéré" in result.output


def test_a_deleted_row_is_named_in_the_middle_or_at_the_end(world: World) -> None:
    w = world
    case = history(w)
    last = max(s for (s,) in _seqs(w, case))
    with guards_off(w) as conn:
        conn.execute(sa.delete(CaseEvent).where(CaseEvent.id == event_id(w, case, 2)))
    assert findings(w, case)[0].endswith("événement n° 2, ligne " + str(event_id(w, case, 3))
                                         + " : événement absent (ligne supprimée)")  # fmt: skip
    with guards_off(w) as conn:  # the last event of the case: its chain cannot tell, the seal can
        conn.execute(sa.delete(CaseEvent).where(CaseEvent.case_id == case, CaseEvent.seq == last))
    assert any("lignes supprimées ou insérées" in f for f in findings(w))


def _seqs(w: World, case: int) -> list[tuple[int]]:
    with w.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(CaseEvent.seq).where(CaseEvent.case_id == case))]  # fmt: skip


def test_a_replaced_or_inserted_row_is_refused_or_named(world: World) -> None:
    w = world
    case = history(w)
    target = event_id(w, case, 2)
    columns = "id, case_id, seq, trigger, to_state, effective_date, recorded_at, actor, payload"
    values = f"{target}, {case}, 2, 'submit', 'applied', '2026-06-01', '2026-06-01', 'x', '{{}}'"
    if w.engine.dialect.name == "sqlite":
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), w.engine.begin() as conn:
            conn.execute(
                sa.text(f"INSERT OR REPLACE INTO case_events ({columns}) VALUES ({values})")
            )
    with guards_off(w) as conn:  # an event slipped in after the last one, with a made-up hash
        conn.execute(sa.insert(CaseEvent).values(
            case_id=case, seq=99, trigger="note", to_state="in_training",
            effective_date=D("2026-09-08"), actor="x", payload={}, prev_hash="0" * 64,
            hash="0" * 64,
        ))  # fmt: skip
    assert any("événement absent" in f or "chaînage rompu" in f for f in findings(w, case))


def test_an_emptied_table_is_seen_by_the_seals(world: World) -> None:
    w = world
    history(w)
    with guards_off(w) as conn:
        conn.execute(sa.text("DELETE FROM case_events"))
    assert "lignes supprimées ou insérées" in findings(w)[0]
    if w.engine.dialect.name == "postgresql":
        with w.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE case_events CASCADE"))
        assert "lignes supprimées ou insérées" in findings(w)[0]


def test_the_application_role_may_only_read_and_append_the_history(world: World) -> None:
    w = world
    if w.engine.dialect.name != "postgresql":
        with pytest.raises(Exception, match="PostgreSQL"):
            audit.grant_app_role(w.engine, "fidelis_app")
        return
    with w.engine.begin() as conn:
        conn.execute(sa.text("DO $$ BEGIN CREATE ROLE fidelis_app LOGIN; "
                             "EXCEPTION WHEN duplicate_object THEN NULL; END $$"))  # fmt: skip
    audit.grant_app_role(w.engine, "fidelis_app")
    url = w.engine.url.set(username="fidelis_app")
    engine = make_engine(url.render_as_string(False))
    try:
        case = cases.open_case(UnitOfWork(session_factory(engine)), w.offers[1], w.learners[1],
                               on=D("2026-05-30"))  # fmt: skip
        cases.fire(UnitOfWork(session_factory(engine)), case, "submit", on=D("2026-06-01"),
                   schemes=w.schemes)  # fmt: skip
        with UnitOfWork(session_factory(engine)) as uow:
            audit.seal(uow.session)
            uow.commit()
        for statement in (
            "TRUNCATE case_events CASCADE",
            "UPDATE case_events SET actor = 'x'",
            "DELETE FROM case_events",
            "ALTER TABLE case_events DISABLE TRIGGER case_events_append_only",
            "DELETE FROM event_digests",
        ):
            with (
                pytest.raises(sa.exc.DBAPIError, match=r"permission denied|must be owner"),
                engine.begin() as conn,
            ):
                conn.execute(sa.text(statement))
        with engine.connect() as conn:
            assert conn.scalar(sa.select(sa.func.count(EventDigest.id))) == 1
    finally:
        engine.dispose()
    assert findings(w) == []
