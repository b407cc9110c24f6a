"""The territory data (config/territory/communes.csv, from Etalab's découpage administratif) and the
rurality rule of SPEC §2, plus the script that rebuilds the data file."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from workflow.errors import FidelisError
from workflow.paths import ROOT
from workflow.territory import (
    URBAN_EPCI_TYPES,
    Commune,
    MalformedInsee,
    Territory,
    UnknownCommune,
    default_territory,
    is_rural,
)

SCRIPT = ROOT / "scripts" / "build_territory.py"


@pytest.fixture(scope="module")
def territory() -> Territory:
    return default_territory()


# -- the committed data -------------------------------------------------------------------------

# (INSEE, name, département, EPCI name, EPCI type, rural), checked against the 2026 data.
REAL_COMMUNES = [
    ("48095", "Mende", "48", "CC Coeur de Lozère", "CC", True),
    ("12145", "Millau", "12", "CC de Millau Grands Causses", "CC", True),
    ("09261", "Saint-Girons", "09", "CC Couserans-Pyrénées", "CC", True),
    ("32107", "Condom", "32", "CC de la Tenarèze", "CC", True),
    ("46102", "Figeac", "46", "CC Grand-Figeac", "CC", True),
    ("65059", "Bagnères-de-Bigorre", "65", "CC de la Haute-Bigorre", "CC", True),
    ("81060", "Carmaux", "81", "CC Carmausin-Ségala", "CC", True),
    ("31555", "Toulouse", "31", "Toulouse Métropole", "METRO", False),
    ("81004", "Albi", "81", "CA de l'Albigeois (C2A)", "CA", False),
    ("65286", "Lourdes", "65", "CA Tarbes-Lourdes-Pyrénées", "CA", False),
    ("66136", "Perpignan", "66", "CU Perpignan Méditerranée Métropole", "CU", False),
]


@pytest.mark.parametrize(("insee", "name", "dep", "epci", "epci_type", "rural"), REAL_COMMUNES)
def test_real_occitanie_communes(
    territory: Territory, insee: str, name: str, dep: str, epci: str, epci_type: str, rural: bool
) -> None:
    commune = territory.commune(insee)
    assert (commune.name, commune.departement, commune.region) == (name, dep, "76")
    assert (commune.epci_name, commune.epci_type) == (epci, epci_type)
    assert commune.epci_siren is not None and len(commune.epci_siren) == 9
    assert is_rural(commune) is rural


def test_lyon_in_the_metropole_de_lyon_is_not_rural(territory: Territory) -> None:
    lyon = territory.commune("69123")
    assert (lyon.name, lyon.region, lyon.epci_type) == ("Lyon", "84", "MET69")
    assert not is_rural(lyon)


def test_a_rural_commune_outside_occitanie(territory: Territory) -> None:
    saint_flour = territory.commune("15187")
    assert (saint_flour.name, saint_flour.region, saint_flour.epci_type) == (
        "Saint-Flour",
        "84",
        "CC",
    )
    assert is_rural(saint_flour)


def test_a_commune_in_no_epci_counts_as_rural(territory: Territory) -> None:
    ouessant = territory.commune("29155")
    assert ouessant.name == "Ouessant"
    assert (ouessant.epci_siren, ouessant.epci_name, ouessant.epci_type) == (None, None, None)
    assert is_rural(ouessant)


def test_corsican_codes(territory: Territory) -> None:
    ajaccio = territory.commune("2A004")
    assert (ajaccio.name, ajaccio.departement, ajaccio.region) == ("Ajaccio", "2A", "94")
    assert ajaccio.epci_type == "CA" and not is_rural(ajaccio)
    corte = territory.commune("2B096")
    assert (corte.name, corte.epci_type) == ("Corte", "CC") and is_rural(corte)
    assert territory.commune(" 2a004 ") == ajaccio


def test_codes_are_stripped(territory: Territory) -> None:
    assert territory.commune(" 31555\n").name == "Toulouse"
    assert " 31555 " in territory


def test_unknown_code(territory: Territory) -> None:
    with pytest.raises(UnknownCommune) as caught:
        territory.commune("99999")
    assert str(caught.value) == (
        "Commune inconnue : code INSEE « 99999 » introuvable dans le découpage administratif."
    )
    assert caught.value.insee == "99999"
    assert isinstance(caught.value, LookupError) and isinstance(caught.value, FidelisError)
    assert "99999" not in territory
    assert territory.get("99999") is None


@pytest.mark.parametrize("bad", ["", "3155", "315555", "31A55", "2C004", "ABCDE", "31 55"])
def test_malformed_codes(territory: Territory, bad: str) -> None:
    with pytest.raises(MalformedInsee, match="Code INSEE invalide") as caught:
        territory.commune(bad)
    assert isinstance(caught.value, UnknownCommune)
    assert bad not in territory


def test_non_string_is_not_contained(territory: Territory) -> None:
    assert 31555 not in territory
    assert None not in territory


def test_only_current_communes(territory: Territory) -> None:
    assert len(territory) > 34_000
    # Arrondissements municipaux (Paris 1er 75101, Lyon 1er 69381, Marseille 1er 13201) are left out.
    for arrondissement in ("75101", "69381", "13201"):
        assert arrondissement not in territory
    assert territory.commune("75056").name == "Paris"


def test_communes_in_region(territory: Territory) -> None:
    occitanie = territory.communes_in_region("76")
    assert 4_000 < len(occitanie) < 5_000
    assert {c.departement for c in occitanie} == {
        "09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82",
    }  # fmt: skip
    assert [c.insee for c in occitanie] == sorted(c.insee for c in occitanie)
    assert territory.communes_in_region("00") == []


def test_every_epci_type_is_known(territory: Territory) -> None:
    types = {c.epci_type for c in territory}
    assert types == {"CA", "CC", "CU", "METRO", "MET69", None}


def test_committed_file_is_sorted_and_documented() -> None:
    path = ROOT / "config" / "territory" / "communes.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [
        "insee",
        "name",
        "departement",
        "region",
        "epci_siren",
        "epci_name",
        "epci_type",
    ]
    codes = [row[0] for row in rows[1:]]
    assert codes == sorted(codes) and len(set(codes)) == len(codes)
    source = (ROOT / "config" / "territory" / "SOURCE.md").read_text(encoding="utf-8")
    assert "@etalab/decoupage-administratif" in source and "Licence Ouverte" in source


def test_default_territory_is_cached() -> None:
    assert default_territory() is default_territory()


def test_config_dir_can_be_moved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "territory").mkdir()
    (tmp_path / "territory" / "communes.csv").write_text(
        "insee,name,departement,region,epci_siren,epci_name,epci_type\n48095,Mende,48,76,,,\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("FIDELIS_CONFIG_DIR", str(tmp_path))
    assert len(Territory.load()) == 1


def test_load_rejects_a_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "communes.csv"
    path.write_text("code,nom\n31555,Toulouse\n", encoding="utf-8")
    with pytest.raises(ValueError, match="en-tête"):
        Territory.load(path)
    with pytest.raises(FileNotFoundError, match="build_territory"):
        Territory.load(tmp_path / "missing.csv")


# -- the rule -----------------------------------------------------------------------------------


def _commune(epci_type: str | None) -> Commune:
    return Commune(
        "00001", "X", "00", "76", None if epci_type is None else "200000000", None, epci_type
    )


@pytest.mark.parametrize(
    ("epci_type", "rural"),
    [("CC", True), ("CA", False), ("CU", False), ("METRO", False), ("MET69", False), (None, True)],
)
def test_rurality_rule(epci_type: str | None, rural: bool) -> None:
    assert is_rural(_commune(epci_type)) is rural


def test_a_scheme_may_choose_its_urban_types() -> None:
    assert {"CA", "CU", "METRO", "MET69"} == set(URBAN_EPCI_TYPES)
    assert is_rural(_commune("CA"), frozenset({"METRO", "MET69"}))
    assert not is_rural(_commune("CC"), frozenset({"CC"}))


# -- the build script ---------------------------------------------------------------------------


def _fake_package(root: Path, epci_extra: list[dict[str, object]] | None = None) -> Path:
    package = root / "package"
    (package / "data").mkdir(parents=True)
    (package / "package.json").write_text(
        json.dumps({"name": "@etalab/decoupage-administratif", "version": "9.9.9"}),
        encoding="utf-8",
    )

    def commune(
        code: str, nom: str, dep: str, reg: str, kind: str = "commune-actuelle"
    ) -> dict[str, object]:
        return {
            "code": code,
            "nom": nom,
            "departement": dep,
            "region": reg,
            "type": kind,
            "zone": "metro",
        }

    communes = [
        commune("48095", "Mende", "48", "76"),
        commune("31555", "Toulouse", "31", "76"),
        commune("2A004", "Ajaccio", "2A", "94"),
        commune("29155", "Ouessant", "29", "53"),
        commune("69123", "Lyon", "69", "84"),
        commune("69381", "Lyon 1er Arrondissement", "69", "84", "arrondissement-municipal"),
        commune("48095", "Mende", "48", "76", "commune-deleguee"),
        commune("48001", "Ancienne commune", "48", "76", "commune-associee"),
        {**commune("98735", "Papeete", "987", "987"), "zone": "com"},
    ]
    epci = [
        {
            "code": "200000001",
            "nom": "CC Coeur de Lozère",
            "type": "CC",
            "membres": [{"code": "48095", "nom": "Mende"}],
        },
        {
            "code": "243100518",
            "nom": "Toulouse Métropole",
            "type": "METRO",
            "membres": [{"code": "31555", "nom": "Toulouse"}],
        },
        {
            "code": "242010056",
            "nom": "CA du Pays Ajaccien",
            "type": "CA",
            "membres": [{"code": "2A004", "nom": "Ajaccio"}],
        },
        {
            "code": "200046977",
            "nom": "Métropole de Lyon",
            "type": "MET69",
            "membres": [{"code": "69123", "nom": "Lyon"}],
        },
        *(epci_extra or []),
    ]
    departements = [{"code": d, "region": r, "nom": d} for d, r in
                    [("48", "76"), ("31", "76"), ("2A", "94"), ("29", "53"), ("69", "84")]]  # fmt: skip
    regions = [{"code": r, "nom": r} for r in ("76", "94", "53", "84", "987")]
    for name, data in [("communes", communes), ("epci", epci), ("departements", departements),
                       ("regions", regions), ("arrondissements", [])]:  # fmt: skip
        (package / "data" / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")
    return package


def _run(package: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--package-dir", str(package), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_build_script_on_a_tiny_package(tmp_path: Path) -> None:
    package = _fake_package(tmp_path)
    out = tmp_path / "out" / "communes.csv"
    result = _run(package, out)
    assert result.returncode == 0, result.stderr
    assert "Wrote 6 communes" in result.stdout
    assert out.read_text(encoding="utf-8").splitlines() == [
        "insee,name,departement,region,epci_siren,epci_name,epci_type",
        "29155,Ouessant,29,53,,,",
        "2A004,Ajaccio,2A,94,242010056,CA du Pays Ajaccien,CA",
        "31555,Toulouse,31,76,243100518,Toulouse Métropole,METRO",
        "48095,Mende,48,76,200000001,CC Coeur de Lozère,CC",
        "69123,Lyon,69,84,200046977,Métropole de Lyon,MET69",
        "98735,Papeete,987,987,,,",
    ]
    source = (out.parent / "SOURCE.md").read_text(encoding="utf-8")
    assert "@etalab/decoupage-administratif" in source and "9.9.9" in source
    assert "Licence Ouverte" in source and "MIT" in source

    built = Territory.load(out)
    assert len(built) == 6
    assert is_rural(built.commune("48095")) and is_rural(built.commune("29155"))
    assert not is_rural(built.commune("31555")) and not is_rural(built.commune("69123"))
    assert "69381" not in built and "48001" not in built


def test_build_script_accepts_the_data_folder_and_is_deterministic(tmp_path: Path) -> None:
    package = _fake_package(tmp_path)
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    assert _run(package, first).returncode == 0
    assert _run(package / "data", second).returncode == 0
    assert first.read_bytes() == second.read_bytes()


def test_build_script_refuses_inconsistent_data(tmp_path: Path) -> None:
    stray = {
        "code": "200000002",
        "nom": "CC Fantôme",
        "type": "CC",
        "membres": [{"code": "99999", "nom": "?"}],
    }
    package = _fake_package(tmp_path, [stray])
    out = tmp_path / "communes.csv"
    result = _run(package, out)
    assert result.returncode == 1
    assert "99999" in result.stderr
    assert not out.exists()


def test_build_script_refuses_a_commune_in_two_epci(tmp_path: Path) -> None:
    twice = {
        "code": "200000003",
        "nom": "CC Bis",
        "type": "CC",
        "membres": [{"code": "48095", "nom": "Mende"}],
    }
    result = _run(_fake_package(tmp_path, [twice]), tmp_path / "communes.csv")
    assert result.returncode == 1 and "two EPCI" in result.stderr
