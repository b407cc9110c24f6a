#!/usr/bin/env python3
"""Rebuild `config/territory/communes.csv` from the npm package `@etalab/decoupage-administratif`.

The package (Etalab / DINUM, code MIT, data Licence Ouverte) holds the Code officiel géographique
of INSEE and the DGCL list of EPCI à fiscalité propre as JSON. This script keeps one row per
current commune (type "commune-actuelle": not the arrondissements municipaux of Paris, Lyon and
Marseille, nor the communes déléguées or associées) with its département, région and EPCI
(SIREN, name, type CA/CC/CU/METRO/MET69; empty for the few communes in no EPCI), sorted by INSEE
code, and writes `SOURCE.md` beside the CSV with the package version and licence.

    python scripts/build_territory.py                      # npm pack the pinned version
    python scripts/build_territory.py --version 6.1.0      # another millésime
    python scripts/build_territory.py --package-dir DIR     # an already extracted package

Standard library only; `npm` is needed only without --package-dir.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE = "@etalab/decoupage-administratif"
DEFAULT_VERSION = "6.0.0"  # millésime 2026 (see the package README's table)
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "config" / "territory" / "communes.csv"
COLUMNS = ("insee", "name", "departement", "region", "epci_siren", "epci_name", "epci_type")
EPCI_TYPES = frozenset({"CA", "CC", "CU", "METRO", "MET69"})
CURRENT_COMMUNE = "commune-actuelle"


class BuildError(Exception):
    """The package's data is not what this script expects; nothing was written."""


@dataclass(frozen=True)
class Epci:
    siren: str
    name: str
    type: str


def fetch_package(version: str, workdir: Path) -> Path:
    """`npm pack` the package into `workdir` and extract it; returns the package folder."""
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm is not installed: install it or pass --package-dir")
    result = subprocess.run(
        [npm, "pack", f"{PACKAGE}@{version}", "--silent"],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = workdir / result.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        archive.extractall(workdir, filter="data")
    return workdir / "package"


def find_data_dir(package_dir: Path) -> Path:
    """Accept the package folder (with data/ inside) or the data folder itself."""
    for candidate in (package_dir / "data", package_dir):
        if (candidate / "communes.json").is_file():
            return candidate
    raise BuildError(f"no communes.json in {package_dir} or {package_dir / 'data'}")


def package_version(package_dir: Path) -> str:
    manifest = package_dir / "package.json"
    if not manifest.is_file():
        return "unknown"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    return str(data.get("version", "unknown"))


def _load(data_dir: Path, name: str) -> list[dict[str, Any]]:
    path = data_dir / name
    if not path.is_file():
        raise BuildError(f"{path} is missing")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise BuildError(f"{path}: expected a JSON list")
    return data


def epci_by_commune(epcis: list[dict[str, Any]], communes: set[str]) -> dict[str, Epci]:
    """Map each member commune's INSEE code to its EPCI, checking the data is consistent."""
    by_commune: dict[str, Epci] = {}
    for raw in epcis:
        epci = Epci(siren=str(raw["code"]), name=str(raw["nom"]).strip(), type=str(raw["type"]))
        if epci.type not in EPCI_TYPES:
            raise BuildError(f"EPCI {epci.siren} ({epci.name}): unknown type {epci.type!r}")
        for member in raw["membres"]:
            code = str(member["code"])
            if code not in communes:
                raise BuildError(f"EPCI {epci.siren} ({epci.name}): member {code} is no commune")
            if code in by_commune:
                other = by_commune[code]
                raise BuildError(f"commune {code} is in two EPCI: {other.siren} and {epci.siren}")
            by_commune[code] = epci
    return by_commune


def build_rows(data_dir: Path) -> list[dict[str, str]]:
    communes = [c for c in _load(data_dir, "communes.json") if c.get("type") == CURRENT_COMMUNE]
    regions = {str(r["code"]) for r in _load(data_dir, "regions.json")}
    departements = {str(d["code"]) for d in _load(data_dir, "departements.json")}
    by_code: dict[str, dict[str, Any]] = {}
    for commune in communes:
        code = str(commune["code"])
        if code in by_code:
            raise BuildError(f"commune {code} appears twice")
        if str(commune["region"]) not in regions:
            raise BuildError(f"commune {code}: unknown région {commune['region']!r}")
        by_code[code] = commune
    membership = epci_by_commune(_load(data_dir, "epci.json"), set(by_code))
    rows = []
    for code in sorted(by_code):
        commune = by_code[code]
        departement = str(commune["departement"])
        # The collectivités d'outre-mer (975, 977, 978, 984, 986-989) are no départements.
        if departement not in departements and departement != str(commune["region"]):
            raise BuildError(f"commune {code}: unknown département {departement!r}")
        epci = membership.get(code)
        rows.append(
            {
                "insee": code,
                "name": str(commune["nom"]).strip(),
                "departement": departement,
                "region": str(commune["region"]),
                "epci_siren": epci.siren if epci else "",
                "epci_name": epci.name if epci else "",
                "epci_type": epci.type if epci else "",
            }
        )
    return rows


def write_csv(rows: list[dict[str, str]], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(out)


def write_source(rows: list[dict[str, str]], out: Path, version: str) -> Path:
    counts: dict[str, int] = {}
    for row in rows:
        key = row["epci_type"] or "none"
        counts[key] = counts.get(key, 0) + 1
    by_type = ", ".join(f"{key} {counts[key]}" for key in sorted(counts))
    alone = [row for row in rows if not row["epci_type"]]
    # A collectivité d'outre-mer has no département: both columns hold its own code.
    overseas = [row for row in alone if row["departement"] == row["region"]]
    overseas_codes = sorted({row["region"] for row in overseas})
    in_departement = [row for row in alone if row["departement"] != row["region"]]
    outside = f"{len(in_departement)} communes"
    islands = ", ".join(f"{row['name']} {row['insee']}" for row in in_departement) or "none"
    source = out.parent / "SOURCE.md"
    source.write_text(
        f"""# Territory data: where `{out.name}` comes from

- Source: the npm package `{PACKAGE}`, version **{version}**, files
  `data/communes.json`, `data/epci.json`, `data/departements.json` and `data/regions.json`.
- Producer: Etalab (DINUM), from INSEE's Code officiel géographique and the DGCL list of EPCI à
  fiscalité propre (`epcicom`).
- Licence: data under the Licence Ouverte / Open Licence (Etalab); the package's code is MIT.
  The CSV is a derived extract and keeps that licence: mention the source when reusing it.
- Content: {len(rows)} current communes (type `{CURRENT_COMMUNE}`; arrondissements municipaux,
  communes déléguées and associées left out), one row each, sorted by INSEE code, with columns
  `{",".join(COLUMNS)}`.
- Rows by EPCI type: {by_type}.
- In no EPCI à fiscalité propre ("none"): {outside} in a département ({islands}), and
  {len(overseas)} communes of the collectivités d'outre-mer ({", ".join(overseas_codes)}), whose
  département and région columns both hold the collectivité's code.
- Rebuild, never edit by hand: `python scripts/build_territory.py --version {version}`
  (or `--package-dir DIR` for an already extracted package).
""",
        encoding="utf-8",
    )
    return source


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--package-dir", type=Path, help="an extracted package (skips npm)")
    parser.add_argument("--version", default=DEFAULT_VERSION, help="package version to npm pack")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the CSV to write")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="decoupage-") as tmp:
            package_dir = args.package_dir or fetch_package(args.version, Path(tmp))
            rows = build_rows(find_data_dir(package_dir))
            version = package_version(package_dir)
    except KeyError as exc:
        print(f"build_territory: unexpected data, missing field {exc}", file=sys.stderr)
        return 1
    except (BuildError, subprocess.CalledProcessError, ValueError) as exc:
        detail = getattr(exc, "stderr", None) or exc
        print(f"build_territory: {detail}", file=sys.stderr)
        return 1
    write_csv(rows, args.out)
    source = write_source(rows, args.out, version)
    print(f"Wrote {len(rows)} communes to {args.out} ({PACKAGE} {version}); see {source}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
