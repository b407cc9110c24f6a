"""The ARS Bourgogne-Franche-Comté scheme (seed 001) through its whole life, by configuration
alone (issue 13, "funders as data"): one funder, `ars`, paid by SEPA transfer from its own
account and signing the contract; the employer is not a party. Campaign, offer, a case signed
by the learner and the ARS (`contract sign --party ars`), the nightly payments, the ARS's SEPA
file validated against the XSD with the ARS as debtor, a breach and its reimbursement to the ARS.
Also: `export-sepa` without `--funder` into a folder writes one file per transfer funder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from tests.conftest import IBAN, World
from tests.integration.test_case_service import D, fire, signed_case, to_selected
from tests.integration.test_contracts import docx_text
from tests.integration.test_reports import Cli, make_cli
from workflow import cases, contracts, directory
from workflow.documents.store import default_store, stored_path
from workflow.errors import GuardFailed
from workflow.models import Case, Document, Payment, Reimbursement, SepaBatch
from workflow.sepa import NAMESPACE, validate_pain001

ARS = "ars-bfc-cae"
ARS_IBAN = "FR7610071210000000100123417"
ARS_BIC = "TRPUFRP1"
NS = {"p": NAMESPACE}


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    yield make_cli(monkeypatch)


def url(w: World) -> str:
    return w.engine.url.render_as_string(hide_password=False)


def ars_case(w: World) -> int:
    """An ARS campaign in Dijon, the CHU's offer, a nursing student: the case, `selected`."""
    uow = w.uow
    institute = directory.add_institute(uow(), name="IFSI de Dijon", commune="21231", schemes=[ARS],
                                        scheme_registry=w.schemes)  # fmt: skip
    campaign = directory.open_campaign(uow(), scheme_id=ARS, year=2026, scheme_registry=w.schemes)
    employer = directory.add_employer(uow(), name="CHU Dijon Bourgogne", siret="26210037300014",
                                      commune="21231", sector="hospital",
                                      recruitment_difficulty=False)  # fmt: skip
    offer = directory.list_employer(uow(), campaign_id=campaign, employer_id=employer, places=2,
                                    scheme_registry=w.schemes)  # fmt: skip
    learner = directory.add_learner(uow(), first_name="Zoé", last_name="Morel",
                                    birth_date=D("2001-02-03"), email="zoe@exemple.fr",
                                    institute_id=institute, training_start=D("2026-09-14"),
                                    training_end=D("2027-06-30"), iban=IBAN,
                                    today=D("2026-06-01"))  # fmt: skip
    case = cases.open_case(uow(), offer, learner, on=D("2026-06-01"))
    to_selected(w, case)
    return case


def debtor(xml: bytes) -> tuple[str | None, str | None, str | None]:
    root = ElementTree.fromstring(xml)
    return (
        root.findtext(".//p:PmtInf/p:Dbtr/p:Nm", namespaces=NS),
        root.findtext(".//p:PmtInf/p:DbtrAcct/p:Id/p:IBAN", namespaces=NS),
        root.findtext(".//p:PmtInf/p:DbtrAgt/p:FinInstnId/p:BIC", namespaces=NS),
    )


def payments_of(w: World, case: int) -> list[tuple[str, str, str, str]]:
    with w.engine.connect() as conn:
        rows = conn.execute(
            sa.select(Payment.period, Payment.funder, Payment.amount, Payment.status)
            .where(Payment.case_id == case)
            .order_by(Payment.period)
        ).all()
    return [(p.strftime("%Y-%m"), f, str(a), s) for p, f, a, s in rows]


def test_the_ars_scheme_pays_and_recovers_through_configuration_alone(
    world: World, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs.nightly import run_nightly

    w = world
    case = ars_case(w)
    contracts.generate_contract(w.uow(), case, tier="cae", on=D("2026-06-20"), schemes=w.schemes)

    # The parties are the learner and the ARS: the employer and the Région are not.
    for party in ("employer", "region"):
        refused = cli(url(w), "contract", "sign", str(case), "--party", party,
                      "--on", "2026-06-25", "--name", "X")  # fmt: skip
        assert refused.exit_code == 1
        assert f"partie inconnue « {party} » (parties : learner, ars)" in str(refused.exception)
    signed = cli(url(w), "contract", "sign", str(case), "--party", "learner",
                 "--on", "2026-06-25", "--name", "Zoé Morel", "--json")  # fmt: skip
    assert signed.exit_code == 0, signed.output
    assert json.loads(signed.stdout)["missing"] == ["ars"]
    with pytest.raises(GuardFailed, match=r"pas signé par le financeur \(l'Agence régionale"):
        fire(w, case, "sign", "2026-07-01")
    signed = cli(url(w), "contract", "sign", str(case), "--party", "ars", "--on", "2026-06-26",
                 "--name", "Le directeur général", "--json")  # fmt: skip
    assert signed.exit_code == 0, signed.output
    assert json.loads(signed.stdout)["missing"] == []
    assert fire(w, case, "sign", "2026-07-01").value == "contracted"

    # The contract: two parties, two originals, the ARS's block; the employer is named as the
    # establishment served, not as a party.
    with w.uow() as u:
        doc = u.session.scalars(
            sa.select(Document).where(Document.case_id == case, Document.kind == "contract")
        ).one()
        text = docx_text(default_store().root / stored_path(doc))
    assert "en deux exemplaires originaux" in text
    assert "CHU Dijon Bourgogne" in text and "qui n'est pas partie au présent contrat" in text
    assert "Pour l'Agence régionale de santé Bourgogne-Franche-Comté" in text
    assert "Le Directeur général de l'ARS Bourgogne-Franche-Comté" in text
    assert "Pour l'employeur" not in text and "L'apprenant(e)" in text
    assert (
        "versée chaque mois par l'Agence régionale de santé Bourgogne-Franche-Comté par "
        "virement" in text
    )

    # The nightly run: the ARS's shares, whole months, due on the 5th; none is the employer's.
    run_nightly(w.engine, D("2026-11-10"), schemes=w.schemes, send_mail=False)
    assert payments_of(w, case) == [
        ("2026-09", "ars", "600.00", "due"),
        ("2026-10", "ars", "600.00", "due"),
    ]

    # No ARS account configured: a French error naming the setting, nothing exported.
    out = tmp_path / "ars.xml"
    export = ("payments", "export-sepa", "--period", "2026-09", "--funder", "ars",
              "--out", str(out), "--on", "2026-11-12", "--json")  # fmt: skip
    missing = cli(url(w), *export)
    assert missing.exit_code == 1
    assert "FIDELIS_SEPA_ARS_IBAN, FIDELIS_SEPA_ARS_BIC" in str(missing.exception)
    assert not out.exists() and payments_of(w, case)[0][3] == "due"

    monkeypatch.setenv("FIDELIS_SEPA_ARS_IBAN", ARS_IBAN)
    monkeypatch.setenv("FIDELIS_SEPA_ARS_BIC", ARS_BIC)
    result = cli(url(w), *export)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["funder"], data["count"], data["total"], data["reused"]) == (
        "ars",
        1,
        "600.00",
        False,
    )
    assert data["path"] == str(out) and [f["path"] for f in data["files"]] == [str(out)]
    xml = out.read_bytes()
    validate_pain001(xml)
    assert debtor(xml) == ("ARS BOURGOGNE-FRANCHE-COMTE", ARS_IBAN, ARS_BIC)
    assert payments_of(w, case)[0][3] == "exported"
    with w.engine.connect() as conn:
        assert conn.execute(sa.select(SepaBatch.funder)).scalars().all() == ["ars"]
    # The Région has nothing to do with it: refused, in French.
    region = cli(url(w), "payments", "export-sepa", "--period", "2026-09", "--funder", "region",
                 "--out", str(tmp_path / "region.xml"))  # fmt: skip
    assert region.exit_code == 1
    assert "Aucun paiement de la Région Occitanie" in str(region.exception)
    assert not (tmp_path / "region.xml").exists()

    # Service, then a breach in its fourth month: the sliding scale makes it 100 %, owed to
    # the ARS, and the recovery order says the ARS recovers it by a « titre de recette ».
    fire(w, case, "start_service", "2027-07-15", params={"diploma_date": "2027-07-05"})
    fire(w, case, "breach", "2027-11-20", reason="Démission", params={"category": "resignation"})
    with w.uow() as u:
        owed = u.session.execute(
            sa.select(Reimbursement.funder, Reimbursement.amount).where(
                Reimbursement.case_id == case
            )
        ).all()
        letter = u.session.scalars(
            sa.select(Document).where(Document.case_id == case, Document.kind == "recovery_order")
        ).one()
        letter_text = docx_text(default_store().root / stored_path(letter))
        state = u.session.get(Case, case).state  # type: ignore[union-attr]
    assert state == "breached"
    assert [(f, str(a)) for f, a in owed] == [("ars", "6000.00")]  # 10 months × 600.00
    assert (
        "Part ARS : l'Agence régionale de santé Bourgogne-Franche-Comté vous adressera le titre "
        "de recette correspondant" in letter_text
    )
    assert "à reverser directement à l'employeur" not in letter_text
    assert "conclu avec l'Agence régionale de santé Bourgogne-Franche-Comté, vous" in letter_text


def test_export_without_funder_into_a_folder_writes_one_file_per_transfer_funder(
    world: World, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs.nightly import run_nightly

    w = world
    occitanie = signed_case(w)
    ars = ars_case(w)
    contracts.generate_contract(w.uow(), ars, tier="cae", on=D("2026-06-20"), schemes=w.schemes)
    for party in ("learner", "ars"):
        contracts.sign_contract(w.uow(), ars, party=party, on=D("2026-06-25"), name="S",
                                schemes=w.schemes)  # fmt: skip
    fire(w, ars, "sign", "2026-07-01")
    run_nightly(w.engine, D("2026-11-10"), schemes=w.schemes, send_mail=False)

    # A single file cannot hold two debtors: asked which, nothing exported.
    one = cli(url(w), "payments", "export-sepa", "--period", "2026-09",
              "--out", str(tmp_path / "un.xml"))  # fmt: skip
    assert one.exit_code == 1
    assert "Plusieurs financeurs ont des virements pour 09/2026 (ars, region)" in str(one.exception)
    assert not (tmp_path / "un.xml").exists()

    folder = tmp_path / "virements"
    folder.mkdir()
    args = ("payments", "export-sepa", "--period", "2026-09", "--out", str(folder),
            "--on", "2026-11-12", "--json")  # fmt: skip
    # One funder's account missing: said before any file, the Région's included, is written.
    unset = cli(url(w), *args)
    assert unset.exit_code == 1 and "FIDELIS_SEPA_ARS_IBAN" in str(unset.exception)
    assert list(folder.iterdir()) == []
    assert {s for p, f, _, s in payments_of(w, occitanie) if f == "region"} == {"due"}

    monkeypatch.setenv("FIDELIS_SEPA_ARS_IBAN", ARS_IBAN)
    monkeypatch.setenv("FIDELIS_SEPA_ARS_BIC", ARS_BIC)
    result = cli(url(w), *args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    files: list[dict[str, Any]] = data["files"]
    assert [(f["funder"], f["count"], f["total"]) for f in files] == [
        ("ars", 1, "600.00"),  # the schemes' order: their files' names
        ("region", 1, "120.00"),  # September from the 7th: 24/30 of 150.00
    ]
    assert (data["count"], data["total"], data["batch"], data["path"]) == (
        2,
        "720.00",
        None,
        str(folder),
    )
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(f"{f['funder']}-{f['message_id']}.xml" for f in files)
    debtors = {}
    for f in files:
        xml = Path(f["path"]).read_bytes()
        validate_pain001(xml)
        debtors[f["funder"]] = debtor(xml)[0]
    assert debtors == {"region": "REGION OCCITANIE", "ars": "ARS BOURGOGNE-FRANCHE-COMTE"}
    assert {s for *_, s in payments_of(w, ars) if _[0] == "2026-09"} == {"exported"}
    statuses = {(p, f): s for p, f, _, s in payments_of(w, occitanie)}
    assert statuses[("2026-09", "region")] == "exported"
    assert statuses[("2026-09", "employer")] == "notified"  # the employer pays its own share

    # Again: nothing new, each funder's batch re-exported, the same bytes.
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    again = cli(url(w), *args)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["reused"] is True
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
