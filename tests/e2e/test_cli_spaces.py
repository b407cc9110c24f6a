"""`fidelis user add` for the participants (issue 15), in a subprocess: a learner's and an
employer's account without a password print their id and a one-time invitation link, the link's
e-mail waits in the outbox, and the link opens the learner's space once."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.e2e.test_cli import Cli, build_setup
from tests.e2e.test_cli import cli as cli  # the fixture
from workflow.web import create_app


def test_user_add_prints_the_account_and_an_invitation_link(cli: Cli) -> None:
    setup = build_setup(cli)
    added = cli.run("user", "add", "--role", "learner", "--learner", setup["learner"],
                    "--email", "lea@exemple.fr")  # fmt: skip
    assert added.returncode == 0, added.stderr
    ident, link = added.stdout.split()
    assert ident.isdigit() and re.fullmatch(r"http://localhost:8000/connexion/lien/[\w-]{43}", link)
    assert "usage unique" in added.stderr and "Jeton d'API" in added.stderr
    employer = cli.json("user", "add", "--role", "employer", "--employer", setup["employer"],
                        "--email", "direction@exemple.fr")  # fmt: skip
    assert isinstance(employer, dict) and "/connexion/lien/" in employer["invitation"]
    accounts = {a["email"]: a for a in cli.json("user", "list")}  # type: ignore[union-attr]
    assert accounts["lea@exemple.fr"]["name"] == "Léa Fabre"
    assert accounts["lea@exemple.fr"]["role"] == "learner"
    assert accounts["direction@exemple.fr"]["role"] == "employer"
    queued = cli.json("outbox", "list")
    assert sorted(m["recipient"] for m in queued if m["kind"] == "invitation") == [  # type: ignore[union-attr,index]
        "direction@exemple.fr",
        "lea@exemple.fr",
    ]
    # A second account for the same learner, or one without its learner: refused in French.
    before = cli.fingerprint()
    again = cli.run("user", "add", "--role", "learner", "--learner", setup["learner"],
                    "--email", "autre@exemple.fr")  # fmt: skip
    assert again.returncode == 1 and "déjà un compte" in again.stderr
    alone = cli.run("user", "add", "--role", "learner", "--email", "seul@exemple.fr")
    assert alone.returncode == 1 and "rattaché à un apprenant (--learner)" in alone.stderr
    assert cli.fingerprint() == before
    # The link, once.
    with TestClient(create_app(f"sqlite:///{cli.db}", secret_key="test")) as client:
        path = link.removeprefix("http://localhost:8000")
        page = client.get(path)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        assert client.post(path, data={"csrf": csrf[1]}).url.path == "/mon-espace"
        fresh = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
        assert fresh is not None  # signing in gave a new CSRF token
        assert client.post(path, data={"csrf": fresh[1]}).status_code == 410
    renewed = cli.ok("user", "invite", "lea@exemple.fr").strip()
    assert renewed.startswith("http://localhost:8000/connexion/lien/") and renewed != link
