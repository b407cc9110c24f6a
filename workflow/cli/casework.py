"""`fidelis case …`: open, fire, suspend, resume, attest, note, show, list, verify."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.table import Table

from workflow import cases
from workflow.cli.common import (
    ActorOpt,
    CaseArg,
    JsonOpt,
    case_app,
    context_of,
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
from workflow.display import FILTERS
from workflow.display import amount_fr as euros
from workflow.display import day_fr as day
from workflow.display import month_label as month
from workflow.errors import InvalidInput, NotFound
from workflow.models import Case
from workflow.states import STATE_LABELS, State
from workflow.validation import shown

# -- cases -------------------------------------------------------------------------------------


@case_app.command("open")
def case_open(
    ctx: typer.Context,
    offer: Annotated[int, id_option("--offer")],
    learner: Annotated[int, id_option("--learner")],
    on: Annotated[
        str | None, typer.Option("--on", help="Date d'effet (défaut : aujourd'hui).")
    ] = None,
    actor: ActorOpt = None,
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
    case: CaseArg,
    trigger: str,
    on: Annotated[
        str | None, typer.Option("--on", help="Date d'effet (défaut : aujourd'hui).")
    ] = None,
    actor: ActorOpt = None,
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
    case: CaseArg,
    start: Annotated[str, typer.Option("--from")],
    reason: Annotated[str, typer.Option("--reason")],
    end: Annotated[
        str | None, typer.Option("--to", help="Fin (incluse) ; absente si en cours.")
    ] = None,
    actor: ActorOpt = None,
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


@case_app.command("correct-training")
def case_correct_training(
    ctx: typer.Context,
    case: CaseArg,
    start: Annotated[str | None, typer.Option("--start", help="Nouveau début.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Nouvelle fin (incluse).")] = None,
    on: Annotated[str | None, typer.Option("--on", help="Date d'effet.")] = None,
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Corriger les dates de formation d'un dossier signé ; les paiements sont régularisés."""
    outcome = cases.correct_training(
        context_of(ctx).uow(),
        case,
        training_start=optional_date(start, "--start"),
        training_end=optional_date(end, "--end"),
        on=optional_date(on, "--on"),
        actor=actor,
    )
    if emit(outcome, as_json):
        return
    out.print(f"Dossier {case} : dates de formation corrigées")
    summary = outcome.get("regularisation")
    if summary:
        out.print(
            f"Régularisation : {len(summary['cancelled'])} paiement(s) annulé(s), "
            f"{len(summary['adjusted'])} ajusté(s), trop-perçus {summary['overpaid'] or 'aucun'}"
        )


@case_app.command("resume")
def case_resume(
    ctx: typer.Context,
    case: CaseArg,
    on: Annotated[str, typer.Option("--on", help="Jour de la reprise.")],
    actor: ActorOpt = None,
) -> None:
    """Terminer la suspension en cours : reprise du service à la date donnée."""
    cases.resume(context_of(ctx).uow(), case, on=required_date(on, "--on"), actor=actor)
    out.print(f"Dossier {case} : reprise le {day(on)}")


@case_app.command("note")
def case_note(
    ctx: typer.Context,
    case: CaseArg,
    text: Annotated[str, typer.Option("--text", help="Le texte de la note.")],
    on: Annotated[
        str | None,
        typer.Option(
            "--on", help="Date (défaut : aujourd'hui, ou le dernier événement s'il est postérieur)."
        ),
    ] = None,
    actor: ActorOpt = None,
) -> None:
    """Ajouter une note à l'historique du dossier (elle ne change ni l'état ni les dates)."""
    cases.add_note(context_of(ctx).uow(), case, text, on=optional_date(on, "--on"), actor=actor)
    out.print(f"Dossier {case} : note ajoutée")


@case_app.command("verify")
def case_verify(
    ctx: typer.Context,
    case: Annotated[int | None, id_argument("CASE", help="Le dossier à vérifier.")] = None,
    all_cases: Annotated[bool, typer.Option("--all", help="Vérifier tous les dossiers.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Rejouer l'historique d'un dossier (ou de tous) et le comparer à ce qui est enregistré :
    état, dates, projections, montants. Code de sortie 1 à la première différence."""
    from rich.progress import Progress

    from workflow.history import verify
    from workflow.schemes import registry

    if (case is None) == (not all_cases):
        raise InvalidInput("Donnez un numéro de dossier, ou --all (l'un ou l'autre).")
    with context_of(ctx).uow() as uow:
        s = uow.session
        total = 1 if case is not None else s.scalar(sa.select(sa.func.count(Case.id))) or 0
        checked, differing, first = 0, [], None
        with Progress(transient=True, disable=as_json or total < 2, console=err) as bar:
            task = bar.add_task("Vérification des dossiers", total=total)
            for case_id, differences in verify(s, [case] if case is not None else None, registry()):
                checked += 1
                bar.advance(task)
                if differences:
                    differing.append(case_id)
                    first = first or differences
        if case is not None and checked == 0:
            raise NotFound("Dossier", case)
    if as_json:
        emit(
            {
                "checked": checked,
                "differing": differing,
                "first": [
                    {
                        "case_id": d.case_id,
                        "what": d.what,
                        "stored": str(d.stored),
                        "replayed": str(d.replayed),
                    }
                    for d in first or []
                ],
            },
            True,
        )
    elif first:
        out.print(f"{len(differing)} dossier(s) sur {checked} diffèrent de leur historique.")
        out.print(plain(first[0]), highlight=False)
    else:
        out.print(f"{checked} dossier(s) vérifié(s) : conformes à leur historique.")
    if first:
        raise typer.Exit(1)


@case_app.command("show")
def case_show(ctx: typer.Context, case: CaseArg, as_json: JsonOpt = False) -> None:
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
        f"{plain(d['scheme'])} {d['campaign']}"
    )
    out.print(
        f"Apprenant : {plain(d['learner']['name'])} ; employeur : {plain(d['employer']['name'])}"
    )
    out.print(
        f"Palier : {plain(d['tier'] or '—')} ; contrat : {plain(d['contract_number'] or '—')} ; "
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
    for a in [*d["available"], *d.get("actions", [])]:
        if a["allowed"]:
            needs = f" (à renseigner : {', '.join(a['inputs'])})" if a["inputs"] else ""
            out.print(f"  [green]✓[/green] {a['trigger']} — {a['label']}{needs}", highlight=False)
        else:
            why = plain(" ; ".join(a["refusals"]))
            out.print(f"  [red]✗[/red] {a['trigger']} — {a['label']} : {why}", highlight=False)
    columns = ("date d'effet", "action", "de", "vers", "par", "motif ou note")
    table = Table(*columns, title="Historique")
    for e in d["events"]:
        reason = e["reason"] or e["note"] or ""
        table.add_row(
            day(e["effective_date"]),
            FILTERS["event"](e["trigger"]),
            FILTERS["state"](e["from"]),
            FILTERS["state"](e["to"]),
            plain(e["actor"]),
            plain(FILTERS["suspension_reason"](reason) if e["trigger"] == "suspend" else reason),
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
                f"État inconnu « {shown(state)} » (états : {', '.join(s.value for s in State)})."
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
            plain(r["learner"]),
            plain(r["employer"]),
            plain(r["tier"] or ""),
            plain(r["contract_number"] or ""),
            plain(r["last_event"]),
        )
    out.print(table)
