"""All the benchmarks, on SQLite and on a real PostgreSQL server, one JSON line each (also
appended to `var/bench/results.jsonl`):

    python -m bench --cases 10000 100000 1000000 [--backends sqlite postgresql] [--only web …]

PostgreSQL: the server of `--pg-url` (an admin URL), else one started for the run in a temporary
folder (tests/pgserver.py, as the test suite does). Each size is generated once per backend
(bench.synthetic) and copied for every benchmark. The nightly, transitions and web benchmarks run
at every size; contract generation, whose cost does not depend on the table's size, at the
smallest.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import contracts, nightly, transitions, web
from bench.databases import Databases
from bench.synthetic import AS_OF
from workflow.clock import injected
from workflow.iban import new_key

BENCHMARKS = ("nightly", "transitions", "web", "contracts")


def _emit(result: dict[str, Any], log: Path) -> None:
    line = json.dumps(result, ensure_ascii=False)
    print(line, flush=True)
    with log.open("a", encoding="utf-8") as f:
        f.write(line + "\n")


def run_backend(dbs: Databases, sizes: list[int], args: argparse.Namespace, log: Path) -> None:
    pages = []
    for n in sizes:
        start = time.perf_counter()
        dbs.template(n)
        _emit(
            {
                "benchmark": "generate",
                "backend": dbs.backend,
                "cases": n,
                "seconds": round(time.perf_counter() - start, 1),
            },
            log,
        )
        if "nightly" in args.only:
            _emit(nightly.run_size(n, dbs, args.naive_sample), log)
        if "transitions" in args.only:
            _emit(transitions.run(n, args.transitions, dbs), log)
        if "web" in args.only:
            pages.append(web.run(n, dbs))
            _emit(pages[-1], log)
    if len(pages) > 1:
        _emit(web.ratios(pages), log)
    if "contracts" in args.only:
        _emit(contracts.run(args.contracts, dbs.work, dbs) | {"cases": min(sizes)}, log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--backends", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument("--pg-url", help="a PostgreSQL admin URL (default: start a server)")
    parser.add_argument("--naive-sample", type=int, default=nightly.NAIVE_SAMPLE)
    parser.add_argument("--transitions", type=int, default=transitions.TRANSITIONS)
    parser.add_argument("--contracts", type=int, default=100)
    parser.add_argument(
        "--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS), help="a subset"
    )
    args = parser.parse_args()
    log = Path("var/bench/results.jsonl")
    log.parent.mkdir(parents=True, exist_ok=True)
    # The synthetic picture is as of AS_OF: the benchmark's "today" (workflow.clock).
    with tempfile.TemporaryDirectory(prefix="fidelis-bench-") as tmp, injected(lambda: AS_OF):
        os.environ.setdefault("FIDELIS_DOCUMENTS_DIR", str(Path(tmp) / "documents"))
        # The bench's databases are thrown away: so is the key their IBANs are sealed with.
        os.environ.setdefault("FIDELIS_IBAN_KEY", new_key())
        if "sqlite" in args.backends:
            run_backend(Databases(Path(tmp)), args.cases, args, log)
        if "postgresql" in args.backends:
            server = None
            url = args.pg_url
            if url is None:
                from tests.pgserver import PostgresServer

                server = PostgresServer().start()
                url = server.url
            try:
                run_backend(Databases(Path(tmp), url), args.cases, args, log)
            finally:
                if server is not None:
                    server.stop()


if __name__ == "__main__":
    main()
