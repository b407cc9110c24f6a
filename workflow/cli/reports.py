"""`fidelis export cases|payments|reimbursements|events FILE`, `fidelis report observatory` and
`fidelis forecast`: the exports, the observatory and the budget forecast (workflow.reports).

Every input is checked before anything is read or written (unknown scheme, campaign, tier or
state, bad date, unknown file extension, missing folder: a French error, exit 1, no file), and
files are written through a temporary name, so a failure leaves nothing behind."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from workflow.cli.common import (
    JsonOpt,
    app,
    context_of,
    emit,
    export_app,
    id_option,
    optional_date,
    out,
    report_app,
)
from workflow.clock import today_paris
from workflow.documents.french import euros
from workflow.errors import InvalidInput
from workflow.schemes import Scheme, SchemeRegistry, registry

ZERO = Decimal("0.00")
SchemeOpt = Annotated[
    str | None, typer.Option("--scheme", help="Dispositif (identifiant, p. ex. occitanie-…).")
]
CampaignOpt = Annotated[
    int | None, typer.Option("--campaign", help="Campagne : l'année de la rentrée (p. ex. 2026).")
]

# -- exports --------------------------------------------------------------------------------------

EXPORT_HELP = {
    "cases": "Les dossiers, leur état et leurs dates clés (CSV ou XLSX selon l'extension).",
    "payments": "Les paiements par mois et par financeur (CSV ou XLSX selon l'extension).",
    "reimbursements": "Les remboursements dus après rupture (CSV ou XLSX selon l'extension).",
    "debts": "Les dettes des apprenants : montant, remboursé, remis, admis en non-valeur, solde "
    "(CSV ou XLSX selon l'extension ; le classeur ajoute les totaux par financeur).",
    "events": "L'historique des événements des dossiers (CSV ou XLSX selon l'extension).",
}


def _export(
    ctx: typer.Context,
    name: str,
    file: Path,
    *,
    state: str | None,
    scheme: str | None,
    campaign: int | None,
    employer: int | None,
    institute: int | None,
    departement: str | None,
    search: str | None,
    as_json: bool,
) -> None:
    from workflow.reports.exports import EXPORTS, export_format, write_export
    from workflow.reports.selection import Selection, parse_filters

    export_format(file)  # an unknown extension fails before the database is opened
    schemes = registry()
    with context_of(ctx).reading() as uow:
        filters = parse_filters(
            uow.session,
            schemes,
            state=state,
            scheme=scheme,
            campaign=campaign,
            employer=employer,
            institute=institute,
            departement=departement,
            search=search,
        )
        count = write_export(uow.session, EXPORTS[name], file, Selection(filters), schemes)
    if not emit({"file": str(file), "rows": count}, as_json):
        out.print(f"{count} ligne(s) exportée(s) → {file}")


def _register_export(name: str) -> None:
    @export_app.command(name, help=EXPORT_HELP[name])
    def command(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="Fichier à écrire : .csv ou .xlsx.")],
        state: Annotated[str | None, typer.Option("--state", help="État des dossiers.")] = None,
        scheme: SchemeOpt = None,
        campaign: CampaignOpt = None,
        employer: Annotated[int | None, id_option("--employer", help="N° d'employeur.")] = None,
        institute: Annotated[int | None, id_option("--institute", help="N° d'institut.")] = None,
        departement: Annotated[
            str | None, typer.Option("--departement", help="Département de l'employeur.")
        ] = None,
        search: Annotated[
            str | None, typer.Option("--search", help="Nom de l'apprenant ou n° de contrat.")
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        _export(
            ctx,
            name,
            file,
            state=state,
            scheme=scheme,
            campaign=campaign,
            employer=employer,
            institute=institute,
            departement=departement,
            search=search,
            as_json=as_json,
        )


for _name in EXPORT_HELP:
    _register_export(_name)


# -- observatory ----------------------------------------------------------------------------------


def _xlsx_target(path: Path | None) -> None:
    if path is not None and path.suffix.lower() != ".xlsx":
        raise InvalidInput(f"Le classeur doit être un fichier .xlsx : « {path} ».", "xlsx")
    if path is not None and not (path.parent if str(path.parent) else Path(".")).is_dir():
        raise InvalidInput(f"Dossier inexistant : « {path.parent} ».", "xlsx")


def _png_target(path: Path | None) -> None:
    if path is not None and path.suffix.lower() != ".png":
        raise InvalidInput(f"Le graphique doit être un fichier .png : « {path} ».", "png")
    if path is not None and not (path.parent if str(path.parent) else Path(".")).is_dir():
        raise InvalidInput(f"Dossier inexistant : « {path.parent} ».", "png")


def _write_bytes(path: Path, content: bytes) -> None:
    from workflow.files import atomic_path

    with atomic_path(path) as temp:
        temp.write_bytes(content)


@report_app.command("observatory")
def report_observatory(
    ctx: typer.Context,
    by: Annotated[
        str,
        typer.Option("--by", help="Regroupement : campagne, departement, type-epci ou secteur."),
    ] = "campagne",
    scheme: SchemeOpt = None,
    campaign: CampaignOpt = None,
    as_json: JsonOpt = False,
    xlsx: Annotated[
        Path | None,
        typer.Option("--xlsx", help="Écrire le classeur (tous les regroupements) dans ce fichier."),
    ] = None,
    png: Annotated[
        Path | None,
        typer.Option("--png", help="Écrire les graphiques (PNG) dans ce dossier."),
    ] = None,
) -> None:
    """L'observatoire : offres, candidatures, contrats, ruptures, argent, taux de rétention."""
    from workflow.reports import charts
    from workflow.reports.observatory import check_dimension, observatories
    from workflow.reports.selection import check_campaign, check_scheme
    from workflow.reports.workbook import observatory_workbook

    check_dimension(by)
    _xlsx_target(xlsx)
    if png is not None and png.exists() and not png.is_dir():
        raise InvalidInput(f"--png attend un dossier : « {png} » est un fichier.", "png")
    schemes = registry()
    with context_of(ctx).reading() as uow:
        check_scheme(scheme, schemes)
        check_campaign(uow.session, campaign, scheme)
        every = observatories(uow.session, scheme=scheme, campaign=campaign)
    every.sort(key=lambda o: o.dimension != by)  # the grouping asked for comes first
    obs = every[0]
    if xlsx is not None:
        from workflow.files import atomic_path

        with atomic_path(xlsx) as temp:
            observatory_workbook(every, temp)
    written = []
    if png is not None:
        png.mkdir(parents=True, exist_ok=True)
        for stem, draw in (
            ("parcours", charts.funnel_png),
            ("argent", charts.money_png),
            ("retention", charts.retention_png),
        ):
            path = png / f"{stem}-{by}.png"
            _write_bytes(path, draw(obs))
            written.append(str(path))
    if emit(obs.to_json(), as_json):
        return
    _print_observatory(obs)
    for name in ([str(xlsx)] if xlsx else []) + written:
        out.print(f"Écrit : {name}")


def _rate(rate: Any) -> str:
    from workflow.reports.observatory import percent_text

    return percent_text(rate)


def _print_observatory(obs: Any) -> None:
    from workflow.documents.labels import breach_reason_label
    from workflow.reports.labels import funder_title
    from workflow.reports.observatory import COUNTS, FunderMoney

    funnel = ("offers", "places", "cases", "applications", "selections", "contracts")
    outcomes = ("in_training", "serving", "completed", "breached", "breached_in_service")
    table = Table(
        obs.dimension_label, *(COUNTS[k] for k in funnel), title="Observatoire : offres et parcours"
    )
    for f in [*obs.rows, obs.total]:
        table.add_row(f.label, *(str(f.counts[k]) for k in funnel))
    out.print(table)
    table = Table(
        obs.dimension_label,
        *(COUNTS[k] for k in outcomes),
        "Taux de rétention",
        title="Observatoire : formations, engagements et rétention",
    )
    for f in [*obs.rows, obs.total]:
        table.add_row(f.label, *(str(f.counts[k]) for k in outcomes), _rate(f.retention_rate))
    out.print(table)
    if obs.reasons:
        reasons = Table(
            obs.dimension_label,
            *(breach_reason_label(r) for r in obs.reasons),
            title="Ruptures par motif",
        )
        for f in [*obs.rows, obs.total]:
            reasons.add_row(f.label, *(str(f.breaches_by_reason.get(r, 0)) for r in obs.reasons))
        out.print(reasons)
    if obs.funders:
        headers = []
        for funder in obs.funders:
            name = funder_title(funder)
            headers += [f"Versé {name}", f"dont payé {name}", f"À recouvrer {name}"]
        money = Table(obs.dimension_label, *headers, title="Argent par financeur")
        for f in [*obs.rows, obs.total]:
            cells = []
            for funder in obs.funders:
                m = f.money.get(funder) or FunderMoney()
                cells += [euros(m.allocated), euros(m.paid), euros(m.to_recover)]
            money.add_row(f.label, *cells)
        out.print(money)
        # The debts' life per funder (SPEC §4b), over the whole selection.
        owed = Table(
            "Financeur", "Dettes", "À recouvrer", "Recouvré", "Remis", "Admis en non-valeur",
            title="Dettes des apprenants",
        )  # fmt: skip
        for funder in obs.funders:
            m = obs.total.money.get(funder) or FunderMoney()
            owed.add_row(
                funder_title(funder), euros(m.debts), euros(m.to_recover), euros(m.recovered),
                euros(m.waived), euros(m.written_off),
            )  # fmt: skip
        out.print(owed)


# -- forecast -------------------------------------------------------------------------------------


def _campaign_scheme(scheme: str | None, schemes: SchemeRegistry) -> Scheme:
    """The scheme of a new campaign: --scheme, or the only one configured."""
    if scheme is not None:
        return schemes[scheme]
    if len(schemes) == 1:
        return schemes[next(iter(schemes))]
    raise InvalidInput(
        "Précisez le dispositif de la nouvelle campagne avec --scheme "
        f"(dispositifs : {', '.join(sorted(schemes))}).",
        "scheme",
    )


@app.command("forecast")
def forecast_command(
    ctx: typer.Context,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Situation à cette date (défaut : aujourd'hui).")
    ] = None,
    scheme: SchemeOpt = None,
    new_campaign: Annotated[
        str | None,
        typer.Option(
            "--new-campaign", help="Nouvelle campagne : PALIER=NOMBRE,… (p. ex. 2x150=10,2x200=5)."
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="Début de formation de la nouvelle campagne.")
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", help="Fin de formation de la nouvelle campagne (défaut : 10 mois)."),
    ] = None,
    as_json: JsonOpt = False,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="Écrire le classeur.")] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Écrire le graphique (PNG).")] = None,
) -> None:
    """Prévision budgétaire : paiements à venir par mois et par financeur jusqu'à la dernière fin
    de formation ; coût d'une nouvelle campagne de N contrats par palier."""
    from workflow.reports import charts
    from workflow.reports.forecast import forecast, new_campaign_cost, parse_new_campaign
    from workflow.reports.selection import check_scheme
    from workflow.reports.workbook import forecast_workbook

    day = optional_date(as_of, "--as-of") or today_paris()
    schemes = registry()
    check_scheme(scheme, schemes)
    _xlsx_target(xlsx)
    _png_target(png)
    cost = None
    if new_campaign is None and (start is not None or end is not None):
        raise InvalidInput("--start et --end ne valent qu'avec --new-campaign.", "start")
    if new_campaign is not None:
        if start is None:
            raise InvalidInput(
                "--start (début de formation de la nouvelle campagne) est obligatoire avec "
                "--new-campaign.",
                "start",
            )
        target = _campaign_scheme(scheme, schemes)
        counts = parse_new_campaign(new_campaign, target)
        first = optional_date(start, "--start")
        assert first is not None
        cost = new_campaign_cost(target, counts, first, optional_date(end, "--end"))
    with context_of(ctx).reading() as uow:
        result = forecast(uow.session, day, schemes, scheme=scheme)
    written = []
    if xlsx is not None:
        from workflow.files import atomic_path

        with atomic_path(xlsx) as temp:
            forecast_workbook(result, cost, temp)
        written.append(str(xlsx))
    if png is not None:
        _write_bytes(png, charts.forecast_png(result))
        written.append(str(png))
        if cost is not None:
            other = png.with_name(f"{png.stem}-nouvelle-campagne.png")
            _write_bytes(other, charts.campaign_cost_png(cost))
            written.append(str(other))
    data = {"forecast": result.to_json(), "new_campaign": cost.to_json() if cost else None}
    if emit(data, as_json):
        return
    _print_forecast(result, cost)
    for path in written:
        out.print(f"Écrit : {path}")


def _print_forecast(result: Any, cost: Any) -> None:
    from workflow.reports.labels import funder_title

    table = Table(
        "Mois",
        "Dossiers",
        *(funder_title(f) for f in result.funders),
        "Total",
        title=f"Paiements à venir au {result.as_of:%d/%m/%Y}",
    )
    for m in result.months:
        table.add_row(
            f"{m.period:%m/%Y}",
            str(m.cases),
            *(euros(m.amounts.get(f, ZERO)) for f in result.funders),
            euros(m.total),
        )
    totals = result.totals
    table.add_row(
        "Total", "", *(euros(totals[f]) for f in result.funders), euros(result.total), style="bold"
    )
    out.print(table)
    ends = result.last_training_end
    out.print(
        f"Contrats actifs aujourd'hui : {result.active_contracts} ; "
        f"dossiers ayant des paiements à venir : "
        f"{result.cases} ; dernière fin de formation : "
        f"{ends.strftime('%d/%m/%Y') if ends else '—'}."
    )
    if result.recoveries:  # SPEC §4b: what the debts still owed should bring back
        back = Table(
            "Mois", "Dossiers", *(funder_title(f) for f in result.recovery_funders), "Total",
            title="Recouvrements attendus (échéanciers, ou solde à l'échéance de la dette)",
        )  # fmt: skip
        for m in result.recoveries:
            back.add_row(
                f"{m.period:%m/%Y}", str(m.cases),
                *(euros(m.amounts.get(f, ZERO)) for f in result.recovery_funders), euros(m.total),
            )  # fmt: skip
        out.print(back)
    if cost is None:
        return
    tiers = Table(
        "Palier",
        "Contrats",
        "Engagement",
        *(f"Par contrat — {funder_title(f)}" for f in cost.funders),
        *(f"Total — {funder_title(f)}" for f in cost.funders),
        title=(
            f"Nouvelle campagne ({cost.scheme}), formation du {cost.start:%d/%m/%Y} "
            f"au {cost.end:%d/%m/%Y}"
        ),
    )
    for t in cost.tiers:
        tiers.add_row(
            t.tier,
            str(t.contracts),
            f"{t.commitment_months} mois",
            *(euros(t.per_contract[f]) for f in cost.funders),
            *(euros(t.total[f]) for f in cost.funders),
        )
    out.print(tiers)
    out.print(f"Coût total de la nouvelle campagne : {euros(cost.total)}.")
