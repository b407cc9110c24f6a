"""`fidelis db|scheme|territory|institute|employer|campaign|learner`: the reference data."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
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
from workflow.display import day_fr as day
from workflow.documents.labels import breach_reason_label
from workflow.eligibility import check_commune
from workflow.reports.labels import funder_title
from workflow.scheme_view import PART_TIME_TEXT, PRORATION_TEXT, in_force, rule_text, shown, summary
from workflow.schemes import load_scheme, registry
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
def scheme_show(
    scheme_id: str,
    on: Annotated[
        str | None, typer.Option("--on", help="Date des valeurs en vigueur (défaut : aujourd'hui).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Afficher un dispositif : valeurs en vigueur à une date (avec leurs références), règles."""
    scheme = registry()[scheme_id]
    when = optional_date(on, "--on") or today_paris()
    current = in_force(scheme, when)
    # The whole file as before, and what is in force on the date under `in_force`.
    if emit({**shown(scheme), "in_force": current}, as_json):
        return
    references: list[str] = []

    def ref(entry: dict[str, Any] | None) -> str:
        if entry is None:
            return "—"
        if entry["reference"] not in references:
            references.append(entry["reference"])
        return f"depuis le {day(entry['since'])} [{references.index(entry['reference']) + 1}]"

    def value(entry: dict[str, Any] | None, shown: Callable[[Any], str]) -> str:
        return "pas encore en vigueur" if entry is None else shown(entry["value"])

    out.print(f"[bold]{plain(scheme.label)}[/bold] ({scheme.id}) — {plain(scheme.funding_body)}")
    out.print(f"Région {scheme.region_code}, préfixe des contrats {scheme.contract_prefix}")
    out.print(f"Valeurs en vigueur le {when:%d/%m/%Y} :")
    table = Table("palier", "libellé", "mensuel par financeur (en vigueur)", "engagement", "source")
    for code, tier in current["tiers"].items():
        amounts = ", ".join(
            f"{funder_title(f)} {value(entry, euros)}" for f, entry in tier["monthly"].items()
        )
        months = tier["commitment_months"]
        sources = sorted({ref(e) for e in [*tier["monthly"].values(), months]})
        table.add_row(
            code,
            plain(tier["label"]),
            amounts,
            value(months, lambda m: f"{m} mois"),
            " ; ".join(sources),
        )
    out.print(table)
    breach = current["breach"]
    rows = [
        ("Proration de l'allocation", PRORATION_TEXT[current["proration"]], ""),
        (
            "Jour de paiement",
            value(current["payment_day"], lambda d: f"le {d} du mois suivant"),
            ref(current["payment_day"]),
        ),
        (
            "Règle de remboursement",
            "pas encore en vigueur"
            if breach["rule"] is None
            else rule_text(scheme.breach.rule.at(when)),
            ref(breach["rule"]),
        ),
        (
            "Délai de remboursement",
            value(breach["recovery_days"], lambda d: f"{d} jours après la rupture"),
            ref(breach["recovery_days"]),
        ),
        (
            "Motifs exonératoires",
            ", ".join(breach_reason_label(r) for r in breach["exempting_reasons"]) or "aucun",
            "",
        ),
        ("Temps partiel", PART_TIME_TEXT[current["part_time"]], ""),
        (
            "Motifs de suspension",
            ", ".join(
                r["label"] + (f" (au moins {r['min_days']} jours)" if r["min_days"] else "")
                for r in current["suspension_reasons"]
            )
            or "aucun",
            "",
        ),
        ("Financeurs", ", ".join(_funder_text(f, current["funders"]) for f in scheme.funders), ""),
    ]
    rules = Table("règle", "valeur", "source")
    for row in rows:
        rules.add_row(*(plain(cell) for cell in row))
    out.print(rules)
    for i, reference in enumerate(references, 1):
        out.print(f"[{i}] {plain(' '.join(reference.split()))}", highlight=False)


def _funder_text(code: str, declared: Any) -> str:
    """A funder's title, and what the scheme declares of it when it declares more than codes."""
    entry = declared.get(code) if isinstance(declared, dict) else None
    if isinstance(entry, dict):
        details = ", ".join(f"{k} : {v}" for k, v in entry.items() if v not in (None, "", []))
        return f"{funder_title(code)} ({details})" if details else funder_title(code)
    return funder_title(code)


@scheme_app.command("check")
def scheme_check(
    file: Annotated[Path, typer.Argument(help="Le fichier YAML du dispositif à vérifier.")],
) -> None:
    """Vérifier un fichier de dispositif avant de l'installer (code de sortie 1 s'il est faux)."""
    scheme = load_scheme(file)  # a SchemeError lists every mistake, file and key named
    out.print(f"Fichier valide : {plain(summary(scheme))}", highlight=False)


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


@campaign_app.command("close")
def campaign_close(
    ctx: typer.Context,
    campaign: Annotated[int, id_argument("CAMPAIGN")],
    reopen: Annotated[bool, typer.Option("--reopen", help="La rouvrir.")] = False,
) -> None:
    """Clore une campagne (plus de candidature ni d'inscription ; ses dossiers se poursuivent)."""
    name = directory.set_campaign_open(context_of(ctx).uow(), campaign, is_open=reopen)
    out.print(f"{name.capitalize()} {'rouverte' if reopen else 'close'}.", highlight=False)


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
