"""The case list's search box: the beginning of a learner's last or first name or of a contract
number, case-insensitive, wildcards taken literally — and served by an index on both databases,
so that it costs the same at a million cases (workflow.sqltext); the state and département
filters have theirs too."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from tests.conftest import IBAN, World
from tests.integration.test_case_service import signed_case
from workflow import cases, directory
from workflow.models import Case, Employer, Learner
from workflow.sqltext import starts_with_ci
from workflow.views import CaseFilter, case_rows


def _learner(w: World, first: str, last: str) -> int:
    return directory.add_learner(
        w.uow(), first_name=first, last_name=last, birth_date=date(2002, 3, 4),
        email=f"{first.lower()}@exemple.fr", institute_id=w.institute,
        training_start=date(2026, 9, 7), training_end=date(2027, 7, 2), iban=IBAN,
        today=date(2026, 6, 1),
    )  # fmt: skip


def found(w: World, text: str) -> set[int]:
    with w.uow() as uow:
        return {row["id"] for row in case_rows(uow.session, filters=CaseFilter(search=text))}


def test_search_by_the_beginning_of_a_name_or_of_a_contract_number(world: World) -> None:
    w = world
    signed = signed_case(w)  # Apprenant0 Test, with a contract number
    dupont = cases.open_case(w.uow(), w.offers[1], _learner(w, "Marie", "Dupont"))
    durand = cases.open_case(w.uow(), w.offers[1], _learner(w, "Paul", "Durand_x"))
    with w.uow() as uow:
        number = uow.session.get(Case, signed).contract_number  # type: ignore[union-attr]
    assert number

    assert found(w, "dupont") == {dupont}
    assert found(w, "DU") == {dupont, durand}  # case-insensitive
    assert found(w, "  mar ") == {dupont}  # first name, trimmed
    assert found(w, "apprenant0") == {signed}
    assert found(w, number[:6].lower()) == {signed}  # contract number
    assert found(w, "pont") == set()  # the beginning only
    assert found(w, "durand_") == {durand}
    assert found(w, "dur_nd") == set()  # `_` and `%` are not wildcards
    assert found(w, "%") == set()


def _plan(engine: sa.Engine, query: sa.Select[tuple[int]]) -> str:
    sql = str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # A handful of rows: make the planner show the index it would use on a million.
            conn.execute(sa.text("SET enable_seqscan = off"))
            return "\n".join(conn.execute(sa.text(f"EXPLAIN {sql}")).scalars())
        return "\n".join(str(r[3]) for r in conn.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}")))


def test_each_search_is_served_by_its_index(world: World) -> None:
    engine = world.engine
    by_name = sa.select(Learner.id).where(starts_with_ci(Learner.last_name, "dup"))
    assert "ix_learners_last_name_prefix" in _plan(engine, by_name)
    by_first = sa.select(Learner.id).where(starts_with_ci(Learner.first_name, "mar"))
    assert "ix_learners_first_name_prefix" in _plan(engine, by_first)
    by_number = sa.select(Case.id).where(starts_with_ci(Case.contract_number, "occ"))
    assert "ix_cases_contract_number_prefix" in _plan(engine, by_number)
    by_state = sa.select(Case.id).where(Case.state == "serving").order_by(Case.id.desc()).limit(50)
    assert "ix_cases_state_id" in _plan(engine, by_state)
    by_departement = sa.select(Employer.id).where(
        sa.func.substr(Employer.commune_insee, 1, 2) == "48"
    )
    assert "ix_employers_departement" in _plan(engine, by_departement)


def test_the_case_list_search_does_not_scan_the_cases(world: World) -> None:
    engine = world.engine
    statements: list[tuple[str, object]] = []

    def capture(
        conn: object, cursor: object, statement: str, params: object, *args: object
    ) -> None:
        statements.append((statement, params))

    with world.uow() as uow:
        sa.event.listen(engine, "before_cursor_execute", capture)
        try:
            case_rows(uow.session, limit=50, filters=CaseFilter(search="dup"))
        finally:
            sa.event.remove(engine, "before_cursor_execute", capture)
    statement, params = statements[0]
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        cursor = raw.cursor()  # type: ignore[union-attr]
        if engine.dialect.name == "postgresql":
            cursor.execute("SET enable_seqscan = off")
            cursor.execute(f"EXPLAIN {statement}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Scan Backward using pk_cases" not in plan, plan
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}", params)
            plan = "\n".join(str(row[3]) for row in cursor.fetchall())
            assert "SCAN cases" not in plan, plan
    assert "ix_learners_last_name_prefix" in plan and "ix_cases_contract_number_prefix" in plan
