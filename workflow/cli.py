"""The `fidelis` command line (SPEC §7): parse, call one service, print. Errors go to stderr with
exit code 1 (2 for usage errors); commands that create something print the new id alone."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table

from workflow import cases, contracts, directory, validation
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
contract_app = typer.Typer(
    help="Contrats et documents (Word, PDF), signatures.", no_args_is_help=True
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
    (contract_app, "contract"),
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


@learner_app.command("update")
def learner_update(
    ctx: typer.Context,
    learner: int,
    iban: Annotated[str | None, typer.Option("--iban")] = None,
    training_start: Annotated[str | None, typer.Option("--training-start")] = None,
    training_end: Annotated[str | None, typer.Option("--training-end")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
) -> None:
    """Modifier l'IBAN, les dates de formation ou l'e-mail d'un apprenant."""
    messages = directory.update_learner(
        _ctx(ctx).uow(),
        learner,
        iban=iban,
        email=email,
        training_start=_date(training_start, "--training-start"),
        training_end=_date(training_end, "--training-end"),
    )
    out.print(f"Apprenant {learner} modifié.")
    for message in messages:
        err.print(f"[yellow]Attention :[/yellow] {message}", highlight=False)


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
    if not _emit(data, as_json):
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
    c = _ctx(ctx)
    who = actor or cases.default_actor()
    when = _date(on, "--on")
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
    if _emit({"generated": done, "failed": failed}, as_json):
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
        _ctx(ctx).uow(),
        case,
        party=party.value,
        on=_required_date(on, "--on"),
        name=name,
        actor=actor or cases.default_actor(),
    )
    if _emit({"case": case, "party": party.value, "missing": missing}, as_json):
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
    on: Annotated[str | None, typer.Option("--on")] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Joindre le scan du contrat signé."""
    info = contracts.attach_scan(
        _ctx(ctx).uow(),
        case,
        file,
        on=_date(on, "--on") or today_paris(),
        actor=actor or cases.default_actor(),
    )
    _created(info.id, as_json)


@contract_app.command("list")
def contract_list(ctx: typer.Context, case: int, as_json: JsonOpt = False) -> None:
    """Les documents d'un dossier (versions, empreintes, signatures)."""
    with _ctx(ctx).uow() as uow:
        rows = contracts.document_rows(uow.session, case)
    if _emit(rows, as_json):
        return
    table = Table(
        "n°", "document", "version", "fichier", "état", "émis le", "signatures", "SHA-256"
    )
    for r in rows:
        signed = ", ".join(f"{g['party']} ({g['on']})" for g in r["signatures"])
        table.add_row(
            str(r["id"]),
            r["label"],
            str(r["version"]),
            r["filename"],
            r["status"],
            r["issued_on"],
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
    typer.echo(str(contracts.export_document(_ctx(ctx).uow(), document, out_path)))


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
    c = _ctx(ctx)
    infos = contracts.campaign_employer_list(
        c.uow(), campaign, on=_date(on, "--on") or today_paris(), actor=cases.default_actor()
    )
    paths = [
        contracts.export_document(c.uow(), i.id, out_dir) if out_dir else i.path for i in infos
    ]
    if not _emit(
        [{"id": i.id, "path": str(p)} for i, p in zip(infos, paths, strict=True)], as_json
    ):
        for p in paths:
            typer.echo(str(p))


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

    c = _ctx(ctx)
    c.uow()  # checks the schema
    day = _date(as_of, "--as-of") or today_paris()
    report = run_nightly(c.engine, day, catch_up=not no_catch_up, send_mail=not no_mail)
    if _emit({"runs": report.runs, "totals": report.totals}, as_json):
        return
    table = Table("jour", *STEP_LABELS.values(), title="Traitement de nuit")
    for run in report.runs:
        table.add_row(run["as_of"], *(str(run["counts"].get(k, "—")) for k in STEP_LABELS))
    out.print(table)


STEP_LABELS = {
    "transitions": "transitions",
    "payments": "paiements",
    "employer_statements": "relevés employeurs",
    "reminders": "relances",
    "commitment_checks": "contrôles",
    "retention": "anonymisations",
    "outbox": "envois",
}


@app.command("scheduler")
def scheduler(ctx: typer.Context) -> None:
    """Lancer le planificateur (un seul processus par base) : traitement de nuit à 02:00."""
    from jobs.scheduler import serve

    c = _ctx(ctx)
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

    with _ctx(ctx).uow() as uow:
        rows = payment_rows(uow.session, parse_period(period) if period else None)
    if _emit(rows, as_json):
        return
    table = Table(
        "n°", "dossier", "contrat", "apprenant", "mois", "financeur", "montant", "échéance", "état"
    )
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["case"]),
            r["contract_number"] or "",
            r["learner"],
            r["period"],
            r["funder"],
            r["amount"],
            r["due_date"],
            r["status"],
        )
    out.print(table)


@payments_app.command("export-sepa")
def payments_export_sepa(
    ctx: typer.Context,
    period: Annotated[str, typer.Option("--period", help="AAAA-MM")],
    out_file: Annotated[Path, typer.Option("--out", help="Fichier pain.001 à écrire.")],
    batch: Annotated[int | None, typer.Option("--batch", help="Réexporter ce lot.")] = None,
    on: Annotated[str | None, typer.Option("--on", help="Date d'exécution demandée.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Virements SEPA (pain.001.001.03) des parts de la Région d'un mois ; un paiement n'est
    exporté qu'une fois, et réexporter un lot redonne le même fichier."""
    from workflow.payments import export_sepa, parse_period

    export = export_sepa(
        _ctx(ctx).uow(),
        parse_period(period),
        on=_date(on, "--on") or today_paris(),
        actor=cases.default_actor(),
        batch_id=batch,
    )
    out_file.write_bytes(export.xml)
    data = {
        "batch": export.batch_id,
        "message_id": export.message_id,
        "count": export.count,
        "total": str(export.total),
        "reused": export.reused,
        "path": str(out_file),
    }
    if not _emit(data, as_json):
        again = " (lot déjà exporté, fichier identique)" if export.reused else ""
        out.print(f"{export.count} virement(s), {export.total} € → {out_file}{again}")


@payments_app.command("confirm")
def payments_confirm(
    ctx: typer.Context,
    employer: Annotated[int, typer.Option("--employer")],
    period: Annotated[str, typer.Option("--period", help="AAAA-MM")],
    on: Annotated[str | None, typer.Option("--on")] = None,
) -> None:
    """L'employeur confirme avoir versé ses parts du mois."""
    from workflow.payments import confirm_employer, parse_period

    count = confirm_employer(
        _ctx(ctx).uow(),
        employer,
        parse_period(period),
        on=_date(on, "--on") or today_paris(),
        actor=cases.default_actor(),
    )
    out.print(f"{count} part(s) employeur confirmée(s) payée(s).")


@payments_app.command("import-paid")
def payments_import_paid(ctx: typer.Context, file: Path) -> None:
    """Importer la confirmation de paiement du Trésor (CSV end_to_end_id;paid_on)."""
    from workflow.payments import import_paid

    count = import_paid(_ctx(ctx).uow(), file, actor=cases.default_actor())
    out.print(f"{count} virement(s) confirmé(s) payé(s).")


@payments_app.command("cancel")
def payments_cancel(
    ctx: typer.Context,
    payment: int,
    reason: Annotated[str, typer.Option("--reason")],
    on: Annotated[str | None, typer.Option("--on")] = None,
) -> None:
    """Annuler un paiement (correction motivée)."""
    from workflow.payments import cancel

    cancel(
        _ctx(ctx).uow(),
        payment,
        reason=reason,
        on=_date(on, "--on") or today_paris(),
        actor=cases.default_actor(),
    )
    out.print(f"Paiement {payment} annulé.")


@outbox_app.command("send")
def outbox_send(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Envoyer les courriels en attente (SMTP, avec nouvelles tentatives espacées)."""
    from jobs.outbox import send_pending
    from workflow.db import session_factory as factory_of

    c = _ctx(ctx)
    c.uow()
    sent = send_pending(factory_of(c.engine), registry())
    if not _emit({"sent": sent}, as_json):
        out.print(f"{sent} courriel(s) envoyé(s).")


@outbox_app.command("list")
def outbox_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """La boîte d'envoi."""
    from workflow.models import OutboxMessage

    with _ctx(ctx).uow() as uow:
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
    if _emit(rows, as_json):
        return
    table = Table("n°", "type", "dossier", "échéance", "destinataire", "état", "essais")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["kind"],
            str(r["case"] or ""),
            r["due_date"],
            r["recipient"] or "",
            r["status"],
            str(r["attempts"]),
        )
    out.print(table)


@case_app.command("attest")
def case_attest(
    ctx: typer.Context,
    case: int,
    on: Annotated[str, typer.Option("--on", help="Date de l'attestation de service.")],
    actor: Annotated[str | None, typer.Option("--actor")] = None,
) -> None:
    """Enregistrer l'attestation annuelle de service fournie par l'employeur."""
    cases.attest_service(_ctx(ctx).uow(), case, on=_required_date(on, "--on"), actor=actor)
    out.print(f"Dossier {case} : attestation de service du {on} enregistrée.")


# -- web -------------------------------------------------------------------------------------

user_app = typer.Typer(help="Comptes de l'application web.", no_args_is_help=True)
app.add_typer(user_app, name="user")


class RoleChoice(StrEnum):
    region = "region"
    employer = "employer"
    institute = "institute"
    admin = "admin"


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Option("--email")],
    name: Annotated[str, typer.Option("--name")],
    role: Annotated[RoleChoice, typer.Option("--role")],
    password: Annotated[
        str, typer.Option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    ],
    employer: Annotated[int | None, typer.Option("--employer")] = None,
    institute: Annotated[int | None, typer.Option("--institute")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Créer un compte (mot de passe haché argon2) ; affiche son id et son jeton d'API."""
    from workflow.accounts import add_user

    ident, token = add_user(
        _ctx(ctx).uow(),
        email=email,
        name=name,
        role=role.value,
        password=password,
        employer_id=employer,
        institute_id=institute,
    )
    if not _emit({"id": ident, "api_token": token}, as_json):
        typer.echo(str(ident))
        err.print(f"Jeton d'API (affiché une seule fois) : {token}", highlight=False)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
) -> None:
    """L'application web (FIDELIS_SECRET_KEY : clé des sessions, commune à tous les workers)."""
    import os

    import uvicorn

    from workflow.web import create_app

    c = _ctx(ctx)
    c.uow()
    uvicorn.run(
        create_app(c.url, secret_key=os.environ.get("FIDELIS_SECRET_KEY")), host=host, port=port
    )


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
