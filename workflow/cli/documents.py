"""`fidelis contract …`: issue, sign, attach, list, export; the campaign's employer list."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from workflow import cases, contracts
from workflow.cli.common import (
    Context,
    JsonOpt,
    context_of,
    contract_app,
    created,
    emit,
    err,
    optional_date,
    out,
    required_date,
)
from workflow.clock import today_paris
from workflow.display import FILTERS
from workflow.display import day_fr as day
from workflow.errors import FidelisError, InvalidInput

# -- contracts and documents ---------------------------------------------------------------


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
    case: Annotated[int | None, typer.Argument(help="Dossier (ou --campaign … --all).")] = None,
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
    campaign: Annotated[int | None, typer.Option("--campaign")] = None,
    all_cases: Annotated[
        bool, typer.Option("--all", help="Tous les dossiers retenus sans contrat.")
    ] = False,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
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
    info = contracts.generate_contract(c.uow(), case, tier=tier, on=when, actor=who, pdf=pdf)
    target = contracts.export_document(c.uow(), info.id, out) if out else None
    _print_document(info, target, as_json)


def _generate_campaign(
    c: Context,
    campaign: int,
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
        err.print(f"  dossier {f['case']} : {f['error']}", highlight=False)


class Party(StrEnum):
    learner = "learner"
    employer = "employer"
    region = "region"


@contract_app.command("sign")
def contract_sign(
    ctx: typer.Context,
    case: int,
    party: Annotated[Party, typer.Option("--party")],
    on: Annotated[str, typer.Option("--on", help="Date de la signature.")],
    name: Annotated[str, typer.Option("--name", help="Nom du signataire.")],
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Enregistrer la signature d'une partie sur le contrat en cours."""
    missing = contracts.sign_contract(
        context_of(ctx).uow(),
        case,
        party=party.value,
        on=required_date(on, "--on"),
        name=name,
        actor=actor or cases.default_actor(),
    )
    if emit({"case": case, "party": party.value, "missing": missing}, as_json):
        return
    if missing:
        out.print(f"Signature enregistrée ; reste à signer : {', '.join(missing)}.")
    else:
        out.print(
            "Signature enregistrée ; le contrat est signé par les trois parties "
            f"(fidelis case fire {case} sign)."
        )


@contract_app.command("attach")
def contract_attach(
    ctx: typer.Context,
    case: int,
    file: Annotated[Path, typer.Argument(help="Scan du contrat signé (PDF, image).")],
    on: Annotated[
        str | None,
        typer.Option(
            "--on",
            help="Date d'effet (défaut : la dernière signature du contrat, sinon la date "
            "du dernier événement du dossier).",
        ),
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
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
def contract_list(ctx: typer.Context, case: int, as_json: JsonOpt = False) -> None:
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
            f"{FILTERS['party'](g['party'])} ({day(g['on'])})" for g in r["signatures"]
        )
        table.add_row(
            str(r["id"]),
            r["label"],
            str(r["version"]),
            r["filename"],
            FILTERS["document_status"](r["status"]),
            day(r["issued_on"]),
            signed,
            r["sha256"][:12],
        )
    out.print(table)


@contract_app.command("export")
def contract_export(
    ctx: typer.Context,
    document: int,
    out_path: Annotated[Path, typer.Option("--out", help="Fichier ou dossier de destination.")],
) -> None:
    """Copier un document stocké (vérifié par son SHA-256)."""
    typer.echo(str(contracts.export_document(context_of(ctx).uow(), document, out_path)))


@contract_app.command("employers")
def contract_employers(
    ctx: typer.Context,
    campaign: int,
    on: Annotated[str | None, typer.Option("--on")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Dossier où copier les fichiers.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """La liste des employeurs d'une campagne pour les instituts (Word et tableur)."""
    c = context_of(ctx)
    infos = contracts.campaign_employer_list(
        c.uow(),
        campaign,
        on=optional_date(on, "--on") or today_paris(),
        actor=cases.default_actor(),
    )
    paths = [
        contracts.export_document(c.uow(), i.id, out_dir) if out_dir else i.path for i in infos
    ]
    if not emit([{"id": i.id, "path": str(p)} for i, p in zip(infos, paths, strict=True)], as_json):
        for p in paths:
            typer.echo(str(p))
