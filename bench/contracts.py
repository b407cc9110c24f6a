"""Benchmark of contract generation (issue: "Signable Word contracts"): contracts per second
through the full path — render, hash, store, record, in one transaction per contract — against a
bare docxtpl render loop of the same template and context, in the same process.

    python -m bench.contracts --contracts 200 [--db-url postgresql+psycopg://…]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from docxtpl import DocxTemplate

from bench.databases import Databases
from bench.synthetic import AS_OF
from workflow import contracts
from workflow.clock import injected
from workflow.db import UnitOfWork, make_engine, session_factory
from workflow.documents import store
from workflow.documents.context import contract_context
from workflow.documents.render import environment
from workflow.models import Case
from workflow.paths import templates_dir
from workflow.schemes import registry
from workflow.states import State
from workflow.territory import default_territory

ON = AS_OF


def run(n: int, work: Path, dbs: Databases) -> dict[str, Any]:
    # 1 % of synthetic cases are `selected` (5 % of the open campaign's)
    url = dbs.fresh(max(2_000, n * 130))
    engine = make_engine(url)
    factory = session_factory(engine)
    with factory() as s:
        ids = s.scalars(
            sa.select(Case.id).where(Case.state == State.SELECTED).order_by(Case.id).limit(n)
        ).all()
        s.execute(sa.update(Case).where(Case.id.in_(ids)).values(tier="2x150"))
        s.commit()
    assert len(ids) == n, f"only {len(ids)} selected cases"
    os.environ["FIDELIS_DOCUMENTS_DIR"] = str(work / "documents")

    start = time.perf_counter()
    for case_id in ids:
        contracts.generate_contract(UnitOfWork(factory), case_id, on=ON, actor="bench")
    full = time.perf_counter() - start

    scheme = registry()["occitanie-fidelisation-as"]
    template = templates_dir() / store.TEMPLATES["contract"]
    with factory() as s:
        case = s.get(Case, ids[0])
        assert case is not None
        context = contract_context(case, scheme, default_territory(), number="OCC-AS-2026-00001",
                                   issued_on=ON, place="Toulouse")  # fmt: skip
    start = time.perf_counter()
    for _ in ids:
        tpl = DocxTemplate(str(template))
        tpl.render(context, environment(), autoescape=True)
        tpl.save(work / "bare.docx")
    bare = time.perf_counter() - start
    engine.dispose()
    dbs.drop(url)
    return {
        "benchmark": "contracts",
        "backend": engine.dialect.name,
        "contracts": n,
        "full_path_per_s": round(n / full, 1),
        "bare_docxtpl_per_s": round(n / bare, 1),
        "full_over_bare_time": round(full / bare, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contracts", type=int, default=200)
    parser.add_argument("--db-url")
    args = parser.parse_args()
    # The synthetic picture is as of AS_OF: the benchmark's "today" (workflow.clock).
    with tempfile.TemporaryDirectory(prefix="fidelis-bench-") as tmp, injected(lambda: AS_OF):
        dbs = Databases(Path(tmp), args.db_url)
        print(json.dumps(run(args.contracts, Path(tmp), dbs)), flush=True)


if __name__ == "__main__":
    main()
