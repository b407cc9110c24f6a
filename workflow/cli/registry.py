"""`fidelis db|scheme|territory|institute|employer|campaign|learner`: the reference data."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from workflow import directory
from workflow.cli.common import (
    JsonOpt,
    campaign_app,
    context_of,
    created,
    db_app,
    emit,
    employer_app,
    err,
    id_argument,
    id_option,
    institute_app,
    learner_app,
    optional_date,
    out,
    plain,
    required_date,
    scheme_app,
    territory_app,
)
from workflow.clock import today_paris
from workflow.db import (
    upgrade,
)
from workflow.display import amount_fr as euros
from workflow.documents.labels import breach_reason_label
from workflow.eligibility import check_commune
from workflow.reports.labels import funder_title
from workflow.schemes import registry
from workflow.territory import default_territory

# -- db ---------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Créer ou mettre à jour le schéma (migrations Alembic)."""
    upgrade(context_of(ctx).engine)
    err.print(f"Schéma à jour : {context_of(ctx).url}")


# -- schemes -----------------------------------------------------------------------------------


@scheme_app.command("list")
def scheme_list(as_json: JsonOpt = False) -> None:
    """Lister les dispositifs configurés."""
    schemes = registry()
    rows: list[dict[str, Any]] = [
        {"id": s.id, "label": s.label, "region": s.region_code, "tiers": list(s.tiers)}
        for s in schemes.values()
    ]
    if emit(rows, as_json):
        return
    table = Table("id", "dispositif", "région", "paliers")
    for r in rows:
        table.add_row(r["id"], r["label"], r["region"], ", ".join(r["tiers"]))
    out.print(table)


@scheme_app.command("show")
def scheme_show(scheme_id: str, as_json: JsonOpt = False) -> None:
    """Afficher un dispositif (paliers, règles)."""
    scheme = registry()[scheme_id]
    if emit(scheme.model_dump(mode="json"), as_json):
        return
    out.print(f"[bold]{scheme.label}[/bold] ({scheme.id}) — {scheme.funding_body}")
    out.print(f"Région {scheme.region_code}, préfixe des contrats {scheme.contract_prefix}")
    table = Table("palier", "libellé", "mensuel par financeur (en vigueur)", "engagement")
    for code, tier in scheme.tiers.items():
        amounts = ", ".join(
            f"{funder_title(f)} {euros(max(tier.monthly[f].values.items())[1].value)}"
            for f in scheme.funders
        )
        months = max(tier.commitment_months.values.items())[1].value
        table.add_row(code, tier.label, amounts, f"{months} mois")
    out.print(table)
    reasons = ", ".join(breach_reason_label(r) for r in scheme.breach.exempting_reasons)
    out.print(f"Motifs exonératoires : {reasons}")


# -- territory ---------------------------------------------------------------------------------


@territory_app.command("check")
def territory_check(
    insee: str,
    scheme_id: Annotated[str | None, typer.Option("--scheme", help="Dispositif.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ruralité et éligibilité d'une commune (code INSEE) ; sans --scheme, pour le dispositif de
    sa région s'il est le seul."""
    schemes = registry()
    commune = default_territory().commune(insee)
    if scheme_id is None:
        # The one scheme of the commune's region, if only one covers it (several schemes may be
        # configured, each for its region).
        here = [i for i, s in schemes.items() if s.region_code == commune.region]
        if len(here) == 1 or len(schemes) == 1:
            scheme_id = here[0] if len(here) == 1 else next(iter(schemes))
    scheme = schemes[scheme_id] if scheme_id else None
    result = check_commune(commune, scheme)
    data = result.as_json()
    if emit(data, as_json):
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
    ident = directory.add_institute(
        context_of(ctx).uow(), name=name, commune=commune, schemes=schemes
    )
    created(ident, as_json)


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
        context_of(ctx).uow(),
        name=name,
        siret=siret,
        commune=commune,
        sector=sector.value,
        recruitment_difficulty=recruitment_difficulty,
        email=email,
    )
    created(ident, as_json)


@campaign_app.command("open")
def campaign_open(
    ctx: typer.Context,
    scheme: Annotated[str, typer.Option("--scheme")],
    year: Annotated[int, typer.Option("--year")],
    as_json: JsonOpt = False,
) -> None:
    """Ouvrir la campagne d'une rentrée."""
    created(directory.open_campaign(context_of(ctx).uow(), scheme_id=scheme, year=year), as_json)


@campaign_app.command("list-employer")
def campaign_list_employer(
    ctx: typer.Context,
    campaign: Annotated[int, id_argument("CAMPAIGN")],
    employer: Annotated[int, id_argument("EMPLOYER")],
    places: Annotated[int, typer.Option("--places")],
    as_json: JsonOpt = False,
) -> None:
    """Inscrire un employeur éligible dans une campagne (l'offre) ; affiche l'id de l'offre."""
    ident = directory.list_employer(
        context_of(ctx).uow(), campaign_id=campaign, employer_id=employer, places=places
    )
    created(ident, as_json)


@learner_app.command("add")
def learner_add(
    ctx: typer.Context,
    first_name: Annotated[str, typer.Option("--first-name")],
    last_name: Annotated[str, typer.Option("--last-name")],
    birth_date: Annotated[str, typer.Option("--birth-date")],
    email: Annotated[str, typer.Option("--email")],
    institute: Annotated[int, id_option("--institute")],
    training_start: Annotated[str, typer.Option("--training-start")],
    training_end: Annotated[str, typer.Option("--training-end")],
    iban: Annotated[str | None, typer.Option("--iban")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ajouter un apprenant."""
    ident = directory.add_learner(
        context_of(ctx).uow(),
        first_name=first_name,
        last_name=last_name,
        birth_date=required_date(birth_date, "birth_date"),
        email=email,
        institute_id=institute,
        training_start=required_date(training_start, "training_start"),
        training_end=required_date(training_end, "training_end"),
        iban=iban,
        today=today_paris(),
    )
    created(ident, as_json)


@learner_app.command("update")
def learner_update(
    ctx: typer.Context,
    learner: Annotated[int, id_argument("LEARNER")],
    iban: Annotated[str | None, typer.Option("--iban")] = None,
    training_start: Annotated[str | None, typer.Option("--training-start")] = None,
    training_end: Annotated[str | None, typer.Option("--training-end")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
) -> None:
    """Modifier l'IBAN, les dates de formation ou l'e-mail d'un apprenant."""
    messages = directory.update_learner(
        context_of(ctx).uow(),
        learner,
        iban=iban,
        email=email,
        training_start=optional_date(training_start, "--training-start"),
        training_end=optional_date(training_end, "--training-end"),
    )
    out.print(f"Apprenant {learner} modifié.")
    for message in messages:
        err.print(f"[yellow]Attention :[/yellow] {plain(message)}", highlight=False)
