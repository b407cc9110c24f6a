"""`case show`'s `signatures` (issue 16), on SQLite and PostgreSQL: each party with its `method`
— `typed` for a name an agent typed, `scan` once the signed scan is attached, `electronic` for a
signature with a code (tests/integration/test_esign.py) — its `signed_at` and its `name`."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import World
from tests.integration.test_case_service import D
from tests.integration.test_esign import issued_case
from workflow import contracts
from workflow.views import case_detail


def rows(w: World, case: int) -> list[tuple[str, str, str, str]]:
    with w.uow() as uow:
        detail = case_detail(uow.session, case, w.schemes)
    return [(g["party"], g["method"], g["name"], g["signed_at"]) for g in detail["signatures"]]


def test_typed_signatures_then_the_scan(world: World, tmp_path: Path) -> None:
    w = world
    case = issued_case(w)
    assert rows(w, case) == []
    for party, name, on in (("learner", "Léa Fabre", "2026-06-22"),
                            ("employer", "La direction", "2026-06-23"),
                            ("region", "Claire Élue", "2026-06-24")):  # fmt: skip
        contracts.sign_contract(w.uow(), case, party=party, on=D(on), name=name,
                                schemes=w.schemes)  # fmt: skip
    assert rows(w, case) == [
        ("learner", "typed", "Léa Fabre", "2026-06-22"),
        ("employer", "typed", "La direction", "2026-06-23"),
        ("region", "typed", "Claire Élue", "2026-06-24"),
    ]
    scan = tmp_path / "contrat-signe.pdf"
    scan.write_bytes(b"%PDF-1.7\n" + b"0" * 64)
    contracts.attach_scan(w.uow(), case, scan, schemes=w.schemes)
    assert [(party, method) for party, method, _, _ in rows(w, case)] == [
        ("learner", "scan"),
        ("employer", "scan"),
        ("region", "scan"),
    ]
