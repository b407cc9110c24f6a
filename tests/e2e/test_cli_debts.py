"""The debt commands in a subprocess (issue 13's command-line contract): `fidelis debt list`,
`repay`, `plan`, `waive`, `write-off`, `import-repaid`, and `case show --json`'s `debts`. Every
refusal is a French message on stderr, exit 1, and the database is left as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import Cli
from tests.e2e.test_cli import cli as cli  # the fixture
from tests.e2e.test_cli_regularisation import signed


@pytest.fixture
def breached(cli: Cli) -> str:
    """The SPEC example: a resignation on 2028-03-16, 1 078,93 € owed to each funder."""
    case = signed(cli)
    for args in (
        ("start_training", "--on", "2026-09-07"),
        ("start_service", "--on", "2027-09-01", "--set", "diploma_date=2027-07-09"),
        ("breach", "--on", "2028-03-16", "--reason", "Démission", "--set", "category=resignation"),
    ):
        cli.ok("case", "fire", case, *args)
    return case


def debts_of(cli: Cli, case: str) -> dict[str, dict[str, Any]]:
    shown = cli.json("case", "show", case)
    assert isinstance(shown, dict)
    return {d["funder"]: d for d in shown["debts"]}


def refused(cli: Cli, *args: str, says: str) -> None:
    before = cli.fingerprint()
    result = cli.run(*args)
    assert result.returncode == 1, (args, result.stdout, result.stderr)
    assert "Erreur" in result.stderr and says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert cli.fingerprint() == before


def test_a_debt_followed_from_the_breach_to_settled_waived_and_written_off(
    cli: Cli, breached: str, tmp_path: Path
) -> None:
    owed = debts_of(cli, breached)
    keys = {"id", "number", "funder", "kind", "amount", "repaid", "waived", "written_off",
            "balance", "status", "due_date"}  # fmt: skip
    assert set(owed) == {"employer", "region"}
    region, employer = owed["region"], owed["employer"]
    assert keys <= set(region)
    assert (region["kind"], region["amount"], region["balance"], region["status"]) == (
        "breach",
        "1078.93",
        "1078.93",
        "open",
    )
    assert region["number"].startswith("OCC-AS-TR-2028-")
    listed = cli.json("debt", "list", "--case", breached, "--funder", "region")
    assert [d["id"] for d in listed] == [region["id"]]  # type: ignore[union-attr]
    assert cli.json("debt", "list", "--status", "settled") == []

    rid, eid = str(region["id"]), str(employer["id"])
    refused(cli, "debt", "repay", rid, "--amount", "1078,94", "--on", "2028-05-01",
            says="dépasse le solde")  # fmt: skip
    refused(cli, "debt", "repay", "424242", "--amount", "10", "--on", "2028-05-01",
            says="Dette introuvable")  # fmt: skip
    refused(cli, "debt", "repay", rid, "--amount", "-5", "--on", "2028-05-01",
            says="Montant invalide")  # fmt: skip
    refused(cli, "debt", "waive", rid, "--on", "2028-05-01", "--decision", "  ",
            says="décision est obligatoire")  # fmt: skip
    refused(cli, "debt", "list", "--status", "paid", says="État de dette inconnu")

    # The Région's debt: a plan of 10 instalments, two repayments, then settled.
    plan = cli.json("debt", "plan", rid, "--instalments", "10", "--first", "2028-05-05")
    assert isinstance(plan, dict) and len(plan["plan"]) == 10
    assert sum(round(float(i["amount"]) * 100) for i in plan["plan"]) == 107893
    refused(cli, "debt", "plan", rid, "--instalments", "3", "--first", "2028-06-05",
            says="déjà un échéancier")  # fmt: skip
    paid = cli.json("debt", "repay", rid, "--amount", "107,89", "--on", "2028-05-05",
                    "--reference", "VIR-0001")  # fmt: skip
    assert paid["status"] == "partially_repaid" and paid["balance"] == "971.04"  # type: ignore[index]
    treasury = tmp_path / "tresor.csv"
    treasury.write_text(f"debt_number;amount;paid_on;reference\n{region['number']};971.04;"
                        "2028-06-05;VIR-0002\n")  # fmt: skip
    assert "1 remboursement" in cli.ok("debt", "import-repaid", str(treasury))
    assert debts_of(cli, breached)["region"]["status"] == "settled"
    refused(cli, "debt", "plan", region["number"], "--instalments", "2", "--first", "2028-07-01",
            says="soldée")  # fmt: skip
    refused(cli, "debt", "import-repaid", str(treasury), says="rien n'a été enregistré")

    # The employer's debt: waived in part, then written off.
    cli.ok("debt", "waive", eid, "--on", "2028-06-01", "--decision", "DEL-2028-12",
           "--amount", "78,93")  # fmt: skip
    human = cli.ok("debt", "write-off", employer["number"], "--on", "2028-09-01",
                   "--decision", "ANV-2028-3")  # fmt: skip
    assert "admise en non-valeur" in human
    final = debts_of(cli, breached)["employer"]
    assert (final["waived"], final["written_off"], final["balance"], final["status"]) == (
        "78.93",
        "1000.00",
        "0.00",
        "written_off",
    )
    table = cli.ok("debt", "list")
    assert "soldée" in table and "admise en non-valeur" in table
