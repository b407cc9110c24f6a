"""The observatory and the forecast as PNG charts, in French.

matplotlib through its object API (`matplotlib.figure.Figure` drawn by the Agg canvas): no
pyplot, so no global figure state shared between web requests and no GUI backend, whatever
MPLBACKEND says. Text uses DejaVu Sans, which ships with matplotlib and has every French
glyph; thousands are separated by an ordinary space (a narrow no-break space is missing from
some fonts, and a missing glyph would be a warning). The PNG carries no software version or
date, so the same figures give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from workflow.reports.forecast import CampaignCost, Forecast, MonthRow
from workflow.reports.labels import funder_title
from workflow.reports.observatory import Observatory

__all__ = [
    "campaign_cost_png",
    "forecast_png",
    "funnel_png",
    "money_png",
    "retention_png",
]

PALETTE = ("#000091", "#e1000f", "#18753c", "#b34000", "#6a6af4", "#a558a0")
FONT = "DejaVu Sans"
_MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
           "nov.", "déc.")  # fmt: skip


def _figure(width: float = 9.0, height: float = 4.8) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _thousands(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def _euro_axis(axes: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{_thousands(v)} €"))


def _style(axes: Any, title: str, ylabel: str) -> None:
    axes.set_title(title, fontfamily=FONT, fontsize=12)
    axes.set_ylabel(ylabel, fontfamily=FONT)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)


def _empty(axes: Any, message: str = "Aucune donnée à afficher") -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def _grouped_bars(
    axes: Any,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    styles: Sequence[dict[str, Any]] | None = None,
) -> None:
    """Bars side by side per group, one colour per series (or the given styles), a legend."""
    n = max(1, len(series))
    width = 0.8 / n
    for k, (name, values) in enumerate(series):
        positions = [i - 0.4 + width * (k + 0.5) for i in range(len(labels))]
        style = styles[k] if styles else {"color": PALETTE[k % len(PALETTE)]}
        axes.bar(positions, values, width, label=name, **style)
    axes.set_xticks(range(len(labels)))
    rotate = len(labels) > 4 or max((len(x) for x in labels), default=0) > 18
    axes.set_xticklabels(labels, rotation=25 if rotate else 0, ha="right" if rotate else "center")
    axes.legend(frameon=False, fontsize=9)


def funnel_png(obs: Observatory) -> bytes:
    """Applications, selections, contracts, completions and breaches per group."""
    figure = _figure()
    axes = figure.add_subplot()
    _style(axes, f"Parcours des dossiers {obs.per}", "Dossiers")
    if not obs.rows:
        _empty(axes)
        return _png(figure)
    series = [
        (title, [float(r.counts[key]) for r in obs.rows])
        for key, title in (
            ("applications", "Candidatures"),
            ("selections", "Sélections"),
            ("contracts", "Contrats"),
            ("completed", "Engagements honorés"),
            ("breached", "Ruptures"),
        )
    ]
    _grouped_bars(axes, [r.label for r in obs.rows], series)
    axes.yaxis.get_major_locator().set_params(integer=True)
    return _png(figure)


def money_png(obs: Observatory) -> bytes:
    """Allowances paid out and amounts to recover, per funder and group."""
    figure = _figure()
    axes = figure.add_subplot()
    _style(
        axes,
        f"Allocations versées et sommes à recouvrer {obs.per}",
        "Montant",
    )
    if not obs.rows or not obs.funders:
        _empty(axes)
        return _png(figure)
    series: list[tuple[str, Sequence[float]]] = []
    styles: list[dict[str, Any]] = []
    for k, funder in enumerate(obs.funders):
        name = funder_title(funder)
        colour = PALETTE[k % len(PALETTE)]
        series.append(
            (f"Versé — {name}", [_money(r.money.get(funder), "allocated") for r in obs.rows])
        )
        styles.append({"color": colour})
        series.append(
            (f"À recouvrer — {name}", [_money(r.money.get(funder), "to_recover") for r in obs.rows])
        )
        # The same colour, hatched: what goes out and what should come back, side by side.
        styles.append({"color": "white", "edgecolor": colour, "hatch": "///"})
    _grouped_bars(axes, [r.label for r in obs.rows], series, styles)
    _euro_axis(axes)
    return _png(figure)


def _money(value: Any, name: str) -> float:
    return float(getattr(value, name)) if value is not None else 0.0


def retention_png(obs: Observatory) -> bytes:
    """The retention rate at the end of the commitment per group (« — » when undefined)."""
    figure = _figure()
    axes = figure.add_subplot()
    _style(axes, f"Taux de rétention en fin d'engagement {obs.per}", "Taux (%)")
    if not obs.rows:
        _empty(axes)
        return _png(figure)
    labels = [r.label for r in obs.rows]
    rates = [r.retention_rate for r in obs.rows]
    heights = [float(rate * 100) if rate is not None else 0.0 for rate in rates]
    bars = axes.bar(range(len(labels)), heights, 0.6, color=PALETTE[0])
    texts = ["—" if rate is None else f"{rate * 100:.1f} %".replace(".", ",") for rate in rates]
    axes.bar_label(bars, texts, padding=2, fontsize=9)
    axes.set_ylim(0, 110)
    axes.set_xticks(range(len(labels)))
    rotate = len(labels) > 4 or max(len(x) for x in labels) > 18
    axes.set_xticklabels(labels, rotation=25 if rotate else 0, ha="right" if rotate else "center")
    return _png(figure)


def _month_label(row: MonthRow) -> str:
    return f"{_MONTHS[row.period.month - 1]} {row.period.year}"


def _stacked_months(
    title: str, funders: Sequence[str], months: Sequence[MonthRow], empty: str
) -> bytes:
    figure = _figure(10.0, 4.8)
    axes = figure.add_subplot()
    _style(axes, title, "Montant")
    if not months:
        _empty(axes, empty)
        return _png(figure)
    positions = range(len(months))
    bottom = [0.0] * len(months)
    for k, funder in enumerate(funders):
        values = [float(m.amounts.get(funder, Decimal(0))) for m in months]
        axes.bar(
            positions,
            values,
            0.7,
            bottom=bottom,
            label=funder_title(funder),
            color=PALETTE[k % len(PALETTE)],
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_xticks(list(positions))
    axes.set_xticklabels([_month_label(m) for m in months], rotation=45, ha="right", fontsize=8)
    _euro_axis(axes)
    axes.legend(frameon=False, fontsize=9)
    return _png(figure)


def forecast_png(forecast: Forecast) -> bytes:
    """The payments still to come, per month (of allowance) and funder, stacked."""
    return _stacked_months(
        f"Paiements à venir au {forecast.as_of:%d/%m/%Y}, par mois et par financeur",
        forecast.funders,
        forecast.months,
        "Aucun paiement à venir",
    )


def campaign_cost_png(cost: CampaignCost) -> bytes:
    """What a new campaign would cost, per month and funder, stacked."""
    contracts = sum(t.contracts for t in cost.tiers)
    return _stacked_months(
        f"Coût d'une nouvelle campagne de {contracts} contrats ({cost.scheme}), par mois",
        cost.funders,
        cost.months,
        "Aucun contrat",
    )
