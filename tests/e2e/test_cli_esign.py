"""`fidelis contract esign …`, `contract export` and `contract verify` in a subprocess (issue 16):
three parties sign with the codes a local SMTP server received; the sealed PDF verifies, and a
changed byte, a page appended after the seal or the seal removed do not."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from tests.e2e.test_cli import Cli, build_setup
from tests.sealcerts import make_seal
from tests.smtpserver import LocalSmtpServer


@pytest.fixture
def smtp() -> Iterator[LocalSmtpServer]:
    server = LocalSmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def cli(tmp_path: Path, smtp: LocalSmtpServer, monkeypatch: pytest.MonkeyPatch) -> Cli:
    seal = make_seal(tmp_path / "seal")
    for name, value in {
        "FIDELIS_SEAL_PKCS12": str(seal.pkcs12), "FIDELIS_SEAL_PASSPHRASE": seal.passphrase,
        "FIDELIS_SEAL_TRUST_ROOTS": str(seal.ca_pem), "FIDELIS_SECRET_KEY": "clé-e2e",
        "FIDELIS_SMTP_HOST": "127.0.0.1", "FIDELIS_SMTP_PORT": str(smtp.port),
        "FIDELIS_ESIGN_REGION_EMAIL": "signature@region.example.fr",
        "FIDELIS_ESIGN_REGION_NAME": "Claire Élue",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    c = Cli(tmp_path / "fidelis.db")
    c.ok("db", "upgrade")
    return c


def code_for(smtp: LocalSmtpServer, to: str) -> str:
    for message in reversed(smtp.messages):
        if message["To"] == to:
            found = re.search(r"\b(\d{6})\b", message.get_content())
            assert found
            return found.group(1)
    raise AssertionError(f"no code for {to}")


def test_three_parties_sign_by_cli_and_the_sealed_pdf_verifies(
    cli: Cli, smtp: LocalSmtpServer
) -> None:
    ids = build_setup(cli)
    employer = cli.new("employer", "add", "--name", "EHPAD Les Mimosas", "--siret", "44306184100047",
                       "--commune", "48095", "--sector", "elderly", "--recruitment-difficulty",
                       "--email", "direction@mimosas.example.fr")  # fmt: skip
    offer = cli.new("campaign", "list-employer", ids["campaign"], employer, "--places", "1")
    case = cli.new("case", "open", "--offer", offer, "--learner", ids["learner"],
                   "--on", "2026-05-30")  # fmt: skip
    for args in (("submit", "--on", "2026-06-01"),
                 ("interview", "--on", "2026-06-10", "--set", "interview_date=2026-06-09"),
                 ("select", "--on", "2026-06-12")):  # fmt: skip
        cli.ok("case", "fire", case, *args)
    cli.ok("contract", "generate", case, "--tier", "2x150", "--on", "2026-06-20")
    started = cli.ok("contract", "esign", "start", case)
    assert re.search(r"1\. l'apprenant.*\n.*2\. l'employeur.*\n.*3\. le financeur", started)
    emails = {"learner": "lea.fabre@exemple.fr", "employer": "direction@mimosas.example.fr",
              "region": "signature@region.example.fr"}  # fmt: skip
    wrong = cli.run("contract", "esign", "confirm", case, "--party", "learner", "--code", "000000")
    assert wrong.returncode == 1 and "Aucun code en cours" in wrong.stderr
    for party, email in emails.items():
        cli.ok("contract", "esign", "code", case, "--party", party)
        done = json.loads(cli.ok("contract", "esign", "confirm", case, "--party", party,
                                 "--code", code_for(smtp, email), "--ip", "198.51.100.4", "--json"))  # fmt: skip
    assert done["missing"] == [] and done["sealed"]
    shown = cli.json("case", "show", case)
    assert [(s["party"], s["method"]) for s in shown["signatures"]] == [  # type: ignore[index]
        ("learner", "electronic"),
        ("employer", "electronic"),
        ("region", "electronic"),
    ]
    assert all(s["signed_at"] and s["name"] for s in shown["signatures"])  # type: ignore[index]
    sealed = cli.db.parent / "contrat-scelle.pdf"
    cli.ok("contract", "export", str(done["sealed"]), "--out", str(sealed))
    verdict = json.loads(cli.ok("contract", "verify", str(sealed), "--json"))
    assert verdict["valid"] is True
    assert [s["party"] for s in verdict["signers"]] == ["learner", "employer", "region"]
    assert "Cachet de test" in verdict["sealed_by"] and len(verdict["sha256"]) == 64
    assert "Contrat valide" in cli.ok("contract", "verify", str(sealed))

    data = sealed.read_bytes()
    changed = bytearray(data)
    changed[len(data) // 3] ^= 0x01
    appended = IncrementalPdfFileWriter(BytesIO(data))
    appended.root["/Info"] = appended.add_object(generic.DictionaryObject())
    appended.update_root()
    out = BytesIO()
    appended.write(out)
    unsealed = data[: data.rindex(b"%%EOF", 0, data.rindex(b"%%EOF")) + len(b"%%EOF\n")]
    for name, content in (("octet", bytes(changed)), ("ajout", out.getvalue()),
                          ("sans-sceau", unsealed)):  # fmt: skip
        bad = cli.db.parent / f"{name}.pdf"
        bad.write_bytes(content)
        result = cli.run("contract", "verify", str(bad), "--json")
        assert result.returncode == 1, name
        assert json.loads(result.stdout)["valid"] is False, name
