"""`fidelis anomalies list|resolve`: the automatic transitions the nightly run could not fire
(workflow.anomalies), and the table `fidelis nightly` prints after its counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from workflow import anomalies, cases
from workflow.cli.common import ActorOpt, JsonOpt, app, context_of, emit, id_argument, out, plain
from workflow.clock import PARIS
from workflow.display import day_fr as day

anomalies_app = typer.Typer(
    help="Anomalies du traitement de nuit : transitions automatiques refusées.",
    no_args_is_help=True,
)
app.add_typer(anomalies_app, name="anomalies")


def _moment(iso: str | None) -> str:
    """An ISO timestamp (UTC) as a Paris date and time: 07/09/2026 02:00."""
    return datetime.fromisoformat(iso).astimezone(PARIS).strftime("%d/%m/%Y %H:%M") if iso else ""


def _reasons(row: dict[str, Any]) -> str:
    """The failed guards' French messages, one a line; the refusal itself when none is named."""
    return "\n".join(g["message"] for g in row["guards"]) or str(row["message"])


def _status(row: dict[str, Any]) -> str:
    if row["resolved_at"] is None:
        return "ouverte"
    return f"résolue le {_moment(row['resolved_at'])} par {row['resolved_by']} : {row['note']}"


def anomaly_table(rows: Sequence[dict[str, Any]], title: str) -> Table:
    table = Table(
        "n°", "dossier", "action", "date d'effet", "motifs", "signalée le", "état", title=title
    )
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["case_id"]),
            plain(r["action"]),
            day(r["effective_date"]),
            plain(_reasons(r)),
            _moment(r["detected_at"]),
            plain(_status(r)),
        )
    return table


def print_run_anomalies(rows: Sequence[dict[str, Any]]) -> None:
    """What `fidelis nightly` prints after its counts."""
    if not rows:
        out.print("Aucune anomalie : toutes les transitions dues ont été faites.")
        return
    out.print(
        anomaly_table(rows, f"Anomalies : {len(rows)} transition(s) automatique(s) refusée(s)")
    )
    out.print(
        "Le dossier reste en l'état : corrigez-le, ou dites ce qui a été fait avec "
        "« fidelis anomalies resolve N --note … »."
    )


@anomalies_app.command("list")
def anomalies_list(
    ctx: typer.Context,
    show_all: Annotated[bool, typer.Option("--all", help="Aussi les anomalies résolues.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Les anomalies ouvertes (toutes avec --all), les plus récentes d'abord."""
    rows = anomalies.list_anomalies(context_of(ctx).uow(), open_only=not show_all)
    if emit(rows, as_json):
        return
    if not rows:
        out.print("Aucune anomalie." if show_all else "Aucune anomalie ouverte.")
        return
    out.print(anomaly_table(rows, "Anomalies du traitement de nuit"))


@anomalies_app.command("resolve")
def anomalies_resolve(
    ctx: typer.Context,
    anomaly: Annotated[int, id_argument("ANOMALY")],
    note: Annotated[str, typer.Option("--note", help="Ce qui a été fait (obligatoire).")],
    actor: ActorOpt = None,
) -> None:
    """Clore une anomalie en disant ce qui a été fait."""
    anomalies.resolve(
        context_of(ctx).uow(), anomaly, actor=actor or cases.default_actor(), note=note
    )
    out.print(f"Anomalie n° {anomaly} résolue.")
