"""Benchmark of the nightly run (issue: "The nightly run"), printed as ratios measured in the
same process so that a noisy shared machine cancels out:

- fidelis: `run_nightly` on a synthetic database (first run, then the rerun);
- naive: a per-case ORM loop doing the payments' work (load the case, compute its schedule, look
  each instalment up, add the missing ones, commit per case);
- floor: one `INSERT … SELECT` writing the same payment rows (copied from the run's result).

    python -m bench.nightly --cases 10000 100000 [--db-url postgresql+psycopg://…]

Each size prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.synthetic import generate
from jobs.nightly import run_nightly
from workflow import cases
from workflow.db import UnitOfWork, make_engine, session_factory
from workflow.models import Case
from workflow.schemes import registry

AS_OF = date(2027, 8, 15)


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def naive_payments(engine: sa.Engine) -> int:
    """What a straightforward ORM implementation does: one case at a time, each in its own
    transaction (the case service's one-case form, `cases.record_payments`)."""
    schemes = registry()
    factory = session_factory(engine)
    with factory() as s:
        ids = s.scalars(sa.select(Case.id).where(Case.contract_date.is_not(None))).all()
    return sum(
        cases.record_payments(UnitOfWork(factory), case_id, AS_OF, schemes=schemes)
        for case_id in ids
    )


def floor_insert_select(engine: sa.Engine) -> int:
    """The database's floor: the same rows written by one INSERT … SELECT."""
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE payments_floor AS SELECT * FROM payments WHERE 1 = 0"))
    with engine.begin() as conn:
        result = conn.execute(sa.text("INSERT INTO payments_floor SELECT * FROM payments"))
        return int(result.rowcount)


def run_size(cases: int, work: Path, pg_url: str | None) -> dict[str, Any]:
    template = work / f"template-{cases}.db"
    if pg_url is None:
        generate(f"sqlite:///{template}", cases)

    def fresh(name: str) -> sa.Engine:
        if pg_url is not None:
            admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
            db = f"bench_{name}_{cases}"
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}"'))
                conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
            admin.dispose()
            url = str(sa.make_url(pg_url).set(database=db).render_as_string(hide_password=False))
            generate(url, cases)
            return make_engine(url)
        path = work / f"{name}-{cases}.db"
        shutil.copy(template, path)
        return make_engine(f"sqlite:///{path}")

    fidelis = fresh("fidelis")
    first, report = _timed(lambda: run_nightly(fidelis, AS_OF, send_mail=False))
    rerun, again = _timed(lambda: run_nightly(fidelis, AS_OF, send_mail=False))
    payments_first = report.totals["payments"]
    floor_time, floor_rows = _timed(lambda: floor_insert_select(fidelis))
    fidelis.dispose()

    naive = fresh("naive")
    naive_time, naive_rows = _timed(lambda: naive_payments(naive))
    naive.dispose()
    assert naive_rows == payments_first == floor_rows, (naive_rows, payments_first, floor_rows)
    assert again.totals["payments"] == 0
    return {
        "benchmark": "nightly",
        "backend": "postgresql" if pg_url else "sqlite",
        "cases": cases,
        "payments_created": payments_first,
        "first_run_s": round(first, 3),
        "payments_step_s": report.runs[0]["seconds"]["payments"],
        "rerun_s": round(rerun, 3),
        "naive_loop_s": round(naive_time, 3),
        "floor_insert_select_s": round(floor_time, 3),
        "naive_over_fidelis": round(naive_time / first, 2),
        "naive_over_payments_step": round(naive_time / report.runs[0]["seconds"]["payments"], 2),
        "fidelis_over_floor": round(first / floor_time, 2),
        "payments_step_over_floor": round(report.runs[0]["seconds"]["payments"] / floor_time, 2),
        "rerun_over_first": round(rerun / first, 3),
        "steps": report.totals,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--db-url", help="a PostgreSQL admin URL; default: SQLite files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fidelis-bench-") as tmp:
        for n in args.cases:
            print(json.dumps(run_size(n, Path(tmp), args.db_url)), flush=True)


if __name__ == "__main__":
    main()
