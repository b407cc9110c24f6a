"""`fidelis scheme check FILE` and `fidelis scheme show ID --on D` in a subprocess (issue 13,
item 5): a scheme file is judged before it is installed, in French, never with a traceback; the
values in force on a date are shown with their references."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIDELIS = str(Path(sys.executable).parent / "fidelis")
SCHEMES = Path(__file__).resolve().parents[2] / "config" / "schemes"
ARS = SCHEMES / "ars-bfc-cae.yaml"


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FIDELIS_DB": str(tmp_path / "fidelis.db"),
        "COLUMNS": "300",
    }
    return subprocess.run(
        [FIDELIS, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_a_good_file_is_said_valid(tmp_path: Path) -> None:
    result = run(tmp_path, "scheme", "check", str(ARS))
    assert result.returncode == 0, result.stderr
    assert "Fichier valide : ars-bfc-cae" in result.stdout
    assert "1 palier(s) (cae), financeur(s) ars" in result.stdout


def test_a_bad_file_lists_every_mistake_in_french_and_exits_1(tmp_path: Path) -> None:
    text = ARS.read_text(encoding="utf-8")
    for old, new in [
        ('2026-01-01: {value: "600.00"', '2027-02-30: {value: "600.00"'),
        ("{within_months: 12,", "{within_months: 6,"),
        ("[medical_inaptitude, force_majeure]", "[medical_inaptitude, luck]"),
    ]:
        assert old in text
        text = text.replace(old, new, 1)
    bad = tmp_path / "ars-bfc-cae.yaml"
    bad.write_text(text, encoding="utf-8")
    result = run(tmp_path, "scheme", "check", str(bad))
    assert result.returncode == 1
    said = " ".join(result.stderr.split())
    assert f"{bad}: tiers.cae.monthly.ars.2027-02-30: date invalide ou impossible" in said
    assert "breach.exempting_reasons.1: valeur inconnue" in said
    assert "Traceback" not in result.stderr + result.stdout
    assert "Input should" not in said


def test_a_missing_file_is_said_in_french(tmp_path: Path) -> None:
    result = run(tmp_path, "scheme", "check", str(tmp_path / "absent.yaml"))
    assert result.returncode == 1
    assert "absent.yaml: fichier introuvable" in " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("on", "amount", "reference"),
    [
        ("2025-06-30", "500.00", "Décision du directeur général de l'ARS Bourgogne"),
        ("2026-01-01", "600.00", "Décision du directeur général de l'ARS Bourgogne"),
    ],
)
def test_show_on_a_date_gives_the_values_then_in_force(
    tmp_path: Path, on: str, amount: str, reference: str
) -> None:
    result = run(tmp_path, "scheme", "show", "ars-bfc-cae", "--on", on, "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["id"] == "ars-bfc-cae"  # the file's own keys are kept
    assert "2026-01-01" in shown["tiers"]["cae"]["monthly"]["ars"]["values"]
    current = shown["in_force"]
    assert current["on"] == on
    monthly = current["tiers"]["cae"]["monthly"]["ars"]
    assert monthly["value"] == amount and monthly["reference"].startswith(reference)
    assert current["tiers"]["cae"]["commitment_months"]["value"] == 18
    assert current["breach"]["rule"]["value"]["kind"] == "sliding_scale"
    assert current["breach"]["recovery_days"]["value"] == 60
    assert current["part_time"] == "full" and current["proration"] == "whole_months"
    assert [r["code"] for r in current["suspension_reasons"]] == [
        "maternity",
        "paternity",
        "adoption",
        "sick_leave",
    ]
    assert current["funders"] == shown["funders"] == ["ars"]  # the codes, as ever (SPEC §7)
    assert shown["funder_declarations"]["ars"]["channel"] == "transfer"


def test_show_before_the_first_value_says_none_is_in_force(tmp_path: Path) -> None:
    result = run(tmp_path, "scheme", "show", "ars-bfc-cae", "--on", "2023-12-31", "--json")
    current = json.loads(result.stdout)["in_force"]
    assert current["tiers"]["cae"]["monthly"]["ars"] is None
    assert current["breach"]["rule"] is None
    words = run(tmp_path, "scheme", "show", "ars-bfc-cae", "--on", "2023-12-31").stdout
    assert "pas encore en vigueur" in words


def test_show_reads_the_rules_in_french(tmp_path: Path) -> None:
    result = run(tmp_path, "scheme", "show", "occitanie-fidelisation-as", "--on", "2027-01-01")
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert "Valeurs en vigueur le 01/01/2027" in said
    assert "remboursement au prorata des jours non servis" in said
    assert "arrêt de travail pour maladie de plus d'un mois (au moins 31 jours)" in said
    assert "le service à temps partiel compte au prorata de la quotité" in said
    assert "depuis le 01/09/2018 [1]" in said and "[1] Région Occitanie" in said
    assert "sick_leave" not in said and "prorata_unserved" not in said
    json_out = run(tmp_path, "scheme", "show", "occitanie-fidelisation-as", "--json").stdout
    sick = json.loads(json_out)["in_force"]["suspension_reasons"][4]
    assert sick == {
        "code": "sick_leave",
        "label": "arrêt de travail pour maladie de plus d'un mois",
        "min_days": 31,
    }
