"""PDF copies with LibreOffice headless: one real conversion read back with pdftotext, and the
failures (LibreOffice missing, failing, hanging) with stand-in executables on PATH.

LibreOffice and poppler-utils are installed by the project's test command (`scripts/test`):
these tests do not skip when they are missing, they fail."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.integration.test_documents_render import CONTRACT, NUMBER, contract, make_case
from workflow.documents import DocumentError, LibreOfficeMissing, render_docx, to_pdf
from workflow.documents.french import plain
from workflow.models import Base
from workflow.schemes import SchemeRegistry
from workflow.territory import default_territory


@pytest.fixture
def session() -> Iterator[Session]:
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def fake_soffice(folder: Path, script: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "soffice"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_a_real_conversion_of_the_contract(
    session: Session, schemes: SchemeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = tmp_path / "tmp"
    profiles.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(profiles))
    case = make_case(session, first_name="Zoé", last_name="O'Brien & Fils")
    source = tmp_path / f"{NUMBER}.docx"
    ctx = contract(case, schemes["occitanie-fidelisation-as"], default_territory())
    source.write_bytes(render_docx(CONTRACT, ctx))

    started = time.monotonic()
    pdf = to_pdf(source, tmp_path / "pdf")
    elapsed = time.monotonic() - started

    assert pdf == tmp_path / "pdf" / f"{NUMBER}.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    # PDF/A-3b, so that the seal may attach its evidence (issue 16): said in its XMP metadata.
    assert b"<pdfaid:part>3</pdfaid:part>" in pdf.read_bytes()
    extracted = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(plain(extracted).split())  # lines joined: words wrap where the page ends
    assert NUMBER in text
    assert "Zoé O'Brien & Fils" in text
    assert "1 479,68 €" in text and "Tribunal administratif de Toulouse" in text
    assert list(profiles.iterdir()) == []  # the private profile is gone
    assert elapsed < 120


def test_libreoffice_missing_says_so_in_french(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    source = tmp_path / "x.docx"
    source.write_bytes(b"PK")
    with pytest.raises(LibreOfficeMissing, match="LibreOffice est introuvable") as err:
        to_pdf(source, tmp_path)
    assert isinstance(err.value, DocumentError)


def test_a_failed_conversion_reports_libreoffice_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_soffice(tmp_path / "bin", "echo 'Error: source file could not be loaded' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    source = tmp_path / "x.docx"
    source.write_bytes(b"PK")
    with pytest.raises(DocumentError, match=r"a échoué.*source file could not be loaded"):
        to_pdf(source, tmp_path / "out")


def test_a_conversion_that_writes_nothing_is_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_soffice(tmp_path / "bin", "exit 0\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    source = tmp_path / "x.docx"
    source.write_bytes(b"PK")
    with pytest.raises(DocumentError, match=r"a échoué \(code 0\)"):
        to_pdf(source, tmp_path / "out")


def test_a_hanging_conversion_is_killed_with_its_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "child.pid"
    sleep = shutil.which("sleep")
    fake_soffice(tmp_path / "bin", f"{sleep} 60 &\necho $! > {pid_file}\nwait\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    source = tmp_path / "x.docx"
    source.write_bytes(b"PK")
    with pytest.raises(DocumentError, match="dépassé 1 s"):
        to_pdf(source, tmp_path / "out", timeout=1)
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{child}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            break
        if state == "Z":  # killed, waiting for init to reap it
            break
        time.sleep(0.05)
    else:
        os.kill(child, 9)
        pytest.fail("the child of the conversion survived the timeout")


def test_a_missing_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="introuvable"):
        to_pdf(tmp_path / "absent.docx", tmp_path)
