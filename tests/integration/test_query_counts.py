"""No N+1: the case list and the case page issue the same number of queries whatever the number
of cases, events, payments or documents (issue: scale)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from jobs.nightly import run_nightly
from tests.conftest import World
from tests.integration.test_case_service import D, fire, signed_case
from workflow import cases
from workflow.views import case_detail, case_rows


@contextmanager
def counting(engine: sa.Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def queries_for_list(w: World) -> int:
    with w.uow() as uow, counting(w.engine) as statements:
        rows = case_rows(uow.session)
    assert rows
    return len(statements)


def queries_for_detail(w: World, case_id: int) -> int:
    with w.uow() as uow, counting(w.engine) as statements:
        case_detail(uow.session, case_id, w.schemes, today=D("2028-01-01"))
    return len(statements)


def test_the_case_list_does_not_grow_with_the_rows(world: World) -> None:
    w = world
    cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    few = queries_for_list(w)
    for i in (1, 2):
        cases.open_case(w.uow(), w.offers[i], w.learners[i], on=D("2026-05-30"))
        cases.open_case(w.uow(), w.offers[i], w.learners[0], on=D("2026-05-30"))
    assert queries_for_list(w) == few == 1


def test_the_case_page_does_not_grow_with_events_payments_and_documents(world: World) -> None:
    w = world
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    run_nightly(w.engine, D("2026-10-10"), schemes=w.schemes, send_mail=False)  # 2 payments
    few_payments = queries_for_detail(w, case)
    run_nightly(w.engine, D("2027-06-10"), schemes=w.schemes, send_mail=False)  # 20 payments
    assert queries_for_detail(w, case) == few_payments

    fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    few_events = queries_for_detail(w, case)
    for month in (10, 11, 12):  # three suspensions: three events, three amendments
        cases.suspend(w.uow(), case, start=D(f"2027-{month}-01"), end=D(f"2027-{month}-10"),
                      reason="maternity", schemes=w.schemes)  # fmt: skip
    cases.attest_service(w.uow(), case, on=D("2028-09-02"))
    assert queries_for_detail(w, case) == few_events
