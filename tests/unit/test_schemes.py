"""Scheme files: the Occitanie scheme as SPEC §2/§4 describe it, the ARS fixture, dated values,
and loader errors that name the file and the key."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from workflow import money
from workflow.paths import config_dir
from workflow.schemes import SchemeError, SchemeRegistry, UnknownScheme, load_scheme

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "schemes"
OCCITANIE = config_dir() / "schemes" / "occitanie-fidelisation-as.yaml"


def test_occitanie_scheme_is_spec_2_and_4() -> None:
    s = load_scheme(OCCITANIE)
    on = date(2026, 7, 1)
    assert (s.id, s.contract_prefix, s.region_code) == ("occitanie-fidelisation-as", "OCC-AS", "76")
    assert s.monthly("2x150", on) == {"employer": Decimal("150.00"), "region": Decimal("150.00")}
    assert s.monthly("2x200", on) == {"employer": Decimal("200.00"), "region": Decimal("200.00")}
    assert (s.commitment_months("2x150", on), s.commitment_months("2x200", on)) == (24, 36)
    assert s.allowance.proration == "calendar_days"
    assert s.payment_day(on) == 10
    assert s.breach_rule(on) == money.ProrataUnserved()
    assert set(s.breach.exempting_reasons) == {
        "diploma_failed", "medical_inaptitude", "force_majeure", "employer_default",
        "employer_closure",
    }  # fmt: skip
    assert set(s.eligibility.sectors) == {"home_care", "elderly", "disability"}
    assert s.eligibility.rurality is not None
    assert s.eligibility.rurality.urban_epci_types == {"CA", "CU", "METRO", "MET69"}
    assert s.tiers["2x150"].monthly["region"].entry_at(on).reference


def test_the_ars_scheme_is_configuration_only() -> None:
    reg = SchemeRegistry.load([config_dir() / "schemes", FIXTURES])
    ars = reg["ars-bfc-cae"]
    assert ars.funders == ("ars",)
    assert ars.commitment_months("cae", date(2025, 1, 1)) == 18
    assert ars.breach_rule(date(2025, 1, 1)) == money.SlidingScale(
        steps=(money.SlidingStep(6, Decimal(1)), money.SlidingStep(12, Decimal("0.5"))),
        after=Decimal(0),
    )


def test_dated_values_apply_from_their_date_and_never_rewrite_older_contracts() -> None:
    ars = load_scheme(config_dir() / "schemes" / "ars-bfc-cae.yaml")
    assert ars.monthly("cae", date(2025, 12, 31)) == {"ars": Decimal("500.00")}
    assert ars.monthly("cae", date(2026, 1, 1)) == {"ars": Decimal("600.00")}
    with pytest.raises(SchemeError, match="aucune valeur en vigueur"):
        ars.monthly("cae", date(2023, 12, 31))


def test_unknown_scheme_lists_the_known_ones() -> None:
    reg = SchemeRegistry.load([config_dir() / "schemes"])
    with pytest.raises(UnknownScheme, match="occitanie-fidelisation-as"):
        reg["nope"]
    assert "nope" not in reg


def _broken(tmp_path: Path, edit: object) -> Path:
    data = yaml.safe_load(OCCITANIE.read_text(encoding="utf-8"))
    edit(data)  # type: ignore[operator]
    path = tmp_path / "occitanie-fidelisation-as.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "key", "words"),
    [
        (lambda d: d.update(colour="blue"), "colour", "clé inconnue"),
        (
            lambda d: d["tiers"]["2x150"]["monthly"]["region"].update(
                {"2018-13-45": {"value": "1", "reference": "x"}}
            ),
            "tiers.2x150.monthly.region.2018-13-45",
            "date",
        ),
        (lambda d: d["tiers"]["2x200"]["monthly"].pop("employer"), "tiers.2x200.monthly", "employer"),
        (
            lambda d: d["tiers"]["2x150"]["monthly"]["employer"].update(
                {date(2018, 9, 1): {"value": "-150.00", "reference": "x"}}
            ),
            "tiers.2x150.monthly.employer.2018-09-01.value",
            "strictement supérieur à 0",
        ),
        (lambda d: d["tiers"]["2x150"].pop("commitment_months"), "tiers.2x150.commitment_months",
         "champ obligatoire"),
        (lambda d: d["breach"].update(exempting_reasons=["bad_luck"]), "breach.exempting_reasons.0",
         "valeurs possibles"),
        (lambda d: d.update(id="other-id"), "id", "doit être le nom du fichier"),
    ],
)  # fmt: skip
def test_loader_errors_name_the_file_and_the_key(
    tmp_path: Path, edit: object, key: str, words: str
) -> None:
    path = _broken(tmp_path, edit)
    with pytest.raises(SchemeError) as error:
        load_scheme(path)
    message = str(error.value)
    assert str(path) in message
    assert f": {key}" in message
    assert words in message


def test_invalid_yaml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(SchemeError, match=r"x\.yaml: YAML invalide"):
        load_scheme(path)
