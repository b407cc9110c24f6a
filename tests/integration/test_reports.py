"""The observatory on a hand-built campaign, on SQLite and PostgreSQL: every figure checked
against values computed by hand from the story below, per campaign, département, EPCI type and
sector; the retention rate; the JSON of `fidelis report observatory`; the XLSX workbook read
back with openpyxl; the PNG charts; the web pages and their roles.

The story (Occitanie 2026: training 2026-09-07 → 2027-07-02; ARS BFC 2026: 2026-09-14 →
2027-06-30):

| case | offer (employer, commune, sector, places)          | what happens                         |
|------|----------------------------------------------------|--------------------------------------|
| A    | O0 EHPAD 0, Mende (48, CC), elderly, 1             | 2x150, service 2027-09-01, completed  |
| A'   | O2 EHPAD 2, Pamiers (09, CC), elderly, 1           | applied, withdrawn when A signs       |
| B    | O1 EHPAD 1, Millau (12, CC), elderly, 1            | 2x150, service, breach 2028-03-16     |
|      |                                                    | (resignation): 1 078.93 per funder    |
| C    | O2 EHPAD 2, Pamiers (09, CC), elderly              | applied, interviewed, rejected        |
| D    | O3 SSIAD, Millau (12, CC), home_care, 2            | 2x200, service from 2027-09-01        |
| F    | O3 SSIAD, Millau (12, CC), home_care               | 2x150, training abandoned 2026-11-16: |
|      |                                                    | 120 + 150 + 75 = 345.00 per funder,   |
|      |                                                    | all to repay (before service)         |
| E    | O4 CHU Dijon (21, METRO), hospital, 3 — ARS scheme | cae (600/month, whole months), in     |
|      |                                                    | training when the story ends          |
| G    | O4 CHU Dijon                                       | selected, no contract yet             |

Payments come from the nightly run (2027-08-15 then 2029-09-01): per funder 1 479.68 for A and
B (SPEC §4 example), 160.00 + 9 × 200.00 + 12.90 = 1 972.90 for D, 345.00 for F, 10 × 600.00 =
6 000.00 for E; EHPAD 0 confirms its September share of A (120.00 paid). F's breach before service
is what tells the retention rate apart from a plain completed / (completed + breached).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from PIL import Image
from typer.testing import CliRunner

from jobs.nightly import run_nightly
from tests.conftest import FIXTURES, IBAN, World
from tests.integration.test_case_service import D, contract_signed_by_all, fire, to_selected
from tests.integration.test_web import PASSWORD, login
from workflow import accounts, cases, directory, payments
from workflow.cli.common import app
from workflow.models import Offer
from workflow.reports.observatory import observatories, observatory
from workflow.web import create_app

ARS = "ars-bfc-cae"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Story:
    w: World
    cases: dict[str, int]
    employers: dict[str, int]


def nightly(w: World, as_of: str) -> None:
    run_nightly(w.engine, D(as_of), schemes=w.schemes, catch_up=False, send_mail=False)


def build_story(w: World) -> Story:
    """The campaign of the module's docstring, through the real services."""
    uow = w.uow
    with uow() as u:
        employer_of = {o.id: o.employer_id for o in u.session.scalars(sa.select(Offer))}
    ssiad = directory.add_employer(uow(), name="SSIAD du Larzac", siret="73282932001007",
                                   commune="12145", sector="home_care",
                                   recruitment_difficulty=True)  # fmt: skip
    o3 = directory.list_employer(uow(), campaign_id=w.campaign, employer_id=ssiad, places=2,
                                 scheme_registry=w.schemes)  # fmt: skip
    l3 = directory.add_learner(uow(), first_name="Inès", last_name="Vidal",
                               birth_date=D("2002-03-04"), email="ines@exemple.fr",
                               institute_id=w.institute, training_start=D("2026-09-07"),
                               training_end=D("2027-07-02"), iban=IBAN,
                               today=D("2026-06-01"))  # fmt: skip
    l4 = directory.add_learner(uow(), first_name="Hugo", last_name="Martin",
                               birth_date=D("2004-05-06"), email="hugo@exemple.fr",
                               institute_id=w.institute, training_start=D("2026-09-07"),
                               training_end=D("2027-07-02"), iban=IBAN,
                               today=D("2026-06-01"))  # fmt: skip
    o0, o1, o2 = w.offers
    l0, l1, l2 = w.learners

    a2 = cases.open_case(uow(), o2, l0, on=D("2026-05-30"))
    fire(w, a2, "submit", "2026-06-01")
    a = cases.open_case(uow(), o0, l0, on=D("2026-05-30"))
    b = cases.open_case(uow(), o1, l1, on=D("2026-05-30"))
    c = cases.open_case(uow(), o2, l2, on=D("2026-05-30"))
    d = cases.open_case(uow(), o3, l3, on=D("2026-05-30"))
    f = cases.open_case(uow(), o3, l4, on=D("2026-05-30"))
    for case, tier in ((a, "2x150"), (b, "2x150"), (d, "2x200"), (f, "2x150")):
        to_selected(w, case)
        contract_signed_by_all(w, case, tier=tier)
        fire(w, case, "sign", "2026-07-06")  # A's signature withdraws A'
    fire(w, c, "submit", "2026-06-01")
    fire(w, c, "interview", "2026-06-10", params={"interview_date": "2026-06-09"})
    fire(w, c, "reject", "2026-06-12", reason="Profil ne correspondant pas au poste")
    fire(w, f, "start_training", "2026-09-07")
    fire(w, f, "breach", "2026-11-16", reason="Abandon", params={"category": "training_abandoned"})

    # The ARS scheme: an urban employer is fine there (no rurality rule).
    ifsi = directory.add_institute(uow(), name="IFSI de Dijon", commune="21231", schemes=[ARS],
                                   scheme_registry=w.schemes)  # fmt: skip
    ars_campaign = directory.open_campaign(uow(), scheme_id=ARS, year=2026,
                                           scheme_registry=w.schemes)  # fmt: skip
    chu = directory.add_employer(uow(), name="CHU Dijon Bourgogne", siret="26210037300014",
                                 commune="21231", sector="hospital",
                                 recruitment_difficulty=False)  # fmt: skip
    o4 = directory.list_employer(uow(), campaign_id=ars_campaign, employer_id=chu, places=3,
                                 scheme_registry=w.schemes)  # fmt: skip
    zoe = directory.add_learner(uow(), first_name="Zoé", last_name="Morel",
                                birth_date=D("2001-02-03"), email="zoe@exemple.fr",
                                institute_id=ifsi, training_start=D("2026-09-14"),
                                training_end=D("2027-06-30"), iban=IBAN,
                                today=D("2026-06-01"))  # fmt: skip
    yanis = directory.add_learner(uow(), first_name="Yanis", last_name="Roux",
                                  birth_date=D("2001-07-08"), email="yanis@exemple.fr",
                                  institute_id=ifsi, training_start=D("2026-09-14"),
                                  training_end=D("2027-06-30"), iban=IBAN,
                                  today=D("2026-06-01"))  # fmt: skip
    g = cases.open_case(uow(), o4, yanis, on=D("2026-06-01"))
    to_selected(w, g)
    e = cases.open_case(uow(), o4, zoe, on=D("2026-06-01"))
    to_selected(w, e)
    contract_signed_by_all(w, e, tier="cae")
    fire(w, e, "sign", "2026-07-01")

    nightly(w, "2027-08-15")  # start_training for A, B, D, E; every instalment due by then
    for case in (a, b, d):
        fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    fire(w, b, "breach", "2028-03-16", reason="Démission", params={"category": "resignation"})
    payments.confirm_employer(uow(), employer_of[o0], D("2026-09-01"), on=D("2027-09-15"),
                              actor="EHPAD 0")  # fmt: skip
    nightly(w, "2029-09-01")  # A's commitment ended on 2029-08-31: completed
    return Story(
        w,
        {"A": a, "A'": a2, "B": b, "C": c, "D": d, "E": e, "F": f, "G": g},
        {"ehpad0": employer_of[o0], "ssiad": ssiad, "chu": chu},
    )


@pytest.fixture
def story(world: World) -> Story:
    return build_story(world)


def counts(**given: int) -> dict[str, int]:
    """Every count of a group: those given, 0 for the others."""
    names = ("offers", "places", "cases", "applications", "selections", "contracts",
             "in_training", "serving", "completed", "breached", "breached_in_service",
             "exempted", "rejected", "withdrawn")  # fmt: skip
    unknown = set(given) - set(names)
    assert not unknown, unknown
    return {n: given.get(n, 0) for n in names}


def money(employer: tuple[str, str, str] = ("0.00",) * 3, region: tuple[str, str, str] = ("0.00",) * 3,
          ars: tuple[str, str, str] = ("0.00",) * 3) -> dict[str, dict[str, str]]:  # fmt: skip
    def one(t: tuple[str, str, str]) -> dict[str, str]:
        # Nothing repaid, waived or written off in this story: the debts are all still owed.
        return {"allocated": t[0], "paid": t[1], "debts": t[2], "to_recover": t[2],
                "recovered": "0.00", "waived": "0.00", "written_off": "0.00"}  # fmt: skip

    return {"ars": one(ars), "employer": one(employer), "region": one(region)}


OCCITANIE = dict(
    counts=counts(offers=4, places=5, cases=6, applications=6, selections=4, contracts=4,
                  serving=1, completed=1, breached=2, breached_in_service=1, rejected=1,
                  withdrawn=1),
    money=money(employer=("5277.26", "120.00", "1423.93"), region=("5277.26", "0.00", "1423.93")),
    reasons={"resignation": 1, "training_abandoned": 1},
    retention="0.5000",  # 1 / (1 + 1): F's breach before service is not counted
)  # fmt: skip
ARS_2026 = dict(
    counts=counts(offers=1, places=3, cases=2, applications=2, selections=2, contracts=1,
                  in_training=1),
    money=money(ars=("6000.00", "0.00", "0.00")),
    reasons={},
    retention=None,
)  # fmt: skip

EXPECTED: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "campagne": [
        (f"{ARS}:2026", "2026 — Contrat d'allocation d'études de l'ARS Bourgogne-Franche-Comté",
         ARS_2026),
        ("occitanie-fidelisation-as:2026", "2026 — Fidélisation des élèves aides-soignants dans "
         "les territoires ruraux d'Occitanie", OCCITANIE),
    ],
    "departement": [
        ("09", "Ariège (09)", dict(
            counts=counts(offers=1, places=1, cases=2, applications=2, rejected=1, withdrawn=1),
            money=money(), reasons={}, retention=None)),
        ("12", "Aveyron (12)", dict(
            counts=counts(offers=2, places=3, cases=3, applications=3, selections=3, contracts=3,
                          serving=1, breached=2, breached_in_service=1),
            money=money(employer=("3797.58", "0.00", "1423.93"),
                        region=("3797.58", "0.00", "1423.93")),
            reasons={"resignation": 1, "training_abandoned": 1}, retention="0.0000")),
        ("21", "Côte-d'Or (21)", ARS_2026),
        ("48", "Lozère (48)", dict(
            counts=counts(offers=1, places=1, cases=1, applications=1, selections=1, contracts=1,
                          completed=1),
            money=money(employer=("1479.68", "120.00", "0.00"),
                        region=("1479.68", "0.00", "0.00")),
            reasons={}, retention="1.0000")),
    ],
    "type-epci": [
        ("CC", "Communauté de communes (CC)", OCCITANIE),
        ("METRO", "Métropole (METRO)", ARS_2026),
    ],
    "secteur": [
        ("elderly", "Personnes âgées", dict(
            counts=counts(offers=3, places=3, cases=4, applications=4, selections=2, contracts=2,
                          completed=1, breached=1, breached_in_service=1, rejected=1,
                          withdrawn=1),
            money=money(employer=("2959.36", "120.00", "1078.93"),
                        region=("2959.36", "0.00", "1078.93")),
            reasons={"resignation": 1}, retention="0.5000")),
        ("home_care", "Aide à domicile", dict(
            counts=counts(offers=1, places=2, cases=2, applications=2, selections=2, contracts=2,
                          serving=1, breached=1),
            money=money(employer=("2317.90", "0.00", "345.00"), region=("2317.90", "0.00", "345.00")),
            reasons={"training_abandoned": 1}, retention=None)),  # 0 / 0: F broke before service
        ("hospital", "Établissement hospitalier", ARS_2026),
    ],
}  # fmt: skip
TOTAL = dict(
    counts=counts(offers=5, places=8, cases=8, applications=8, selections=6, contracts=5,
                  in_training=1, serving=1, completed=1, breached=2, breached_in_service=1,
                  rejected=1, withdrawn=1),
    money=money(employer=("5277.26", "120.00", "1423.93"), region=("5277.26", "0.00", "1423.93"),
                ars=("6000.00", "0.00", "0.00")),
    reasons={"resignation": 1, "training_abandoned": 1},
    retention="0.5000",
)  # fmt: skip


def as_json(key: str, label: str, expected: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        **expected["counts"],
        "breaches_by_reason": expected["reasons"],
        "money": expected["money"],
        "retention_rate": expected["retention"],
    }


@pytest.mark.parametrize("dimension", list(EXPECTED))
def test_every_figure_of_the_hand_built_campaign(story: Story, dimension: str) -> None:
    with story.w.uow() as uow:
        obs = observatory(uow.session, dimension)
    data = obs.to_json()
    assert data["funders"] == ["ars", "employer", "region"]
    assert data["breach_reasons"] == ["resignation", "training_abandoned"]
    assert data["rows"] == [as_json(*row) for row in EXPECTED[dimension]]
    assert data["total"] == as_json("total", "Ensemble", TOTAL)


def test_retention_rate_and_filters(story: Story) -> None:
    with story.w.uow() as uow:
        s = uow.session
        by_dep = {r.key: r for r in observatory(s, "departement").rows}
        only_ars = observatory(s, "campagne", scheme=ARS)
        only_2026 = observatory(s, "secteur", campaign=2026)
        none = observatory(s, "campagne", campaign=2031)
        every = observatories(s)
        one_by_one = [observatory(s, o.dimension).to_json() for o in every]
    # completed / (completed + breached during service)
    assert by_dep["48"].retention_rate == Decimal("1.0000")  # A served to the end
    assert by_dep["12"].retention_rate == Decimal("0.0000")  # B broke it; D serves; F never did
    assert by_dep["09"].retention_rate is None  # nobody reached the end: 0/0
    assert [r.key for r in only_ars.rows] == [f"{ARS}:2026"]
    assert only_ars.total.counts == ARS_2026["counts"]
    assert only_2026.total.counts == TOTAL["counts"]
    assert none.rows == [] and none.total.counts == counts()
    assert [o.dimension for o in every] == ["campagne", "departement", "type-epci", "secteur"]
    assert [o.to_json() for o in every] == one_by_one


# -- the command line ------------------------------------------------------------------------------


class Cli:
    """`fidelis` in this process (typer's runner). The engines the commands create are
    disposed after each call: the real command exits, which closes them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from workflow.cli import common

        self.runner = CliRunner()
        self.engines: list[sa.Engine] = []
        real = common.make_engine

        def tracked(url: str | None = None, **kw: Any) -> sa.Engine:
            engine = real(url, **kw)
            self.engines.append(engine)
            return engine

        monkeypatch.setattr(common, "make_engine", tracked)
        # Rich fixes a console's width when it is built (at the CLI's import, whichever test
        # came first in this worker): the width the tests read tables at is set here.
        for console in (common.out, common.err):
            monkeypatch.setattr(console, "width", 200)

    def __call__(self, db_url: str, *args: str) -> Any:
        try:
            return self.runner.invoke(app, ["--db", db_url, *args])
        finally:
            while self.engines:
                self.engines.pop().dispose()


def make_cli(monkeypatch: pytest.MonkeyPatch) -> Cli:
    # The CLI reads the configured schemes: add the ARS fixture to them.
    monkeypatch.setenv("FIDELIS_SCHEME_DIRS", str(FIXTURES / "schemes"))
    monkeypatch.setenv("COLUMNS", "200")
    return Cli(monkeypatch)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Cli:
    return make_cli(monkeypatch)


def test_report_observatory_json_xlsx_and_png(
    story: Story, db_url: str, cli: Cli, tmp_path: Path
) -> None:
    book = tmp_path / "observatoire.xlsx"
    charts = tmp_path / "graphiques"
    result = cli(db_url, "report", "observatory", "--by", "departement", "--json",
                 "--xlsx", str(book), "--png", str(charts))  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dimension"] == "departement" and data["dimension_label"] == "Département"
    assert data["rows"] == [as_json(*row) for row in EXPECTED["departement"]]
    assert data["total"] == as_json("total", "Ensemble", TOTAL)

    wb = load_workbook(book)
    assert wb.sheetnames == ["Par département", "Par campagne", "Par type d'EPCI", "Par secteur",
                             "Définitions"]  # fmt: skip
    sheet = wb["Par département"]
    header = [c.value for c in sheet[1]]
    assert header[:15] == ["Département", "Offres", "Places", "Dossiers", "Candidatures",
                           "Sélections", "Contrats", "En formation", "En poste", "Honorés",
                           "Ruptures", "dont pendant le service", "dont exonérées", "Non retenus",
                           "Retirés"]  # fmt: skip
    assert header[15:] == [
        "Taux de rétention en fin d'engagement", "Rupture : démission",
        "Rupture : abandon de la formation",
        *(h for name in ("ARS", "Employeur", "Région") for h in (
            f"Allocations versées — {name}", f"dont payées — {name}", f"À recouvrer — {name}",
            f"Recouvré — {name}", f"Remis — {name}", f"Admis en non-valeur — {name}")),
    ]  # fmt: skip
    rows = {r[0].value: r for r in sheet.iter_rows(min_row=2)}
    assert list(rows) == ["Ariège (09)", "Aveyron (12)", "Côte-d'Or (21)", "Lozère (48)",
                          "Ensemble"]  # fmt: skip
    aveyron = rows["Aveyron (12)"]
    assert [c.value for c in aveyron[1:15]] == list(
        EXPECTED["departement"][1][2]["counts"].values()
    )
    assert aveyron[15].value == 0 and aveyron[15].number_format == "0.0 %"
    assert rows["Lozère (48)"][15].value == 1
    assert rows["Ariège (09)"][15].value is None  # undefined rate: an empty cell
    assert (aveyron[16].value, aveyron[17].value) == (1, 1)  # a resignation, an abandonment
    employer_paid_out, employer_recover = aveyron[24], aveyron[26]  # after ARS's six columns
    assert Decimal(str(employer_paid_out.value)) == Decimal("3797.58")
    assert Decimal(str(employer_recover.value)) == Decimal("1423.93")
    assert employer_paid_out.number_format == '#,##0.00 "€"'
    assert Decimal(str(rows["Ensemble"][18].value)) == Decimal("6000")  # ARS allocated
    assert wb["Définitions"]["A1"].value == "Indicateur"

    for name in ("parcours", "argent", "retention"):
        content = (charts / f"{name}-departement.png").read_bytes()
        assert content[:8] == PNG_SIGNATURE
        with Image.open(io.BytesIO(content)) as image:
            assert image.format == "PNG" and image.size == (900, 480)

    table = cli(db_url, "report", "observatory", "--by", "secteur")
    assert table.exit_code == 0, table.output
    assert "Personnes âgées" in table.stdout and "50,0\u00a0%" in table.stdout
    assert "5\u00a0277,26\u00a0€" in table.stdout


def test_report_refuses_bad_input_and_writes_nothing(
    story: Story, db_url: str, cli: Cli, tmp_path: Path
) -> None:
    book = tmp_path / "observatoire.xlsx"
    for args, message in (
        (("--campaign", "2031"), "Campagne inconnue : aucune campagne 2031"),
        (("--scheme", "inconnu"), "Dispositif inconnu : « inconnu »"),
        (("--by", "commune"), "Regroupement inconnu « commune »"),
    ):
        result = cli(db_url, "report", "observatory", *args, "--xlsx", str(book))
        assert result.exit_code != 0
        assert message in str(result.exception), (args, result.exception)
        assert not book.exists()
    assert not list(tmp_path.glob("*.xlsx")) and not list(tmp_path.glob(".fidelis-*"))


# -- the web pages ---------------------------------------------------------------------------------


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


def test_observatory_pages_workbook_and_charts(client: TestClient) -> None:
    login(client, "region")
    page = client.get("/observatoire?par=secteur")
    assert page.status_code == 200
    text = page.text
    assert "Observatoire du dispositif" in text and "Personnes âgées" in text
    assert "Parcours des dossiers par secteur" in text and "50,0" in text
    assert 'src="/observatoire/parcours.png?par=secteur"' in text
    assert 'alt="Graphique en barres : candidatures' in text
    for chart in ("parcours", "argent", "retention"):
        png = client.get(f"/observatoire/{chart}.png?par=departement&campagne=2026")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content[:8] == PNG_SIGNATURE
        with Image.open(io.BytesIO(png.content)) as image:
            assert image.size == (900, 480)
    book = client.get("/observatoire.xlsx?par=type-epci")
    assert book.status_code == 200 and book.content[:2] == b"PK"
    wb = load_workbook(io.BytesIO(book.content))
    assert wb.sheetnames[0] == "Par type d'EPCI"
    assert [r[0].value for r in wb.active.iter_rows(min_row=2)] == [
        "Communauté de communes (CC)", "Métropole (METRO)", "Ensemble"]  # fmt: skip
    bad = client.get("/observatoire?campagne=2031")
    assert bad.status_code == 400 and "Campagne inconnue" in bad.text
    assert client.get("/observatoire/parcours.png?par=commune").status_code == 400
    dashboard = client.get("/").text
    assert 'src="/observatoire/parcours.png"' in dashboard and 'href="/observatoire"' in dashboard


def test_an_employer_may_not_see_the_observatory(client: TestClient) -> None:
    login(client, "employer")
    for path in ("/observatoire", "/observatoire.xlsx", "/observatoire/parcours.png"):
        assert client.get(path).status_code == 403, path
    dashboard = client.get("/").text
    assert "/observatoire/parcours.png" not in dashboard  # no broken image for them
    assert 'href="/observatoire"' not in dashboard
