"""Benchmark of the nightly run, printed as ratios measured in the same process so that a noisy
shared machine cancels out:

- fidelis: `run_nightly` on a synthetic database as of bench.synthetic.AS_OF (first run, then
  the rerun, which must find nothing to do);
- naive: a per-case ORM loop doing the payments' work (load the case, compute its schedule, look
  each instalment up, add the missing ones, commit per case: `cases.record_payments`). Above
  `--naive-sample` cases it runs on an evenly spread sample of the cases with instalments due and
  is extrapolated linearly (the loop's cost per case does not depend on the table's size);
- floor: the database's own cost of writing the same rows — the run's payments and its outbox
  messages, in their final state: they are copied aside, deleted, and written back into the same
  tables (same indexes, same existing rows) by one `INSERT … SELECT` per table.

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
from workflow.clock import injected
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


FLOOR_TABLES = ("payments", "outbox")


def floor_insert_select(engine: sa.Engine, first_new: dict[str, int]) -> dict[str, float | int]:
    """Write the rows the run created again — its payments and its outbox messages, in their
    final state — into the same tables, each with one INSERT … SELECT: seconds and rows per table.
    """
    with engine.begin() as conn:
        for table in FLOOR_TABLES:
            conn.execute(
                sa.text(f"CREATE TABLE {table}_copy AS SELECT * FROM {table} WHERE id >= :id"),
                {"id": first_new[table]},
            )
            conn.execute(sa.text(f"DELETE FROM {table} WHERE id >= :id"), {"id": first_new[table]})
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in FLOOR_TABLES:
                conn.execute(sa.text(f"VACUUM ANALYZE {table}"))
    figures: dict[str, float | int] = {}
    with engine.begin() as conn:
        for table in FLOOR_TABLES:
            start = time.perf_counter()
            result = conn.execute(sa.text(f"INSERT INTO {table} SELECT * FROM {table}_copy"))
            figures[f"{table}_s"] = time.perf_counter() - start
            figures[f"{table}_rows"] = int(result.rowcount)
    return figures


def _first_new_ids(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: (conn.scalar(sa.text(f"SELECT max(id) FROM {table}")) or 0) + 1
            for table in FLOOR_TABLES
        }


def run_size(n: int, dbs: Databases, naive_sample: int = NAIVE_SAMPLE) -> dict[str, Any]:
    url = dbs.fresh(n)
    engine = make_engine(url)
    first_new = _first_new_ids(engine)
    first, report = _timed(lambda: run_nightly(engine, AS_OF, send_mail=False))
    rerun, again = _timed(lambda: run_nightly(engine, AS_OF, send_mail=False))
    payments_created = report.totals["payments"]
    messages_created = sum(
        report.totals[step]
        for step in ("employer_statements", "reminders", "commitment_checks", "debts")
    )
    floor_figures = floor_insert_select(engine, first_new)
    engine.dispose()
    dbs.drop(url)

    url = dbs.fresh(n)
    engine = make_engine(url)
    naive_seconds, naive_rows, candidates = naive_payments(engine, naive_sample)
    engine.dispose()
    dbs.drop(url)
    looped = min(naive_sample, candidates)
    naive = naive_seconds * candidates / looped if looped else 0.0
    assert floor_figures["payments_rows"] == payments_created, floor_figures
    assert floor_figures["outbox_rows"] == messages_created, floor_figures
    floor_payments = float(floor_figures["payments_s"])
    floor = floor_payments + float(floor_figures["outbox_s"])
    if looped == candidates:
        assert naive_rows == payments_created, (naive_rows, payments_created)
    assert sum(again.totals.values()) == 0, again.totals
    return {
        "benchmark": "nightly",
        "backend": dbs.backend,
        "cases": n,
        "payments_created": payments_created,
        "first_run_s": round(first, 3),
        "steps_s": report.runs[0]["seconds"],
        "rerun_s": round(rerun, 3),
        "messages_created": messages_created,
        "floor_insert_select_s": round(floor, 3),
        "floor_payments_only_s": round(floor_payments, 3),
        "naive_loop_s": round(naive, 2),
        "naive_cases_timed": looped,
        "naive_cases_total": candidates,
        "naive_over_first_run": round(naive / first, 1),
        "first_run_over_floor": round(first / floor, 2),
        "rerun_over_first_run": round(rerun / first, 3),
        "totals": report.totals,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--db-url", help="a PostgreSQL admin URL; default: SQLite files")
    parser.add_argument("--naive-sample", type=int, default=NAIVE_SAMPLE)
    args = parser.parse_args()
    # The synthetic picture is as of AS_OF: the benchmark's "today" (workflow.clock).
    with tempfile.TemporaryDirectory(prefix="fidelis-bench-") as tmp, injected(lambda: AS_OF):
        dbs = Databases(Path(tmp), args.db_url)
        for n in args.cases:
            print(json.dumps(run_size(n, dbs, args.naive_sample)), flush=True)


if __name__ == "__main__":
    main()
