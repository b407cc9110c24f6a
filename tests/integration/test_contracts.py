"""Contracts and letters through the services, on SQLite and PostgreSQL: numbering, storage,
immutability, signatures, invalidation, automatic letters."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from docx import Document as Docx

from tests.conftest import World
from tests.integration.test_case_service import D, contract_signed_by_all, fire, to_selected
from workflow import cases, contracts, directory
from workflow.documents import store
from workflow.errors import GuardFailed, InvalidInput
from workflow.models import Case, Document
from workflow.states import State


def docx_text(path: Path) -> str:
    doc = Docx(str(path))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts).replace("\u202f", " ").replace("\xa0", " ")


def selected_case(w: World, learner: int = 0, offer: int = 0) -> int:
    case = cases.open_case(w.uow(), w.offers[offer], w.learners[learner], on=D("2026-05-30"))
    to_selected(w, case)
    return case


def test_generate_stores_a_numbered_contract_that_reads_back(
    world: World, documents_dir: Path
) -> None:
    w = world
    case = selected_case(w)
    info = contracts.generate_contract(w.uow(), case, tier="2x150", on=D("2026-06-20"),
                                       schemes=w.schemes)  # fmt: skip
    assert info.number == "OCC-AS-2026-00001"
    assert info.path.is_relative_to(documents_dir)
    assert hashlib.sha256(info.path.read_bytes()).hexdigest() == info.sha256
    text = docx_text(info.path)
    for expected in ("OCC-AS-2026-00001", "Apprenant0 Test", "73282932000074", "Mende",
                     "1 479,68 €", "cent cinquante euros", "7 septembre 2026", "en trois exemplaires",
                     "Tribunal administratif de Toulouse"):  # fmt: skip
        assert expected in text, expected


def test_regenerating_makes_a_new_version_and_keeps_the_first(world: World) -> None:
    w = world
    case = selected_case(w)
    first = contracts.generate_contract(w.uow(), case, tier="2x150", on=D("2026-06-20"),
                                        schemes=w.schemes)  # fmt: skip
    first_bytes = first.path.read_bytes()
    second = contracts.generate_contract(w.uow(), case, tier="2x200", on=D("2026-06-21"),
                                         schemes=w.schemes)  # fmt: skip
    assert (second.version, second.number) == (2, first.number)  # same number, new version
    assert second.sha256 != first.sha256
    assert first.path.read_bytes() == first_bytes
    assert hashlib.sha256(first.path.read_bytes()).hexdigest() == first.sha256
    with w.uow() as uow:
        statuses = uow.session.execute(
            sa.select(Document.version, Document.status).where(Document.kind == "contract")
            .order_by(Document.version)
        ).all()  # fmt: skip
    assert [tuple(r) for r in statuses] == [(1, "superseded"), (2, "issued")]
    assert "200,00 €" in docx_text(second.path)


def test_an_issued_document_never_changes_in_the_database(world: World) -> None:
    w = world
    case = selected_case(w)
    contracts.generate_contract(w.uow(), case, tier="2x150", on=D("2026-06-20"), schemes=w.schemes)
    with pytest.raises(sa.exc.DBAPIError, match="never changes"), w.engine.begin() as conn:
        conn.execute(sa.text("UPDATE documents SET sha256 = 'x'"))


def test_sign_requires_the_contract_signed_by_the_three_parties(world: World) -> None:
    w = world
    case = selected_case(w)
    with pytest.raises(GuardFailed, match="aucun contrat à jour"):
        fire(w, case, "sign", "2026-07-06", params={"tier": "2x150"})
    contracts.generate_contract(w.uow(), case, tier="2x150", on=D("2026-06-20"), schemes=w.schemes)
    missing = contracts.sign_contract(w.uow(), case, party="learner", on=D("2026-06-25"), name="A")
    assert missing == ["employer", "region"]
    with pytest.raises(GuardFailed, match="pas signé par l'employeur, le financeur"):
        fire(w, case, "sign", "2026-07-06")
    with pytest.raises(InvalidInput, match="déjà signé"):
        contracts.sign_contract(w.uow(), case, party="learner", on=D("2026-06-26"), name="A")
    contracts.sign_contract(w.uow(), case, party="employer", on=D("2026-06-26"), name="B")
    contracts.sign_contract(w.uow(), case, party="region", on=D("2026-06-27"), name="C")
    with pytest.raises(GuardFailed, match="palier « 2x150 », pas « 2x200 »"):
        fire(w, case, "sign", "2026-07-06", params={"tier": "2x200"})
    assert fire(w, case, "sign", "2026-07-06") is State.CONTRACTED


def test_a_change_after_issue_invalidates_the_unsigned_contract_and_says_so(world: World) -> None:
    w = world
    case = selected_case(w)
    contract_signed_by_all(w, case)
    messages = directory.update_learner(w.uow(), w.learners[0], iban="FR7610107001011234567890129")
    assert len(messages) == 1 and "invalidé" in messages[0]
    with pytest.raises(GuardFailed, match="aucun contrat à jour"):
        fire(w, case, "sign", "2026-07-06")
    # regenerated (version 2) and signed again
    contract_signed_by_all(w, case, issued="2026-07-02", signed="2026-07-03")
    assert fire(w, case, "sign", "2026-07-06") is State.CONTRACTED


def test_a_signed_scan_is_attached_to_the_contract(world: World, tmp_path: Path) -> None:
    w = world
    case = selected_case(w)
    contract_signed_by_all(w, case)
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4 signed scan")
    info = contracts.attach_scan(w.uow(), case, scan, on=D("2026-07-02"))
    assert info.kind == "signed_scan"
    assert info.path.read_bytes() == scan.read_bytes()
    with w.uow() as uow:
        rows = contracts.document_rows(uow.session, case)
    assert [r["kind"] for r in rows] == ["contract", "signed_scan"]
    assert len(rows[0]["signatures"]) == 3


def test_breach_completion_and_suspension_issue_their_letters(world: World) -> None:
    w = world
    case = selected_case(w)
    contract_signed_by_all(w, case)
    fire(w, case, "sign", "2026-07-06")
    fire(w, case, "start_training", "2026-09-07")
    fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    cases.suspend(w.uow(), case, start=D("2028-01-01"), end=D("2028-01-31"), reason="sick_leave",
                  schemes=w.schemes)  # fmt: skip
    fire(w, case, "breach", "2028-03-16", reason="Démission", params={"category": "resignation"})
    with w.uow() as uow:
        kinds = [r["kind"] for r in contracts.document_rows(uow.session, case)]
        letter = uow.session.scalars(
            sa.select(Document).where(Document.kind == "recovery_order")
        ).one()
        path = store.default_store().root / store.stored_path(letter)
    assert kinds == ["contract", "amendment", "recovery_order"]
    text = docx_text(path)
    # 31 days of sick leave (30 on 30E/360) are not service: served 165, unserved 555,
    # 1 479.68 × 555 / 720 = 1 140.59.
    assert "1 140,59 €" in text and "OCC-AS-2026-00001" in text


def test_contract_numbers_stay_gapless_when_generated_at_once(world: World) -> None:
    w = world
    ids = [selected_case(w, learner=i, offer=i) for i in range(3)]
    errors: list[Exception] = []

    def generate(case: int) -> None:
        try:
            contracts.generate_contract(w.uow(), case, tier="2x150", on=D("2026-06-20"),
                                        schemes=w.schemes)  # fmt: skip
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=generate, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with w.uow() as uow:
        numbers = sorted(uow.session.scalars(sa.select(Case.contract_number)).all())
    assert numbers == [f"OCC-AS-2026-0000{i}" for i in (1, 2, 3)]


def test_batch_generation_for_a_campaign(world: World) -> None:
    w = world
    for i in range(3):
        selected_case(w, learner=i, offer=i)
    with w.uow() as uow:
        uow.session.execute(sa.update(Case).values(tier="2x150"))
        uow.commit()
    todo = contracts.cases_awaiting_contract(w.uow(), w.campaign)
    assert len(todo) == 3
    for case in todo:
        contracts.generate_contract(w.uow(), case, on=D("2026-06-20"), schemes=w.schemes)
    assert contracts.cases_awaiting_contract(w.uow(), w.campaign) == []


def test_the_campaign_list_of_employers(world: World) -> None:
    w = world
    infos = contracts.campaign_employer_list(w.uow(), w.campaign, on=D("2026-05-01"),
                                             schemes=w.schemes)  # fmt: skip
    assert [i.kind for i in infos] == ["campaign_employers", "campaign_employers_xlsx"]
    text = docx_text(infos[0].path)
    assert "EHPAD 0" in text and "Millau" in text
    from openpyxl import load_workbook

    sheet = load_workbook(infos[1].path).active
    assert sheet is not None
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert "EHPAD 2" in values
