"""Page timings of the web application on a synthetic database (issue: the web application):
the case list, a filtered list, a search and a case page, and the JSON API's list (plain and
filtered) and case, median and p95 over repeated requests, through
FastAPI's test client in the same process, at each size given.

    python -m bench.web --cases 10000 100000 [--db-url postgresql+psycopg://…]

Prints one JSON line per size.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from bench.databases import Databases
from bench.synthetic import AS_OF
from workflow.accounts import add_user
from workflow.clock import injected
from workflow.db import UnitOfWork, make_engine, session_factory
from workflow.models import Case
from workflow.web import create_app

REPEAT = 30


def _times(client: TestClient, paths: list[str]) -> dict[str, float]:
    seconds = []
    for path in paths:
        start = time.perf_counter()
        response = client.get(path)
        seconds.append(time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code)
    seconds.sort()
    return {
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "p95_ms": round(seconds[int(len(seconds) * 0.95) - 1] * 1000, 1),
    }


def _api_times(client: TestClient, token: str, paths: list[str]) -> dict[str, float]:
    client.headers["Authorization"] = f"Bearer {token}"
    try:
        return _times(client, paths)
    finally:
        del client.headers["Authorization"]


def run(cases: int, dbs: Databases) -> dict[str, Any]:
    url = dbs.fresh(cases)
    engine = make_engine(url)
    _, token = add_user(UnitOfWork(session_factory(engine)), email="bench@exemple.fr",
                        name="Bench", role="region", password="bench-password")  # fmt: skip
    with engine.connect() as conn:
        top = conn.scalar(sa.select(sa.func.max(Case.id))) or 1
    engine.dispose()
    rng = random.Random(3)
    with TestClient(create_app(url, secret_key="bench")) as client:
        login = client.get("/connexion").text
        csrf = login.split('name="csrf" value="')[1].split('"')[0]
        client.post("/connexion", data={"email": "bench@exemple.fr", "password": "bench-password",
                                        "csrf": csrf})  # fmt: skip
        result = {
            "benchmark": "web_pages",
            "backend": dbs.backend,
            "cases": cases,
            "list": _times(client, ["/dossiers"] * REPEAT),
            "list_filtered": _times(
                client,
                [
                    f"/dossiers?etat=serving&departement={d}"
                    for d in rng.choices(["12", "48", "32", "09"], k=REPEAT)
                ],
            ),
            "list_search": _times(
                client, [f"/dossiers?q=nom{rng.randint(1, cases // 2)}" for _ in range(REPEAT)]
            ),
            "detail": _times(client, [f"/dossiers/{rng.randint(1, top)}" for _ in range(REPEAT)]),
            "api_list": _api_times(client, token, ["/api/v1/cases?limit=50"] * REPEAT),
            "api_list_filtered": _api_times(
                client, token, ["/api/v1/cases?state=serving&limit=50"] * REPEAT
            ),
            "api_case": _api_times(
                client, token, [f"/api/v1/cases/{rng.randint(1, top)}" for _ in range(REPEAT)]
            ),
        }
    dbs.drop(url)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--db-url", help="a PostgreSQL admin URL; default: SQLite files")
    args = parser.parse_args()
    # The synthetic picture is as of AS_OF: the benchmark's "today" (workflow.clock).
    with tempfile.TemporaryDirectory(prefix="fidelis-bench-") as tmp, injected(lambda: AS_OF):
        dbs = Databases(Path(tmp), args.db_url)
        for n in args.cases:
            print(json.dumps(run(n, dbs)), flush=True)


if __name__ == "__main__":
    main()
