"""Benchmark of the nightly run, printed as ratios measured in the same process so that a noisy
shared machine cancels out:

- fidelis: `run_nightly` on a synthetic database as of bench.synthetic.AS_OF (first run, then
  the rerun, which must find nothing to do);
- naive: a per-case ORM loop doing the payments' work (load the case, compute its schedule, look
  each instalment up, add the missing ones, commit per case: `cases.record_payments`). Above
  `--naive-sample` cases it runs on an evenly spread sample of the cases with instalments due and
  is extrapolated linearly (the loop's cost per case does not depend on the table's size);
- floor: the database's own cost of writing the same payment rows: they are copied aside,
  deleted, and written back into the same table by one `INSERT … SELECT`.

    python -m bench.nightly --cases 10000 100000 [--db-url postgresql+psycopg://…]

Each size prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.databases import Databases
from bench.synthetic import AS_OF
from jobs.nightly import run_nightly
from workflow import cases
from workflow.db import UnitOfWork, make_engine, session_factory
from workflow.models import Case
from workflow.schemes import registry

NAIVE_SAMPLE = 5_000


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def naive_payments(engine: sa.Engine, sample: int) -> tuple[float, int, int]:
    """(seconds, payments created, cases looped over) of the one-case-at-a-time loop, over at
    most `sample` of the cases with instalments due."""
    schemes = registry()
    factory = session_factory(engine)
    with factory() as s:
        ids = s.scalars(
            sa.select(Case.id).where(Case.next_payment_due <= AS_OF).order_by(Case.id)
        ).all()
    step = max(1, len(ids) // sample)
    chosen = ids[::step][:sample]
    start = time.perf_counter()
    created = sum(
        cases.record_payments(UnitOfWork(factory), case_id, AS_OF, schemes=schemes)
        for case_id in chosen
    )
    return time.perf_counter() - start, created, len(ids) if chosen else 0


def floor_insert_select(engine: sa.Engine, first_new_id: int) -> tuple[float, int]:
    """Write the payments the run created again, into the same table, with one INSERT … SELECT."""
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE payments_copy AS SELECT * FROM payments WHERE id >= :id"),
            {"id": first_new_id},
        )
        conn.execute(sa.text("DELETE FROM payments WHERE id >= :id"), {"id": first_new_id})
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE payments"))
    with engine.begin() as conn:
        start = time.perf_counter()
        result = conn.execute(sa.text("INSERT INTO payments SELECT * FROM payments_copy"))
        seconds = time.perf_counter() - start
        return seconds, int(result.rowcount)


def run_size(n: int, dbs: Databases, naive_sample: int = NAIVE_SAMPLE) -> dict[str, Any]:
    url = dbs.fresh(n)
    engine = make_engine(url)
    with engine.connect() as conn:
        first_new_id = (conn.scalar(sa.text("SELECT max(id) FROM payments")) or 0) + 1
    first, report = _timed(lambda: run_nightly(engine, AS_OF, send_mail=False))
    rerun, again = _timed(lambda: run_nightly(engine, AS_OF, send_mail=False))
    payments_created = report.totals["payments"]
    floor, floor_rows = floor_insert_select(engine, first_new_id)
    engine.dispose()
    dbs.drop(url)

    url = dbs.fresh(n)
    engine = make_engine(url)
    naive_seconds, naive_rows, candidates = naive_payments(engine, naive_sample)
    engine.dispose()
    dbs.drop(url)
    looped = min(naive_sample, candidates)
    naive = naive_seconds * candidates / looped if looped else 0.0
    assert floor_rows == payments_created, (floor_rows, payments_created)
    if looped == candidates:
        assert naive_rows == payments_created, (naive_rows, payments_created)
    assert sum(again.totals.values()) == 0, again.totals
    step = report.runs[0]["seconds"]["payments"]
    return {
        "benchmark": "nightly",
        "backend": dbs.backend,
        "cases": n,
        "payments_created": payments_created,
        "first_run_s": round(first, 3),
        "steps_s": report.runs[0]["seconds"],
        "rerun_s": round(rerun, 3),
        "floor_insert_select_s": round(floor, 3),
        "naive_loop_s": round(naive, 2),
        "naive_cases_timed": looped,
        "naive_cases_total": candidates,
        "naive_over_first_run": round(naive / first, 1),
        "first_run_over_floor": round(first / floor, 2),
        "payments_step_over_floor": round(step / floor, 2),
        "rerun_over_first_run": round(rerun / first, 3),
        "totals": report.totals,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--db-url", help="a PostgreSQL admin URL; default: SQLite files")
    parser.add_argument("--naive-sample", type=int, default=NAIVE_SAMPLE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fidelis-bench-") as tmp:
        dbs = Databases(Path(tmp), args.db_url)
        for n in args.cases:
            print(json.dumps(run_size(n, dbs, args.naive_sample)), flush=True)


if __name__ == "__main__":
    main()
