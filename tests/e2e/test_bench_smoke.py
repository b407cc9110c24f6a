"""The benchmarks themselves work, on both databases, at a small size: each checks inside that
the runs it compares wrote the same rows (the nightly run, the naive loop and the floor create
the same payments; the rerun finds nothing), so a benchmark that measured the wrong thing fails
here rather than in a 30-minute run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import nightly, transitions, web
from bench.databases import Databases
from tests.pgserver import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
def dbs(request: pytest.FixtureRequest, tmp_path: Path) -> Databases:
    if request.param == "sqlite":
        return Databases(tmp_path)
    server: PostgresServer = request.getfixturevalue("pg_server")
    return Databases(tmp_path, server.url)


def test_nightly_benchmark_compares_the_same_rows(dbs: Databases) -> None:
    result = nightly.run_size(2_000, dbs, naive_sample=100)
    assert result["payments_created"] > 0
    assert result["naive_cases_timed"] == 100 < result["naive_cases_total"]
    assert result["totals"]["payments"] == result["payments_created"]
    full = nightly.run_size(2_000, dbs, naive_sample=10_000)  # the whole loop: same rows
    assert full["naive_cases_timed"] == full["naive_cases_total"]


def test_transitions_and_web_benchmarks_run(dbs: Databases) -> None:
    fired = transitions.run(2_000, 20, dbs)
    assert fired["full_service_per_s"] > 0 and fired["raw_sql_floor_per_s"] > 0
    pages = web.run(2_000, dbs)
    assert pages["api_list"]["p95_ms"] > 0 and pages["list"]["p95_ms"] > 0
    # The queue of an agent with assigned cases, the pages of a learner with several cases.
    for page in ("queue", "queue_page_2", "my_cases", "learner_home", "learner_offers",
                 "learner_case"):  # fmt: skip
        assert pages[page]["p95_ms"] > 0, page
    assert pages["learner_cases"] >= 2
    same = web.ratios([pages, pages | {"cases": 4_000}])
    assert same["cases"] == [2_000, 4_000] and set(same["p95_ratio"]) == set(web.PAGES)
    assert set(same["p95_ratio"].values()) == {1.0}


def test_seal_benchmark_signs_the_same_pdf(tmp_path: Path) -> None:
    """The seal against a bare pyHanko signature: seal_run checks inside that both signed the
    very PDF given and that the seal carries more (the page and its evidence)."""
    from bench import contracts
    from tests.sealcerts import blank_pdf

    result = contracts.seal_run(blank_pdf(), 2, contracts.seal_key(tmp_path))
    assert result["seals"] == 2 and result["seal_pdf_bytes"] > 0
    assert result["seal_per_s"] > 0 and result["bare_pyhanko_per_s"] > 0
    assert result["seal_over_bare_time"] > 0
