"""The exports (cases, payments, reimbursements, events) in CSV and XLSX, read back, on SQLite
and PostgreSQL: French headers, `;` and decimal comma, dates dd/mm/yyyy, euro and date number
formats, the case list's filters, role visibility on the web, refusals that write nothing.

The data is the hand-built campaign of test_reports (see its docstring)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.conftest import FIXTURES, World
from tests.integration.test_reports import Cli, Story, build_story, make_cli
from tests.integration.test_web import PASSWORD, login
from workflow import accounts
from workflow.errors import FidelisError
from workflow.models import CaseEvent, Institute
from workflow.reports.exports import (
    CASE_COLUMNS,
    EXPORTS,
    Column,
    Export,
    write_export,
)
from workflow.reports.selection import Selection
from workflow.web import create_app

CASE_HEADER = [
    "N° de dossier", "État", "Code de l'état", "Dispositif", "Campagne", "Apprenant", "Institut",
    "Employeur", "SIRET", "Département", "Palier", "N° de contrat", "Ouvert le",
    "Date de l'entretien", "Contrat signé le", "Début de formation", "Fin de formation prévue",
    "Diplôme obtenu le", "Prise de poste", "Fin d'engagement prévue", "Date de rupture",
    "Motif de rupture", "Exonération", "Dernier événement",
]  # fmt: skip


@pytest.fixture
def story(world: World) -> Story:
    return build_story(world)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Cli:
    return make_cli(monkeypatch)


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw[:3] == b"\xef\xbb\xbf"  # UTF-8 with a BOM: Excel reads the accents
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))


def export(cli: Cli, db_url: str, table: str, path: Path, *filters: str) -> int:
    result = cli(db_url, "export", table, str(path), "--json", *filters)
    assert result.exit_code == 0, (result.output, result.exception)
    data = json.loads(result.stdout)
    assert data["file"] == str(path)
    return int(data["rows"])


def test_cases_in_csv_and_xlsx(story: Story, db_url: str, cli: Cli, tmp_path: Path) -> None:
    assert export(cli, db_url, "cases", tmp_path / "dossiers.csv") == 8
    rows = read_csv(tmp_path / "dossiers.csv")
    assert list(rows[0]) == CASE_HEADER
    by_name = {(r["Apprenant"], r["Employeur"]): r for r in rows}
    b = by_name[("Apprenant1 Test", "EHPAD 1")]
    assert (b["État"], b["Code de l'état"], b["Département"], b["Palier"]) == (
        "Rupture", "breached", "12", "2x150")  # fmt: skip
    assert (b["Ouvert le"], b["Contrat signé le"], b["Début de formation"]) == (
        "30/05/2026", "06/07/2026", "07/09/2026")  # fmt: skip
    assert (b["Prise de poste"], b["Fin d'engagement prévue"], b["Date de rupture"]) == (
        "01/09/2027", "31/08/2029", "16/03/2028")  # fmt: skip
    assert (b["Motif de rupture"], b["Exonération"]) == ("démission", "non")
    d = by_name[("Inès Vidal", "SSIAD du Larzac")]
    assert d["Fin d'engagement prévue"] == "31/08/2030"  # 2x200: three years
    assert d["État"] == "En poste (engagement de servir)"
    a2 = by_name[("Apprenant0 Test", "EHPAD 2")]
    assert (a2["Code de l'état"], a2["Contrat signé le"]) == ("withdrawn", "")
    zoe = by_name[("Zoé Morel", "CHU Dijon Bourgogne")]
    assert (zoe["Département"], zoe["Dispositif"], zoe["N° de contrat"]) == (
        "21", "ars-bfc-cae", "ARS-BFC-CAE-2026-00001")  # fmt: skip

    assert export(cli, db_url, "cases", tmp_path / "dossiers.xlsx") == 8
    wb = load_workbook(tmp_path / "dossiers.xlsx")
    assert wb.sheetnames == ["Dossiers"]
    sheet = wb["Dossiers"]
    assert [c.value for c in sheet[1]] == CASE_HEADER
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:X9"
    rows_x = {(r[5].value, r[7].value): r for r in sheet.iter_rows(min_row=2)}
    bx = rows_x[("Apprenant1 Test", "EHPAD 1")]
    assert isinstance(bx[0].value, int)
    signed = bx[CASE_HEADER.index("Contrat signé le")]
    assert signed.value == datetime(2026, 7, 6) and signed.number_format == "dd/mm/yyyy"
    assert bx[CASE_HEADER.index("Exonération")].value == "non"
    assert bx[CASE_HEADER.index("SIRET")].value == "55210055400013"  # text, not a number


def test_payments_by_month_and_funder(story: Story, db_url: str, cli: Cli, tmp_path: Path) -> None:
    # A, B, D: 11 months × 2 funders; F: Sept–Nov × 2; E: 10 months × 1 (ARS).
    assert export(cli, db_url, "payments", tmp_path / "paiements.csv") == 82
    rows = read_csv(tmp_path / "paiements.csv")
    assert list(rows[0]) == [
        "N° de paiement", "N° de dossier", "N° de contrat", "Apprenant", "Employeur",
        "Dispositif", "Campagne", "Mois", "Financeur", "Montant", "Échéance", "État du paiement",
        "Changement d'état le", "Motif"]  # fmt: skip
    first = [r for r in rows if r["Apprenant"] == "Apprenant0 Test" and r["Mois"] == "09/2026"]
    assert sorted((r["Financeur"], r["Montant"], r["Échéance"], r["État du paiement"])
                  for r in first) == [
        ("Employeur", "120,00", "10/10/2026", "payé"),
        ("Région", "120,00", "10/10/2026", "dû"),
    ]  # fmt: skip
    july = {r["Montant"] for r in rows if r["Mois"] == "07/2027"}
    assert july == {"9,68", "12,90"}  # 2/31 of 150 and of 200: decimal comma
    assert [r["Mois"] for r in rows] == sorted(
        (r["Mois"] for r in rows), key=lambda m: (m[3:], m[:2])
    )  # by month

    assert export(cli, db_url, "payments", tmp_path / "ars.csv", "--scheme", "ars-bfc-cae") == 10
    assert {(r["Financeur"], r["Montant"]) for r in read_csv(tmp_path / "ars.csv")} == {
        ("ARS", "600,00")}  # fmt: skip

    assert export(cli, db_url, "payments", tmp_path / "paiements.xlsx") == 82
    wb = load_workbook(tmp_path / "paiements.xlsx")
    assert wb.sheetnames == ["Paiements", "Totaux par mois"]
    detail = wb["Paiements"]
    amount = detail.cell(row=2, column=10)
    assert amount.number_format == '#,##0.00 "€"' and isinstance(amount.value, int | float)
    assert detail.cell(row=2, column=8).number_format == "mm/yyyy"
    totals = wb["Totaux par mois"]
    assert [c.value for c in totals[1]] == ["Mois", "ARS", "Employeur", "Région", "Total"]
    september = [c.value for c in totals[2]]
    # ARS 600; each Occitanie funder: A 120 + B 120 + D 160 + F 120 = 520.
    assert september[0] == datetime(2026, 9, 1)
    assert [Decimal(str(v)) for v in september[1:]] == [Decimal(600), Decimal(520),
                                                        Decimal(520), Decimal(1640)]  # fmt: skip
    assert totals.cell(row=2, column=5).number_format == '#,##0.00 "€"'


def test_reimbursements_and_events(story: Story, db_url: str, cli: Cli, tmp_path: Path) -> None:
    assert export(cli, db_url, "reimbursements", tmp_path / "remboursements.csv") == 4
    rows = read_csv(tmp_path / "remboursements.csv")
    assert list(rows[0])[-4:] == ["Financeur", "Allocation versée (base)",
                                  "Montant à rembourser", "Échéance du reversement"]  # fmt: skip
    got = sorted((r["Apprenant"], r["Financeur"], r["Motif de rupture"],
                  r["Allocation versée (base)"], r["Montant à rembourser"],
                  r["Échéance du reversement"]) for r in rows)  # fmt: skip
    assert got == [
        ("Apprenant1 Test", "Employeur", "démission", "1479,68", "1078,93", "15/04/2028"),
        ("Apprenant1 Test", "Région", "démission", "1479,68", "1078,93", "15/04/2028"),
        ("Hugo Martin", "Employeur", "abandon de la formation", "345,00", "345,00", "16/12/2026"),
        ("Hugo Martin", "Région", "abandon de la formation", "345,00", "345,00", "16/12/2026"),
    ]
    assert export(cli, db_url, "reimbursements", tmp_path / "r.xlsx", "--departement", "48") == 0

    with story.w.uow() as uow:
        total = uow.session.scalar(sa.select(sa.func.count(CaseEvent.id)))
        zoe = uow.session.scalar(
            sa.select(sa.func.count(CaseEvent.id)).where(CaseEvent.case_id == story.cases["E"])
        )
    assert export(cli, db_url, "events", tmp_path / "historique.csv") == total
    assert export(cli, db_url, "events", tmp_path / "zoe.xlsx", "--search", "morel") == zoe
    events = read_csv(tmp_path / "historique.csv")
    assert list(events[0]) == ["N° de dossier", "N° d'ordre", "Apprenant", "Événement", "Code",
                               "État avant", "État après", "Date d'effet", "Enregistré le",
                               "Auteur", "Motif"]  # fmt: skip
    breach = next(e for e in events if e["Code"] == "breach" and e["Apprenant"] == "Hugo Martin")
    assert (breach["Événement"], breach["État avant"], breach["État après"]) == (
        "Rupture", "En formation", "Rupture")  # fmt: skip
    assert (breach["Date d'effet"], breach["Motif"]) == ("16/11/2026", "Abandon")
    assert len(breach["Enregistré le"]) == 16  # "dd/mm/yyyy hh:mm", Paris time
    wb = load_workbook(tmp_path / "zoe.xlsx")
    sheet = wb["Historique"]
    assert {r[2].value for r in sheet.iter_rows(min_row=2)} == {"Zoé Morel"}
    assert sheet.cell(row=2, column=9).number_format == "dd/mm/yyyy hh:mm"
    assert sheet.cell(row=2, column=4).value == "Ouverture du dossier"


def test_the_case_list_filters(story: Story, db_url: str, cli: Cli, tmp_path: Path) -> None:
    def names(*filters: str) -> list[str]:
        path = tmp_path / "f.csv"
        export(cli, db_url, "cases", path, *filters)
        return sorted(r["Apprenant"] for r in read_csv(path))

    with story.w.uow() as uow:
        ifsi = uow.session.scalar(sa.select(Institute.id).where(Institute.name == "IFSI de Dijon"))
    assert names("--departement", "12") == ["Apprenant1 Test", "Hugo Martin", "Inès Vidal"]
    assert names("--state", "serving") == ["Inès Vidal"]
    assert names("--institute", str(ifsi)) == ["Yanis Roux", "Zoé Morel"]
    assert names("--employer", str(story.employers["ssiad"])) == ["Hugo Martin", "Inès Vidal"]
    assert names("--search", "VIDAL") == ["Inès Vidal"]
    assert names("--search", "OCC-AS-2026-00001") == ["Apprenant0 Test"]
    assert names("--scheme", "occitanie-fidelisation-as", "--campaign", "2026",
                 "--state", "breached") == ["Apprenant1 Test", "Hugo Martin"]  # fmt: skip


def test_bad_input_writes_nothing(story: Story, db_url: str, cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    for table, path, args, message in (
        ("cases", tmp_path / "x.txt", (), "Format de fichier non reconnu : « x.txt »"),
        ("cases", tmp_path / "absent" / "x.csv", (), "Dossier inexistant"),
        ("cases", target, ("--state", "active"), "État inconnu « active »"),
        ("payments", target, ("--campaign", "2031"), "Campagne inconnue : aucune campagne 2031"),
        ("events", target, ("--employer", "999"), "Employeur introuvable : n° 999"),
        ("reimbursements", target, ("--departement", "Lozère"), "Département invalide"),
        ("cases", target, ("--scheme", "nope"), "Dispositif inconnu : « nope »"),
    ):
        result = cli(db_url, "export", table, str(path), *args)
        assert result.exit_code != 0, args
        assert isinstance(result.exception, FidelisError) and message in str(result.exception)
    assert not any(p.suffix in (".csv", ".txt", ".xlsx") for p in tmp_path.iterdir())

    # A failure half-way leaves neither the file nor its temporary.
    def failing(*_: Any) -> Iterator[tuple[Any, ...]]:
        yield (1,)
        raise RuntimeError("coupure")

    broken = Export("broken", "Cassé", "casse", (Column("N°", "int"),), failing)
    for name in ("casse.csv", "casse.xlsx"):
        with story.w.uow() as uow, pytest.raises(RuntimeError, match="coupure"):
            write_export(uow.session, broken, tmp_path / name, Selection(), story.w.schemes)
    assert not list(tmp_path.glob("casse*")) and not list(tmp_path.glob(".fidelis-*"))
    assert set(EXPORTS) == {"cases", "payments", "reimbursements", "debts", "events"}
    assert [c.header for c in CASE_COLUMNS] == CASE_HEADER


# -- the case list's exports on the web ------------------------------------------------------------


@pytest.fixture
def client(story: Story, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("FIDELIS_SCHEME_DIRS", str(FIXTURES / "schemes"))
    w = story.w
    accounts.add_user(w.uow(), email="region@exemple.fr", name="Agent", role="region",
                      password=PASSWORD)  # fmt: skip
    accounts.add_user(w.uow(), email="employer@exemple.fr", name="EHPAD", role="employer",
                      password=PASSWORD, employer_id=story.employers["ehpad0"])  # fmt: skip
    with TestClient(create_app(db_url, secret_key="test")) as c:
        yield c


def web_csv(client: TestClient, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"/dossiers.csv{query}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content[:3] == b"\xef\xbb\xbf"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


def test_the_web_exports_follow_filters_and_roles(client: TestClient) -> None:
    login(client, "region")
    assert len(web_csv(client)) == 8
    serving = web_csv(client, "?etat=serving&departement=12")
    assert [(r["Apprenant"], r["Prise de poste"]) for r in serving] == [
        ("Inès Vidal", "01/09/2027")
    ]
    book = client.get("/dossiers.xlsx?q=morel")
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.content))["Dossiers"]
    assert [c.value for c in sheet[1]] == CASE_HEADER
    assert [r[5].value for r in sheet.iter_rows(min_row=2)] == ["Zoé Morel"]

    client.cookies.clear()
    login(client, "employer")  # EHPAD 0: its own offer's cases only
    mine = web_csv(client)
    assert [(r["Apprenant"], r["Employeur"]) for r in mine] == [("Apprenant0 Test", "EHPAD 0")]
    assert web_csv(client, "?departement=12") == []
    book = client.get("/dossiers.xlsx")
    rows = list(load_workbook(io.BytesIO(book.content))["Dossiers"].iter_rows(min_row=2))
    assert [r[7].value for r in rows] == ["EHPAD 0"]
