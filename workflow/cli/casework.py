"""`fidelis case …`: open, fire, suspend, resume, attest, show, list."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from workflow import cases
from workflow.cli.common import (
    JsonOpt,
    case_app,
    context_of,
    created,
    emit,
    optional_date,
    out,
    required_date,
)
from workflow.display import FILTERS
from workflow.display import amount_fr as euros
from workflow.display import day_fr as day
from workflow.display import month_label as month
from workflow.errors import InvalidInput
from workflow.states import STATE_LABELS, State

# -- cases -------------------------------------------------------------------------------------


@case_app.command("open")
def case_open(
    ctx: typer.Context,
    offer: Annotated[int, typer.Option("--offer")],
    learner: Annotated[int, typer.Option("--learner")],
    on: Annotated[
        str | None, typer.Option("--on", help="Date d'effet (défaut : aujourd'hui).")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ouvrir un dossier : un apprenant sur une offre."""
    ident = cases.open_case(
        context_of(ctx).uow(), offer, learner, actor=actor, on=optional_date(on, "--on")
    )
    created(ident, as_json)


def _parse_sets(pairs: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"Paramètre mal formé : « {pair} » (attendu CLÉ=VALEUR).", "--set")
        params[key.strip()] = value
    return params


@case_app.command("fire")
def case_fire(
    ctx: typer.Context,
    case: int,
    trigger: str,
    on: Annotated[
        str | None, typer.Option("--on", help="Date d'effet (défaut : aujourd'hui).")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Motif (texte libre).")] = None,
    sets: Annotated[list[str] | None, typer.Option("--set", help="CLÉ=VALEUR (répétable).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Déclencher une action sur un dossier (submit, interview, select, sign…)."""
    state = cases.fire(
        context_of(ctx).uow(),
        case,
        trigger,
        on=optional_date(on, "--on"),
        actor=actor,
        reason=reason,
        params=_parse_sets(sets),
    )
    if not emit({"id": case, "state": state.value}, as_json):
        out.print(f"Dossier {case} : {STATE_LABELS[state]} ({state.value})")


@case_app.command("suspend")
def case_suspend(
    ctx: typer.Context,
    case: int,
    start: Annotated[str, typer.Option("--from")],
    reason: Annotated[str, typer.Option("--reason")],
    end: Annotated[
        str | None, typer.Option("--to", help="Fin (incluse) ; absente si en cours.")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Suspendre l'engagement de servir (congé maternité, maladie…)."""
    ident = cases.suspend(
        context_of(ctx).uow(),
        case,
        start=required_date(start, "--from"),
        end=optional_date(end, "--to"),
        reason=reason,
        actor=actor,
    )
    created(ident, as_json)


@case_app.command("resume")
def case_resume(
    ctx: typer.Context,
    case: int,
    on: Annotated[str, typer.Option("--on", help="Jour de la reprise.")],
    actor: Annotated[str | None, typer.Option("--actor")] = None,
) -> None:
    """Terminer la suspension en cours : reprise du service à la date donnée."""
    cases.resume(context_of(ctx).uow(), case, on=required_date(on, "--on"), actor=actor)
    out.print(f"Dossier {case} : reprise le {day(on)}")


@case_app.command("show")
def case_show(ctx: typer.Context, case: int, as_json: JsonOpt = False) -> None:
    """Afficher un dossier : état, échéancier, paiements, historique."""
    from workflow.views import case_detail

    with context_of(ctx).uow() as uow:
        data = case_detail(uow.session, case)
    if emit(data, as_json):
        return
    _print_case(data)


def _print_case(d: dict[str, Any]) -> None:
    out.print(
        f"[bold]Dossier {d['id']}[/bold] — {d['state_label']} ({d['state']}) — "
        f"{d['scheme']} {d['campaign']}"
    )
    out.print(f"Apprenant : {d['learner']['name']} ; employeur : {d['employer']['name']}")
    out.print(
        f"Palier : {d['tier'] or '—'} ; contrat : {d['contract_number'] or '—'} ; "
        f"formation {day(d['training']['start'])} → {day(d['training']['end'])} ; "
        f"service {day(d['service']['start']) or '—'} → "
        f"{day(d['service']['commitment_end']) or '—'}"
    )
    if d["schedule"]:
        table = Table("mois", "financeur", "montant", "échéance", "paiement", title="Échéancier")
        paid = {(p["period"], p["funder"]): p["status"] for p in d["payments"]}
        for i in d["schedule"]:
            status = paid.get((i["period"], i["funder"]))
            table.add_row(
                month(i["period"]),
                FILTERS["funder"](i["funder"]),
                euros(i["amount"]),
                day(i["due_date"]),
                FILTERS["payment_status"](status) if status else "—",
            )
        out.print(table)
    if d["reimbursement"]:
        amounts = ", ".join(
            f"{FILTERS['funder'](f)} {euros(a)}" for f, a in d["reimbursement"].items()
        )
        out.print(f"Remboursement : {amounts}" + (" (exonéré)" if d["exempted"] else ""))
    for a in d["available"]:
        if a["allowed"]:
            needs = f" (à renseigner : {', '.join(a['inputs'])})" if a["inputs"] else ""
            out.print(f"  [green]✓[/green] {a['trigger']} — {a['label']}{needs}", highlight=False)
        else:
            why = " ; ".join(a["refusals"])
            out.print(f"  [red]✗[/red] {a['trigger']} — {a['label']} : {why}", highlight=False)
    table = Table("date d'effet", "action", "de", "vers", "par", "motif", title="Historique")
    for e in d["events"]:
        reason = e["reason"] or ""
        table.add_row(
            day(e["effective_date"]),
            FILTERS["event"](e["trigger"]),
            FILTERS["state"](e["from"]),
            FILTERS["state"](e["to"]),
            e["actor"],
            FILTERS["suspension_reason"](reason) if e["trigger"] == "suspend" else reason,
        )
    out.print(table)


@case_app.command("list")
def case_list(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option("--state")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Lister les dossiers (les plus récents d'abord)."""
    from workflow.views import case_rows

    wanted = None
    if state is not None:
        try:
            wanted = State(state)
        except ValueError:
            raise InvalidInput(
                f"État inconnu « {state} » (états : {', '.join(s.value for s in State)})."
            ) from None
    with context_of(ctx).uow() as uow:
        rows = case_rows(uow.session, wanted)
    if emit(rows, as_json):
        return
    table = Table("n°", "état", "apprenant", "employeur", "palier", "contrat", "dernier événement")
    for r in rows:
        table.add_row(
            str(r["id"]),
            FILTERS["state"](r["state"]),
            r["learner"],
            r["employer"],
            r["tier"] or "",
            r["contract_number"] or "",
            r["last_event"],
        )
    out.print(table)
