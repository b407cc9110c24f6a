"""`fidelis nightly|scheduler|payments|outbox`: the nightly run (and the anomalies it met, printed
after its counts) and what follows it."""

from __future__ import annotations

from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy as sa
import typer
from rich.table import Table

from workflow import cases
from workflow.anomalies import anomaly_rows
from workflow.cli.anomalies import print_run_anomalies
from workflow.cli.common import (
    ActorOpt,
    CaseArg,
    JsonOpt,
    app,
    case_app,
    context_of,
    emit,
    id_argument,
    id_option,
    optional_date,
    out,
    plain,
    required_date,
)
from workflow.clock import today_paris
from workflow.display import FILTERS
from workflow.display import amount_fr as euros
from workflow.display import day_fr as day
from workflow.display import month_label as month
from workflow.errors import FidelisError
from workflow.reports.labels import STEP_LABELS
from workflow.schemes import registry

if TYPE_CHECKING:
    from workflow.payments import Export

# -- the nightly run, payments, outbox ---------------------------------------------------------


@app.command("nightly")
def nightly(
    ctx: typer.Context,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Jour traité (défaut : aujourd'hui).")
    ] = None,
    no_catch_up: Annotated[bool, typer.Option("--no-catch-up", help="Ce jour seulement.")] = False,
    no_mail: Annotated[
        bool, typer.Option("--no-mail", help="Ne pas envoyer la boîte d'envoi.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Le traitement de nuit : transitions dues, paiements, relances, contrôles, envoi."""
    from jobs.nightly import run_nightly

    c = context_of(ctx)
    c.uow()  # checks the schema
    run_day = optional_date(as_of, "--as-of") or today_paris()
    report = run_nightly(c.engine, run_day, catch_up=not no_catch_up, send_mail=not no_mail)
    with c.uow() as uow:
        met = anomaly_rows(uow.session, open_only=False, run_ids=[r["id"] for r in report.runs])
    if emit({"runs": report.runs, "totals": report.totals, "anomalies": met}, as_json):
        return
    table = Table("jour", *STEP_LABELS.values(), title="Traitement de nuit")
    for run in report.runs:
        table.add_row(day(run["as_of"]), *(str(run["counts"].get(k, "—")) for k in STEP_LABELS))
    out.print(table)
    # Said once for the whole catch-up, not once per day.
    for note in dict.fromkeys(run["note"] for run in report.runs if run["note"]):
        out.print(note, highlight=False)
    print_run_anomalies(met)


@app.command("scheduler")
def scheduler(ctx: typer.Context) -> None:
    """Lancer le planificateur (un seul processus par base) : traitement de nuit à 02:00."""
    from jobs.scheduler import serve

    c = context_of(ctx)
    c.uow()
    serve(c.engine)


payments_app = typer.Typer(
    help="Paiements : virements SEPA, confirmations, corrections.", no_args_is_help=True
)
outbox_app = typer.Typer(help="Boîte d'envoi des courriels.", no_args_is_help=True)
app.add_typer(payments_app, name="payments")
app.add_typer(outbox_app, name="outbox")


@payments_app.command("list")
def payments_list(
    ctx: typer.Context,
    period: Annotated[str | None, typer.Option("--period", help="AAAA-MM")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Les paiements (d'un mois)."""
    from workflow.payments import parse_period, payment_rows

    with context_of(ctx).uow() as uow:
        rows = payment_rows(uow.session, parse_period(period) if period else None)
    if emit(rows, as_json):
        return
    table = Table(
        "n°", "dossier", "contrat", "apprenant", "mois", "financeur", "montant", "échéance", "état"
    )
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["case"]),
            plain(r["contract_number"] or ""),
            plain(r["learner"]),
            month(r["period"]),
            FILTERS["funder"](r["funder"]),
            euros(r["amount"]),
            day(r["due_date"]),
            FILTERS["payment_status"](r["status"]),
        )
    out.print(table)


@payments_app.command("export-sepa")
def payments_export_sepa(
    ctx: typer.Context,
    period: Annotated[str, typer.Option("--period", help="AAAA-MM")],
    out_file: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Fichier pain.001 à écrire, ou dossier existant : un fichier par financeur.",
        ),
    ],
    funder: Annotated[
        str | None,
        typer.Option(
            "--funder",
            help="Financeur payé par virement (défaut : chacun de ceux qui ont des virements).",
        ),
    ] = None,
    batch: Annotated[int | None, id_option("--batch", help="Réexporter ce lot.")] = None,
    on: Annotated[str | None, typer.Option("--on", help="Date d'exécution demandée.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Virements SEPA (pain.001.001.03) des parts d'un mois des financeurs payés par virement,
    chacun débité de son propre compte ; un paiement n'est exporté qu'une fois, et réexporter
    un lot redonne le même fichier. Le fichier est écrit avant que les paiements soient marqués
    exportés : s'il ne peut l'être, rien ne change."""
    from workflow.files import atomic_path, check_target, write_file
    from workflow.payments import debtor_of, export_sepa, funders_to_export, parse_period

    c = context_of(ctx)
    month = parse_period(period)
    execution = optional_date(on, "--on") or today_paris()
    # An existing folder: one file per funder, named after it and its batch.
    folder = out_file.is_dir()
    if not folder:
        check_target(out_file)  # before anything is read: a bad path says so first
    funders: list[str | None] = [funder]
    if folder and batch is None and funder is None:
        with c.uow() as uow:
            funders = [*funders_to_export(uow.session, month)] or [None]
        for code in funders:  # every account known before the first file is written
            if code is not None:
                debtor_of(code)
    exports: list[tuple[Export, Path]] = []
    for code in funders:
        with ExitStack() as files:

            def deliver(export: Export) -> None:
                # Written under a temporary name, renamed once the batch is committed.
                name = f"{export.funder}-{export.message_id}.xml"
                path = out_file / name if folder else out_file
                write_file(files.enter_context(atomic_path(path)), export.xml)
                exports.append((export, path))

            export_sepa(
                c.uow(),
                month,
                on=execution,
                actor=cases.default_actor(),
                batch_id=batch,
                funder=code,
                deliver=deliver,
            )
    files_data = [
        {
            "funder": e.funder,
            "batch": e.batch_id,
            "message_id": e.message_id,
            "count": e.count,
            "total": str(e.total),
            "reused": e.reused,
            "path": str(path),
        }
        for e, path in exports
    ]
    one = exports[0][0] if len(exports) == 1 else None
    data = {
        # The keys of a single file, as before; `files` lists each one (folder: several).
        "batch": one.batch_id if one else None,
        "message_id": one.message_id if one else None,
        "count": sum(e.count for e, _ in exports),
        "total": str(sum((e.total for e, _ in exports), Decimal(0))),
        "reused": all(e.reused for e, _ in exports),
        "path": str(exports[0][1] if one else out_file),  # several files: their folder
        "funder": one.funder if one else None,
        "files": files_data,
    }
    if not emit(data, as_json):
        for e, path in exports:
            again = " (lot déjà exporté, fichier identique)" if e.reused else ""
            out.print(
                f"{FILTERS['funder'](e.funder)} : {e.count} virement(s), {euros(e.total)} "
                f"→ {path}{again}",
                highlight=False,
                soft_wrap=True,
            )


@payments_app.command("confirm")
def payments_confirm(
    ctx: typer.Context,
    employer: Annotated[int, id_option("--employer")],
    period: Annotated[str, typer.Option("--period", help="AAAA-MM")],
    on: Annotated[str | None, typer.Option("--on")] = None,
) -> None:
    """L'employeur confirme avoir versé ses parts du mois."""
    from workflow.payments import confirm_employer, parse_period

    count = confirm_employer(
        context_of(ctx).uow(),
        employer,
        parse_period(period),
        on=optional_date(on, "--on") or today_paris(),
        actor=cases.default_actor(),
    )
    out.print(f"{count} part(s) employeur confirmée(s) payée(s).")


@payments_app.command("import-paid")
def payments_import_paid(ctx: typer.Context, file: Path) -> None:
    """Importer la confirmation de paiement du Trésor (CSV end_to_end_id;paid_on)."""
    from workflow.payments import import_paid

    count = import_paid(context_of(ctx).uow(), file, actor=cases.default_actor())
    out.print(f"{count} virement(s) confirmé(s) payé(s).")


@payments_app.command("cancel")
def payments_cancel(
    ctx: typer.Context,
    payment: Annotated[int, id_argument("PAYMENT")],
    reason: Annotated[str, typer.Option("--reason")],
    on: Annotated[str | None, typer.Option("--on")] = None,
) -> None:
    """Annuler un paiement (correction motivée)."""
    from workflow.payments import cancel

    cancel(
        context_of(ctx).uow(),
        payment,
        reason=reason,
        on=optional_date(on, "--on") or today_paris(),
        actor=cases.default_actor(),
    )
    out.print(f"Paiement {payment} annulé.")


@outbox_app.command("send")
def outbox_send(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Envoyer les courriels en attente (SMTP, avec nouvelles tentatives espacées) ; sans
    serveur configuré (FIDELIS_SMTP_HOST), rien n'est tenté."""
    from jobs.outbox import send_outbox
    from workflow.db import session_factory as factory_of
    from workflow.mailer import smtp_settings_from_env

    c = context_of(ctx)
    c.uow()
    smtp = smtp_settings_from_env()
    if smtp is None:
        raise FidelisError(
            "Envoi des courriels non configuré : définissez FIDELIS_SMTP_HOST (et au besoin "
            "FIDELIS_SMTP_PORT, _USER, _PASSWORD) ; les courriels restent en attente."
        )
    done = send_outbox(factory_of(c.engine), registry(), smtp)
    data = {"sent": done.sent, "retried": done.retried, "failed": done.failed}
    if not emit({**data, "stopped": done.stopped}, as_json):
        out.print(
            f"{done.sent} courriel(s) envoyé(s), {done.retried} à retenter plus tard, "
            f"{done.failed} en échec."
        )
    if done.stopped:
        raise FidelisError(f"Envoi interrompu : {done.stopped}.")


@outbox_app.command("list")
def outbox_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """La boîte d'envoi."""
    from workflow.models import OutboxMessage

    with context_of(ctx).uow() as uow:
        rows: list[dict[str, Any]] = [
            {
                "id": m.id,
                "kind": m.kind,
                "case": m.case_id,
                "due_date": m.due_date.isoformat(),
                "recipient": m.recipient,
                "status": m.status,
                "attempts": m.attempts,
                "last_error": m.last_error,
            }
            for m in uow.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id))
        ]
    if emit(rows, as_json):
        return
    table = Table("n°", "type", "dossier", "échéance", "destinataire", "état", "essais")
    for r in rows:
        table.add_row(
            str(r["id"]),
            FILTERS["message_kind"](r["kind"]),
            str(r["case"] or ""),
            day(r["due_date"]),
            plain(r["recipient"] or ""),
            FILTERS["message_status"](r["status"]),
            str(r["attempts"]),
        )
    out.print(table)


@case_app.command("attest")
def case_attest(
    ctx: typer.Context,
    case: CaseArg,
    on: Annotated[str, typer.Option("--on", help="Date de l'attestation de service.")],
    actor: ActorOpt = None,
) -> None:
    """Enregistrer l'attestation annuelle de service fournie par l'employeur."""
    cases.attest_service(context_of(ctx).uow(), case, on=required_date(on, "--on"), actor=actor)
    out.print(f"Dossier {case} : attestation de service du {day(on)} enregistrée.")
