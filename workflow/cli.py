"""The `fidelis` command line (SPEC §7): parse, call one service, print. Errors go to stderr with
exit code 1 (2 for usage errors); commands that create something print the new id alone."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table

from workflow import cases, directory, validation
from workflow.clock import today_paris
from workflow.db import (
    UnitOfWork,
    check_schema,
    database_url,
    make_engine,
    session_factory,
    upgrade,
)
from workflow.eligibility import check_commune
from workflow.errors import FidelisError, InvalidInput
from workflow.schemes import registry
from workflow.states import STATE_LABELS, State
from workflow.territory import default_territory

app = typer.Typer(
    help="Fidelis : allocations d'études contre engagement de servir.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Base de données.", no_args_is_help=True)
scheme_app = typer.Typer(help="Dispositifs configurés.", no_args_is_help=True)
territory_app = typer.Typer(help="Communes, EPCI et ruralité.", no_args_is_help=True)
institute_app = typer.Typer(help="Instituts de formation.", no_args_is_help=True)
employer_app = typer.Typer(help="Employeurs.", no_args_is_help=True)
campaign_app = typer.Typer(help="Campagnes (rentrées) et offres.", no_args_is_help=True)
learner_app = typer.Typer(help="Apprenants.", no_args_is_help=True)
case_app = typer.Typer(
    help="Dossiers (candidatures suivies jusqu'à leur terme).", no_args_is_help=True
)
for sub, name in (
    (db_app, "db"),
    (scheme_app, "scheme"),
    (territory_app, "territory"),
    (institute_app, "institute"),
    (employer_app, "employer"),
    (campaign_app, "campaign"),
    (learner_app, "learner"),
    (case_app, "case"),
):
    app.add_typer(sub, name=name)

out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Sortie JSON.")]


@dataclass
class Context:
    url: str
    _engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def uow(self) -> UnitOfWork:
        check_schema(self.engine)
        return UnitOfWork(session_factory(self.engine))


def _ctx(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="URL SQLAlchemy ou fichier SQLite (défaut : $FIDELIS_DB, ./fidelis.db)."
        ),
    ] = None,
) -> None:
    ctx.obj = Context(database_url(db))


def _emit(data: Any, as_json: bool) -> bool:
    """Print `data` as JSON when asked; return whether it did."""
    if as_json:
        out.print_json(json.dumps(data, ensure_ascii=False, default=str))
    return as_json


def _created(ident: int, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"id": ident}))
    else:
        typer.echo(str(ident))


def _date(value: str | None, field: str) -> date | None:
    return None if value is None else validation.parse_date(value, field)


def _required_date(value: str, field: str) -> date:
    return validation.parse_date(value, field)


# -- db ---------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Créer ou mettre à jour le schéma (migrations Alembic)."""
    upgrade(_ctx(ctx).engine)
    err.print(f"Schéma à jour : {_ctx(ctx).url}")


# -- schemes -----------------------------------------------------------------------------------


@scheme_app.command("list")
def scheme_list(as_json: JsonOpt = False) -> None:
    """Lister les dispositifs configurés."""
    schemes = registry()
    rows: list[dict[str, Any]] = [
        {"id": s.id, "label": s.label, "region": s.region_code, "tiers": list(s.tiers)}
        for s in schemes.values()
    ]
    if _emit(rows, as_json):
        return
    table = Table("id", "dispositif", "région", "paliers")
    for r in rows:
        table.add_row(r["id"], r["label"], r["region"], ", ".join(r["tiers"]))
    out.print(table)


@scheme_app.command("show")
def scheme_show(scheme_id: str, as_json: JsonOpt = False) -> None:
    """Afficher un dispositif (paliers, règles)."""
    scheme = registry()[scheme_id]
    if _emit(scheme.model_dump(mode="json"), as_json):
        return
    out.print(f"[bold]{scheme.label}[/bold] ({scheme.id}) — {scheme.funding_body}")
    out.print(f"Région {scheme.region_code}, préfixe des contrats {scheme.contract_prefix}")
    table = Table("palier", "libellé", "mensuel par financeur (en vigueur)", "engagement")
    for code, tier in scheme.tiers.items():
        amounts = ", ".join(
            f"{f} {max(tier.monthly[f].values.items())[1].value} €" for f in scheme.funders
        )
        months = max(tier.commitment_months.values.items())[1].value
        table.add_row(code, tier.label, amounts, f"{months} mois")
    out.print(table)
    out.print(f"Motifs exonératoires : {', '.join(scheme.breach.exempting_reasons)}")


# -- territory ---------------------------------------------------------------------------------


@territory_app.command("check")
def territory_check(
    insee: str,
    scheme_id: Annotated[str | None, typer.Option("--scheme", help="Dispositif.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ruralité et éligibilité d'une commune (code INSEE)."""
    schemes = registry()
    if scheme_id is None and len(schemes) == 1:
        scheme_id = next(iter(schemes))
    scheme = schemes[scheme_id] if scheme_id else None
    result = check_commune(default_territory().commune(insee), scheme)
    data = result.as_json()
    if _emit(data, as_json):
        return
    verdict = {True: "[green]éligible[/green]", False: "[red]non éligible[/red]", None: "—"}
    out.print(
        f"{data['commune']} ({data['insee']}), {data['epci'] or 'sans EPCI'} "
        f"({data['epci_type'] or '—'}) : {'rurale' if data['rural'] else 'non rurale'}, "
        f"{verdict[result.eligible]}" + (f" pour {scheme_id}" if scheme_id else "")
    )
    for reason in result.reasons:
        out.print(f"  • {reason}")


# -- institutes, employers, campaigns, learners -------------------------------------------------


@institute_app.command("add")
def institute_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name")],
    commune: Annotated[str, typer.Option("--commune", help="Code INSEE.")],
    scheme: Annotated[
        list[str] | None, typer.Option("--scheme", help="Dispositif autorisé.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ajouter un institut de formation (autorisé pour les dispositifs donnés)."""
    schemes = scheme if scheme is not None else list(registry())
    ident = directory.add_institute(_ctx(ctx).uow(), name=name, commune=commune, schemes=schemes)
    _created(ident, as_json)


class SectorChoice(StrEnum):
    home_care = "home_care"
    elderly = "elderly"
    disability = "disability"
    hospital = "hospital"
    other = "other"


@employer_app.command("add")
def employer_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name")],
    siret: Annotated[str, typer.Option("--siret")],
    commune: Annotated[str, typer.Option("--commune", help="Code INSEE.")],
    sector: Annotated[SectorChoice, typer.Option("--sector")],
    recruitment_difficulty: Annotated[
        bool, typer.Option("--recruitment-difficulty", help="Difficultés de recrutement déclarées.")
    ] = False,
    email: Annotated[str | None, typer.Option("--email")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ajouter un employeur."""
    ident = directory.add_employer(
        _ctx(ctx).uow(),
        name=name,
        siret=siret,
        commune=commune,
        sector=sector.value,
        recruitment_difficulty=recruitment_difficulty,
        email=email,
    )
    _created(ident, as_json)


@campaign_app.command("open")
def campaign_open(
    ctx: typer.Context,
    scheme: Annotated[str, typer.Option("--scheme")],
    year: Annotated[int, typer.Option("--year")],
    as_json: JsonOpt = False,
) -> None:
    """Ouvrir la campagne d'une rentrée."""
    _created(directory.open_campaign(_ctx(ctx).uow(), scheme_id=scheme, year=year), as_json)


@campaign_app.command("list-employer")
def campaign_list_employer(
    ctx: typer.Context,
    campaign: int,
    employer: int,
    places: Annotated[int, typer.Option("--places")],
    as_json: JsonOpt = False,
) -> None:
    """Inscrire un employeur éligible dans une campagne (l'offre) ; affiche l'id de l'offre."""
    ident = directory.list_employer(
        _ctx(ctx).uow(), campaign_id=campaign, employer_id=employer, places=places
    )
    _created(ident, as_json)


@learner_app.command("add")
def learner_add(
    ctx: typer.Context,
    first_name: Annotated[str, typer.Option("--first-name")],
    last_name: Annotated[str, typer.Option("--last-name")],
    birth_date: Annotated[str, typer.Option("--birth-date")],
    email: Annotated[str, typer.Option("--email")],
    institute: Annotated[int, typer.Option("--institute")],
    training_start: Annotated[str, typer.Option("--training-start")],
    training_end: Annotated[str, typer.Option("--training-end")],
    iban: Annotated[str | None, typer.Option("--iban")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ajouter un apprenant."""
    ident = directory.add_learner(
        _ctx(ctx).uow(),
        first_name=first_name,
        last_name=last_name,
        birth_date=_required_date(birth_date, "birth_date"),
        email=email,
        institute_id=institute,
        training_start=_required_date(training_start, "training_start"),
        training_end=_required_date(training_end, "training_end"),
        iban=iban,
        today=today_paris(),
    )
    _created(ident, as_json)


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
    ident = cases.open_case(_ctx(ctx).uow(), offer, learner, actor=actor, on=_date(on, "--on"))
    _created(ident, as_json)


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
        _ctx(ctx).uow(),
        case,
        trigger,
        on=_date(on, "--on"),
        actor=actor,
        reason=reason,
        params=_parse_sets(sets),
    )
    if not _emit({"id": case, "state": state.value}, as_json):
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
        _ctx(ctx).uow(),
        case,
        start=_required_date(start, "--from"),
        end=_date(end, "--to"),
        reason=reason,
        actor=actor,
    )
    _created(ident, as_json)


@case_app.command("resume")
def case_resume(
    ctx: typer.Context,
    case: int,
    on: Annotated[str, typer.Option("--on", help="Jour de la reprise.")],
    actor: Annotated[str | None, typer.Option("--actor")] = None,
) -> None:
    """Terminer la suspension en cours : reprise du service à la date donnée."""
    cases.resume(_ctx(ctx).uow(), case, on=_required_date(on, "--on"), actor=actor)
    out.print(f"Dossier {case} : reprise le {on}")


@case_app.command("show")
def case_show(ctx: typer.Context, case: int, as_json: JsonOpt = False) -> None:
    """Afficher un dossier : état, échéancier, paiements, historique."""
    from workflow.views import case_detail

    with _ctx(ctx).uow() as uow:
        data = case_detail(uow.session, case)
    if _emit(data, as_json):
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
        f"formation {d['training']['start']} → {d['training']['end']} ; "
        f"service {d['service']['start'] or '—'} → {d['service']['commitment_end'] or '—'}"
    )
    if d["schedule"]:
        table = Table("mois", "financeur", "montant", "échéance", "paiement", title="Échéancier")
        paid = {(p["period"], p["funder"]): p["status"] for p in d["payments"]}
        for i in d["schedule"]:
            table.add_row(
                i["period"],
                i["funder"],
                i["amount"],
                i["due_date"],
                paid.get((i["period"], i["funder"]), "—"),
            )
        out.print(table)
    if d["reimbursement"]:
        amounts = ", ".join(f"{f} {a} €" for f, a in d["reimbursement"].items())
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
        table.add_row(
            e["effective_date"],
            e["trigger"],
            e["from"] or "",
            e["to"],
            e["actor"],
            e["reason"] or "",
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
    with _ctx(ctx).uow() as uow:
        rows = case_rows(uow.session, wanted)
    if _emit(rows, as_json):
        return
    table = Table("n°", "état", "apprenant", "employeur", "palier", "contrat", "dernier événement")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["state"],
            r["learner"],
            r["employer"],
            r["tier"] or "",
            r["contract_number"] or "",
            r["last_event"],
        )
    out.print(table)


# -- demo --------------------------------------------------------------------------------------


@app.command("demo")
def demo(
    ctx: typer.Context,
    as_json: JsonOpt = False,
) -> None:
    """Construire une base de démonstration et y faire vivre une douzaine de dossiers."""
    from workflow.demo import run_demo

    run_demo(_ctx(ctx).url, out, as_json=as_json)


def main() -> None:
    try:
        app()
    except FidelisError as exc:
        err.print(f"[bold red]Erreur :[/bold red] {exc}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
