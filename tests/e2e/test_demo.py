"""`fidelis demo`, the README's first command, in a subprocess."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.test_cli import Cli


def test_demo_takes_learners_through_every_path_and_can_be_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The demo injects its own "today" (DEMO_TODAY): it runs whatever day the machine says.
    monkeypatch.delenv("FIDELIS_TODAY")
    cli = Cli(tmp_path / "fidelis.db")
    data = json.loads(cli.ok("demo", "--json"))
    states = data["states"]
    for state in ("completed", "breached", "rejected", "withdrawn", "serving", "in_training",
                  "selected", "interviewed", "listed"):  # fmt: skip
        assert states.get(state), (state, states)
    assert sum(states.values()) >= 12
    refunds = {(r["case"], r["funder"]): r["amount"] for r in data["reimbursements"]}
    assert "1078.93" in refunds.values()  # SPEC §4's example
    assert "0.00" in refunds.values()  # the exempted breach
    assert len(data["refusals"]) == 3
    # The database is usable by the other commands, and a second run rebuilds it.
    assert cli.json("case", "list", "--state", "completed")
    again = json.loads(cli.ok("demo", "--json"))
    assert again["states"] == states
    human = cli.ok("demo")
    assert "Démo Fidelis" in human and "1\u00a0078,93\u00a0€" in human  # in French
    assert "relevé mensuel employeur" in human and "employer_statement" not in human


def test_demo_refuses_to_overwrite_a_database_it_did_not_build(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "precious.db")
    cli.ok("db", "upgrade")
    cli.new("institute", "add", "--name", "IFAS", "--commune", "48095")
    result = cli.run("demo")
    assert result.returncode == 1
    assert "ne viennent pas de la démo" in result.stderr
    conn = sqlite3.connect(cli.db)
    assert conn.execute("SELECT count(*) FROM institutes").fetchone() == (1,)
    conn.close()
