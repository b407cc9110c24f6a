"""Every Word template rendered from ORM objects (in-memory SQLite, no service), read back with
python-docx: SPEC §4's example, §5's clauses, escaping, strictness, reproducibility."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from docx import Document as Docx
from lxml import etree
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from workflow.documents import MissingVariable, render_docx
from workflow.documents.context import (
    amendment_context,
    campaign_list_context,
    competent_court,
    completion_certificate_context,
    contract_context,
    recovery_order_context,
)
from workflow.documents.french import plain
from workflow.documents.render import DocumentError
from workflow.documents.xlsx import campaign_list_xlsx
from workflow.iban import Iban
from workflow.models import (
    Base,
    Campaign,
    Case,
    CaseEvent,
    CaseText,
    Employer,
    Institute,
    Learner,
    Offer,
    Reimbursement,
    Suspension,
)
from workflow.paths import templates_dir
from workflow.schemes import Scheme, SchemeRegistry
from workflow.states import State
from workflow.territory import Territory, default_territory

D = date.fromisoformat
SCHEME = "occitanie-fidelisation-as"
NUMBER = "OCC-AS-2026-00001"
HOSTILE = "Zoé <O'Brien> & {{ fils }}"

CONTRACT = templates_dir() / "contracts" / "contract.docx"
RECOVERY = templates_dir() / "letters" / "recovery_order.docx"
COMPLETION = templates_dir() / "letters" / "completion_certificate.docx"
AMENDMENT = templates_dir() / "letters" / "amendment.docx"
CAMPAIGN = templates_dir() / "letters" / "campaign_employers.docx"


# -- helpers -------------------------------------------------------------------------------------


def docx_text(path: Path) -> str:
    """Every paragraph and table cell, headers and footers included, no-break spaces as spaces."""
    doc = Docx(str(path))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    for section in doc.sections:
        parts.extend(p.text for p in section.header.paragraphs)
        parts.extend(p.text for p in section.footer.paragraphs)
    return plain("\n".join(parts))


def assert_well_formed(content: bytes) -> None:
    """Every XML part parses with a strict parser (docxtpl's own parser would recover)."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        assert z.testzip() is None
        for name in z.namelist():
            if name.endswith((".xml", ".rels")):
                etree.fromstring(z.read(name), etree.XMLParser(recover=False))


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    assert_well_formed(content)
    return path


@pytest.fixture
def session() -> Iterator[Session]:
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture(scope="module")
def territory() -> Territory:
    return default_territory()


@pytest.fixture
def scheme(schemes: SchemeRegistry) -> Scheme:
    return schemes[SCHEME]


def make_case(
    s: Session,
    *,
    first_name: str = "Léa",
    last_name: str = "Fabre",
    scheme_id: str = SCHEME,
    tier: str = "2x150",
    number: str = NUMBER,
    employer_insee: str = "48095",
    siret: str = "73282932000074",
    **fields: Any,
) -> Case:
    """SPEC §4's example: tier 2x150, training 2026-09-07 → 2027-07-02, contract 2026-07-06,
    EHPAD at Mende (48095)."""
    institute = Institute(name="IFAS de Mende", commune_insee="48095")
    employer = Employer(
        name="EHPAD Les Genêts", siret=siret, commune_insee=employer_insee,
        sector="elderly", recruitment_difficulty=True, email="direction@ehpad-genets.fr",
    )  # fmt: skip
    campaign = Campaign(scheme_id=scheme_id, year=2026)
    offer = Offer(campaign=campaign, employer=employer, places=2)
    learner = Learner(
        first_name=first_name, last_name=last_name, birth_date=D("2003-04-05"),
        email="lea.fabre@exemple.fr", institute=institute, training_start=D("2026-09-07"),
        training_end=D("2027-07-02"), iban=Iban.seal("FR7630006000011234567890189"),
    )  # fmt: skip
    values: dict[str, Any] = {
        "state": State.CONTRACTED,
        "tier": tier,
        "contract_number": number,
        "contract_date": D("2026-07-06"),
        "last_effective_date": D("2026-07-06"),
        **fields,
    }
    case = Case(offer=offer, learner=learner, campaign=campaign, scheme_id=scheme_id, **values)
    s.add(case)
    s.flush()
    return case


def breach_during_service(s: Session, case: Case, *, exempted: bool = False) -> None:
    """SPEC §4's breach: service from 2027-09-01, breach 2028-03-16, nothing cancelled."""
    case.state = State.BREACHED
    case.diploma_date = D("2027-07-09")
    case.service_start = D("2027-09-01")
    case.allowance_ended_on = D("2027-09-01")
    case.breach_date = D("2028-03-16")
    case.breach_category = "medical_inaptitude" if exempted else "resignation"
    case.last_effective_date = D("2028-03-16")
    amount = Decimal("0.00") if exempted else Decimal("1078.93")
    if exempted:
        case.exempted = True
        case.exemption_ref = "DEC-2028-017"
        case.exemption_decided_by = "Direction des solidarités"
        case.exemption_decided_on = D("2028-03-20")
    for funder in ("employer", "region"):
        s.add(Reimbursement(case=case, funder=funder, base=Decimal("1479.68"), amount=amount,
                            due_date=D("2028-04-15")))  # fmt: skip
    s.add(CaseEvent(case=case, seq=1, trigger="breach", from_state=State.SERVING,
                    to_state=State.BREACHED, effective_date=D("2028-03-16"), actor="test",
                    free_text=CaseText(case_id=case.id, kind="reason",
                                       text="Démission pour raisons personnelles"),
                    payload={}))  # fmt: skip
    s.flush()
    s.expire(case)


def contract(case: Case, scheme: Scheme, territory: Territory, **kw: Any) -> dict[str, Any]:
    return contract_context(case, scheme, territory, number=case.contract_number or "",
                            issued_on=D("2026-06-20"), place="Toulouse", **kw)  # fmt: skip


# -- the contract --------------------------------------------------------------------------------


def test_the_contract_states_every_clause_of_spec_5(
    session: Session, scheme: Scheme, territory: Territory, tmp_path: Path
) -> None:
    case = make_case(session)
    path = write(
        tmp_path, "contract.docx", render_docx(CONTRACT, contract(case, scheme, territory))
    )
    text = docx_text(path)
    for expected in (
        # parties, with full identities
        "Région Occitanie / Pyrénées-Méditerranée", "Hôtel de Région, 22 boulevard du Maréchal Juin",
        "La Présidente de la Région Occitanie", "EHPAD Les Genêts", "SIRET 73282932000074",
        "Mende, code INSEE 48095, département : Lozère (48)",
        "membre de l'EPCI CC Coeur de Lozère (communauté de communes)", "Léa Fabre", "né(e) le 5 avril 2003",
        "lea.fabre@exemple.fr", "IFAS de Mende", "FR76 **** **** 0189",
        # contract number, in the body and the footer
        f"Contrat n° {NUMBER}", f"Contrat n° {NUMBER} — page",
        # "Vu" references
        "le Code général des collectivités territoriales ;",
        "règlement (UE) 2016/679", "Dispositif expérimental de fidélisation",
        "délibération n° CP/2017-MAI/08.16",
        # object and amounts in figures and words
        "Allocation de 2 × 150 € par mois, engagement de 2 ans",
        "300,00 € (trois cents euros)", "150,00 € (cent cinquante euros) par mois",
        "cent cinquante euros", "1 479,68 €",
        "mille quatre cent soixante-dix-neuf euros et soixante-huit centimes",
        "2 959,36 € (deux mille neuf cent cinquante-neuf euros et trente-six centimes)",
        # calendar and training dates
        "7 septembre 2026", "2 juillet 2027", "septembre 2026", "10 octobre 2026", "120,00 €",
        "juillet 2027", "10 août 2027", "9,68 €", "Part employeur", "Part Région",
        # commitment
        "vingt-quatre mois (24 mois, soit 2 ans)", "prise de poste",
        # suspension, breach, exemptions, recovery
        "congé de maternité", "congé parental d'éducation",
        "montant perçu × jours non servis / jours dus, décomptés sur une base de 30 jours par mois (30E/360)",
        "soit 720 jours", "l'intégralité du montant perçu", "échec au diplôme",
        "inaptitude médicale", "force majeure", "fermeture de l'établissement employeur",
        "trente jours (30 jours)",
        # cumul
        "France Travail", "bourse d'études paramédicale",
        # data protection, court
        "responsable de traitement", "10 ans (dix ans) après la clôture du dossier",
        "dpo@laregion.fr", "CNIL", "Tribunal administratif de Toulouse",
        # place, date, copies, signatures
        "Fait à Toulouse, le 20 juin 2026, en trois exemplaires", "L'apprenant(e)",
        "Pour l'employeur", "Pour la Région Occitanie / Pyrénées-Méditerranée",
        "Nom, date et signature",
    ):  # fmt: skip
        assert expected in text, expected
    assert text.count("Nom, date et signature") == 3
    # One row per month of the allowance: September 2026 to July 2027.
    doc = Docx(str(path))
    calendar = next(t for t in doc.tables if t.rows[0].cells[0].text == "Mois")
    months = [row.cells[0].text for row in calendar.rows[1:-1]]
    assert [plain(m) for m in months] == [
        "septembre 2026", "octobre 2026", "novembre 2026", "décembre 2026", "janvier 2027",
        "février 2027", "mars 2027", "avril 2027", "mai 2027", "juin 2027", "juillet 2027",
    ]  # fmt: skip
    assert [plain(c.text) for c in calendar.rows[0].cells] == [
        "Mois", "Échéance", "Part employeur", "Part Région", "Total"]  # fmt: skip
    assert [plain(c.text) for c in calendar.rows[-1].cells] == [
        "Total", "", "1 479,68 €", "1 479,68 €", "2 959,36 €"]  # fmt: skip
    assert "{{" not in text.replace(HOSTILE, "") and "{%" not in text


def test_signatures_fill_the_blocks(
    session: Session, scheme: Scheme, territory: Territory, tmp_path: Path
) -> None:
    case = make_case(session)
    signatures = {
        "learner": ("Léa Fabre", D("2026-06-25")),
        "region": ("Carole D.", D("2026-07-01")),
    }
    ctx = contract(case, scheme, territory, signatures=signatures)
    text = docx_text(write(tmp_path, "c.docx", render_docx(CONTRACT, ctx)))
    assert "Signé par Léa Fabre" in text and "le 25 juin 2026" in text
    assert "Signé par Carole D." in text and "le 1er juillet 2026" in text
    assert text.count("Nom, date et signature") == 1  # the employer has not signed
    with pytest.raises(DocumentError, match="Partie inconnue"):
        contract(case, scheme, territory, signatures={"notary": ("X", D("2026-07-01"))})


def test_a_hostile_name_appears_literally_and_the_file_still_opens(
    session: Session, scheme: Scheme, territory: Territory, tmp_path: Path
) -> None:
    case = make_case(session, first_name="Zoé", last_name="<O'Brien> & {{ fils }}")
    assert case.learner.full_name == HOSTILE
    content = render_docx(CONTRACT, contract(case, scheme, territory))
    text = docx_text(write(tmp_path, "hostile.docx", content))
    assert HOSTILE in text
    assert text.count(HOSTILE) == 2  # the parties and the signature block
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        xml = z.read("word/document.xml").decode()
    assert "&lt;O'Brien&gt; &amp; {{ fils }}" in xml or "&lt;O&apos;Brien&gt;" in xml


def test_control_characters_in_user_text_do_not_corrupt_the_file(
    session: Session, scheme: Scheme, territory: Territory, tmp_path: Path
) -> None:
    case = make_case(session, first_name="Léa\x00\x0b", last_name="Fa\x1fbre")
    text = docx_text(
        write(tmp_path, "ctl.docx", render_docx(CONTRACT, contract(case, scheme, territory)))
    )
    assert "Léa Fabre" in text


def test_a_missing_variable_is_named_and_never_left_blank(
    session: Session, scheme: Scheme, territory: Territory
) -> None:
    case = make_case(session)
    ctx = contract(case, scheme, territory)
    del ctx["learner"]["birth_date"]
    with pytest.raises(MissingVariable) as err:
        render_docx(CONTRACT, ctx)
    assert str(err.value) == (
        "Variable manquante dans le modèle contract.docx : learner.birth_date"
    )
    assert err.value.variable == "learner.birth_date"

    ctx = contract(case, scheme, territory)
    del ctx["calendar"][3]["due"]
    with pytest.raises(MissingVariable, match=r"calendar\[3\]\.due"):
        render_docx(CONTRACT, ctx)

    ctx = contract(case, scheme, territory)
    del ctx["court"]
    with pytest.raises(MissingVariable, match=r"contract\.docx : court$"):
        render_docx(CONTRACT, ctx)

    ctx = contract(case, scheme, territory)
    ctx["court"] = None
    with pytest.raises(DocumentError, match="None"):
        render_docx(CONTRACT, ctx)


def test_rendering_is_reproducible(session: Session, scheme: Scheme, territory: Territory) -> None:
    case = make_case(session)
    first = render_docx(CONTRACT, contract(case, scheme, territory))
    second = render_docx(CONTRACT, contract(case, scheme, territory))
    assert first == second
    case.learner.first_name = "Lea"
    assert render_docx(CONTRACT, contract(case, scheme, territory)) != first


def test_a_contract_issued_before_signature_uses_the_issue_date(
    session: Session, scheme: Scheme, territory: Territory, tmp_path: Path
) -> None:
    case = make_case(session, state=State.SELECTED, contract_date=None)
    text = docx_text(
        write(tmp_path, "c.docx", render_docx(CONTRACT, contract(case, scheme, territory)))
    )
    assert "1 479,68 €" in text and "120,00 €" in text
    assert "signé au plus tard le 7 septembre 2026" in text


def test_the_2x200_tier_and_a_one_funder_scheme(
    session: Session, schemes: SchemeRegistry, territory: Territory, tmp_path: Path
) -> None:
    case = make_case(session, tier="2x200")
    text = docx_text(
        write(tmp_path, "c.docx", render_docx(CONTRACT, contract(case, schemes[SCHEME], territory)))
    )
    assert "deux cents euros" in text and "trente-six mois (36 mois, soit 3 ans)" in text

    ars = schemes["ars-bfc-cae"]
    other = make_case(session, scheme_id=ars.id, tier="cae", number="ARS-BFC-CAE-2026-00001",
                      employer_insee="21231", siret="44306184100047", first_name="Jules")  # fmt: skip
    text = docx_text(
        write(tmp_path, "ars.docx", render_docx(CONTRACT, contract(other, ars, territory)))
    )
    for expected in (
        "Agence régionale de santé Bourgogne-Franche-Comté", "ARS-BFC-CAE-2026-00001",
        "dix-huit mois (18 mois)", "600,00 € (six cents euros)", "Part ARS",
        "100 % du montant perçu si la rupture intervient avant 6 mois de service",
        "50 % du montant perçu si la rupture intervient avant 12 mois de service", "0 % au-delà",
        "Dijon Métropole (métropole)", "Tribunal administratif de Dijon",
        "soixante jours (60 jours)", "5 ans (cinq ans)",
        "Pour l'Agence régionale de santé Bourgogne-Franche-Comté",
        "versée chaque mois par l'Agence régionale de santé",
    ):  # fmt: skip
        assert expected in text, expected
    assert "collectivités territoriales" not in text  # an ARS is no local authority
    doc = Docx(str(tmp_path / "ars.docx"))
    calendar = next(t for t in doc.tables if t.rows[0].cells[0].text == "Mois")
    assert [plain(c.text) for c in calendar.rows[0].cells] == [
        "Mois",
        "Échéance",
        "Part ARS",
        "Total",
    ]
    # whole months: September 2026 to July 2027 in full.
    assert [plain(c.text) for c in calendar.rows[-1].cells][-1] == "6 600,00 €"


def test_the_court_comes_from_the_scheme_else_from_the_region(scheme: Scheme) -> None:
    assert competent_court(scheme) == "Tribunal administratif de Toulouse"
    blank = scheme.model_copy(
        update={"documents": scheme.documents.model_copy(update={"court": " "})}
    )
    assert competent_court(blank) == "Tribunal administratif de Toulouse"
    bfc = blank.model_copy(update={"region_code": "27"})
    assert competent_court(bfc) == "Tribunal administratif de Besançon"
    elsewhere = blank.model_copy(update={"region_code": "11"})
    with pytest.raises(DocumentError, match="région 11"):
        competent_court(elsewhere)


# -- letters -------------------------------------------------------------------------------------


def test_the_recovery_order_of_spec_4s_breach(
    session: Session, scheme: Scheme, territory: Territory, tmp_path: Path
) -> None:
    case = make_case(session)
    breach_during_service(session, case)
    ctx = recovery_order_context(
        case, scheme, territory, issued_on=D("2028-03-18"), place="Toulouse"
    )
    text = docx_text(write(tmp_path, "recovery.docx", render_docx(RECOVERY, ctx)))
    for expected in (
        f"contrat n° {NUMBER}", "Léa Fabre", "Courriel : lea.fabre@exemple.fr",
        "Toulouse, le 18 mars 2028", "rompu le 16 mars 2028", "Motif : démission",
        "Démission pour raisons personnelles",
        "montant perçu × jours non servis / jours dus, décomptés sur une base de 30 jours par mois (30E/360)",
        "195 jours sur 720 jours dus, soit 525 jours non servis", "1 479,68 €", "1 078,93 €",
        "mille soixante-dix-huit euros et quatre-vingt-treize centimes", "15 avril 2028",
        "1 479,68 € × 525 / 720 = 1 078,93 €", "2 157,86 €", "Tribunal administratif de Toulouse",
        "La Présidente de la Région Occitanie",
    ):  # fmt: skip
        assert expected in text, expected
    rows = [
        [plain(c.text) for c in row.cells]
        for row in Docx(str(tmp_path / "recovery.docx")).tables[0].rows
    ]
    assert rows[1:] == [
        ["Employeur", "1 479,68 €", "1 078,93 €",
         "mille soixante-dix-huit euros et quatre-vingt-treize centimes", "15 avril 2028"],
        ["Région", "1 479,68 €", "1 078,93 €",
         "mille soixante-dix-huit euros et quatre-vingt-treize centimes", "15 avril 2028"],
    ]  # fmt: skip


def test_the_recovery_order_computes_when_no_reimbursement_is_recorded(
    session: Session, scheme: Scheme, territory: Territory
) -> None:
    case = make_case(session)
    breach_during_service(session, case)
    for row in list(case.reimbursements):
        session.delete(row)
    session.flush()
    session.expire(case)
    ctx = recovery_order_context(
        case, scheme, territory, issued_on=D("2028-03-18"), place="Toulouse"
    )
    assert [(f["label"], plain(f["amount"]), plain(f["due"])) for f in ctx["funders"]] == [
        ("employeur", "1 078,93 €", "15 avril 2028"),
        ("Région", "1 078,93 €", "15 avril 2028"),
    ]


def test_an_exempted_breach_owes_nothing(
    session: Session, scheme: Scheme, territory: Territory, tmp_path: Path
) -> None:
    case = make_case(session)
    breach_during_service(session, case, exempted=True)
    ctx = recovery_order_context(
        case, scheme, territory, issued_on=D("2028-03-21"), place="Toulouse"
    )
    text = docx_text(write(tmp_path, "exempt.docx", render_docx(RECOVERY, ctx)))
    assert (
        "Par décision n° DEC-2028-017 prise par Direction des solidarités le 20 mars 2028" in text
    )
    assert "inaptitude médicale" in text and "aucune somme n'est due" in text
    assert "1 078,93" not in text and "redevable" not in text


def test_a_breach_before_service_repays_everything(
    session: Session, scheme: Scheme, territory: Territory, tmp_path: Path
) -> None:
    case = make_case(session, state=State.BREACHED, breach_date=D("2027-01-15"),
                     allowance_ended_on=D("2027-01-15"), breach_category="training_abandoned")  # fmt: skip
    ctx = recovery_order_context(
        case, scheme, territory, issued_on=D("2027-01-20"), place="Toulouse"
    )
    text = docx_text(write(tmp_path, "early.docx", render_docx(RECOVERY, ctx)))
    # September 120.00, October to December 150.00, January 14/31 × 150 = 67.74.
    assert "abandon de la formation" in text and "l'intégralité du montant perçu" in text
    assert "637,74 €" in text and "14 février 2027" in text
    assert "jours non servis (décompte" not in text


def test_the_completion_certificate(
    session: Session, scheme: Scheme, territory: Territory, tmp_path: Path
) -> None:
    case = make_case(session, state=State.COMPLETED, service_start=D("2027-09-01"),
                     diploma_date=D("2027-07-09"), allowance_ended_on=D("2027-09-01"))  # fmt: skip
    session.add(
        Suspension(case=case, start=D("2028-01-01"), end=D("2028-01-31"), reason="sick_leave")
    )
    session.flush()
    session.expire(case)
    ctx = completion_certificate_context(case, scheme, territory, issued_on=D("2029-10-05"),
                                         place="Toulouse")  # fmt: skip
    text = docx_text(write(tmp_path, "done.docx", render_docx(COMPLETION, ctx)))
    for expected in (
        "Léa Fabre", NUMBER, "EHPAD Les Genêts", "SIRET 73282932000074", "Mende",
        "du 1er septembre 2027 au 1er octobre 2029", "vingt-quatre mois (2 ans)",
        "1er janvier 2028", "31 janvier 2028", "31 jours",
        "arrêt de travail pour maladie de plus d'un mois", "Fait à Toulouse, le 5 octobre 2029",
    ):  # fmt: skip
        assert expected in text, expected


def test_the_amendment_for_a_suspension(
    session: Session, scheme: Scheme, territory: Territory, tmp_path: Path
) -> None:
    case = make_case(session, state=State.SERVING, service_start=D("2027-09-01"),
                     diploma_date=D("2027-07-09"), allowance_ended_on=D("2027-09-01"))  # fmt: skip
    session.add(
        Suspension(case=case, start=D("2028-01-01"), end=D("2028-01-31"), reason="maternity")
    )
    session.flush()
    session.expire(case)
    ctx = amendment_context(
        case, scheme, territory, issued_on=D("2028-01-01"), place="Toulouse", change="suspension",
        details={"from": "2028-01-01", "to": "2028-01-31", "reason": "maternity"},
    )  # fmt: skip
    text = docx_text(write(tmp_path, "avenant.docx", render_docx(AMENDMENT, ctx)))
    for expected in (
        f"Avenant n° 1 au contrat n° {NUMBER}", "Suspension de l'engagement de servir",
        "du 1er janvier 2028 au 31 janvier 2028 inclus (31 jours)", "congé de maternité",
        "fixée au 1er octobre 2029", "Léa Fabre", "EHPAD Les Genêts",
        "en trois exemplaires", "Nom, date et signature",
    ):  # fmt: skip
        assert expected in text, expected
    assert text.count("Nom, date et signature") == 3

    session.add(CaseEvent(case=case, seq=1, trigger="suspend", from_state=State.SERVING,
                          to_state=State.SERVING, effective_date=D("2028-01-01"), actor="t",
                          payload={}))  # fmt: skip
    session.flush()
    session.expire(case)
    running = amendment_context(
        case, scheme, territory, issued_on=D("2028-05-01"), place="Toulouse", change="suspension",
        details={"from": "2028-05-01", "to": "", "reason": "parental_leave"},
    )  # fmt: skip
    assert running["title"] == f"Avenant n° 2 au contrat n° {NUMBER}"
    assert "jusqu'à la reprise du service" in plain(" ".join(running["paragraphs"]))

    dates = amendment_context(
        case, scheme, territory, issued_on=D("2026-08-01"), place="Toulouse", change="dates",
        details={"training_end": "2027-07-09", "number": "3"},
    )  # fmt: skip
    text = docx_text(write(tmp_path, "dates.docx", render_docx(AMENDMENT, dates)))
    assert "Avenant n° 3" in text and "du 7 septembre 2026 au 9 juillet 2027" in text
    with pytest.raises(DocumentError, match="type de modification inconnu"):
        amendment_context(case, scheme, territory, issued_on=D("2026-08-01"), place="Toulouse",
                          change="tier", details={})  # fmt: skip


# -- the campaign's list of employers ------------------------------------------------------------


def test_the_campaign_list_for_the_institutes(
    session: Session, scheme: Scheme, territory: Territory, tmp_path: Path
) -> None:
    case = make_case(session)
    campaign = case.campaign
    other = Employer(name="SSIAD du Haut-Rouergue & Cie", siret="55210055400013",
                     commune_insee="12145", sector="home_care", recruitment_difficulty=True)  # fmt: skip
    session.add(Offer(campaign=campaign, employer=other, places=3))
    session.flush()
    offers = list(session.scalars(sa.select(Offer).order_by(Offer.id)))
    ctx = campaign_list_context(campaign, offers, scheme, territory, issued_on=D("2026-05-01"))
    text = docx_text(write(tmp_path, "list.docx", render_docx(CAMPAIGN, ctx)))
    for expected in (
        "rentrée 2026", "Liste arrêtée le 1er mai 2026", "EHPAD Les Genêts", "Mende (48095)",
        "Lozère (48)", "CC Coeur de Lozère (communauté de communes)", "personnes âgées",
        "SSIAD du Haut-Rouergue & Cie", "Millau (12145)", "Aveyron (12)", "aide à domicile",
        "2 employeur(s), 5 place(s)", "direction@ehpad-genets.fr",
        "150,00 € (employeur) + 150,00 € (Région) par mois de formation ; engagement de 2 ans",
    ):  # fmt: skip
        assert expected in text, expected
    # Sorted by département: Aveyron (12) before Lozère (48).
    assert [e["employer"] for e in ctx["employers"]] == [
        "SSIAD du Haut-Rouergue & Cie",
        "EHPAD Les Genêts",
    ]

    xlsx = tmp_path / "list.xlsx"
    xlsx.write_bytes(campaign_list_xlsx(ctx))
    sheet = load_workbook(xlsx).active
    assert sheet is not None
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Employeur", "SIRET", "Commune", "Code INSEE", "Département", "EPCI",
                       "Type d'EPCI", "Secteur", "Places", "Courriel"]  # fmt: skip
    assert rows[1][:4] == ["SSIAD du Haut-Rouergue & Cie", "55210055400013", "Millau", "12145"]
    assert rows[2][0] == "EHPAD Les Genêts" and rows[2][8] == 2
    assert rows[2][6] == "communauté de communes"
    assert sheet.auto_filter.ref == "A1:J3"
    assert sheet.freeze_panes == "A2"
    assert sheet.cell(1, 1).font.bold
