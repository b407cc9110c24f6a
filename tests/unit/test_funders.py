"""Funders as data (issue 13, item 3): each scheme declares its funders — label, payment channel,
signature, recovery — and the code reads them from there: who is paid by SEPA transfer (and from
which account), who by the employer's statement, who signs the contract. The refusals of a
wrong declaration are in tests/unit/test_scheme_errors.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow.errors import FidelisError, InvalidInput
from workflow.paths import config_dir
from workflow.payments import debtor_of, statement_funders, transfer_funders
from workflow.schemes import SchemeError, SchemeRegistry, load_scheme

SCHEMES = config_dir() / "schemes"
OCCITANIE = SCHEMES / "occitanie-fidelisation-as.yaml"
ARS = SCHEMES / "ars-bfc-cae.yaml"
REGISTRY = SchemeRegistry.load([SCHEMES])


def test_the_declarations_say_channel_signature_and_recovery() -> None:
    occ, ars = load_scheme(OCCITANIE), load_scheme(ARS)
    assert occ.funders == ("employer", "region") and ars.funders == ("ars",)
    assert occ.funders_paid_by("statement") == ("employer",)
    assert occ.funders_paid_by("transfer") == ("region",)
    assert ars.funders_paid_by("transfer") == ("ars",) and ars.funders_paid_by("statement") == ()
    assert occ.signing_parties() == ("learner", "employer", "region")
    assert ars.signing_parties() == ("learner", "ars")
    assert occ.funder("employer").recovery.channel == "employer"
    assert ars.funder("ars").payee() == "l'Agence régionale de santé Bourgogne-Franche-Comté"
    assert ars.party_label("ars") == (
        "le financeur (l'Agence régionale de santé Bourgogne-Franche-Comté)"
    )
    assert occ.party_label("employer") == "l'employeur"
    with pytest.raises(FidelisError, match="Financeur inconnu pour le dispositif ars-bfc-cae"):
        ars.funder("region")


def test_the_registry_lists_transfer_and_statement_funders() -> None:
    assert transfer_funders(REGISTRY) == ("ars", "region")
    assert statement_funders(REGISTRY) == ("employer",)


def _copy(tmp_path: Path, source: Path, old: str, new: str, name: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    folder = tmp_path / "schemes"
    folder.mkdir(exist_ok=True)
    target = folder / f"{name}.yaml"
    target.write_text(text.replace(old, new, 1).replace(f"id: {source.stem}", f"id: {name}"))
    return folder


def test_a_funder_code_names_one_payer_across_schemes(tmp_path: Path) -> None:
    # A second ARS scheme whose `ars` debits another account: one SEPA file per funder could
    # not hold both.
    folder = _copy(tmp_path, ARS, "debtor: {name: ARS BOURGOGNE-FRANCHE-COMTE}",
                   "debtor: {name: UNE AUTRE ARS}", "ars-autre")  # fmt: skip
    with pytest.raises(
        SchemeError, match=r"ars-autre: funders\.ars: .* autrement dans le dispositif ars-bfc-cae"
    ):
        SchemeRegistry.load([SCHEMES, folder])


def test_the_debtor_account_is_the_funders_own(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("NAME", "IBAN", "BIC"):
        for funder in ("ARS", "REGION"):
            monkeypatch.delenv(f"FIDELIS_SEPA_{funder}_{key}", raising=False)
        monkeypatch.delenv(f"FIDELIS_DEBTOR_{key}", raising=False)
    # The ARS: its name from the scheme, its IBAN and BIC to be set.
    with pytest.raises(InvalidInput) as missing:
        debtor_of("ars", REGISTRY)
    assert (
        "Compte à débiter de l'Agence régionale de santé Bourgogne-Franche-Comté non "
        "configuré : renseignez FIDELIS_SEPA_ARS_IBAN, FIDELIS_SEPA_ARS_BIC" in str(missing.value)
    )
    monkeypatch.setenv("FIDELIS_SEPA_ARS_IBAN", "FR76 1007 1210 0000 0010 0123 417")
    monkeypatch.setenv("FIDELIS_SEPA_ARS_BIC", "TRPUFRP1")
    ars = debtor_of("ars", REGISTRY)
    assert (ars.name, ars.iban, ars.bic) == (
        "ARS BOURGOGNE-FRANCHE-COMTE",
        "FR76 1007 1210 0000 0010 0123 417",
        "TRPUFRP1",
    )
    monkeypatch.setenv("FIDELIS_SEPA_ARS_NAME", "ARS BFC AGENCE COMPTABLE")
    assert debtor_of("ars", REGISTRY).name == "ARS BFC AGENCE COMPTABLE"  # the setting wins
    # The Région: the older FIDELIS_DEBTOR_* still give its account, under FIDELIS_SEPA_REGION_*.
    assert debtor_of("region", REGISTRY).name == "REGION OCCITANIE"
    monkeypatch.setenv("FIDELIS_DEBTOR_NAME", "REGION OCCITANIE PAIERIE")
    assert debtor_of("region", REGISTRY).name == "REGION OCCITANIE PAIERIE"
    monkeypatch.setenv("FIDELIS_SEPA_REGION_NAME", "PAIERIE REGIONALE")
    assert debtor_of("region", REGISTRY).name == "PAIERIE REGIONALE"


@pytest.mark.parametrize(
    ("funder", "words"),
    [("employer", "n'est pas un financeur payé par virement"), ("cnsa", "« cnsa » n'est pas")],
)
def test_only_a_transfer_funder_has_a_debtor_account(funder: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words) as refused:
        debtor_of(funder, REGISTRY)
    assert "financeurs payés par virement : ars, region" in str(refused.value)
