"""Page timings of the web application on a synthetic database (issue: the web application):
the case list, a filtered list and a case page, median and p95 over repeated requests, through
FastAPI's test client in the same process, at each size given.

    python -m bench.web --cases 10000 100000

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

from fastapi.testclient import TestClient

from bench.synthetic import generate
from workflow.accounts import add_user
from workflow.db import UnitOfWork, make_engine, session_factory
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


def run(cases: int, work: Path) -> dict[str, Any]:
    url = f"sqlite:///{work / f'web-{cases}.db'}"
    generate(url, cases)
    engine = make_engine(url)
    add_user(UnitOfWork(session_factory(engine)), email="bench@exemple.fr", name="Bench",
             role="region", password="bench-password")  # fmt: skip
    engine.dispose()
    rng = random.Random(3)
    with TestClient(create_app(url, secret_key="bench")) as client:
        login = client.get("/connexion").text
        csrf = login.split('name="csrf" value="')[1].split('"')[0]
        client.post("/connexion", data={"email": "bench@exemple.fr", "password": "bench-password",
                                        "csrf": csrf})  # fmt: skip
        result = {
            "benchmark": "web_pages",
            "backend": "sqlite",
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
            "detail": _times(client, [f"/dossiers/{rng.randint(1, cases)}" for _ in range(REPEAT)]),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fidelis-bench-") as tmp:
        for n in args.cases:
            print(json.dumps(run(n, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
