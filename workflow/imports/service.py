"""`import_file`: a CSV or XLSX file of institutes, employers or learners into the database.

Two passes over the file, each streamed in batches (memory does not grow with the file):

1. check every row — cells (`rows.py`), duplicates within the file (by upsert key), what the
   database makes invalid (`store.py`) — writing the problems to the report as they come and
   the clean records to a temporary spool file;
2. only then, if no row is invalid (or `skip_invalid`), write the spooled records in batches
   of `batch_size` inside ONE transaction: all of them or, on any failure, none.

Re-importing the same file changes nothing: every row is then « inchangée »."""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any, Protocol

import sqlalchemy as sa

from workflow.clock import today_paris
from workflow.db import UnitOfWork
from workflow.errors import FidelisError
from workflow.imports.columns import ColumnMap, Kind, map_columns
from workflow.imports.readers import open_table
from workflow.imports.report import Issue, Report
from workflow.imports.rows import Record, RowContext, parse_row
from workflow.imports.store import Outcome, institute_index, store_for
from workflow.schemes import SchemeRegistry, registry
from workflow.territory import Territory, default_territory

BATCH_SIZE = 1000
SHOWN_ISSUES = 200  # kept in the result for a page or a terminal; the report has them all


class ImportProgress(Protocol):
    """What a progress bar needs: the phase (with its row count when known), then rows."""

    def phase(self, name: str, total: int | None) -> None: ...

    def advance(self, rows: int) -> None: ...


@dataclass
class ImportResult:
    kind: Kind
    file: str
    rows: int = 0  # data rows read (blank lines aside)
    valid: int = 0
    invalid: int = 0  # rows with at least one problem
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    written: bool = False
    refusal: str | None = None  # why nothing was written, in French
    issues: list[Issue] = field(default_factory=list)  # the first SHOWN_ISSUES
    issue_count: int = 0
    warnings: list[str] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()
    report: Path | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "file": self.file,
            "rows": self.rows,
            "valid": self.valid,
            "invalid": self.invalid,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "written": self.written,
            "refusal": self.refusal,
            "issue_count": self.issue_count,
            "issues": [i.as_json() for i in self.issues],
            "warnings": self.warnings,
            "ignored_columns": list(self.ignored_columns),
            "report": None if self.report is None else str(self.report),
        }

    def summary(self) -> str:
        """One French sentence for a person."""
        what = self.kind.label
        if not self.written:
            return f"Import des {what} refusé : {self.refusal}"
        text = (
            f"Import des {what} : {self.created} créé(s), {self.updated} mis à jour, "
            f"{self.unchanged} inchangé(s)"
        )
        if self.invalid:
            text += f", {self.invalid} ligne(s) invalide(s) écartée(s)"
        return text + "."


class _Sink:
    """Issues to the report and the result, in line order within each batch."""

    def __init__(self, result: ImportResult, report: Report | None) -> None:
        self.result = result
        self.report = report
        self.pending: list[Issue] = []
        self.bad_lines = 0
        self._last_bad = 0

    def add(self, issues: Sequence[Issue]) -> None:
        self.pending += issues

    def flush(self) -> None:
        for issue in sorted(self.pending, key=lambda i: i.line):
            if issue.line != self._last_bad:
                self.bad_lines += 1
                self._last_bad = issue.line
            if self.report is not None:
                self.report.add(issue)
            if len(self.result.issues) < SHOWN_ISSUES:
                self.result.issues.append(issue)
            self.result.issue_count += 1
        self.pending = []


def import_file(
    uow: UnitOfWork,
    kind: Kind,
    path: Path,
    *,
    skip_invalid: bool = False,
    report: Report | None = None,
    scheme_id: str | None = None,
    scheme_registry: SchemeRegistry | None = None,
    territory: Territory | None = None,
    today: date | None = None,
    progress: ImportProgress | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportResult:
    """Check `path`, then write it all or nothing (or its valid rows with `skip_invalid`).

    `scheme_id` narrows the import to one scheme: employers' communes must meet its territory
    rule (else: the rule of at least one configured scheme), and new institutes without a
    « Dispositifs » cell are authorised for it (else: for every configured scheme). Raises
    InvalidInput when the file cannot be read at all; returns the result otherwise — with
    `written` False and a `refusal` when nothing was written."""
    known = scheme_registry or registry()
    schemes = [known[scheme_id]] if scheme_id else list(known.values())
    ctx = RowContext(
        territory=territory or default_territory(),
        schemes=schemes,
        known_schemes=list(known),
        today=today or today_paris(),
    )
    result = ImportResult(kind, path.name)
    sink = _Sink(result, report)
    try:
        with tempfile.TemporaryFile() as spool:
            _check(uow, kind, path, ctx, result, sink, spool, progress, batch_size)
            result.refusal = result.refusal or _refusal(result, skip_invalid)
            # The report is complete after the check: written before the rows are committed,
            # so that a report that cannot be written leaves the database as it was.
            if report is not None and report.close():
                result.report = report.path
            if result.refusal is None:
                _write(uow, kind, ctx, result, spool, progress, batch_size)
    except BaseException:
        if report is not None and result.report is None:
            report.discard()
        raise
    return result


def _check(
    uow: UnitOfWork,
    kind: Kind,
    path: Path,
    ctx: RowContext,
    result: ImportResult,
    sink: _Sink,
    spool: IO[bytes],
    progress: ImportProgress | None,
    batch_size: int,
) -> None:
    """Pass 1: every row checked, problems reported, clean records spooled; sets `refusal`."""
    with open_table(path) as table:
        cmap = map_columns(kind, table.header)
        if not isinstance(cmap, ColumnMap):
            sink.add([Issue(1, p.column, "", p.message) for p in cmap])
            sink.flush()
            result.refusal = (
                "l'en-tête du fichier ne convient pas ("
                + " ; ".join(p.message for p in cmap)
                + "). Rien n'a été enregistré."
            )
            return
        result.ignored_columns = cmap.ignored
        if progress is not None:
            progress.phase("Vérification", table.estimated_rows)
        with uow:
            if kind is Kind.learners:
                ctx.institutes = institute_index(uow.session)
            store = store_for(kind, uow.session, default_schemes=_default_schemes(ctx))
            seen: dict[Any, int] = {}
            window: list[Record] = []
            lines = 0

            def flush() -> None:
                # The stores name fields by key: the report names columns as the file heads them.
                database = [
                    Issue(i.line, cmap.header.get(i.column, i.column), i.value, i.message)
                    for i in store.check(window)
                ]
                sink.add(database)
                refused = {i.line for i in database}
                for record in window:
                    if record.line not in refused:
                        pickle.dump(record, spool, pickle.HIGHEST_PROTOCOL)
                        result.valid += 1
                sink.flush()
                window.clear()

            for line, cells in table.rows:
                result.rows += 1
                lines += 1
                parsed = parse_row(cmap, line, cells, ctx)
                if isinstance(parsed, list):
                    sink.add(parsed)
                elif (first := seen.get(parsed.key)) is not None:
                    sink.add([_duplicate(cmap, parsed, first, cells)])
                else:
                    seen[parsed.key] = line
                    window.append(parsed)
                if lines == batch_size:
                    flush()
                    lines = 0
                    if progress is not None:
                        progress.advance(batch_size)
            flush()
            if progress is not None:
                progress.advance(lines)
    result.invalid = sink.bad_lines


def _refusal(result: ImportResult, skip_invalid: bool) -> str | None:
    """All or nothing: any invalid row blocks the file, unless told to skip them."""
    if not result.invalid:
        return None
    if result.valid == 0:
        return (
            f"aucune ligne valide ({result.invalid} ligne(s) invalide(s)). Rien n'a été enregistré."
        )
    if skip_invalid:
        return None
    return (
        f"{result.invalid} ligne(s) invalide(s) sur {result.rows}. Rien n'a été enregistré : "
        "corrigez le fichier, ou relancez en écartant les lignes invalides (--skip-invalid)."
    )


def _duplicate(cmap: ColumnMap, record: Record, first: int, cells: Sequence[str]) -> Issue:
    key_field = {Kind.employers: "siret", Kind.institutes: "name", Kind.learners: "last_name"}[
        cmap.kind
    ]
    what = {
        Kind.employers: "ce SIRET",
        Kind.institutes: "cet institut (même nom, même commune)",
        Kind.learners: "cet apprenant (mêmes nom, prénom et date de naissance)",
    }[cmap.kind]
    position = cmap.index[key_field]
    value = cells[position].strip() if position < len(cells) else ""
    return Issue(
        record.line,
        cmap.header[key_field],
        value,
        f"Doublon dans le fichier : {what} figure déjà à la ligne {first}.",
    )


def _default_schemes(ctx: RowContext) -> list[str]:
    return [s.id for s in ctx.schemes]


def _spooled(spool: IO[bytes], batch_size: int) -> Iterator[list[Any]]:
    spool.seek(0)
    batch: list[Any] = []
    while True:
        try:
            batch.append(pickle.load(spool))  # our own temporary file
        except EOFError:
            break
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write(
    uow: UnitOfWork,
    kind: Kind,
    ctx: RowContext,
    result: ImportResult,
    spool: IO[bytes],
    progress: ImportProgress | None,
    batch_size: int,
) -> None:
    """Pass 2: the spooled records written in batches, in one transaction."""
    if progress is not None:
        progress.phase("Enregistrement", result.valid)
    total = Outcome()
    with uow:
        s = uow.session
        store = store_for(kind, s, default_schemes=_default_schemes(ctx))
        try:
            for batch in _spooled(spool, batch_size):
                total.add(store.write(batch))
                s.flush()
                s.expunge_all()  # the session holds no more than one batch
                if progress is not None:
                    progress.advance(len(batch))
            uow.commit()
        except sa.exc.IntegrityError as exc:
            raise FidelisError(
                "L'import a échoué pendant l'enregistrement (la base a refusé une ligne, "
                "peut-être modifiée entre-temps par quelqu'un d'autre) : rien n'a été "
                f"enregistré. Détail : {exc.orig}"
            ) from exc
    result.created, result.updated, result.unchanged = total.created, total.updated, total.unchanged
    result.warnings = total.warnings
    result.written = True
