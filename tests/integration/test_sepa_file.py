"""`fidelis payments export-sepa --out FILE` writes the file before it marks anything exported: a
file that cannot be written is a French error (exit 1) and the database is as it was; a good
one is complete, validated and in place once the payments say « exporté »."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import World
from tests.integration.test_case_service import D, signed_case
from tests.integration.test_reports import Cli, make_cli
from workflow import payments
from workflow.errors import FidelisError
from workflow.models import Payment, SepaBatch
from workflow.sepa import validate_pain001


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Where the files go (the database and documents live beside it)."""
    path = tmp_path / "virements"
    path.mkdir()
    return path


@pytest.fixture
def due(world: World) -> World:
    """A signed case whose Région shares of September and October 2026 are due."""
    from jobs.nightly import run_nightly

    signed_case(world)
    run_nightly(world.engine, D("2026-11-10"), schemes=world.schemes, send_mail=False)
    return world


def state(w: World) -> tuple[list[Any], list[Any]]:
    with w.engine.connect() as conn:
        rows = conn.execute(
            sa.select(Payment.id, Payment.status, Payment.batch_id, Payment.status_changed_on)
            .where(Payment.funder == "region")
            .order_by(Payment.id)
        ).all()
        batches = conn.execute(sa.select(SepaBatch.id, SepaBatch.sha256)).all()
    return [tuple(r) for r in rows], [tuple(b) for b in batches]


def export(cli: Cli, w: World, out: Path) -> Any:
    url = w.engine.url.render_as_string(hide_password=False)
    return cli(url, "payments", "export-sepa", "--period", "2026-09", "--out", str(out),
               "--on", "2026-11-12")  # fmt: skip


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("absent/virements.xml", "Dossier inexistant"),
        # An existing folder is no longer a bad `--out` (issue 13: one file per funder in it):
        # test_an_existing_folder_gets_one_file_per_funder below.
        ("un-fichier/virements.xml", "Dossier inexistant"),
    ],
)
def test_a_bad_out_is_a_french_error_and_marks_nothing_exported(
    due: World, folder: Path, monkeypatch: pytest.MonkeyPatch, target: str, message: str
) -> None:
    (folder / "un-dossier").mkdir()
    (folder / "un-fichier").write_text("pas un dossier")
    before = state(due)
    result = export(make_cli(monkeypatch), due, folder / target)
    assert result.exit_code == 1
    assert isinstance(result.exception, FidelisError), result.exception  # main(): French, exit 1
    assert message in str(result.exception)
    assert state(due) == before
    assert sorted(p.name for p in folder.rglob("*")) == ["un-dossier", "un-fichier"]


def test_a_failed_write_leaves_no_file_and_nothing_exported(
    due: World, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills up while the file is written: nothing is committed, nothing is left."""
    before = state(due)

    def disk_full(self: Path, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    result = export(make_cli(monkeypatch), due, folder / "virements.xml")
    assert isinstance(result.exception, FidelisError), result.exception
    assert "disque plein" in str(result.exception)
    assert state(due) == before
    assert list(folder.iterdir()) == []


def test_the_file_is_in_place_when_the_payments_say_exported(
    due: World, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = folder / "virements.xml"
    out.write_text("un ancien fichier, remplacé en une fois")
    result = export(make_cli(monkeypatch), due, out)
    assert result.exit_code == 0, result.output
    validate_pain001(out.read_bytes())
    rows, batches = state(due)
    assert [status for _, status, _, _ in rows] == ["exported", "due"]
    assert len(batches) == 1 and rows[0][2] == batches[0][0]
    again = payments.export_sepa(due.uow(), D("2026-09-01"), on=D("2026-11-20"), actor="trésor")
    assert again.reused and again.xml == out.read_bytes()
    assert [p.name for p in folder.iterdir()] == ["virements.xml"]


def test_an_existing_folder_gets_one_file_per_funder(
    due: World, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--out` an existing folder: the Région's file in it, named after the funder and its
    batch (tests/integration/test_ars_scheme.py: two funders, two files)."""
    (folder / "un-dossier").mkdir()
    result = export(make_cli(monkeypatch), due, folder / "un-dossier")
    assert result.exit_code == 0, result.output
    assert "Région : 1 virement(s), 120,00\u00a0€ → " in result.output
    rows, batches = state(due)
    assert [status for _, status, _, _ in rows] == ["exported", "due"] and len(batches) == 1
    (written,) = (folder / "un-dossier").iterdir()
    assert written.name == "region-FIDELIS-202609-00001.xml"
    validate_pain001(written.read_bytes())
