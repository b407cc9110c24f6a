"""A 50 000-row import through the command line, in a subprocess (SQLite): a live progress bar,
every row written in one go, memory that does not grow with the file, and a re-import that
changes nothing."""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from stdnum import luhn

from workflow.territory import Territory, is_rural

ROWS = 50_000
# The command run in a subprocess, reporting its own peak resident memory when it ends.
WRAPPER = """
import resource, sys
from workflow.cli import main
sys.argv = ["fidelis", *sys.argv[1:]]
try:
    main()
finally:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stderr.write(f"\\nMAXRSS_KB={rss}\\n")
"""
# What the growth of the peak memory between a 100-row and a 50 000-row import must stay
# under (measured: ~8 MB, the within-file duplicate index). Holding the rows would cost more:
# keeping the 50 000 checked records adds ~16 MB (the import then grows by ~24 MB), 50 000
# Employer ORM objects alone take ~72 MB.
MAX_GROWTH_KB = 16 * 1024


def siret(i: int) -> str:
    siren = f"{10_000_000 + i:08d}"
    siren += luhn.calc_check_digit(siren)
    head = siren + "0001"
    return head + luhn.calc_check_digit(head)


def write_employers(path: Path, rows: int) -> None:
    rural = [c.insee for c in Territory.load().communes_in_region("76") if is_rural(c)]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["Raison sociale", "SIRET", "Code INSEE", "Secteur", "Difficulté de recrutement", "Courriel"])  # fmt: skip
        for i in range(rows):
            writer.writerow([f"EHPAD n° {i}", siret(i), rural[i % len(rural)], "personnes âgées",
                             "oui", f"direction{i}@exemple.fr"])  # fmt: skip


def fidelis(db: Path, *args: str, terminal: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIDELIS_DB": str(db), "COLUMNS": "120"}
    if terminal:  # Rich draws its live progress bar as on a terminal
        env |= {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"}
    return subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip


def peak_kb(result: subprocess.CompletedProcess[str]) -> int:
    found = re.search(r"MAXRSS_KB=(\d+)", result.stderr)
    assert found is not None, result.stderr
    return int(found[1])


def test_a_50000_row_import_shows_progress_in_bounded_memory(tmp_path: Path) -> None:
    db = tmp_path / "fidelis.db"
    assert fidelis(db, "db", "upgrade").returncode == 0
    small, big = tmp_path / "small.csv", tmp_path / "employeurs.csv"
    write_employers(small, 100)
    write_employers(big, ROWS)

    baseline = fidelis(db, "import", "employers", str(small))
    assert baseline.returncode == 0, baseline.stderr
    done = fidelis(db, "import", "employers", str(big), terminal=True)
    assert done.returncode == 0, done.stderr
    assert "49900 créé(s), 0 mis à jour, 100 inchangé(s)" in done.stdout

    # The bar was drawn live while the rows were read, then while they were written.
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", done.stderr)
    read = {int(n) for n in re.findall(r"Vérification\s+\S*\s*(\d+)/50000 lignes", plain)}
    assert len(read) >= 2 and max(read) == ROWS, plain[-2000:]
    assert re.search(r"Enregistrement\s+\S*\s*50000/50000 lignes", plain), plain[-2000:]

    growth = peak_kb(done) - peak_kb(baseline)
    print(f"peak RSS: {peak_kb(baseline)} KB for 100 rows, {peak_kb(done)} KB for {ROWS}")
    assert growth < MAX_GROWTH_KB, f"memory grew by {growth} KB for {ROWS} rows"

    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM employers").fetchone() == (ROWS,)
    again = fidelis(db, "import", "employers", str(big), "--json")
    assert again.returncode == 0, again.stderr
    counts = json.loads(again.stdout)
    assert (counts["created"], counts["updated"], counts["unchanged"]) == (0, 0, ROWS)
