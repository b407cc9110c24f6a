"""`fidelis contract …`: issue, sign, attach, list, export; the campaign's employer list."""

from __future__ import annotations

import errno
import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from workflow import cases, contracts
from workflow.cli.common import (
    ActorOpt,
    CaseArg,
    Context,
    JsonOpt,
    context_of,
    contract_app,
    created,
    emit,
    err,
    id_argument,
    id_option,
    optional_date,
    out,
    plain,
    required_date,
)
from workflow.clock import today_paris
from workflow.display import FILTERS
from workflow.display import day_fr as day
from workflow.errors import FidelisError, InvalidInput
from workflow.imports.writers import cannot_write

# -- contracts and documents ---------------------------------------------------------------


def _destination(path: Path, *, folder: bool = False) -> None:
    """Make sure a copy can go to `path` (a file, or a folder with `folder`) before anything is
    issued: a bad --out is a French error that writes nothing."""
    where = path if folder or path.is_dir() else path.parent
    if path.exists() and folder and not path.is_dir():
        raise InvalidInput(f"« {path} » n'est pas un dossier.", "--out")
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    if not os.access(where, os.W_OK):
        raise cannot_write(path, PermissionError(errno.EACCES, "denied"))


def _copy(c: Context, document: int, out: Path) -> Path:
    """The stored document copied to `out`; a copy that fails is a French error."""
    try:
        return contracts.export_document(c.uow(), document, out)
    except OSError as exc:
        raise cannot_write(out, exc) from None


def _print_document(info: contracts.DocumentInfo, out_path: Path | None, as_json: bool) -> None:
    data = {
        "id": info.id,
        "kind": info.kind,
        "version": info.version,
        "number": info.number,
        "filename": info.filename,
        "sha256": info.sha256,
        "path": str(out_path or info.path),
    }
    if not emit(data, as_json):
        typer.echo(str(out_path or info.path))


@contract_app.command("generate")
def contract_generate(
    ctx: typer.Context,
    case: Annotated[
        int | None, id_argument("CASE", help="Dossier (ou --campaign … --all).")
    ] = None,
    tier: Annotated[
        str | None, typer.Option("--tier", help="Palier (s'il n'est pas choisi).")
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="Date d'émission (défaut : aujourd'hui).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Copier le document ici.")] = None,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Produire aussi le PDF (LibreOffice).")
    ] = False,
    campaign: Annotated[int | None, id_option("--campaign")] = None,
    all_cases: Annotated[
        bool, typer.Option("--all", help="Tous les dossiers retenus sans contrat.")
    ] = False,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Émettre le contrat d'un dossier (numéroté, stocké, jamais modifié) ou ceux d'une campagne."""
    c = context_of(ctx)
    who = actor or cases.default_actor()
    when = optional_date(on, "--on")
    if campaign is not None or all_cases:
        if case is not None or campaign is None or not all_cases:
            raise InvalidInput("Pour une campagne : fidelis contract generate --campaign ID --all.")
        _generate_campaign(c, campaign, tier, when, who, pdf, as_json)
        return
    if case is None:
        raise InvalidInput("Indiquez un dossier, ou --campaign ID --all.")
    if out is not None:
        _destination(out)
    info = contracts.generate_contract(c.uow(), case, tier=tier, on=when, actor=who, pdf=pdf)
    target = _copy(c, info.id, out) if out else None
    _print_document(info, target, as_json)


def _generate_campaign(
    c: Context,
    campaign: Annotated[int, id_argument("CAMPAIGN")],
    tier: str | None,
    on: date | None,
    actor: str,
    pdf: bool,
    as_json: bool,
) -> None:
    from rich.progress import Progress

    todo = contracts.cases_awaiting_contract(c.uow(), campaign)
    done: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    with Progress(console=err, transient=as_json) as progress:
        task = progress.add_task("Contrats", total=len(todo))
        for case_id in todo:
            try:
                info = contracts.generate_contract(
                    c.uow(), case_id, tier=tier, on=on, actor=actor, pdf=pdf
                )
                done.append({"case": case_id, "number": info.number, "path": str(info.path)})
            except FidelisError as exc:  # one bad case does not stop the batch
                failed.append({"case": case_id, "error": str(exc)})
            progress.advance(task)
    if emit({"generated": done, "failed": failed}, as_json):
        return
    out.print(f"{len(done)} contrat(s) émis, {len(failed)} refus.")
    for f in failed:
        err.print(f"  dossier {f['case']} : {plain(f['error'])}", highlight=False)


@contract_app.command("sign")
def contract_sign(
    ctx: typer.Context,
    case: CaseArg,
    party: Annotated[
        str,
        typer.Option(
            "--party",
            help="learner, ou le code d'un financeur signataire du dispositif du dossier "
            "(employer, region, ars…).",
        ),
    ],
    on: Annotated[str, typer.Option("--on", help="Date de la signature.")],
    name: Annotated[str, typer.Option("--name", help="Nom du signataire.")],
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enregistrer la signature d'une partie sur le contrat en cours."""
    missing = contracts.sign_contract(
        context_of(ctx).uow(),
        case,
        party=party,
        on=required_date(on, "--on"),
        name=name,
        actor=actor or cases.default_actor(),
    )
    if emit({"case": case, "party": party, "missing": missing}, as_json):
        return
    if missing:
        out.print(f"Signature enregistrée ; reste à signer : {', '.join(missing)}.")
    else:
        out.print(
            "Signature enregistrée ; le contrat est signé par toutes les parties "
            f"(fidelis case fire {case} sign)."
        )


@contract_app.command("attach")
def contract_attach(
    ctx: typer.Context,
    case: CaseArg,
    file: Annotated[Path, typer.Argument(help="Scan du contrat signé (PDF, image).")],
    on: Annotated[
        str | None,
        typer.Option(
            "--on",
            help="Date d'effet (défaut : la dernière signature du contrat, sinon la date "
            "du dernier événement du dossier).",
        ),
    ] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Joindre le scan du contrat signé."""
    info = contracts.attach_scan(
        context_of(ctx).uow(),
        case,
        file,
        on=optional_date(on, "--on"),
        actor=actor or cases.default_actor(),
    )
    created(info.id, as_json)


@contract_app.command("list")
def contract_list(ctx: typer.Context, case: CaseArg, as_json: JsonOpt = False) -> None:
    """Les documents d'un dossier (versions, empreintes, signatures)."""
    with context_of(ctx).uow() as uow:
        rows = contracts.document_rows(uow.session, case)
    if emit(rows, as_json):
        return
    table = Table(
        "n°", "document", "version", "fichier", "état", "émis le", "signatures", "SHA-256"
    )
    for r in rows:
        signed = ", ".join(
            f"{plain(FILTERS['party'](g['party']))} ({day(g['on'])})" for g in r["signatures"]
        )
        table.add_row(
            str(r["id"]),
            plain(r["label"]),
            str(r["version"]),
            plain(r["filename"]),
            FILTERS["document_status"](r["status"]),
            day(r["issued_on"]),
            signed,
            r["sha256"][:12],
        )
    out.print(table)


@contract_app.command("export")
def contract_export(
    ctx: typer.Context,
    document: Annotated[int, id_argument("DOCUMENT")],
    out_path: Annotated[Path, typer.Option("--out", help="Fichier ou dossier de destination.")],
) -> None:
    """Copier un document stocké (vérifié par son SHA-256)."""
    typer.echo(str(_copy(context_of(ctx), document, out_path)))


@contract_app.command("employers")
def contract_employers(
    ctx: typer.Context,
    campaign: Annotated[int, id_argument("CAMPAIGN")],
    on: Annotated[str | None, typer.Option("--on")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Dossier où copier les fichiers.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """La liste des employeurs d'une campagne pour les instituts (Word et tableur)."""
    c = context_of(ctx)
    if out_dir is not None:
        _destination(out_dir, folder=True)
    infos = contracts.campaign_employer_list(
        c.uow(),
        campaign,
        on=optional_date(on, "--on") or today_paris(),
        actor=cases.default_actor(),
    )
    paths = [_copy(c, i.id, out_dir) if out_dir else i.path for i in infos]
    if not emit([{"id": i.id, "path": str(p)} for i, p in zip(infos, paths, strict=True)], as_json):
        for p in paths:
            typer.echo(str(p))
