"""The `fidelis` command in a subprocess, as a caseworker's script would use it (SPEC §7)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

FIDELIS = str(Path(sys.executable).parent / "fidelis")
IBAN = "FR7630006000011234567890189"


@dataclass
class Cli:
    db: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "FIDELIS_DB": str(self.db),
            "FIDELIS_DOCUMENTS_DIR": str(self.db.parent / "documents"),
            "COLUMNS": "200",
        }
        return subprocess.run(
            [FIDELIS, *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def new(self, *args: str) -> str:
        """A creating command prints the new id alone."""
        out = self.ok(*args).strip()
        assert out.isdigit(), out
        return out

    def json(self, *args: str) -> object:
        return json.loads(self.ok(*args, "--json"))

    def fingerprint(self) -> str:
        """Every row of every table: to prove that a refused command wrote nothing."""
        conn = sqlite3.connect(self.db)
        digest = hashlib.sha256()
        for (table,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY 1"
        ):
            for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1'):
                digest.update(repr(row).encode())
        conn.close()
        return digest.hexdigest()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    c = Cli(tmp_path / "fidelis.db")
    c.ok("db", "upgrade")
    return c


def build_setup(cli: Cli) -> dict[str, str]:
    """An institute, a rural employer listed in an open campaign, a learner."""
    ids = {
        "institute": cli.new("institute", "add", "--name", "IFAS de Mende", "--commune", "48095"),
        "employer": cli.new(
            "employer",
            "add",
            "--name",
            "EHPAD Les Genêts",
            "--siret",
            "73282932000074",
            "--commune",
            "48095",
            "--sector",
            "elderly",
            "--recruitment-difficulty",
        ),
        "campaign": cli.new(
            "campaign", "open", "--scheme", "occitanie-fidelisation-as", "--year", "2026"
        ),
    }
    ids["offer"] = cli.new(
        "campaign", "list-employer", ids["campaign"], ids["employer"], "--places", "2"
    )
    ids["learner"] = cli.new(
        "learner", "add", "--first-name", "Léa", "--last-name", "Fabre", "--birth-date", "2003-04-05",
        "--email", "lea.fabre@exemple.fr", "--institute", ids["institute"],
        "--training-start", "2026-09-07", "--training-end", "2027-07-02", "--iban", IBAN,
    )  # fmt: skip
    return ids


@pytest.fixture
def setup(cli: Cli) -> dict[str, str]:
    return build_setup(cli)


def test_a_whole_case_life_through_the_cli(cli: Cli, setup: dict[str, str]) -> None:
    case = cli.new("case", "open", "--offer", setup["offer"], "--learner", setup["learner"],
                   "--on", "2026-05-30")  # fmt: skip
    for args in (
        ("submit", "--on", "2026-06-01"),
        ("interview", "--on", "2026-06-10", "--set", "interview_date=2026-06-09"),
        ("select", "--on", "2026-06-12", "--actor", "ehpad-genets"),
    ):
        cli.ok("case", "fire", case, *args)
    contract = cli.json("contract", "generate", case, "--tier", "2x150", "--on", "2026-06-20",
                        "--out", str(cli.db.parent / "contrat.docx"))  # fmt: skip
    assert contract["number"] == "OCC-AS-2026-00001"  # type: ignore[index]
    assert (cli.db.parent / "contrat.docx").stat().st_size > 10_000
    refused = cli.run("case", "fire", case, "sign", "--on", "2026-07-06")
    assert refused.returncode == 1 and "pas signé par" in refused.stderr
    # The command line, unlike a page, names the trigger and how to go on.
    assert "Action : sign" in refused.stderr and "contract esign start" in refused.stderr
    for party, name in (("learner", "Léa Fabre"), ("employer", "M. Roux"), ("region", "Mme Élue")):
        cli.ok("contract", "sign", case, "--party", party, "--on", "2026-07-01", "--name", name)
    for args in (
        ("sign", "--on", "2026-07-06"),
        ("start_training", "--on", "2026-09-07"),
        ("start_service", "--on", "2027-09-01", "--set", "diploma_date=2027-07-09"),
    ):
        cli.ok("case", "fire", case, *args)
    state = cli.json("case", "fire", case, "breach", "--on", "2028-03-16", "--reason", "Démission",
                     "--set", "category=resignation")  # fmt: skip
    assert state == {"id": int(case), "state": "breached"}

    shown = cli.json("case", "show", case)
    assert isinstance(shown, dict)
    assert shown["state"] == "breached"
    assert shown["scheme"] == "occitanie-fidelisation-as"
    assert shown["campaign"] == 2026
    assert shown["tier"] == "2x150"
    assert shown["contract_number"] == "OCC-AS-2026-00001"
    assert shown["training"] == {"start": "2026-09-07", "end": "2027-07-02"}
    assert shown["service"]["start"] == "2027-09-01"
    assert shown["service"]["commitment_end"] == "2029-08-31"
    # No payment was created (the nightly run does that): the base is the whole schedule.
    assert shown["reimbursement"] == {"employer": "1078.93", "region": "1078.93"}
    assert shown["exempted"] is False
    assert [e["trigger"] for e in shown["events"]][-2:] == ["start_service", "breach"]
    assert shown["events"][3]["actor"] == "ehpad-genets"
    documents = cli.json("contract", "list", case)
    assert [d["kind"] for d in documents] == ["contract", "recovery_order"]  # type: ignore[index,union-attr]

    listed = cli.json("case", "list", "--state", "breached")
    assert [row["id"] for row in listed] == [int(case)]  # type: ignore[union-attr]
    human = cli.ok("case", "show", case)
    assert "Léa Fabre" in human and "Employeur 1\u00a0078,93\u00a0€" in human
    assert "Rupture" in human and "breach " not in human  # the history in French


def test_reads_answer_in_json(cli: Cli) -> None:
    schemes = cli.json("scheme", "list")
    # Two schemes ship since the ARS one (seed 001) joined config/schemes (issue 13).
    assert [s["id"] for s in schemes] == ["ars-bfc-cae", "occitanie-fidelisation-as"]  # type: ignore[index,union-attr]
    # Without --scheme: the one scheme of the commune's region (Toulouse: Occitanie's).
    check = cli.json("territory", "check", "31555")
    assert check == {
        **check,  # type: ignore[dict-item]
        "insee": "31555",
        "commune": "Toulouse",
        "region": "76",
        "epci_type": "METRO",
        "rural": False,
        "eligible": False,
    }
    assert check["reasons"]  # type: ignore[index]
    rural = cli.json("territory", "check", "48095", "--scheme", "occitanie-fidelisation-as")
    assert (rural["rural"], rural["eligible"], rural["epci_type"]) == (True, True, "CC")  # type: ignore[index]


BAD_INPUTS = [
    ("bad SIRET", ["employer", "add", "--name", "X", "--siret", "73282932000075", "--commune", "48095",
                   "--sector", "elderly", "--recruitment-difficulty"], "SIRET invalide"),
    ("bad IBAN", ["learner", "add", "--first-name", "A", "--last-name", "B", "--birth-date", "2003-01-01",
                  "--email", "a@exemple.fr", "--institute", "{institute}", "--training-start",
                  "2026-09-07", "--training-end", "2027-07-02", "--iban", "FR7630006000011234567890188"],
     "IBAN invalide"),
    ("non-rural commune", ["campaign", "list-employer", "{campaign}", "{urban_employer}", "--places", "1"],
     "non rurale"),
    ("unknown commune", ["territory", "check", "99999"], "99999"),
    ("unknown commune for an employer", ["employer", "add", "--name", "X", "--siret", "55210055400013",
                                         "--commune", "99999", "--sector", "elderly"], "99999"),
    ("unknown trigger", ["case", "fire", "{case}", "fly"], "Action inconnue"),
    ("trigger not allowed now", ["case", "fire", "{case}", "sign", "--set", "tier=2x150"],
     "impossible depuis l'état"),
    ("failed guard", ["case", "fire", "{case}", "interview", "--on", "2026-06-10"], "interview_date"),
    ("training end before start", ["learner", "add", "--first-name", "A", "--last-name", "B",
                                   "--birth-date", "2003-01-01", "--email", "a@exemple.fr",
                                   "--institute", "{institute}", "--training-start", "2027-07-02",
                                   "--training-end", "2026-09-07"], "postérieure"),
    ("negative places", ["campaign", "list-employer", "{campaign}", "{employer}", "--places", "-2"],
     "places"),
    ("unknown scheme", ["campaign", "open", "--scheme", "nowhere", "--year", "2026"], "Dispositif inconnu"),
    ("malformed date", ["case", "fire", "{case}", "submit", "--on", "2026-13-45"], "Date invalide"),
    ("bad e-mail", ["learner", "add", "--first-name", "A", "--last-name", "B", "--birth-date", "2003-01-01",
                    "--email", "nobody", "--institute", "{institute}", "--training-start", "2026-09-07",
                    "--training-end", "2027-07-02"], "e-mail"),
    ("unknown case", ["case", "fire", "999", "submit"], "introuvable"),
    ("duplicate SIRET", ["employer", "add", "--name", "Y", "--siret", "73282932000074", "--commune",
                         "48095", "--sector", "elderly"], "déjà"),
    ("unknown set key", ["case", "fire", "{case}", "submit", "--set", "colour=blue"], "colour"),
    ("malformed set", ["case", "fire", "{case}", "submit", "--set", "colour"], "CLÉ=VALEUR"),
    ("ineligible sector", ["campaign", "list-employer", "{campaign}", "{hospital}", "--places", "1"],
     "Secteur"),
]  # fmt: skip


@pytest.fixture(scope="module")
def bad_input_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Built once per module through the CLI; each test works on a copy of the file."""
    cli = Cli(tmp_path_factory.mktemp("bad") / "template.db")
    cli.ok("db", "upgrade")
    ids = build_setup(cli)
    ids["urban_employer"] = cli.new(
        "employer", "add", "--name", "EHPAD Toulouse", "--siret", "55210055400013",
        "--commune", "31555", "--sector", "elderly", "--recruitment-difficulty",
    )  # fmt: skip
    ids["hospital"] = cli.new(
        "employer", "add", "--name", "Hôpital local", "--siret", "44306184100047",
        "--commune", "12145", "--sector", "hospital", "--recruitment-difficulty",
    )  # fmt: skip
    ids["case"] = cli.new(
        "case", "open", "--offer", ids["offer"], "--learner", ids["learner"], "--on", "2026-05-30"
    )
    cli.ok("case", "fire", ids["case"], "submit", "--on", "2026-06-01")
    return cli.db, ids


@pytest.mark.parametrize(("label", "args", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_exits_1_with_a_clear_message_and_writes_nothing(
    tmp_path: Path,
    bad_input_world: tuple[Path, dict[str, str]],
    label: str,
    args: list[str],
    message: str,
) -> None:
    template, ids = bad_input_world
    cli = Cli(tmp_path / "fidelis.db")
    shutil.copy(template, cli.db)
    before = cli.fingerprint()
    result = cli.run(*(a.format(**ids) for a in args))
    assert result.returncode == 1, (label, result.stdout, result.stderr)
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert cli.fingerprint() == before


def test_usage_errors_exit_2(cli: Cli) -> None:
    result = cli.run("case", "fire")
    assert result.returncode == 2


def test_an_unmigrated_database_is_a_clear_error(tmp_path: Path) -> None:
    result = Cli(tmp_path / "empty.db").run("case", "list")
    assert result.returncode == 1
    assert "fidelis db upgrade" in result.stderr


def test_spec_example_through_the_nightly_run_in_the_cli(cli: Cli, setup: dict[str, str]) -> None:
    case = cli.new("case", "open", "--offer", setup["offer"], "--learner", setup["learner"],
                   "--on", "2026-05-30")  # fmt: skip
    cli.ok("case", "fire", case, "submit", "--on", "2026-06-01")
    cli.ok(
        "case",
        "fire",
        case,
        "interview",
        "--on",
        "2026-06-10",
        "--set",
        "interview_date=2026-06-09",
    )
    cli.ok("case", "fire", case, "select", "--on", "2026-06-12")
    cli.ok("contract", "generate", case, "--tier", "2x150", "--on", "2026-06-20")
    for party in ("learner", "employer", "region"):
        cli.ok("contract", "sign", case, "--party", party, "--on", "2026-07-01", "--name", "X")
    cli.ok("case", "fire", case, "sign", "--on", "2026-07-06")

    first = cli.json("nightly", "--as-of", "2027-08-15", "--no-mail")
    assert first["totals"]["payments"] == 22  # type: ignore[index]
    assert first["totals"]["transitions"] == 1  # type: ignore[index]
    again = cli.json("nightly", "--as-of", "2027-08-15", "--no-mail")
    assert again["totals"]["payments"] == 0 and again["totals"]["transitions"] == 0  # type: ignore[index]
    payments = cli.json("payments", "list")
    per_funder: dict[str, float] = {}
    for p in payments:  # type: ignore[union-attr]
        per_funder[p["funder"]] = round(per_funder.get(p["funder"], 0) + float(p["amount"]), 2)
    assert per_funder == {"employer": 1479.68, "region": 1479.68}

    cli.ok(
        "case",
        "fire",
        case,
        "start_service",
        "--on",
        "2027-09-01",
        "--set",
        "diploma_date=2027-07-09",
    )
    cli.ok("case", "fire", case, "breach", "--on", "2028-03-16", "--reason", "Démission",
           "--set", "category=resignation")  # fmt: skip
    shown = cli.json("case", "show", case)
    assert shown["reimbursement"] == {"employer": "1078.93", "region": "1078.93"}  # type: ignore[index]
    started = [e for e in shown["events"] if e["trigger"] == "start_training"]  # type: ignore[index]
    assert [(e["effective_date"], e["actor"]) for e in started] == [
        ("2026-09-07", "traitement de nuit")
    ]


def test_batch_generation_for_a_campaign_in_the_cli(cli: Cli, setup: dict[str, str]) -> None:
    for n, learner in enumerate([setup["learner"]]):
        case = cli.new(
            "case", "open", "--offer", setup["offer"], "--learner", learner, "--on", "2026-05-30"
        )
        cli.ok("case", "fire", case, "submit", "--on", "2026-06-01")
        cli.ok(
            "case",
            "fire",
            case,
            "interview",
            "--on",
            "2026-06-10",
            "--set",
            f"interview_date=2026-06-0{n + 1}",
        )
        cli.ok("case", "fire", case, "select", "--on", "2026-06-12")
    # No tier chosen yet: the batch reports the refusal and goes on.
    refused = cli.json("contract", "generate", "--campaign", setup["campaign"], "--all")
    assert refused["generated"] == [] and "palier" in refused["failed"][0]["error"]  # type: ignore[index]
    done = cli.json(
        "contract",
        "generate",
        "--campaign",
        setup["campaign"],
        "--all",
        "--tier",
        "2x150",
        "--on",
        "2026-06-20",
    )
    assert [g["number"] for g in done["generated"]] == ["OCC-AS-2026-00001"]  # type: ignore[index]
    employers = cli.json("contract", "employers", setup["campaign"], "--out", str(cli.db.parent))
    assert [Path(e["path"]).suffix for e in employers] == [".docx", ".xlsx"]  # type: ignore[index,union-attr]


def test_scheme_show_reads_in_french(cli: Cli) -> None:
    shown = cli.ok("scheme", "show", "occitanie-fidelisation-as")
    assert "Employeur 150,00\u00a0€, Région 150,00\u00a0€" in shown
    assert "inaptitude médicale" in shown and "medical_inaptitude" not in shown


def test_accounts_are_listed_disabled_enabled_reset_and_revoked(cli: Cli) -> None:
    """`fidelis user …` (issue 14): a weak password refused in French, nothing written; each
    change said in French; `user list --json` for scripts."""
    before = cli.fingerprint()
    weak = cli.run("user", "add", "--email", "agent@region.fr", "--name", "Agent",
                   "--role", "region", "--password", "aaaaaaaaaa")  # fmt: skip
    assert weak.returncode == 1 and "au moins 12 caractères" in weak.stderr
    assert cli.fingerprint() == before
    added = cli.json("user", "add", "--email", "agent@region.fr", "--name", "Agent Région",
                     "--role", "region", "--password", "motdepasse-solide")  # fmt: skip
    assert isinstance(added, dict) and added["api_token"]
    listed = cli.json("user", "list")
    assert listed == [{"id": added["id"], "email": "agent@region.fr", "name": "Agent Région",
                       "role": "region", "active": True, "api_token": True,
                       "last_sign_in_at": None}]  # fmt: skip
    assert "Compte agent@region.fr désactivé" in cli.ok("user", "disable", "agent@region.fr")
    assert "désactivé" in cli.ok("user", "list")
    assert "Compte agent@region.fr réactivé" in cli.ok("user", "enable", "agent@region.fr")
    weak = cli.run("user", "reset-password", "agent@region.fr", "--password", "azertyuiop123")
    assert weak.returncode == 1 and "trop facile à deviner" in weak.stderr
    reset = cli.ok(
        "user", "reset-password", "agent@region.fr", "--password", "une-autre-phrase-longue"
    )
    assert "Mot de passe de agent@region.fr réinitialisé" in reset
    revoked = cli.ok("user", "revoke-token", "agent@region.fr")
    assert "Jeton d'API de agent@region.fr révoqué" in revoked
    assert cli.json("user", "list")[0]["api_token"] is False  # type: ignore[index]
    renewed = cli.run("user", "revoke-token", "agent@region.fr", "--new")
    assert (
        renewed.returncode == 0 and "Nouveau jeton d'API (affiché une seule fois)" in renewed.stderr
    )
    unknown = cli.run("user", "disable", "personne@region.fr")
    assert unknown.returncode == 1 and "Aucun compte pour personne@region.fr" in unknown.stderr


def test_a_campaign_is_closed_then_reopened(cli: Cli) -> None:
    campaign = cli.new(
        "campaign", "open", "--scheme", "occitanie-fidelisation-as", "--year", "2024"
    )
    assert "Campagne 2024 close." in cli.ok("campaign", "close", campaign)
    employer = cli.new("employer", "add", "--name", "EHPAD", "--siret", "73282932000074",
                       "--commune", "48095", "--sector", "elderly", "--recruitment-difficulty")  # fmt: skip
    before = cli.fingerprint()
    refused = cli.run("campaign", "list-employer", campaign, employer, "--places", "1")
    assert refused.returncode == 1 and "est close" in refused.stderr
    assert cli.fingerprint() == before
    assert "Campagne 2024 rouverte." in cli.ok("campaign", "close", campaign, "--reopen")
    assert cli.new("campaign", "list-employer", campaign, employer, "--places", "1")
