"""Benchmark of firing triggers: transitions per second through the full case service
(`cases.fire`: load, guards, state change, event row, one commit per transition) against the
database's floor for the same writes (one raw `UPDATE cases` + one `INSERT INTO case_events`,
one commit per transition), on copies of the same synthetic database, in the same process.

The trigger is `interview` on cases in state `applied` (the current campaign's), effective on
bench.synthetic.AS_OF.

    python -m bench.transitions --cases 10000 --transitions 2000 [--db-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.databases import Databases
from bench.synthetic import AS_OF
from workflow import cases
from workflow.clock import injected
from workflow.db import UnitOfWork, make_engine, session_factory
from workflow.models import Case
from workflow.schemes import registry
from workflow.states import State

TRANSITIONS = 500  # or the cases in state applied, if fewer


def _applied(engine: sa.Engine, n: int) -> list[int]:
    with engine.connect() as conn:
        ids = list(
            conn.scalars(
                sa.select(Case.id).where(Case.state == State.APPLIED).order_by(Case.id).limit(n)
            )
        )
    assert ids, "no case in state applied"
    return ids


def full_service(url: str, n: int) -> tuple[float, int]:
    engine = make_engine(url)
    ids = _applied(engine, n)
    factory = session_factory(engine)
    schemes = registry()
    params = {"interview_date": AS_OF.isoformat()}
    start = time.perf_counter()
    for case_id in ids:
        cases.fire(
            UnitOfWork(factory), case_id, "interview", on=AS_OF, actor="bench",
            params=params, schemes=schemes,
        )  # fmt: skip
    seconds = time.perf_counter() - start
    engine.dispose()
    return seconds, len(ids)


def raw_floor(url: str, n: int) -> tuple[float, int]:
    engine = make_engine(url)
    ids = _applied(engine, n)
    update = sa.text(
        "UPDATE cases SET state = 'interviewed', version = version + 1, interview_date = :on, "
        "last_effective_date = :on WHERE id = :id AND state = 'applied'"
    )
    insert = sa.text(
        "INSERT INTO case_events (case_id, seq, trigger, from_state, to_state, effective_date, "
        "recorded_at, actor, payload) VALUES (:id, 3, 'interview', 'applied', 'interviewed', "
        ":on, :at, 'bench', '{}')"
    )
    start = time.perf_counter()
    for case_id in ids:
        with engine.begin() as conn:
            conn.execute(update, {"id": case_id, "on": AS_OF.isoformat()})
            conn.execute(
                insert, {"id": case_id, "on": AS_OF.isoformat(), "at": "2027-03-15 10:00:00"}
            )
    seconds = time.perf_counter() - start
    engine.dispose()
    return seconds, len(ids)


def run(cases_n: int, n: int, dbs: Databases) -> dict[str, Any]:
    url = dbs.fresh(cases_n)
    full, n = full_service(url, n)
    dbs.drop(url)
    url = dbs.fresh(cases_n)
    floor, same = raw_floor(url, n)
    dbs.drop(url)
    assert same == n
    return {
        "benchmark": "transitions",
        "backend": dbs.backend,
        "cases": cases_n,
        "transitions": n,
        "full_service_per_s": round(n / full, 1),
        "raw_sql_floor_per_s": round(n / floor, 1),
        "full_over_floor_time": round(full / floor, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, nargs="+", default=[10_000])
    parser.add_argument("--transitions", type=int, default=TRANSITIONS)
    parser.add_argument("--db-url", help="a PostgreSQL admin URL; default: SQLite files")
    args = parser.parse_args()
    # The synthetic picture is as of AS_OF: the benchmark's "today" (workflow.clock).
    with tempfile.TemporaryDirectory(prefix="fidelis-bench-") as tmp, injected(lambda: AS_OF):
        dbs = Databases(Path(tmp), args.db_url)
        for n in args.cases:
            print(json.dumps(run(n, args.transitions, dbs)), flush=True)


if __name__ == "__main__":
    main()
