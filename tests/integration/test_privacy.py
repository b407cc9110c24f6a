"""Personal data where it can be erased (SQLite and PostgreSQL).

A learner lives a whole case life — three applications (one rejected, one withdrawn by the
signature), a note, a contract issued and signed, its signed scan, reminders sent by e-mail, a
suspension and its amendment, a payment cancelled, a breach and its recovery order, a nightly run
that failed naming her — with her name and e-mail written in every free-text field a caseworker
can fill. Ten years after her last case closed, the nightly retention step runs: no byte of her
name, e-mail or IBAN may remain in any table, column or JSON value, in the SQLite file, or in any
file of the documents folder (the .docx members read unzipped); another learner's active case
keeps everything. The IBAN of a living learner is never stored in clear, is shown masked, and
only the SEPA file carries it. `fidelis privacy export` gives the learner's data as JSON."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from jobs.nightly import run_nightly
from jobs.outbox import send_pending
from tests.conftest import IBAN, World
from tests.integration.test_case_service import D, fire, signed_case
from tests.integration.test_reports import Cli, make_cli
from tests.integration.test_web import PASSWORD, login
from tests.smtpserver import LocalSmtpServer
from workflow import accounts, audit, cases, contracts, directory, payments, privacy
from workflow.db import session_factory
from workflow.documents.store import DocumentPurged, default_store, export_document
from workflow.history import verify
from workflow.imports.columns import Kind
from workflow.imports.exports import export_file
from workflow.mailer import SmtpSettings
from workflow.models import Document, JobRun, Learner, LearnerPurge, OutboxMessage, Payment
from workflow.web.app import create_app

FIRST, LAST = "Zéphyrine", "Quillebeuf-Stomp"
FULL = f"{FIRST} {LAST}"
EMAIL = "zephyrine.qs@exemple.fr"
HER_IBAN = "FR7630004000031234567890143"
# Her name in every spelling a page, a file or a JSON value could hold it.
NEEDLES = (FIRST, LAST, "Zephyrine", "Quillebeuf", EMAIL, HER_IBAN, HER_IBAN[4:])
PURGE_DAY = D("2038-04-01")  # ten years (the scheme's retention) after her breach


@pytest.fixture(autouse=True)
def purge_years_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """The purge runs ten years after the story (and once decades later): "today" is after
    them all, so that the nightly run's "no later than tomorrow" accepts them."""
    monkeypatch.setenv("FIDELIS_TODAY", "2060-01-02")


@dataclass
class Life:
    w: World
    learner: int
    cases: list[int]
    other_case: int


def says(text: str) -> str:
    """A free text a caseworker could write, naming her."""
    return f"{text} — {FULL} ({EMAIL})"


@pytest.fixture
def smtp() -> Iterator[LocalSmtpServer]:
    server = LocalSmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def life(world: World, tmp_path: Path, smtp: LocalSmtpServer) -> Life:
    w = world
    learner = directory.add_learner(
        w.uow(), first_name=FIRST, last_name=LAST, birth_date=date(2003, 4, 5), email=EMAIL,
        institute_id=w.institute, training_start=D("2026-09-07"), training_end=D("2027-07-02"),
        iban=HER_IBAN, today=D("2026-05-01"),
    )  # fmt: skip
    mine = [
        cases.open_case(w.uow(), offer, learner, on=D("2026-05-30"), actor="agent")
        for offer in w.offers
    ]
    signed, _withdrawn, rejected = mine  # the second: withdrawn by the signature
    for case in mine:
        fire(w, case, "submit", "2026-06-01")
    fire(w, rejected, "reject", "2026-06-05", reason=says("préfère un autre employeur"))
    fire(w, signed, "interview", "2026-06-10", params={"interview_date": "2026-06-09"})
    fire(w, signed, "select", "2026-06-12")
    cases.add_note(w.uow(), signed, says("Appel de l'apprenante"), on=D("2026-06-15"),
                   schemes=w.schemes)  # fmt: skip
    contracts.generate_contract(w.uow(), signed, tier="2x150", on=D("2026-06-20"),
                                schemes=w.schemes)  # fmt: skip
    for party, name in (("learner", FULL), ("employer", "M. Roux"), ("region", "Mme la VP")):
        contracts.sign_contract(w.uow(), signed, party=party, on=D("2026-07-01"), name=name,
                                schemes=w.schemes)  # fmt: skip
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(f"%PDF-1.4\n% signé : {FULL}, {EMAIL}\n%%EOF\n".encode())
    contracts.attach_scan(w.uow(), signed, scan, on=D("2026-07-02"), schemes=w.schemes)
    fire(w, signed, "sign", "2026-07-06")  # withdraws her other open application
    # Another learner signs on the offer she left: an active case, kept whole.
    other_case = signed_case(w, learner=0, offer=1)
    # Payments, then a reminder to her e-mail (training over, no service yet), sent.
    run_nightly(w.engine, D("2027-08-31"), schemes=w.schemes, send_mail=False, catch_up=False)
    factory = session_factory(w.engine)
    sent = send_pending(factory, w.schemes, settings=SmtpSettings("127.0.0.1", smtp.port))
    assert sent >= 1 and any(EMAIL in m["To"] for m in smtp.messages)
    fire(w, signed, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    cases.suspend(w.uow(), signed, start=D("2028-01-01"), end=D("2028-01-31"),
                  reason="maternity", schemes=w.schemes)  # fmt: skip
    with w.uow() as uow:
        payment = uow.session.scalars(
            sa.select(Payment.id).where(Payment.case_id == signed, Payment.status == "due")
        ).first()
    assert payment is not None
    payments.cancel(w.uow(), payment, reason=says("versement en double"), on=D("2028-02-01"),
                    actor="agent")  # fmt: skip
    fire(w, signed, "breach", "2028-03-16", reason=says("démission"),
         params={"category": "resignation"})  # fmt: skip
    with w.uow() as uow:  # a nightly run that failed naming her
        uow.session.add(JobRun(as_of=D("2028-03-17"), holder="h", status="failed",
                               error=f"Échec à l'étape « paiements » : L'apprenant {FULL} "
                               "n'a pas d'IBAN."))  # fmt: skip
        uow.commit()
    return Life(w, learner, mine, other_case)


def _text(value: Any) -> str:
    """A cell as text: JSON decoded (the JSON type writes "é" as "\\u00e9"), bytes as UTF-8."""
    if isinstance(value, bytes | memoryview):
        value = bytes(value).decode("utf-8", "replace")
    if isinstance(value, str) and value[:1] in "{[":
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def database_dump(engine: sa.Engine) -> str:
    """Every row of every table, every column, JSON decoded, the raw value beside it."""
    lines = []
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                lines.append(f"{table}: " + " | ".join(f"{_text(v)} {v!r}" for v in row))
    return "\n".join(lines)


def files_text(folder: Path) -> Iterator[tuple[Path, str]]:
    """Every file of the documents folder as text, and each member of a zip (.docx, .xlsx)."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        yield path, raw.decode("utf-8", "replace")
        if zipfile.is_zipfile(io.BytesIO(raw)):
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                for member in archive.namelist():
                    yield path, archive.read(member).decode("utf-8", "replace")


def found(text: str) -> list[str]:
    return [n for n in NEEDLES if n.casefold() in text.casefold()]


def sqlite_file(engine: sa.Engine) -> Path | None:
    database = engine.url.database
    return Path(database) if engine.dialect.name == "sqlite" and database else None


def test_the_purge_leaves_no_trace_of_her_in_the_database_nor_the_documents(
    life: Life, documents_dir: Path
) -> None:
    w = life.w
    # Her data is everywhere before: the search would find it.
    assert set(found(database_dump(w.engine))) >= {FIRST, LAST, EMAIL}
    in_files = {n for _, text in files_text(documents_dir) for n in found(text)}
    assert {FIRST, LAST, EMAIL} <= in_files
    if (path := sqlite_file(w.engine)) is not None:  # in the file or its write-ahead log
        wal = path.with_name(path.name + "-wal")
        raw = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        assert LAST.encode() in raw
    with w.uow() as uow:
        kept = {
            d.id: d.sha256
            for d in uow.session.scalars(sa.select(Document).where(
                Document.case_id == life.other_case))
        }  # fmt: skip
    assert kept

    report = run_nightly(w.engine, PURGE_DAY, schemes=w.schemes, send_mail=False,
                         catch_up=False, only_steps=("retention",))  # fmt: skip
    (run,) = report.runs
    assert run["counts"]["retention"] == 1
    assert run["counts"]["retention_documents"] == 4  # contract, scan, amendment, recovery order

    dump = database_dump(w.engine)
    assert found(dump) == [], [line for line in dump.splitlines() if found(line)][:5]
    leaks = [(p.name, found(text)) for p, text in files_text(documents_dir) if found(text)]
    assert leaks == []
    if path is not None:  # not even in the file's free pages, nor in its log
        for part in (path, path.with_name(path.name + "-wal")):
            if part.exists():
                raw = part.read_bytes()
                assert [n for n in NEEDLES if n.encode() in raw] == [], part.name

    with w.uow() as uow:
        s = uow.session
        purge = s.scalars(sa.select(LearnerPurge)).one()
        assert purge.learner_id == life.learner and purge.as_of == PURGE_DAY
        assert purge.run_id == run["id"] and purge.files_removed_at is not None
        assert purge.counts["signatures"] == 3 and purge.counts["texts"] >= 4
        assert purge.counts["messages"] >= 1 and purge.counts["files"] >= 4
        assert purge.counts["payment_reasons"] == 1 and purge.counts["run_errors"] == 1
        docs = s.scalars(sa.select(Document).where(Document.case_id.in_(life.cases))).all()
        assert docs and {d.status for d in docs} == {"purged"}
        assert {d.fingerprint for d in docs} == {None}
        purged_doc = docs[0].id
        # The other learner's case keeps her documents and their files.
        for doc_id, sha in kept.items():
            doc = s.get_one(Document, doc_id)
            assert doc.status == "issued" and doc.sha256 == sha
            assert default_store().read(f"{sha[:2]}/{sha}.docx", sha)
        other = s.get_one(Learner, w.learners[0])
        assert other.first_name == "Apprenant0" and other.iban is not None
        # Her history still tells the same story (states, dates, money), and its chain holds:
        # it covers her texts by reference, not their words.
        assert [d for _, d in verify(s, None, w.schemes) if d] == []
        assert list(audit.verify(s)) == []
        messages = s.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.case_id.in_(life.cases))).all()  # fmt: skip
        assert messages and {m.recipient for m in messages} == {None}
    with pytest.raises(DocumentPurged, match="effacé"):
        export_document(w.uow(), purged_doc, documents_dir / "copie.docx")

    # Once is enough: the next night finds nobody, and nothing changes.
    again = run_nightly(w.engine, PURGE_DAY, schemes=w.schemes, send_mail=False,
                        catch_up=False, only_steps=("retention",))  # fmt: skip
    assert again.runs[0]["counts"]["retention"] == 0
    assert database_dump(w.engine).count("learner_purges:") == 1


def test_a_purged_document_never_changes_and_no_other_may_lose_its_fingerprint(
    life: Life,
) -> None:
    w = life.w
    run_nightly(w.engine, PURGE_DAY, schemes=w.schemes, send_mail=False, catch_up=False,
                only_steps=("retention",))  # fmt: skip
    with w.engine.connect() as conn:
        purged = conn.scalar(sa.select(Document.id).where(Document.status == "purged"))
        kept = conn.scalar(sa.select(Document.id).where(Document.status == "issued"))
    for statement, ident in (
        ("UPDATE documents SET status = 'issued' WHERE id = :i", purged),
        ("UPDATE documents SET status_reason = 'x' WHERE id = :i", purged),
        ("UPDATE documents SET fingerprint = NULL WHERE id = :i", kept),
        ("UPDATE documents SET status = 'purged', fingerprint = NULL, sha256 = 'x' WHERE id = :i",
         kept),
    ):  # fmt: skip
        with pytest.raises(sa.exc.DBAPIError), w.engine.begin() as conn:
            conn.execute(sa.text(statement), {"i": ident})


def test_a_run_killed_before_removing_the_files_has_them_removed_the_next_night(
    life: Life, documents_dir: Path
) -> None:
    w = life.w
    with w.uow() as uow:  # the purge committed, then the process died
        privacy.purge_learner(uow.session, life.learner, as_of=PURGE_DAY)
        uow.commit()
    assert any(found(text) for _, text in files_text(documents_dir))
    report = run_nightly(w.engine, PURGE_DAY, schemes=w.schemes, send_mail=False,
                         catch_up=False, only_steps=("retention",))  # fmt: skip
    assert report.runs[0]["counts"]["retention"] == 0  # nobody new…
    assert [p for p, text in files_text(documents_dir) if found(text)] == []  # …files gone
    with w.uow() as uow:
        purge = uow.session.scalars(sa.select(LearnerPurge)).one()
        assert purge.files_removed_at is not None and purge.counts["files"] >= 4


def test_an_active_case_is_never_purged(life: Life) -> None:
    w = life.w
    # Her cases are closed for ten years, but the other learner's case is still running.
    run_nightly(w.engine, D("2060-01-01"), schemes=w.schemes, send_mail=False, catch_up=False,
                only_steps=("retention",))  # fmt: skip
    with w.uow() as uow:
        purged = set(uow.session.scalars(sa.select(LearnerPurge.learner_id)))
    assert purged == {life.learner}


# -- the right of access -----------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Cli:
    return make_cli(monkeypatch)


def test_privacy_export_gives_her_data_as_json_then_its_erasure(
    life: Life, db_url: str, cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "donnees.json"
    result = cli(db_url, "privacy", "export", str(life.learner), "--out", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    identity = data["identity"]
    assert (identity["first_name"], identity["last_name"], identity["email"]) == (
        FIRST,
        LAST,
        EMAIL,
    )
    assert identity["iban"] == "FR76 **** **** 0143" and HER_IBAN not in out.read_text()
    assert data["purge"] is None
    assert sorted(c["id"] for c in data["cases"]) == sorted(life.cases)
    signed = next(c for c in data["cases"] if c["id"] == life.cases[0])
    assert signed["state"] == "breached" and signed["contract_number"]
    notes = [e["note"] for e in signed["events"] if e["action"] == "note"]
    assert notes == [says("Appel de l'apprenante")]
    assert any(e["reason"] == says("démission") for e in signed["events"])
    assert signed["payments"] and signed["reimbursements"]
    kinds = {d["kind"] for d in signed["documents"]}
    assert {"contract", "signed_scan", "amendment", "recovery_order"} <= kinds
    contract = next(d for d in signed["documents"] if d["kind"] == "contract")
    assert {"party": "learner", "name": FULL, "on": "2026-07-01"} in contract["signatures"]
    assert any(m["recipient"] == EMAIL and m["status"] == "sent" for m in signed["messages"])

    run_nightly(life.w.engine, PURGE_DAY, schemes=life.w.schemes, send_mail=False,
                catch_up=False, only_steps=("retention",))  # fmt: skip
    after = cli(db_url, "privacy", "export", str(life.learner))
    assert after.exit_code == 0, after.output
    erased = json.loads(after.stdout)
    assert found(after.stdout) == []
    assert erased["purge"]["as_of"] == PURGE_DAY.isoformat()
    assert erased["purge"]["erased"]["documents"] == 4
    assert {d["status"] for c in erased["cases"] for d in c["documents"]} == {"purged"}


def test_privacy_export_of_an_unknown_learner_or_to_a_bad_path_is_a_french_error(
    life: Life, db_url: str, cli: Cli, tmp_path: Path
) -> None:
    missing = cli(db_url, "privacy", "export", "999")
    assert missing.exit_code == 1 and "Apprenant introuvable" in str(missing.exception)
    bad = cli(db_url, "privacy", "export", str(life.learner), "--out",
              str(tmp_path / "absent" / "x.json"))  # fmt: skip
    assert bad.exit_code == 1 and "Impossible d'écrire" in str(bad.exception)
    assert not (tmp_path / "absent").exists()


# -- IBANs -------------------------------------------------------------------------------------


def test_no_iban_is_stored_in_clear_and_every_export_shows_it_masked(
    life: Life, tmp_path: Path
) -> None:
    w = life.w
    dump = database_dump(w.engine)
    assert IBAN not in dump and HER_IBAN not in dump and HER_IBAN[4:] not in dump
    for name in ("apprenants.csv", "apprenants.xlsx"):
        export_file(w.uow(), Kind.learners, tmp_path / name)
        text = "\n".join(t for path, t in files_text(tmp_path) if path.name == name)
        assert "FR76 **** **** 0143" in text and "FR76 **** **** 0189" in text
        assert HER_IBAN not in text and IBAN not in text


def test_the_sepa_file_alone_carries_the_iban(life: Life) -> None:
    w = life.w
    export = payments.export_sepa(w.uow(), D("2026-10-01"), on=D("2026-11-12"), actor="trésor")
    assert export.count == 2  # her share and the other learner's
    xml = export.xml.decode()
    assert f"<IBAN>{HER_IBAN}</IBAN>" in xml and f"<IBAN>{IBAN}</IBAN>" in xml


def test_without_the_key_an_iban_cannot_be_entered_nor_paid_but_pages_show_it_masked(
    life: Life, db_url: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = life.w
    monkeypatch.delenv("FIDELIS_IBAN_KEY")
    before = database_dump(w.engine)
    added = cli(db_url, "learner", "add", "--first-name", "Ana", "--last-name", "Sans",
                "--birth-date", "2004-01-01", "--email", "ana@exemple.fr", "--institute",
                str(w.institute), "--training-start", "2026-09-07", "--training-end",
                "2027-07-02", "--iban", IBAN)  # fmt: skip
    assert added.exit_code == 1 and "FIDELIS_IBAN_KEY" in str(added.exception)
    sepa = cli(db_url, "payments", "export-sepa", "--period", "2026-09", "--out", "/dev/null")
    assert sepa.exit_code == 1 and "FIDELIS_IBAN_KEY" in str(sepa.exception)
    assert database_dump(w.engine) == before
    # Reading needs no key: the case page's guards, the learners' page, the privacy export.
    shown = cli(db_url, "case", "show", str(life.other_case), "--json")
    assert shown.exit_code == 0, shown.output
    accounts.add_user(w.uow(), email="region@exemple.fr", name="Agent", role="region",
                      password=PASSWORD)  # fmt: skip
    with TestClient(create_app(db_url, secret_key="test")) as client:
        login(client, "region")
        page = client.get("/apprenants")
    assert page.status_code == 200
    assert "FR76 **** **** 0143" in page.text and HER_IBAN not in page.text


def test_a_purged_document_is_a_french_404_on_the_web(life: Life, db_url: str) -> None:
    w = life.w
    run_nightly(w.engine, PURGE_DAY, schemes=w.schemes, send_mail=False, catch_up=False,
                only_steps=("retention",))  # fmt: skip
    with w.engine.connect() as conn:
        purged = conn.scalar(sa.select(Document.id).where(Document.status == "purged"))
    accounts.add_user(w.uow(), email="region@exemple.fr", name="Agent", role="region",
                      password=PASSWORD)  # fmt: skip
    with TestClient(create_app(db_url, secret_key="test")) as client:
        login(client, "region")
        page = client.get(f"/documents/{purged}")
        case = client.get(f"/dossiers/{life.cases[0]}")
    assert page.status_code == 404 and "effacé" in page.text
    assert case.status_code == 200 and "effacé (durée de conservation échue)" in case.text
    assert not found(case.text)
