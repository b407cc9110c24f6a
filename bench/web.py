"""Page timings of the web application on a synthetic database (issue: the web application):
the case list, a filtered list, a search and a case page, and the JSON API's list (plain and
filtered) and case; the caseworkers' queue, « À traiter » and « Mes dossiers » of a Région agent
with assigned cases (issue 15); the learner's home, offers and case page, for the learner with
the most applications — median and p95 over repeated requests, through FastAPI's test client in
the same process, at each size given.

    python -m bench.web --cases 10000 100000 [--db-url postgresql+psycopg://…]

Prints one JSON line per size, then each page's p95 at the largest size over the smallest
(`web_pages_ratio`: the target is 2 at most).
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
from bench.synthetic import AS_OF, agent_email
from workflow.accounts import add_user, reset_password
from workflow.clock import injected
from workflow.db import UnitOfWork, make_engine, session_factory
from workflow.models import Campaign, Case
from workflow.web import create_app

REPEAT = 30
PAGES = ("list", "list_filtered", "list_search", "detail", "api_list", "api_list_filtered",
         "api_case", "queue", "queue_page_2", "my_cases", "learner_home", "learner_offers",
         "learner_case")  # fmt: skip
# Long and unguessable, as the password policy wants (workflow.passwords).
PASSWORD = "mesures-sereines-du-banc"


def _times(client: TestClient, paths: list[str]) -> dict[str, float]:
    client.get(paths[0])  # untimed: the template's first compilation, the caches
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


def _sign_in(client: TestClient, email: str) -> None:
    client.cookies.clear()
    login = client.get("/connexion").text
    csrf = login.split('name="csrf" value="')[1].split('"')[0]
    done = client.post("/connexion", data={"email": email, "password": PASSWORD, "csrf": csrf},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303, (email, done.status_code)


def _learner_with_most_cases(engine: sa.Engine) -> tuple[int, int, int]:
    """The learner with the most applications, their newest case and its campaign."""
    with engine.connect() as conn:
        learner = conn.execute(
            sa.select(Case.learner_id)
            .group_by(Case.learner_id)
            .order_by(sa.func.count().desc(), Case.learner_id)
            .limit(1)
        ).scalar_one()
        case, campaign = conn.execute(
            sa.select(Case.id, Case.campaign_id)
            .where(Case.learner_id == learner)
            .order_by(Case.id.desc())
            .limit(1)
        ).one()
        open_campaign = conn.scalar(sa.select(Campaign.id).where(Campaign.is_open.is_(True)))
    return learner, case, open_campaign or campaign


def run(cases: int, dbs: Databases) -> dict[str, Any]:
    url = dbs.fresh(cases)
    engine = make_engine(url)
    _, token = add_user(UnitOfWork(session_factory(engine)), email="bench@exemple.fr",
                        name="Bench", role="region", password=PASSWORD)  # fmt: skip
    # The synthetic agent n° 1 and its assigned cases (bench.synthetic), with a password now.
    reset_password(UnitOfWork(session_factory(engine)), agent_email(1), PASSWORD)
    learner, learner_case, campaign = _learner_with_most_cases(engine)
    add_user(UnitOfWork(session_factory(engine)), email="eleve.synthetique@exemple.fr", name=None,
             role="learner", password=PASSWORD, learner_id=learner)  # fmt: skip
    with engine.connect() as conn:
        top = conn.scalar(sa.select(sa.func.max(Case.id))) or 1
    engine.dispose()
    rng = random.Random(3)
    # Over https, as in production: the session cookie is `Secure` (workflow.web.app).
    app = create_app(url, secret_key="bench")
    with TestClient(app, base_url="https://testserver") as client:
        _sign_in(client, agent_email(1))
        # Realistic content: the agent's own cases wait in the queue (bench.synthetic).
        assert 'name="dossiers"' in client.get("/mes-dossiers").text
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
            "queue": _times(client, ["/a-traiter"] * REPEAT),
            "queue_page_2": _times(client, ["/a-traiter?page=2"] * REPEAT),
            "my_cases": _times(client, ["/mes-dossiers"] * REPEAT),
        }
        _sign_in(client, "eleve.synthetique@exemple.fr")
        result |= {
            "learner_cases": len(client.get("/mon-espace").text.split("/mon-espace/dossiers/")) - 1,
            "learner_home": _times(client, ["/mon-espace"] * REPEAT),
            "learner_offers": _times(client, [f"/mon-espace/offres?campagne={campaign}"] * REPEAT),
            "learner_case": _times(client, [f"/mon-espace/dossiers/{learner_case}"] * REPEAT),
        }
    dbs.drop(url)
    return result


def ratios(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Each page's p95 at the largest size over the smallest (one backend's results)."""
    small = min(results, key=lambda r: r["cases"])
    large = max(results, key=lambda r: r["cases"])
    return {
        "benchmark": "web_pages_ratio",
        "backend": small["backend"],
        "cases": [small["cases"], large["cases"]],
        "p95_ratio": {
            page: round(large[page]["p95_ms"] / small[page]["p95_ms"], 2)
            for page in PAGES
            if page in small and page in large
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--db-url", help="a PostgreSQL admin URL; default: SQLite files")
    args = parser.parse_args()
    # The synthetic picture is as of AS_OF: the benchmark's "today" (workflow.clock).
    with tempfile.TemporaryDirectory(prefix="fidelis-bench-") as tmp, injected(lambda: AS_OF):
        dbs = Databases(Path(tmp), args.db_url)
        results = []
        for n in args.cases:
            results.append(run(n, dbs))
            print(json.dumps(results[-1]), flush=True)
        if len(results) > 1:
            print(json.dumps(ratios(results)), flush=True)


if __name__ == "__main__":
    main()
