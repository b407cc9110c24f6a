"""The README's worked example of a breach recorded late, in a subprocess (issue 13): the
payments regularised (unsent ones cancelled with their reason, sent ones overpaid), the
entitlement and the debts in `case show --json`, `case verify` clean, the SEPA file of a later
month refusing nothing beyond the entitlement, `case correct-training` refused on a breached case
in French with nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.test_cli import Cli, build_setup
from tests.e2e.test_cli import cli as cli  # the fixture


def signed(cli: Cli) -> str:
    setup = build_setup(cli)
    case = cli.new("case", "open", "--offer", setup["offer"], "--learner", setup["learner"],
                   "--on", "2026-05-30")  # fmt: skip
    for args in (
        ("submit", "--on", "2026-06-01"),
        ("interview", "--on", "2026-06-10", "--set", "interview_date=2026-06-09"),
        ("select", "--on", "2026-06-12"),
    ):
        cli.ok("case", "fire", case, *args)
    cli.ok("contract", "generate", case, "--tier", "2x150", "--on", "2026-06-20")
    for party in ("learner", "employer", "region"):
        cli.ok("contract", "sign", case, "--party", party, "--on", "2026-07-01", "--name", "X")
    cli.ok("case", "fire", case, "sign", "--on", "2026-07-06")
    return case


def test_a_breach_recorded_late_is_regularised_and_its_debts_listed(
    cli: Cli, tmp_path: Path
) -> None:
    case = signed(cli)
    cli.ok("nightly", "--as-of", "2027-04-10", "--no-mail")
    cli.ok("payments", "export-sepa", "--period", "2027-03", "--out", str(tmp_path / "mars.xml"))
    cli.ok("nightly", "--as-of", "2027-07-10", "--no-mail")
    cli.ok("case", "fire", case, "breach", "--on", "2027-03-10", "--reason", "Démission",
           "--set", "category=resignation")  # fmt: skip
    shown = cli.json("case", "show", case)
    assert isinstance(shown, dict)
    assert shown["entitlement"] == {"employer": "913.55", "region": "913.55"}
    assert shown["reimbursement"] == {"employer": "913.55", "region": "913.55"}
    by_month: dict[tuple[str, str], dict[str, Any]] = {
        (p["period"], p["funder"]): p for p in shown["payments"]
    }
    march, april = by_month[("2027-03", "region")], by_month[("2027-04", "region")]
    assert (march["status"], march["overpaid"]) == ("exported", "106.45")
    assert (april["status"], april["reason"]) == (
        "cancelled",
        "Régularisation : rupture du 10/03/2027",
    )
    debts = {(d["funder"], d["kind"]): d["amount"] for d in shown["debts"]}
    assert debts == {
        ("employer", "overpayment"): "556.45",
        ("region", "overpayment"): "106.45",
        ("employer", "breach"): "913.55",
        ("region", "breach"): "913.55",
    }
    assert "conformes" in cli.ok("case", "verify", case)
    # Nothing of April was left to send: the SEPA file of April has no payment of this case.
    result = cli.run("payments", "export-sepa", "--period", "2027-04",
                     "--out", str(tmp_path / "avril.xml"))  # fmt: skip
    assert result.returncode == 1 and "Aucun paiement" in result.stderr, result.stderr
    before = cli.fingerprint()
    refused = cli.run("case", "correct-training", case, "--end", "2027-06-30",
                      "--on", "2027-07-20")  # fmt: skip
    assert refused.returncode == 1 and "refusée" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert cli.fingerprint() == before
