"""The observatory and the forecast as XLSX workbooks, through the export writer
(`exports.write_xlsx`): French headers, euros formatted `#,##0.00 "€"`, rates `0.0 %`,
months `mm/yyyy`."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import IO, Any

from workflow.documents.labels import breach_reason_label
from workflow.reports.exports import Column, Sheet, write_xlsx
from workflow.reports.forecast import ZERO, CampaignCost, Forecast, MonthRow
from workflow.reports.labels import capitalised, funder_title
from workflow.reports.observatory import COUNTS, Figures, FunderMoney, Observatory

__all__ = ["DEFINITIONS", "forecast_workbook", "observatory_workbook"]

DEFINITIONS = (
    ("Offres, places", "Offres de la campagne et somme de leurs places."),
    ("Dossiers", "Candidatures ouvertes sur ces offres, quel que soit leur état."),
    ("Candidatures", "Dossiers dont la candidature a été envoyée (même rejetée ou retirée)."),
    ("Sélections", "Dossiers retenus par l'employeur."),
    ("Contrats", "Dossiers dont le contrat a été signé par les trois parties."),
    ("En formation, en poste", "Dossiers dans cet état à la date du rapport."),
    ("Honorés", "Engagements de servir menés à leur terme."),
    ("Ruptures", "Engagements rompus ; « pendant le service » : après la prise de poste."),
    (
        "Taux de rétention en fin d'engagement",
        "Honorés / (honorés + ruptures pendant le service). Les ruptures avant la prise de "
        "poste (abandon, échec au diplôme, refus du poste) n'y entrent pas ; les ruptures "
        "exonérées pendant le service y comptent.",
    ),
    (
        "Allocations versées",
        "Paiements créés (dus, exportés, notifiés ou payés), hors paiements annulés ; "
        "« dont payées » : ceux à l'état payé.",
    ),
    (
        "À recouvrer",
        "Solde des dettes des apprenants (remboursements après rupture, trop-perçus) : montant "
        "moins ce qui est remboursé, remis ou admis en non-valeur.",
    ),
    ("Recouvré", "Remboursements reçus (ou confirmés par l'employeur pour sa part)."),
    ("Remis", "Remises gracieuses accordées par décision."),
    ("Admis en non-valeur", "Soldes admis en non-valeur par décision."),
)


def _observatory_sheet(obs: Observatory, title: str) -> Sheet:
    reasons = obs.reasons
    columns = [
        Column(obs.dimension_label, "text", 30),
        *(Column(header, "int", 12) for header in COUNTS.values()),
        Column("Taux de rétention en fin d'engagement", "percent", 14),
        *(Column(f"Rupture : {breach_reason_label(r)}", "int", 14) for r in reasons),
    ]
    for funder in obs.funders:
        name = funder_title(funder)
        columns += [
            Column(f"Allocations versées — {name}", "money", 16),
            Column(f"dont payées — {name}", "money", 16),
            Column(f"À recouvrer — {name}", "money", 16),
            Column(f"Recouvré — {name}", "money", 16),
            Column(f"Remis — {name}", "money", 16),
            Column(f"Admis en non-valeur — {name}", "money", 16),
        ]

    def row(f: Figures) -> list[Any]:
        values: list[Any] = [f.label, *(f.counts[k] for k in COUNTS), f.retention_rate]
        values += [f.breaches_by_reason.get(r, 0) for r in reasons]
        for funder in obs.funders:
            m = f.money.get(funder, FunderMoney())
            values += [m.allocated, m.paid, m.to_recover, m.recovered, m.waived, m.written_off]
        return values

    return Sheet(title, columns, [*(row(f) for f in obs.rows), row(obs.total)])


def observatory_workbook(
    observatories: Sequence[Observatory], target: IO[bytes] | Path | None = None
) -> bytes | None:
    """One sheet per grouping, then the definitions. Returns the bytes when no target."""
    sheets = [_observatory_sheet(o, capitalised(o.per)) for o in observatories]
    sheets.append(
        Sheet(
            "Définitions",
            [Column("Indicateur", "text", 36), Column("Définition", "text", 100)],
            DEFINITIONS,
        )
    )
    return _save(sheets, target)


def _month_sheet(title: str, funders: Sequence[str], months: Sequence[MonthRow]) -> Sheet:
    columns = [
        Column("Mois", "month", 12),
        Column("Dossiers", "int", 10),
        *(Column(funder_title(f), "money", 16) for f in funders),
        Column("Total", "money", 16),
    ]
    rows: list[list[Any]] = [
        [m.period, m.cases, *(m.amounts.get(f, ZERO) for f in funders), m.total] for m in months
    ]
    totals = {f: sum((m.amounts.get(f, ZERO) for m in months), ZERO) for f in funders}
    rows.append(["Total", None, *totals.values(), sum(totals.values(), ZERO)])
    return Sheet(title, columns, rows)


def forecast_workbook(
    forecast: Forecast | None,
    cost: CampaignCost | None = None,
    target: IO[bytes] | Path | None = None,
) -> bytes | None:
    """The payments still to come by month, and the new campaign's cost (per tier, by month)."""
    sheets: list[Sheet] = []
    settings: list[tuple[str, Any]] = []
    if forecast is not None:
        sheets.append(_month_sheet("Paiements à venir", forecast.funders, forecast.months))
        settings += [
            ("Situation au", forecast.as_of),
            ("Dispositif", forecast.scheme or "tous les dispositifs"),
            ("Contrats actifs aujourd'hui (signés ou en formation)", forecast.active_contracts),
            ("Dossiers ayant des paiements à venir", forecast.cases),
            ("Dernière fin de formation", forecast.last_training_end),
        ]
    if cost is not None:
        columns = [
            Column("Palier", "text", 10),
            Column("Libellé", "text", 50),
            Column("Contrats", "int", 10),
            Column("Engagement (mois)", "int", 12),
            *(Column(f"Par contrat — {funder_title(f)}", "money", 16) for f in cost.funders),
            *(Column(f"Total — {funder_title(f)}", "money", 16) for f in cost.funders),
            Column("Total", "money", 16),
        ]
        rows = [
            [
                t.tier,
                t.label,
                t.contracts,
                t.commitment_months,
                *(t.per_contract.get(f, ZERO) for f in cost.funders),
                *(t.total.get(f, ZERO) for f in cost.funders),
                sum(t.total.values(), ZERO),
            ]
            for t in cost.tiers
        ]
        sheets.append(Sheet("Nouvelle campagne", columns, rows))
        sheets.append(_month_sheet("Nouvelle campagne par mois", cost.funders, cost.months))
        settings += [
            ("Nouvelle campagne : dispositif", cost.scheme),
            ("Nouvelle campagne : début de formation", cost.start),
            ("Nouvelle campagne : fin de formation", cost.end),
        ]
    sheets.append(
        Sheet(
            "Paramètres",
            [Column("Paramètre", "text", 44), Column("Valeur", "text", 30)],
            [(name, _setting(value)) for name, value in settings],
        )
    )
    return _save(sheets, target)


def _setting(value: Any) -> Any:
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    if value is None:
        return "—"
    return value


def _save(sheets: list[Sheet], target: IO[bytes] | Path | None) -> bytes | None:
    if target is not None:
        write_xlsx(sheets, target)
        return None
    buffer = io.BytesIO()
    write_xlsx(sheets, buffer)
    return buffer.getvalue()
