"""Bounded input everywhere (issue 14), hostile first, on SQLite and PostgreSQL: bad inputs
through the command line, the JSON API, the web's forms and the imports — texts too long or
with control characters, ids past 2⁶³, ratios that are not ratios, effective dates far in the
future, files that are no scan, paths that cannot be written — each answered by a French error
(exit code 1, or a 4xx), and every table of the database unchanged (a checksum of each, before
and after), the documents folder too.

One database per engine is built for the whole module: a refusal writes nothing, so the cases
cannot disturb one another (and one that did write would be caught by its own checksums)."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import IBAN, SCHEME, TODAY, World, build_world
from tests.integration.test_case_service import D, fire, signed_case, to_selected
from tests.integration.test_reports import make_cli
from workflow import accounts, cases, clock, contracts
from workflow.db import make_engine
from workflow.errors import FidelisError
from workflow.imports import Kind, import_file
from workflow.models import Employer, Offer, Payment
from workflow.settings import settings
from workflow.web import create_app

PASSWORD = "correct horse battery"
HUGE = str(2**63)  # one past the largest id either database stores
ESC = "\x1b[31m"


@dataclass
class Hostile:
    url: str
    engine: sa.Engine
    world: World
    ids: dict[str, str]
    client: TestClient
    token: str
    csrf: str
    folder: Path


def checksums(engine: sa.Engine) -> dict[str, str]:
    """A SHA-256 of every row of every table."""
    out = {}
    with engine.connect() as conn:
        for table in sorted(sa.inspect(conn).get_table_names()):
            rows = sorted(repr(tuple(r)) for r in conn.execute(sa.text(f'SELECT * FROM "{table}"')))
            out[table] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


def stored_files() -> list[str]:
    """The files of the documents folder (the test's own, from the environment)."""
    root = settings().documents_dir
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hostile(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, schemes: Any
) -> Iterator[Hostile]:
    folder = tmp_path_factory.mktemp("hostile")
    if request.param == "sqlite":
        path = folder / "fidelis.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        server = request.getfixturevalue("pg_server")
        url = server.create_database(template=request.getfixturevalue("pg_template"))
    engine = make_engine(url)
    with pytest.MonkeyPatch.context() as mp, clock.injected(lambda: TODAY):
        mp.setenv("FIDELIS_DOCUMENTS_DIR", str(folder / "documents"))
        w = build_world(engine, schemes)
        listed = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
        training = signed_case(w, learner=1, offer=1)
        fire(w, training, "start_training", "2026-09-07")
        cases.record_payments(w.uow(), training, D("2027-08-15"), schemes=w.schemes)
        selected = cases.open_case(w.uow(), w.offers[2], w.learners[2], on=D("2026-05-30"))
        to_selected(w, selected)
        contracts.generate_contract(w.uow(), selected, tier="2x150", on=D("2026-06-20"),
                                    schemes=w.schemes)  # fmt: skip
        _, token = accounts.add_user(w.uow(), email="region@exemple.fr", name="Région",
                                     role="region", password=PASSWORD)  # fmt: skip
    with w.uow() as uow:
        payment = uow.session.scalars(sa.select(Payment.id).order_by(Payment.id)).first()
        employer = uow.session.scalars(sa.select(Offer.employer_id)).first()
    (folder / "a-file").write_text("not a folder")
    (folder / "notes.txt").write_text("Ceci n'est pas un scan.")
    (folder / "program.exe").write_bytes(b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64)
    (folder / "paid-huge.csv").write_text(f"end_to_end_id;paid_on\nFID-P{HUGE};2027-01-05\n")
    (folder / "paid-wide.csv").write_text("end_to_end_id;paid_on\n" + "F" * 200_000 + ";x\n")
    (folder / "paid-nul.csv").write_text("end_to_end_id;paid_on\nFID-P1\x00;2027-01-05\n")
    ids = {
        "listed": str(listed), "training": str(training), "selected": str(selected),
        "payment": str(payment), "learner": str(w.learners[0]), "learner1": str(w.learners[1]), "institute": str(w.institute),
        "campaign": str(w.campaign), "employer": str(employer), "offer": str(w.offers[0]),
        "folder": str(folder), "afile": str(folder / "a-file"),
    }  # fmt: skip
    with TestClient(create_app(url, secret_key="test")) as client:
        page = client.get("/connexion")
        done = client.post("/connexion", data={"email": "region@exemple.fr", "password": PASSWORD,
                                               "csrf": _csrf(page.text)}, follow_redirects=False)  # fmt: skip
        assert done.status_code == 303, done.text
        yield Hostile(url, engine, w, ids, client, token, _csrf(client.get("/").text), folder)
    engine.dispose()


def _spaced(text: str) -> str:
    """French messages write 10 000 with a no-break space: compared with a plain one here."""
    return text.replace("\xa0", " ")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found[1]


# -- the command line ---------------------------------------------------------------------------

LEARNER = ["learner", "add", "--first-name", "Léa", "--last-name", "Fabre", "--birth-date",
           "2003-04-05", "--email", "lea@exemple.fr", "--institute", "{institute}",
           "--training-start", "2026-09-07", "--training-end", "2027-07-02"]  # fmt: skip
EMPLOYER = ["employer", "add", "--name", "EHPAD", "--siret", "34250587200057", "--commune",
            "46102", "--sector", "elderly"]  # fmt: skip
START_SERVICE = ["case", "fire", "{training}", "start_service", "--on", "2027-09-01", "--set",
                 "diploma_date=2027-07-09", "--set"]  # fmt: skip


def _with(args: list[str], option: str, value: str) -> list[str]:
    """`args` with `option`'s value replaced (or the option added)."""
    if option in args:
        i = args.index(option)
        return [*args[: i + 1], value, *args[i + 2 :]]
    return [*args, option, value]


CLI_CASES: list[tuple[str, list[str], str]] = [
    ("a 120 KB first name", _with(LEARNER, "--first-name", "A" * 120_000), "dépasse 100 caractères"),
    ("a NUL in a last name", _with(LEARNER, "--last-name", "Fa\x00bre"), "caractère de contrôle"),
    ("ANSI escapes in a first name", _with(LEARNER, "--first-name", f"{ESC}Léa"), "U+001B"),
    ("a 300-character e-mail", _with(LEARNER, "--email", "a" * 290 + "@exemple.fr"), "dépasse 254"),
    ("an institute id past 2^63", _with(LEARNER, "--institute", HUGE), "Numéro invalide"),
    ("a 10 000-character IBAN", _with(LEARNER, "--iban", "FR76" * 2_500), "IBAN invalide"),
    ("an IBAN with a NUL", _with(LEARNER, "--iban", IBAN[:10] + "\x00" + IBAN[10:]), "IBAN invalide : « FR76300060\ufffd"),
    ("a 250-character employer name", _with(EMPLOYER, "--name", "E" * 250), "dépasse 200"),
    ("a bidi override in an employer name", _with(EMPLOYER, "--name", "EHPAD \u202eevil"), "U+202E"),
    ("a SIRET of 10 000 digits", _with(EMPLOYER, "--siret", "1" * 10_000), "SIRET invalide"),
    ("a newline in an institute name", ["institute", "add", "--name", "IFAS\nMende", "--commune", "48095"], "U+000A"),
    ("an effective date in 2099", ["case", "fire", "{listed}", "submit", "--on", "2099-01-01"], "trop loin dans l'avenir"),
    ("a case opened in 2099", ["case", "open", "--offer", "{offer}", "--learner", "{learner1}", "--on", "2099-01-01"], "trop loin dans l'avenir"),
    ("a 2 001-character reason", ["case", "fire", "{listed}", "withdraw", "--on", "2026-06-01", "--reason", "x" * 2_001], "dépasse 2 000"),
    ("a NUL in a reason", ["case", "fire", "{listed}", "withdraw", "--on", "2026-06-01", "--reason", "Dé\x00part"], "U+0000"),
    ("part_time=0.0001", [*START_SERVICE, "part_time=0.0001"], "Quotité de temps partiel invalide"),
    ("part_time=1e-9", [*START_SERVICE, "part_time=1e-9"], "Quotité de temps partiel invalide"),
    ("part_time=0.8125 (4 decimals)", [*START_SERVICE, "part_time=0.8125"], "trois décimales"),
    ("part_time with 40 digits", [*START_SERVICE, "part_time=0." + "5" * 40], "Quotité de temps partiel invalide"),
    ("an exemption reference of 201 characters", ["case", "fire", "{training}", "breach", "--on", "2027-01-05", "--set", "category=resignation", "--set", "exemption=" + "R" * 201], "dépasse 200"),
    ("a tier with an escape", ["case", "fire", "{listed}", "sign", "--set", f"tier={ESC}"], "U+001B"),
    ("a case id past 2^63", ["case", "fire", HUGE, "submit", "--on", "2026-06-01"], "Numéro invalide"),
    ("a negative case id", ["case", "fire", "--", "-1", "submit"], "Numéro invalide"),
    ("case show of an id past 2^63", ["case", "show", "99999999999999999999"], "Numéro invalide"),
    ("a learner id past 2^63", ["case", "open", "--offer", "{offer}", "--learner", HUGE], "Numéro invalide"),
    ("a 10 001-character note", ["case", "note", "{listed}", "--text", "n" * 10_001], "dépasse 10 000"),
    ("an escape in a note", ["case", "note", "{listed}", "--text", f"ok{ESC}"], "U+001B"),
    ("an escape in --actor", ["case", "fire", "{listed}", "submit", "--on", "2026-06-01", "--actor", f"moi{ESC}"], "U+001B"),
    ("a 201-character --actor", ["case", "fire", "{listed}", "submit", "--on", "2026-06-01", "--actor", "a" * 201], "dépasse 200"),
    ("a 41-character suspension reason", ["case", "suspend", "{training}", "--from", "2027-01-05", "--reason", "m" * 41], "dépasse 40"),
    ("an attestation in 2099", ["case", "attest", "{training}", "--on", "2099-01-01"], "trop loin dans l'avenir"),
    ("a text file as the signed scan", ["contract", "attach", "{selected}", "{folder}/notes.txt"], "ni un PDF ni une image"),
    ("a program as the signed scan", ["contract", "attach", "{selected}", "{folder}/program.exe"], "ni un PDF ni une image"),
    ("a 300-character signatory", ["contract", "sign", "{selected}", "--party", "learner", "--on", "2026-07-01", "--name", "S" * 300], "dépasse 200"),
    ("a contract issued in 2099", ["contract", "generate", "{selected}", "--tier", "2x150", "--on", "2099-01-01"], "trop loin dans l'avenir"),
    ("a contract copied under a file", ["contract", "generate", "{selected}", "--tier", "2x150", "--on", "2026-06-21", "--out", "{afile}/contrat.docx"], "Impossible d'écrire"),
    ("the employers' list into a file", ["contract", "employers", "{campaign}", "--on", "2026-06-21", "--out", "{afile}"], "n'est pas un dossier"),
    ("a document id past 2^63", ["contract", "export", HUGE, "--out", "{folder}/x.docx"], "Numéro invalide"),
    ("a payment id past 2^63", ["payments", "cancel", HUGE, "--reason", "erreur"], "Numéro invalide"),
    ("a 2 001-character cancellation reason", ["payments", "cancel", "{payment}", "--reason", "r" * 2_001], "dépasse 2 000"),
    ("a treasury file with a reference past 2^63", ["payments", "import-paid", "{folder}/paid-huge.csv"], "inconnue"),
    ("a treasury file with a NUL", ["payments", "import-paid", "{folder}/paid-nul.csv"], "« FID-P1\ufffd » inconnue"),
    ("a treasury file with a 200 KB cell", ["payments", "import-paid", "{folder}/paid-wide.csv"], "n'est pas un CSV lisible"),
    ("an anomaly id past 2^63", ["anomalies", "resolve", HUGE, "--note", "vu"], "Numéro invalide"),
    ("audit verify of a case past 2^63", ["audit", "verify", "--case", HUGE], "Numéro invalide"),
    ("a 10 001-character resolution note", ["anomalies", "resolve", "1", "--note", "n" * 10_001], "dépasse 10 000"),
    ("nightly --as-of 2099-01-01", ["nightly", "--as-of", "2099-01-01", "--no-mail"], "au plus tard pour demain"),
    ("an export filtered by an employer past 2^63", ["export", "cases", "{folder}/x.csv", "--employer", HUGE], "Numéro invalide"),
    ("an export searching 201 characters", ["export", "cases", "{folder}/x.csv", "--search", "s" * 201], "dépasse 200"),
    ("an export under a file", ["export", "institutes", "{afile}/instituts.csv"], "Impossible d'écrire"),
    ("an account name with a NUL", ["user", "add", "--email", "x@exemple.fr", "--name", "X\x00", "--role", "region", "--password", PASSWORD], "U+0000"),
    ("a 1 001-character password", ["user", "add", "--email", "x@exemple.fr", "--name", "X", "--role", "region", "--password", "p" * 1_001], "dépasse 1000"),
    ("an account for an employer past 2^63", ["user", "add", "--email", "x@exemple.fr", "--name", "X", "--role", "employer", "--employer", HUGE, "--password", PASSWORD], "Numéro invalide"),
    ("a learner's new e-mail of 300 characters", ["learner", "update", "{learner}", "--email", "e" * 290 + "@exemple.fr"], "dépasse 254"),
    ("a million places", ["campaign", "list-employer", "{campaign}", "{employer}", "--places", "1000000"], "Nombre de places invalide"),
    ("an offer for an employer past 2^63", ["campaign", "list-employer", "{campaign}", HUGE, "--places", "1"], "Numéro invalide"),
    ("a port past 65535", ["serve", "--port", "99999999"], "Port invalide"),
    ("a 5 000-character commune code", ["territory", "check", "9" * 5_000], "Code INSEE invalide"),
    ("a 5 000-character state", ["case", "list", "--state", "s" * 5_000], "État inconnu"),
    ("a 5 000-character action", ["case", "fire", "{listed}", "a" * 5_000], "Action inconnue"),
    ("a 5 000-character scheme", ["campaign", "open", "--scheme", "d" * 5_000, "--year", "2026"], "Dispositif inconnu"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "args", "message"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_the_command_line_refuses_in_french_and_writes_nothing(
    hostile: Hostile, monkeypatch: pytest.MonkeyPatch, label: str, args: list[str], message: str
) -> None:
    cli = make_cli(monkeypatch)
    before, files = checksums(hostile.engine), stored_files()
    result = cli(hostile.url, *(a.format(**hostile.ids) if "{" in a else a for a in args))
    # `fidelis` prints a FidelisError in French and exits 1 (workflow.cli.main); anything else
    # — a traceback — is a failure.
    assert isinstance(result.exception, FidelisError), (label, result.exception, result.output)
    assert result.exit_code == 1
    assert message in _spaced(str(result.exception)), str(result.exception)
    assert len(str(result.exception)) < 2_000  # a refused value is not repeated whole
    assert checksums(hostile.engine) == before
    assert stored_files() == files


# -- the JSON API -----------------------------------------------------------------------------------

API_CASES: list[tuple[str, str, str, dict[str, Any] | None, int, str]] = [
    ("a 3 000-character reason", "POST", "/api/v1/cases/{listed}/fire", {"trigger": "withdraw", "on": "2026-06-01", "reason": "r" * 3_000}, 400, "dépasse 2 000"),
    ("a NUL in a reason", "POST", "/api/v1/cases/{listed}/fire", {"trigger": "withdraw", "on": "2026-06-01", "reason": "a\x00b"}, 400, "U+0000"),
    ("an escape in a reason", "POST", "/api/v1/cases/{listed}/fire", {"trigger": "withdraw", "on": "2026-06-01", "reason": f"a{ESC}b"}, 400, "U+001B"),
    ("a 10 MB reason", "POST", "/api/v1/cases/{listed}/fire", {"trigger": "withdraw", "on": "2026-06-01", "reason": "r" * 10_000_000}, 413, "Requête trop volumineuse"),
    ("part_time=0.00001", "POST", "/api/v1/cases/{training}/fire", {"trigger": "start_service", "on": "2027-09-01", "params": {"diploma_date": "2027-07-09", "part_time": "0.00001"}}, 400, "Quotité de temps partiel invalide"),
    ("part_time=1E-400", "POST", "/api/v1/cases/{training}/fire", {"trigger": "start_service", "on": "2027-09-01", "params": {"diploma_date": "2027-07-09", "part_time": "1E-400"}}, 400, "Quotité de temps partiel invalide"),
    ("an effective date in 2099", "POST", "/api/v1/cases/{listed}/fire", {"trigger": "submit", "on": "2099-01-01"}, 400, "trop loin dans l'avenir"),
    ("an exemption of 201 characters", "POST", "/api/v1/cases/{training}/fire", {"trigger": "breach", "on": "2027-01-05", "params": {"category": "resignation", "exemption": "R" * 201}}, 400, "dépasse 200"),
    ("a tier with an escape", "POST", "/api/v1/cases/{listed}/fire", {"trigger": "sign", "on": "2026-06-01", "params": {"tier": f"x{ESC}"}}, 400, "U+001B"),
    ("a 1 000-character trigger", "POST", "/api/v1/cases/{listed}/fire", {"trigger": "t" * 1_000}, 422, "trigger : valeur invalide"),
    ("a case id past 2^63", "GET", f"/api/v1/cases/{HUGE}", None, 422, "case_id : valeur invalide"),
    ("firing on a case id past 2^63", "POST", f"/api/v1/cases/{HUGE}/fire", {"trigger": "submit"}, 422, "case_id : valeur invalide"),
    ("a negative case id", "GET", "/api/v1/cases/-5", None, 422, "case_id : valeur invalide"),
    ("a page cursor past 2^63", "GET", f"/api/v1/cases?before={HUGE}", None, 422, "before : valeur invalide"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "method", "path", "body", "status", "message"),
    API_CASES,
    ids=[c[0] for c in API_CASES],
)
def test_the_api_refuses_in_french_and_writes_nothing(
    hostile: Hostile,
    label: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
    message: str,
) -> None:
    before, files = checksums(hostile.engine), stored_files()
    response = hostile.client.request(
        method,
        path.format(**hostile.ids),
        json=body,
        headers={"Authorization": f"Bearer {hostile.token}"},
    )
    assert response.status_code == status, (label, response.text[:500])
    assert message in _spaced(response.json()["detail"])
    assert len(response.text) < 2_000
    assert checksums(hostile.engine) == before
    assert stored_files() == files


def test_a_body_sent_in_chunks_past_the_limit_is_refused(hostile: Hostile) -> None:
    """No Content-Length to trust: the body is counted as it arrives."""
    before = checksums(hostile.engine)
    chunk = b'{"trigger": "withdraw", "reason": "' + b"r" * 65_536

    def body() -> Iterator[bytes]:
        for _ in range(40):  # 2.5 MB
            yield chunk

    response = hostile.client.post(
        "/api/v1/cases/{listed}/fire".format(**hostile.ids),
        content=body(),
        headers={"Authorization": f"Bearer {hostile.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "Requête trop volumineuse : 1 Mo au plus" in response.json()["detail"]
    assert checksums(hostile.engine) == before


# -- the web's forms ----------------------------------------------------------------------------

WEB_CASES: list[tuple[str, str, str, dict[str, str] | None, int, str]] = [
    ("a 3 000-character reason", "POST", "/dossiers/{listed}/actions/withdraw", {"on": "2026-06-01", "reason": "r" * 3_000}, 400, "dépasse 2 000"),
    ("a NUL in a reason", "POST", "/dossiers/{listed}/actions/withdraw", {"on": "2026-06-01", "reason": "a\x00b"}, 400, "U+0000"),
    ("a 2 MB form", "POST", "/dossiers/{listed}/actions/withdraw", {"on": "2026-06-01", "reason": "r" * 2_000_000}, 413, "Requête trop volumineuse"),
    ("an effective date in 2099", "POST", "/dossiers/{listed}/actions/submit", {"on": "2099-01-01"}, 400, "trop loin dans l&#39;avenir"),
    ("part_time=0.0001", "POST", "/dossiers/{training}/actions/start_service", {"on": "2027-09-01", "diploma_date": "2027-07-09", "part_time": "0.0001"}, 400, "Quotité de temps partiel invalide"),
    ("a 300-character signatory", "POST", "/dossiers/{selected}/signatures", {"party": "learner", "on": "2026-07-01", "name": "S" * 300}, 400, "dépasse 200"),
    ("an escape in a signatory", "POST", "/dossiers/{selected}/signatures", {"party": "learner", "on": "2026-07-01", "name": f"Léa{ESC}"}, 400, "U+001B"),
    ("a 41-character suspension reason", "POST", "/dossiers/{training}/suspension", {"from": "2027-01-05", "reason": "m" * 41}, 400, "dépasse 40"),
    ("an attestation in 2099", "POST", "/dossiers/{training}/attestation", {"on": "2099-01-01"}, 400, "trop loin dans l&#39;avenir"),
    ("a contract issued in 2099", "POST", "/dossiers/{selected}/contrat", {"on": "2099-01-01", "tier": "2x150"}, 400, "trop loin dans l&#39;avenir"),
    ("a 10 001-character resolution note", "POST", "/traitements/anomalies/1", {"note": "n" * 10_001}, 400, "dépasse 10"),
    ("an anomaly id past 2^63", "POST", f"/traitements/anomalies/{HUGE}", {"note": "vu"}, 422, "anomaly_id : valeur invalide"),
    ("a case page past 2^63", "GET", f"/dossiers/{HUGE}", None, 422, "case_id : valeur invalide"),
    ("a document past 2^63", "GET", f"/documents/{HUGE}", None, 422, "document_id : valeur invalide"),
    ("a learners' search with a NUL", "GET", "/apprenants?q=Fa%00bre", None, 400, "U+0000"),
    ("a case search of 201 characters", "GET", "/dossiers?q=" + "s" * 201, None, 400, "dépasse 200"),
    ("a page cursor past 2^63", "GET", f"/dossiers?apres={HUGE}", None, 400, "Lien de page invalide"),
    ("a campaign written in superscripts", "GET", "/observatoire?campagne=%C2%B2%C2%B3", None, 400, "Campagne invalide"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "method", "path", "form", "status", "message"),
    WEB_CASES,
    ids=[c[0] for c in WEB_CASES],
)
def test_the_forms_refuse_in_french_and_write_nothing(
    hostile: Hostile,
    label: str,
    method: str,
    path: str,
    form: dict[str, str] | None,
    status: int,
    message: str,
) -> None:
    before, files = checksums(hostile.engine), stored_files()
    data = None if form is None else {"csrf": hostile.csrf, **form}
    response = hostile.client.request(method, path.format(**hostile.ids), data=data)
    assert response.status_code == status, (label, response.text[:500])
    assert message in _spaced(response.text)
    assert 'lang="fr"' in response.text  # a French page, not Starlette's English text
    assert checksums(hostile.engine) == before
    assert stored_files() == files


def test_an_id_no_database_can_hold_selects_no_case(hostile: Hostile) -> None:
    page = hostile.client.get(f"/dossiers?employeur={HUGE}&institut=99999999999999999999999")
    assert page.status_code == 200
    assert "/dossiers/{listed}".format(**hostile.ids) not in page.text


# -- the imports -------------------------------------------------------------------------------------

IMPORT_CASES: list[tuple[str, Kind, str, str]] = [
    # The employer of the first offer, under its own SIRET: the NUL must not rename it.
    ("a NUL renaming an employer", Kind.employers, "Raison sociale;SIRET;Code commune;Secteur\nEHPAD\x00 0;73282932000074;48095;elderly\n", "U+0000"),
    ("a bidi override in an employer name", Kind.employers, "Raison sociale;SIRET;Code commune;Secteur\nEHPAD \u202eevil;73282932000074;48095;elderly\n", "U+202E"),
    ("an escape in an institute name", Kind.institutes, f"Nom;Code commune\nIFAS{ESC};48095\n", "U+001B"),
    ("a 250-character institute name", Kind.institutes, "Nom;Code commune\n" + "I" * 250 + ";48095\n", "dépasse 200"),
    ("a 120-character last name", Kind.learners, "Nom;Prénom;Date de naissance;Courriel;Institut;Début de formation;Fin de formation\n" + "N" * 120 + ";Léa;2003-04-05;lea@exemple.fr;{institute};2026-09-07;2027-07-02\n", "dépasse 100"),
    ("a 300-character e-mail", Kind.learners, "Nom;Prénom;Date de naissance;Courriel;Institut;Début de formation;Fin de formation\nFabre;Léa;2003-04-05;" + "e" * 290 + "@exemple.fr;{institute};2026-09-07;2027-07-02\n", "dépasse 254"),
    ("a 60-character IBAN", Kind.learners, "Nom;Prénom;Date de naissance;Courriel;Institut;Début de formation;Fin de formation;IBAN\nFabre;Léa;2003-04-05;lea@exemple.fr;{institute};2026-09-07;2027-07-02;" + "FR76" * 15 + "\n", "dépasse 50"),
    ("a tab in a first name", Kind.learners, "Nom;Prénom;Date de naissance;Courriel;Institut;Début de formation;Fin de formation\nFabre;Lé\ta;2003-04-05;lea@exemple.fr;{institute};2026-09-07;2027-07-02\n", "U+0009"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "kind", "content", "message"), IMPORT_CASES, ids=[c[0] for c in IMPORT_CASES]
)
def test_an_import_refuses_the_row_in_french_and_writes_nothing(
    hostile: Hostile, label: str, kind: Kind, content: str, message: str
) -> None:
    path = hostile.folder / f"{kind.value}.csv"
    path.write_text(content.replace("{institute}", hostile.ids["institute"]), encoding="utf-8")
    before = checksums(hostile.engine)
    result = import_file(hostile.world.uow(), kind, path, scheme_id=SCHEME, today=D("2026-06-01"))
    assert not result.written, label
    assert any(message in _spaced(issue.message) for issue in result.issues), result.issues
    assert checksums(hostile.engine) == before


def test_the_imports_page_refuses_a_nul_in_a_name(hostile: Hostile) -> None:
    before = checksums(hostile.engine)
    csv = "Raison sociale;SIRET;Code commune;Secteur\nEHPAD\x00 0;73282932000074;48095;elderly\n"
    response = hostile.client.post(
        "/imports",
        data={"csrf": hostile.csrf, "kind": "employers", "scheme": SCHEME},
        files={"file": ("employeurs.csv", csv.encode(), "text/csv")},
    )
    assert response.status_code == 400
    assert "caractère de contrôle interdit (U+0000" in response.text
    assert checksums(hostile.engine) == before
    with hostile.world.uow() as uow:
        names = uow.session.scalars(sa.select(Employer.name)).all()
    assert all("\x00" not in n for n in names)


# -- what is accepted still is ----------------------------------------------------------------


def test_limits_are_inclusive_and_accepted_values_are_stored_clean(
    hostile: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The boundaries themselves pass: a 100-character first name, a note over several lines
    (tab and newline are allowed there), an accented name."""
    cli = make_cli(monkeypatch)
    args = [a.format(**hostile.ids) for a in _with(LEARNER, "--first-name", "É" * 100)]
    created = cli(hostile.url, *_with(args, "--email", "bornes@exemple.fr"))
    assert created.exit_code == 0, created.output
    noted = cli(hostile.url, "case", "note", hostile.ids["selected"], "--text",
                "Première ligne\r\n\tseconde ligne")  # fmt: skip
    assert noted.exit_code == 0, noted.output


# -- what is printed, what is stored, what the settings say ------------------------------------------


def test_names_reach_the_terminal_as_text(
    world: World, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name stored before the limits (or by hand) with markup and escapes: `case list`,
    `case show` and an error print it as text, the escapes replaced."""
    from workflow.cli import main
    from workflow.models import Learner

    w = world
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    with w.engine.begin() as conn:
        conn.execute(
            sa.update(Learner)
            .where(Learner.id == w.learners[0])
            .values(first_name="[bold]Léa[/bold]", last_name="Fa\x1b[2Jbre\x07")
        )
    cli = make_cli(monkeypatch)
    for args in (("case", "list"), ("case", "show", str(case))):
        shown = cli(db_url, *args)
        assert shown.exit_code == 0, shown.output
        assert "\x1b" not in shown.output and "\x07" not in shown.output
        assert "[bold]Léa[/bold]" in shown.output and "Fa\ufffd[2Jbre\ufffd" in shown.output
    # An action's name typed with markup and a terminal title sequence, repeated by the error.
    monkeypatch.setattr("sys.argv", ["fidelis", "--db", db_url, "case", "fire", str(case),
                                     "[red]x\x1b]0;titre\x07"])  # fmt: skip
    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code == 1
    printed = capsys.readouterr().err
    assert "Action inconnue : « [red]x\ufffd]0;titre\ufffd »" in printed
    assert "\x1b]" not in printed and "\x07" not in printed


@pytest.mark.parametrize(
    ("content", "suffix"),
    [(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, ".png"), (b"\xff\xd8\xff\xe0" + b"\x00" * 32, ".jpg")],
)
def test_a_scan_is_stored_under_the_format_it_is(
    world: World, tmp_path: Path, content: bytes, suffix: str
) -> None:
    w = world
    case = signed_case(w)
    scan = tmp_path / "scan-du-contrat.exe"
    scan.write_bytes(content)
    info = contracts.attach_scan(w.uow(), case, scan, schemes=w.schemes)
    assert info.filename.endswith(f"-signe-v1{suffix}")
    assert info.path.read_bytes() == content


def test_the_body_limits_are_settings(
    world: World, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FIDELIS_MAX_BODY_BYTES for every request, FIDELIS_MAX_IMPORT_BYTES for the imports
    page: each says its own limit in French, as a page or as the API's JSON."""
    monkeypatch.setenv("FIDELIS_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("FIDELIS_MAX_IMPORT_BYTES", "65536")
    _, token = accounts.add_user(world.uow(), email="region@exemple.fr", name="Région",
                                 role="region", password=PASSWORD)  # fmt: skip
    before = checksums(world.engine)
    with TestClient(create_app(db_url, secret_key="test")) as client:
        api = client.post("/api/v1/cases/1/fire", json={"trigger": "submit", "reason": "r" * 5000},
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert api.status_code == 413
        assert api.json() == {"detail": "Requête trop volumineuse : 4 Ko au plus (les fichiers "
                              "s'envoient depuis la page des imports) ; rien n'a été enregistré."}  # fmt: skip
        page = client.get("/connexion")
        client.post("/connexion", data={"email": "region@exemple.fr", "password": PASSWORD,
                                        "csrf": _csrf(page.text)})  # fmt: skip
        csrf = _csrf(client.get("/imports").text)
        rows = "Nom;Code commune\n" + "IFAS de Mende;48095\n" * 400  # 8 KB: more than 4 KB
        small = client.post("/imports", data={"csrf": csrf, "kind": "institutes"},
                            files={"file": ("instituts.csv", rows.encode(), "text/csv")})  # fmt: skip
        assert small.status_code == 400 and "Requête trop volumineuse" not in small.text
        big = client.post("/imports", data={"csrf": csrf, "kind": "institutes"},
                          files={"file": ("instituts.csv", rows.encode() * 10, "text/csv")})  # fmt: skip
        assert big.status_code == 413
        assert "Requête trop volumineuse : 64 Ko au plus ; rien n&#39;a été enregistré." in big.text
    assert checksums(world.engine) == before
