"""`fidelis import institutes|employers|learners FILE` and `fidelis export institutes|employers|
learners FILE`: reference data as CSV or XLSX, French headers (workflow.imports)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from workflow.cli.common import JsonOpt, context_of, emit, err, export_app, import_app, out, plain
from workflow.imports import Kind, Report, default_report_path, export_file, import_file
from workflow.imports.readers import check_suffix
from workflow.validation import shown

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from workflow.imports import ImportResult

FileArg = Annotated[Path, typer.Argument(help="Fichier .csv ou .xlsx.", show_default=False)]
SkipOpt = Annotated[
    bool,
    typer.Option(
        "--skip-invalid",
        help="Enregistrer les lignes valides et écarter les autres (par défaut : une seule "
        "ligne invalide et rien n'est enregistré).",
    ),
]
ReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Rapport d'erreurs (.csv ou .xlsx ; défaut : à côté du fichier, "
        "FICHIER.erreurs.csv, ou .xlsx pour un classeur).",
        show_default=False,
    ),
]
SchemeOpt = Annotated[
    str | None,
    typer.Option(
        "--scheme",
        help="Dispositif : règle territoriale des communes des employeurs, dispositifs des "
        "nouveaux instituts (défaut : tous les dispositifs configurés).",
    ),
]
SHOWN = 10  # problems printed on the terminal; the report has them all


class _Bar:
    """The import's progress (rows read, then rows written) as a Rich progress bar."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def phase(self, name: str, total: int | None) -> None:
        self._finish()
        self.task = self.progress.add_task(name, total=total)

    def advance(self, rows: int) -> None:
        if self.task is not None:
            self.progress.advance(self.task, rows)

    def _finish(self) -> None:
        if self.task is not None:  # an estimated total (lines of the file) ends where rows did
            done = self.progress.tasks[self.task].completed
            self.progress.update(self.task, total=done, completed=done)

    def close(self) -> None:
        self._finish()


def _import(
    ctx: typer.Context,
    kind: Kind,
    file: Path,
    skip_invalid: bool,
    report_path: Path | None,
    scheme: str | None,
    as_json: bool,
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    check_suffix(file)
    report = Report(report_path or default_report_path(file), always=report_path is not None)
    check_suffix(report.path)
    uow = context_of(ctx).uow()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("lignes"),
        TimeElapsedColumn(),
        console=err,
        disable=as_json,
    ) as progress:
        bar = _Bar(progress)
        result = import_file(
            uow, kind, file, skip_invalid=skip_invalid, report=report, scheme_id=scheme,
            progress=bar,
        )  # fmt: skip
        bar.close()
    if not emit(result.as_json(), as_json):
        _print(result)
    if not result.written:
        raise typer.Exit(1)


def _print(result: ImportResult) -> None:
    if result.written:
        out.print(result.summary(), highlight=False, soft_wrap=True)
    else:
        err.print(
            f"[bold red]Erreur :[/bold red] {result.summary()}", highlight=False, soft_wrap=True
        )
    for issue in result.issues[:SHOWN]:
        err.print(
            f"  ligne {issue.line}, {plain(issue.column)} « {plain(shown(issue.value))} » : "
            f"{plain(issue.message)}",
            highlight=False,
            soft_wrap=True,
        )
    if result.issue_count > SHOWN:
        err.print(
            f"  … et {result.issue_count - SHOWN} autre(s) problème(s).",
            highlight=False,
            soft_wrap=True,
        )
    if result.report is not None:
        err.print(f"Rapport d'erreurs : {result.report}", highlight=False, soft_wrap=True)
    if result.ignored_columns:
        ignored = ", ".join(f"« {plain(c)} »" for c in result.ignored_columns)
        err.print(f"Colonnes ignorées : {ignored}.", highlight=False, soft_wrap=True)
    for warning in result.warnings:
        err.print(f"[yellow]Attention :[/yellow] {plain(warning)}", highlight=False, soft_wrap=True)


@import_app.command("institutes")
def import_institutes(
    ctx: typer.Context,
    file: FileArg,
    skip_invalid: SkipOpt = False,
    report: ReportOpt = None,
    scheme: SchemeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Importer des instituts (Nom, Code commune, Dispositifs) ; mise à jour sur (nom, commune)."""
    _import(ctx, Kind.institutes, file, skip_invalid, report, scheme, as_json)


@import_app.command("employers")
def import_employers(
    ctx: typer.Context,
    file: FileArg,
    skip_invalid: SkipOpt = False,
    report: ReportOpt = None,
    scheme: SchemeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Importer des employeurs ; mise à jour sur le SIRET.

    Colonnes : Raison sociale, SIRET, Code commune, Secteur, Difficulté de recrutement, Courriel.
    """
    _import(ctx, Kind.employers, file, skip_invalid, report, scheme, as_json)


@import_app.command("learners")
def import_learners(
    ctx: typer.Context,
    file: FileArg,
    skip_invalid: SkipOpt = False,
    report: ReportOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Importer des apprenants ; mise à jour sur l'identité (nom, prénom, date de naissance).

    Colonnes : Nom, Prénom, Date de naissance, Courriel, Institut, dates de formation, IBAN.
    """
    _import(ctx, Kind.learners, file, skip_invalid, report, None, as_json)


def _export(ctx: typer.Context, kind: Kind, file: Path, as_json: bool) -> None:
    check_suffix(file)
    count = export_file(context_of(ctx).reading(), kind, file)
    if not emit({"kind": kind.value, "path": str(file), "count": count}, as_json):
        out.print(
            f"Export des {kind.label} : {count} ligne(s) dans {file}.",
            highlight=False,
            soft_wrap=True,
        )


@export_app.command("institutes")
def export_institutes(ctx: typer.Context, file: FileArg, as_json: JsonOpt = False) -> None:
    """Exporter les instituts au format de l'import (.csv ou .xlsx)."""
    _export(ctx, Kind.institutes, file, as_json)


@export_app.command("employers")
def export_employers(ctx: typer.Context, file: FileArg, as_json: JsonOpt = False) -> None:
    """Exporter les employeurs au format de l'import (.csv ou .xlsx)."""
    _export(ctx, Kind.employers, file, as_json)


@export_app.command("learners")
def export_learners(ctx: typer.Context, file: FileArg, as_json: JsonOpt = False) -> None:
    """Exporter les apprenants au format de l'import (.csv ou .xlsx)."""
    _export(ctx, Kind.learners, file, as_json)
