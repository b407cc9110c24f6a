"""The budget forecast against the payments the nightly run actually creates, on SQLite and
PostgreSQL: forecast as of D, then run the nightly job month after month until the last training
has ended, and check that each month's new payments are the forecast's row for that month, funder
by funder, to the cent. The new-campaign cost against `workflow.money` and the SPEC's figures;
the `fidelis forecast` command (JSON, XLSX, PNG, refusals); the web page and its roles.

The contracts (D = 2026-11-20):

| case | tier, contract date  | training                   | at D                                    |
|------|----------------------|----------------------------|-----------------------------------------|
| A    | 2x150, 2026-07-06    | 2026-09-07 → 2027-07-02    | in training; Sept + Oct paid            |
| B    | 2x200, 2026-10-15    | 2026-09-07 → 2027-07-02    | in training since its contract; Oct paid|
| C    | 2x150, 2026-07-06    | 2026-09-07 → 2027-07-02    | breached on 2026-11-16: Nov 1–15 owed   |
| D    | 2x200, 2026-11-02    | 2027-01-04 → 2027-12-17    | contracted, training not started        |
| E    | cae (ARS), 2026-07-01| 2026-09-14 → 2027-06-30    | in training; whole months of 600.00     |
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from PIL import Image

from jobs.nightly import run_nightly
from tests.conftest import FIXTURES, IBAN, SCHEME, World
from tests.integration.test_case_service import D, contract_signed_by_all, fire, to_selected
from tests.integration.test_reports import PNG_SIGNATURE, Cli, make_cli
from tests.integration.test_web import PASSWORD, login
from workflow import accounts, cases, directory, money
from workflow.errors import InvalidInput
from workflow.models import Offer, Payment
from workflow.reports.forecast import (
    forecast,
    new_campaign_cost,
    parse_new_campaign,
)
from workflow.web import create_app

ARS = "ars-bfc-cae"
AS_OF = D("2026-11-20")


@dataclass
class Contracts:
    w: World
    cases: dict[str, int]
    employer: int


def nightly(w: World, as_of: date | str) -> None:
    day = as_of if isinstance(as_of, date) else D(as_of)
    run_nightly(w.engine, day, schemes=w.schemes, catch_up=False, send_mail=False)


def build_contracts(w: World) -> Contracts:
    uow = w.uow
    o0, o1, o2 = w.offers
    l0, l1, l2 = w.learners
    a = cases.open_case(uow(), o0, l0, on=D("2026-05-30"))
    b = cases.open_case(uow(), o1, l1, on=D("2026-05-30"))
    c = cases.open_case(uow(), o2, l2, on=D("2026-05-30"))
    for case, tier in ((a, "2x150"), (b, "2x200"), (c, "2x150")):
        to_selected(w, case)
        contract_signed_by_all(w, case, tier=tier)
    fire(w, a, "sign", "2026-07-06")
    fire(w, c, "sign", "2026-07-06")
    fire(w, b, "sign", "2026-10-15")  # signed after the training started
    fire(w, c, "start_training", "2026-09-07")
    fire(w, c, "breach", "2026-11-16", reason="Abandon", params={"category": "training_abandoned"})

    employer = directory.add_employer(uow(), name="EHPAD du Causse", siret="55210055401003",
                                      commune="48095", sector="elderly",
                                      recruitment_difficulty=True)  # fmt: skip
    offer = directory.list_employer(uow(), campaign_id=w.campaign, employer_id=employer, places=1,
                                    scheme_registry=w.schemes)  # fmt: skip
    late = directory.add_learner(uow(), first_name="Nina", last_name="Blanc",
                                 birth_date=D("2003-08-09"), email="nina@exemple.fr",
                                 institute_id=w.institute, training_start=D("2027-01-04"),
                                 training_end=D("2027-12-17"), iban=IBAN,
                                 today=D("2026-06-01"))  # fmt: skip
    d = cases.open_case(uow(), offer, late, on=D("2026-05-30"))
    to_selected(w, d)
    contract_signed_by_all(w, d, tier="2x200")
    fire(w, d, "sign", "2026-11-02")

    ifsi = directory.add_institute(uow(), name="IFSI de Dijon", commune="21231", schemes=[ARS],
                                   scheme_registry=w.schemes)  # fmt: skip
    campaign = directory.open_campaign(uow(), scheme_id=ARS, year=2026, scheme_registry=w.schemes)
    chu = directory.add_employer(uow(), name="CHU Dijon Bourgogne", siret="26210037300014",
                                 commune="21231", sector="hospital",
                                 recruitment_difficulty=False)  # fmt: skip
    o4 = directory.list_employer(uow(), campaign_id=campaign, employer_id=chu, places=1,
                                 scheme_registry=w.schemes)  # fmt: skip
    zoe = directory.add_learner(uow(), first_name="Zoé", last_name="Morel",
                                birth_date=D("2001-02-03"), email="zoe@exemple.fr",
                                institute_id=ifsi, training_start=D("2026-09-14"),
                                training_end=D("2027-06-30"), iban=IBAN,
                                today=D("2026-06-01"))  # fmt: skip
    e = cases.open_case(uow(), o4, zoe, on=D("2026-06-01"))
    to_selected(w, e)
    contract_signed_by_all(w, e, tier="cae")
    fire(w, e, "sign", "2026-07-01")

    nightly(w, AS_OF)  # start_training for A, B, E; every instalment due by D
    with w.uow() as u:
        employer_of_o0 = u.session.scalar(sa.select(Offer.employer_id).where(Offer.id == o0))
    assert employer_of_o0 is not None
    return Contracts(w, {"A": a, "B": b, "C": c, "D": d, "E": e}, employer_of_o0)


@pytest.fixture
def contracts(world: World) -> Contracts:
    return build_contracts(world)


def eur(text: str) -> Decimal:
    return Decimal(text)


def first_of_month(d: date) -> date:
    return date(d.year, d.month, 1)


def created_after(w: World, day: date) -> dict[date, dict[str, Decimal]]:
    """Payments falling due after `day`, summed per month and funder."""
    out: dict[date, dict[str, Decimal]] = {}
    with w.uow() as uow:
        for period, funder, amount in uow.session.execute(
            sa.select(Payment.period, Payment.funder, Payment.amount).where(Payment.due_date > day)
        ):
            row = out.setdefault(period, {})
            row[funder] = row.get(funder, Decimal(0)) + amount
    return out


def test_forecast_equals_the_payments_the_nightly_run_creates(contracts: Contracts) -> None:
    w = contracts.w
    with w.uow() as uow:
        fc = forecast(uow.session, AS_OF, w.schemes)
    months = {m.period: m for m in fc.months}
    assert fc.funders == ["ars", "employer", "region"]
    assert fc.active_contracts == 4  # A, B, E in training; D contracted; C breached
    assert fc.cases == 5
    assert fc.last_training_end == D("2027-12-17")
    assert (fc.months[0].period, fc.months[-1].period) == (D("2026-11-01"), D("2027-12-01"))
    # By hand: November = A 150.00 + B 200.00 + C 75.00 (1–15 Nov, before the breach); ARS 600.
    assert months[D("2026-11-01")].amounts == {"employer": eur("425.00"), "region": eur("425.00"),
                                               "ars": eur("600.00")}  # fmt: skip
    assert months[D("2026-11-01")].cases == 4
    # July 2027: A 9.68 (2/31 of 150) + B 12.90 (2/31 of 200); D trains; E has finished.
    assert months[D("2027-07-01")].amounts == {"employer": eur("222.58"), "region": eur("222.58")}
    # December 2027: D alone, 17/31 of 200 = 109.68, then nothing: the last training ended.
    assert months[D("2027-12-01")].amounts == {"employer": eur("109.68"), "region": eur("109.68")}
    # A 1 209.68 + B 1 612.90 + C 75.00 + D 180.65 + 10 × 200 + 109.68 = 5 187.91; E 8 × 600.
    assert fc.totals == {
        "ars": eur("4800.00"),
        "employer": eur("5187.91"),
        "region": eur("5187.91"),
    }

    # The nightly run, month after month (on the 10th: every scheme's payment day has come).
    seen: set[int] = set()
    with w.uow() as uow:
        seen = set(uow.session.scalars(sa.select(Payment.id)))
    run_day = D("2026-12-10")
    while run_day <= D("2028-02-10"):
        nightly(w, run_day)
        with w.uow() as uow:
            new = uow.session.execute(
                sa.select(Payment.id, Payment.period, Payment.funder, Payment.amount).where(
                    Payment.id.not_in(seen) if seen else sa.true()
                )
            ).all()
        seen |= {pid for pid, *_ in new}
        paid_for = money.add_months(first_of_month(run_day), -1)
        got: dict[str, Decimal] = {}
        for _, period, funder, amount in new:
            assert period == paid_for, (run_day, period)
            got[funder] = got.get(funder, Decimal(0)) + amount
        expected = dict(months[paid_for].amounts) if paid_for in months else {}
        assert got == expected, run_day
        run_day = money.add_months(run_day, 1)

    # Everything falling due after D, as created: the forecast, month by month and funder by funder.
    assert created_after(w, AS_OF) == {m.period: m.amounts for m in fc.months if m.amounts}
    # The forecast as of D reads the same once those payments exist (only those due by D count).
    with w.uow() as uow:
        again = forecast(uow.session, AS_OF, w.schemes)
        after = forecast(uow.session, D("2028-02-10"), w.schemes)
    assert again.to_json()["months"] == fc.to_json()["months"]
    assert after.months == [] and after.total == Decimal("0.00")


def test_forecast_by_scheme_and_later_dates(contracts: Contracts) -> None:
    w = contracts.w
    with w.uow() as uow:
        ars = forecast(uow.session, AS_OF, w.schemes, scheme=ARS)
        occ = forecast(uow.session, AS_OF, w.schemes, scheme=SCHEME)
        both = forecast(uow.session, AS_OF, w.schemes)
    assert ars.funders == ["ars"] and ars.totals == {"ars": eur("4800.00")}
    assert ars.active_contracts == 1 and ars.last_training_end == D("2027-06-30")
    assert occ.funders == ["employer", "region"] and occ.active_contracts == 3
    assert occ.total + ars.total == both.total
    # An instalment fallen due but not yet created (no nightly run since) is still to come.
    with w.uow() as uow:
        late = forecast(uow.session, D("2027-01-20"), w.schemes)
    assert late.months[0].period == D("2026-11-01")
    assert late.totals == both.totals


def test_new_campaign_cost_against_money(contracts: Contracts) -> None:
    scheme = contracts.w.schemes[SCHEME]
    counts = parse_new_campaign(" 2x150=10, 2x200 = 5 ", scheme)
    assert counts == {"2x150": 10, "2x200": 5}
    cost = new_campaign_cost(scheme, counts, D("2026-09-07"), D("2027-07-02"))
    # SPEC §4: 1 479.68 per funder for 2x150 on this training; 2x200: 160.00 + 9 × 200.00 + 12.90.
    by_tier = {t.tier: t for t in cost.tiers}
    assert by_tier["2x150"].per_contract == {"employer": eur("1479.68"), "region": eur("1479.68")}
    assert by_tier["2x200"].per_contract == {"employer": eur("1972.90"), "region": eur("1972.90")}
    assert by_tier["2x150"].total == {"employer": eur("14796.80"), "region": eur("14796.80")}
    assert by_tier["2x200"].commitment_months == 36
    assert cost.totals == {"employer": eur("24661.30"), "region": eur("24661.30")}
    assert cost.total == eur("49322.60")
    # Month by month, the schedules of workflow.money times the number of contracts.
    for m in cost.months:
        expected: dict[str, Decimal] = {}
        for tier, n in counts.items():
            for i in money.allowance_schedule(
                D("2026-09-07"), D("2027-07-02"), scheme.monthly(tier, D("2026-09-07"))
            ):
                if i.period == m.period:
                    expected[i.funder] = expected.get(i.funder, Decimal(0)) + i.amount * n
        assert m.amounts == expected, m.period
    assert cost.months[0].amounts == {"employer": eur("2000.00"), "region": eur("2000.00")}
    assert cost.months[-1].amounts == {"employer": eur("161.30"), "region": eur("161.30")}
    # Without an end: ten months of training; the ARS fixture pays whole months (600 from 2026).
    ars = contracts.w.schemes[ARS]
    default = new_campaign_cost(ars, {"cae": 2}, D("2026-09-14"))
    assert default.end == D("2027-07-13")
    assert default.totals == {"ars": eur("13200.00")}  # 11 months touched × 600.00 × 2

    for text, message in (
        ("3x200=5", "Palier inconnu pour le dispositif occitanie-fidelisation-as : « 3x200 »"),
        ("2x150:10", "Nouvelle campagne illisible : « 2x150:10 »"),
        ("2x150=0", "Nombre de contrats invalide pour le palier 2x150 : 0"),
        ("2x150=1,2x150=2", "Le palier 2x150 est donné deux fois"),
        ("", "Nouvelle campagne vide"),
    ):
        with pytest.raises(InvalidInput, match=message):
            parse_new_campaign(text, scheme)
    with pytest.raises(InvalidInput, match="doit être postérieure"):
        new_campaign_cost(scheme, counts, D("2026-09-07"), D("2026-09-01"))


# -- the command line ------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Cli:
    return make_cli(monkeypatch)


def test_forecast_command(contracts: Contracts, db_url: str, cli: Cli, tmp_path: Path) -> None:
    book, chart = tmp_path / "previsions.xlsx", tmp_path / "previsions.png"
    result = cli(db_url, "forecast", "--as-of", "2026-11-20", "--json", "--xlsx", str(book),
                 "--png", str(chart), "--new-campaign", "2x150=10,2x200=5",
                 "--start", "07/09/2026", "--end", "2027-07-02",
                 "--scheme", SCHEME)  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    fc = data["forecast"]
    assert fc["as_of"] == "2026-11-20" and fc["scheme"] == SCHEME
    assert fc["totals"] == {"employer": "5187.91", "region": "5187.91"}
    assert fc["months"][0] == {"period": "2026-11", "cases": 3,
                               "amounts": {"employer": "425.00", "region": "425.00"},
                               "total": "850.00"}  # fmt: skip
    assert data["new_campaign"]["total"] == "49322.60"
    assert data["new_campaign"]["tiers"][1]["per_contract"] == {"employer": "1972.90",
                                                                "region": "1972.90"}  # fmt: skip

    wb = load_workbook(book)
    assert wb.sheetnames == ["Paiements à venir", "Nouvelle campagne",
                             "Nouvelle campagne par mois", "Paramètres"]  # fmt: skip
    sheet = wb["Paiements à venir"]
    assert [c.value for c in sheet[1]] == ["Mois", "Dossiers", "Employeur", "Région", "Total"]
    first = sheet[2]
    assert first[0].value.date() == D("2026-11-01") and first[0].number_format == "mm/yyyy"
    assert Decimal(str(first[2].value)) == eur("425") and first[2].number_format == '#,##0.00 "€"'
    last = list(sheet.iter_rows())[-1]
    assert last[0].value == "Total" and Decimal(str(last[4].value)) == eur("10375.82")
    tiers = wb["Nouvelle campagne"]
    assert [c.value for c in tiers[1]][:4] == ["Palier", "Libellé", "Contrats", "Engagement (mois)"]
    assert [c.value for c in tiers[2]][:4] == [
        "2x150", "Allocation de 2 × 150 € par mois, engagement de 2 ans", 10, 24]  # fmt: skip
    assert ("Situation au", "20/11/2026") in [
        (r[0].value, r[1].value) for r in wb["Paramètres"].iter_rows()
    ]

    for path in (chart, tmp_path / "previsions-nouvelle-campagne.png"):
        content = path.read_bytes()
        assert content[:8] == PNG_SIGNATURE
        with Image.open(io.BytesIO(content)) as image:
            assert image.format == "PNG" and image.size == (1000, 480)

    table = cli(db_url, "forecast", "--as-of", "2026-11-20")
    assert table.exit_code == 0, table.output
    assert "Paiements à venir au 20/11/2026" in table.stdout
    assert "5\u00a0187,91\u00a0€" in table.stdout


def test_forecast_command_refuses_bad_input_and_writes_nothing(
    contracts: Contracts, db_url: str, cli: Cli, tmp_path: Path
) -> None:
    book, chart = tmp_path / "p.xlsx", tmp_path / "p.png"
    outputs = ("--xlsx", str(book), "--png", str(chart))
    for args, message in (
        (("--new-campaign", "3x200=5", "--start", "2027-09-06", "--scheme", SCHEME),
         "Palier inconnu pour le dispositif occitanie-fidelisation-as : « 3x200 »"),
        (("--new-campaign", "2x150=5", "--scheme", SCHEME), "--start"),
        (("--new-campaign", "2x150=5", "--start", "2027-09-06"),
         "Précisez le dispositif de la nouvelle campagne"),
        (("--as-of", "2026-13-01"), "Date invalide pour --as-of : « 2026-13-01 »"),
        (("--scheme", "inconnu"), "Dispositif inconnu : « inconnu »"),
        (("--start", "2027-09-06"), "ne valent qu'avec --new-campaign"),
    ):  # fmt: skip
        result = cli(db_url, "forecast", *args, *outputs)
        assert result.exit_code != 0, args
        assert message in str(result.exception), (args, result.exception)
    bad_extension = cli(db_url, "forecast", "--xlsx", str(tmp_path / "p.csv"))
    assert "doit être un fichier .xlsx" in str(bad_extension.exception)
    written = [p.name for p in tmp_path.iterdir() if p.suffix in (".xlsx", ".png", ".csv")]
    assert written == [] and not list(tmp_path.glob(".fidelis-*"))


# -- the web pages ---------------------------------------------------------------------------------


@pytest.fixture
def client(
    contracts: Contracts, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("FIDELIS_SCHEME_DIRS", str(FIXTURES / "schemes"))
    w = contracts.w
    accounts.add_user(w.uow(), email="region@exemple.fr", name="Agent", role="region",
                      password=PASSWORD)  # fmt: skip
    accounts.add_user(w.uow(), email="employer@exemple.fr", name="EHPAD", role="employer",
                      password=PASSWORD, employer_id=contracts.employer)  # fmt: skip
    with TestClient(create_app(db_url, secret_key="test")) as c:
        yield c


def png_size(content: bytes) -> tuple[int, int]:
    assert content[:8] == PNG_SIGNATURE
    with Image.open(io.BytesIO(content)) as image:
        size: tuple[int, int] = image.size
    return size


def test_forecast_page_workbook_and_charts(client: TestClient) -> None:
    login(client, "region")
    query = "date=2026-11-20&dispositif=occitanie-fidelisation-as&nouvelle=2x150%3D10&debut=2026-09-07&fin=2027-07-02"
    page = client.get(f"/previsions?{query}")
    assert page.status_code == 200
    assert "Paiements à venir au 20/11/2026" in page.text
    assert "5\u00a0187,91\u00a0€" in page.text  # the employer's total
    assert "14\u00a0796,80\u00a0€" in page.text  # 10 contracts of 2x150, per funder
    assert 'alt="Graphique en barres empilées : paiements' in page.text
    for path, size in ((f"/previsions.png?{query}", (1000, 480)),
                       (f"/previsions/nouvelle-campagne.png?{query}", (1000, 480))):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        assert png_size(response.content) == size
    book = client.get(f"/previsions.xlsx?{query}")
    assert book.status_code == 200
    assert load_workbook(io.BytesIO(book.content)).sheetnames[:2] == [
        "Paiements à venir", "Nouvelle campagne"]  # fmt: skip
    refused = client.get("/previsions?nouvelle=3x200%3D5&debut=2026-09-07&dispositif=" + SCHEME)
    assert refused.status_code == 400 and "Palier inconnu" in refused.text
    assert client.get("/previsions.png?date=2026-02-30").status_code == 400
    dashboard = client.get("/").text
    assert 'src="/previsions.png"' in dashboard and 'href="/previsions"' in dashboard


def test_an_employer_may_not_see_the_forecast(client: TestClient) -> None:
    login(client, "employer")
    for path in ("/previsions", "/previsions.xlsx", "/previsions.png",
                 "/previsions/nouvelle-campagne.png"):  # fmt: skip
        assert client.get(path).status_code == 403, path
