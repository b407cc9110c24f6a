"""The scheme's observatory (issue 7, point 3): per campaign, département, EPCI type or sector,
the offers and places, the funnel of cases (applications, selections, contracts), the cases in
training and in service now, the completions and the breaches (by reason), the money allocated,
paid and to recover per funder, and the retention rate at the end of the commitment.

Set-based: a handful of GROUP BY queries, each at the finest grain any grouping needs —
(campaign, employer's commune, employer's sector) —, then those few aggregated rows are rolled
up to the grouping asked for. Département and EPCI type come from the territory file
(`config/territory/communes.csv`) through the commune, never from a per-case loop.

Definitions (also in the README):

- **offres / places**: offers of the campaign and the sum of their places;
- **dossiers**: cases opened on those offers, whatever their state;
- **candidatures**: cases whose application was sent (a `submit` event), even if later rejected
  or withdrawn; **sélections**: cases the employer selected (a `select` event); **contrats**:
  contracts in force at some point (a `sign` event);
- **en formation / en poste**: cases *now* in state `in_training` / `serving` (when the report
  runs; the report is a picture of the database, not of a past date);
- **honorés**: cases in state `completed`; **ruptures**: cases in state `breached`, split into
  breaches *during service* (a service start was recorded) and *before service*, and counted
  per reason code (`breach_category`); **exonérées**: breaches whose reimbursement was waived;
- **allocations versées**: payments created (due, exported, notified or paid — the money the
  funders owe or have paid), cancelled ones excluded; **dont payées**: those in status `paid`;
  **à recouvrer**: the reimbursements computed at breach (0 when exempted);
- **taux de rétention en fin d'engagement** = honorés / (honorés + ruptures pendant le
  service): of the learners who reached the end of their commitment one way or the other
  while serving, the share who served it to the end. Breaches before service (training
  abandoned, diploma failed, post refused) are left out: they measure training, not
  retention; exempted breaches during service count as breaches (the post was still lost).
  Undefined (None, shown « — ») when the denominator is 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow.display import scheme_label
from workflow.errors import InvalidInput
from workflow.models import Campaign, Case, CaseEvent, Debt, Employer, Offer, Payment
from workflow.reports.labels import (
    departement_of,
    departement_title,
    epci_type_of,
    epci_type_title,
    sector_title,
)
from workflow.states import State

__all__ = [
    "COUNTS",
    "DIMENSIONS",
    "PER",
    "Figures",
    "FunderMoney",
    "Observatory",
    "check_dimension",
    "observatories",
    "observatory",
    "percent_text",
]

# The groupings, as the command line and the web page name them.
DIMENSIONS = {
    "campagne": "Campagne",
    "departement": "Département",
    "type-epci": "Type d'EPCI",
    "secteur": "Secteur",
}

# "… par campagne": the groupings in a title.
PER = {
    "campagne": "par campagne",
    "departement": "par département",
    "type-epci": "par type d'EPCI",
    "secteur": "par secteur",
}

# The counts of a group, in display order, with their French headers.
COUNTS = {
    "offers": "Offres",
    "places": "Places",
    "cases": "Dossiers",
    "applications": "Candidatures",
    "selections": "Sélections",
    "contracts": "Contrats",
    "in_training": "En formation",
    "serving": "En poste",
    "completed": "Honorés",
    "breached": "Ruptures",
    "breached_in_service": "dont pendant le service",
    "exempted": "dont exonérées",
    "rejected": "Non retenus",
    "withdrawn": "Retirés",
}

ZERO = Decimal("0.00")
RATE = Decimal("0.0001")

# (scheme, campaign year, commune INSEE, sector): the finest grain of every query.
Grain = tuple[str, int, str, str]


@dataclass
class FunderMoney:
    allocated: Decimal = ZERO  # payments created, cancelled ones excluded
    paid: Decimal = ZERO  # of which paid
    # The learners' debts (SPEC §4b): their balance, and what was repaid, waived, written off.
    to_recover: Decimal = ZERO
    recovered: Decimal = ZERO
    waived: Decimal = ZERO
    written_off: Decimal = ZERO

    def add(self, other: FunderMoney) -> None:
        self.allocated += other.allocated
        self.paid += other.paid
        self.to_recover += other.to_recover
        self.recovered += other.recovered
        self.waived += other.waived
        self.written_off += other.written_off

    @property
    def debts(self) -> Decimal:
        """The debts' amount: every euro of it is recovered, waived, written off or still owed."""
        return self.to_recover + self.recovered + self.waived + self.written_off

    def to_json(self) -> dict[str, str]:
        return {
            "allocated": str(self.allocated),
            "paid": str(self.paid),
            "debts": str(self.debts),
            "to_recover": str(self.to_recover),
            "recovered": str(self.recovered),
            "waived": str(self.waived),
            "written_off": str(self.written_off),
        }


@dataclass
class Figures:
    """The figures of one group (or of all: the total)."""

    key: str
    label: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    breaches_by_reason: dict[str, int] = field(default_factory=dict)
    money: dict[str, FunderMoney] = field(default_factory=dict)

    def __getitem__(self, name: str) -> int:
        return self.counts[name]

    @property
    def retention_rate(self) -> Decimal | None:
        """completed / (completed + breached during service), to 4 decimals; None if 0/0."""
        done = self.counts["completed"]
        lost = self.counts["breached_in_service"]
        if done + lost == 0:
            return None
        return (Decimal(done) / Decimal(done + lost)).quantize(RATE, rounding=ROUND_HALF_UP)

    def add(self, other: Figures) -> None:
        for name, n in other.counts.items():
            self.counts[name] += n
        for reason, n in other.breaches_by_reason.items():
            self.breaches_by_reason[reason] = self.breaches_by_reason.get(reason, 0) + n
        for funder, m in other.money.items():
            self.money.setdefault(funder, FunderMoney()).add(m)

    def to_json(self, funders: Iterable[str]) -> dict[str, Any]:
        rate = self.retention_rate
        return {
            "key": self.key,
            "label": self.label,
            **self.counts,
            "breaches_by_reason": dict(sorted(self.breaches_by_reason.items())),
            "money": {f: self.money.get(f, FunderMoney()).to_json() for f in funders},
            "retention_rate": None if rate is None else str(rate),
        }


@dataclass
class Observatory:
    dimension: str
    rows: list[Figures]
    total: Figures
    funders: list[str]
    reasons: list[str]
    scheme: str | None = None
    campaign: int | None = None

    @property
    def dimension_label(self) -> str:
        return DIMENSIONS[self.dimension]

    @property
    def per(self) -> str:
        """ "par département": the grouping in a title."""
        return PER[self.dimension]

    def to_json(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "dimension_label": self.dimension_label,
            "filters": {"scheme": self.scheme, "campaign": self.campaign},
            "funders": self.funders,
            "breach_reasons": self.reasons,
            "rows": [r.to_json(self.funders) for r in self.rows],
            "total": self.total.to_json(self.funders),
        }


# -- the queries ---------------------------------------------------------------------------------

_GRAIN = (Campaign.scheme_id, Campaign.year, Employer.commune_insee, Employer.sector)


def _grain(row: Any) -> Grain:
    return (str(row[0]), int(row[1]), str(row[2]), str(row[3]))


def _scope(
    query: sa.Select[*tuple[Any, ...]], scheme: str | None, campaign: int | None
) -> sa.Select[*tuple[Any, ...]]:
    if scheme is not None:
        query = query.where(Campaign.scheme_id == scheme)
    if campaign is not None:
        query = query.where(Campaign.year == campaign)
    return query.group_by(*_GRAIN)


def _flag(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    """1 for the rows where `condition` holds, summed by the GROUP BY."""
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _cents(column: Any, condition: sa.ColumnElement[bool] | None = None) -> sa.ColumnElement[Any]:
    """Sum of a money column in integer cents (as stored), optionally under a condition."""
    raw = sa.type_coerce(column, sa.BigInteger)
    if condition is None:
        return sa.func.sum(raw)
    return sa.func.sum(sa.case((condition, raw), else_=0))


def _euros(cents: Any) -> Decimal:
    return (Decimal(int(cents or 0)) / 100).quantize(Decimal("0.01"))


def _gather(
    session: Session, scheme: str | None, campaign: int | None
) -> tuple[dict[Grain, Figures], set[str]]:
    cells: dict[Grain, Figures] = {}
    funders: set[str] = set()

    def cell(row: Any) -> Figures:
        return cells.setdefault(_grain(row), Figures("", ""))

    offers = _scope(
        sa.select(*_GRAIN, sa.func.count(Offer.id), sa.func.sum(Offer.places))
        .select_from(Offer)
        .join(Campaign, Campaign.id == Offer.campaign_id)
        .join(Employer, Employer.id == Offer.employer_id),
        scheme,
        campaign,
    )
    for row in session.execute(offers):
        c = cell(row)
        c.counts["offers"] += int(row[4])
        c.counts["places"] += int(row[5] or 0)

    # Which milestones each case reached, from its append-only history: one row per case.
    reached = (
        sa.select(
            CaseEvent.case_id,
            sa.func.max(sa.case((CaseEvent.trigger == "submit", 1), else_=0)).label("applied"),
            sa.func.max(sa.case((CaseEvent.trigger == "select", 1), else_=0)).label("selected"),
            sa.func.max(sa.case((CaseEvent.trigger == "sign", 1), else_=0)).label("signed"),
        )
        .where(CaseEvent.trigger.in_(("submit", "select", "sign")))
        .group_by(CaseEvent.case_id)
        .subquery()
    )
    breached = Case.state == State.BREACHED
    in_service = Case.service_start.is_not(None)
    case_counts = _scope(
        sa.select(
            *_GRAIN,
            sa.func.count(Case.id),
            sa.func.sum(sa.func.coalesce(reached.c.applied, 0)),
            sa.func.sum(sa.func.coalesce(reached.c.selected, 0)),
            sa.func.sum(sa.func.coalesce(reached.c.signed, 0)),
            _flag(Case.state == State.IN_TRAINING),
            _flag(Case.state == State.SERVING),
            _flag(Case.state == State.COMPLETED),
            _flag(breached),
            _flag(sa.and_(breached, in_service)),
            _flag(sa.and_(breached, Case.exempted)),
            _flag(Case.state == State.REJECTED),
            _flag(Case.state == State.WITHDRAWN),
        )
        .select_from(Case)
        .join(Campaign, Campaign.id == Case.campaign_id)
        .join(Offer, Offer.id == Case.offer_id)
        .join(Employer, Employer.id == Offer.employer_id)
        .outerjoin(reached, reached.c.case_id == Case.id),
        scheme,
        campaign,
    )
    names = [n for n in COUNTS if n not in ("offers", "places")]
    for row in session.execute(case_counts):
        c = cell(row)
        for name, value in zip(names, row[4:], strict=True):
            c.counts[name] += int(value or 0)

    reasons = _scope(
        sa.select(*_GRAIN, Case.breach_category, sa.func.count(Case.id))
        .select_from(Case)
        .join(Campaign, Campaign.id == Case.campaign_id)
        .join(Offer, Offer.id == Case.offer_id)
        .join(Employer, Employer.id == Offer.employer_id)
        .where(breached),
        scheme,
        campaign,
    ).group_by(Case.breach_category)
    for row in session.execute(reasons):
        c = cell(row)
        reason = row[4] or "other"
        c.breaches_by_reason[reason] = c.breaches_by_reason.get(reason, 0) + int(row[5])

    paid = _scope(
        sa.select(
            *_GRAIN,
            Payment.funder,
            _cents(Payment.amount, Payment.status != "cancelled"),
            _cents(Payment.amount, Payment.status == "paid"),
        )
        .select_from(Payment)
        .join(Case, Case.id == Payment.case_id)
        .join(Campaign, Campaign.id == Case.campaign_id)
        .join(Offer, Offer.id == Case.offer_id)
        .join(Employer, Employer.id == Offer.employer_id),
        scheme,
        campaign,
    ).group_by(Payment.funder)
    for row in session.execute(paid):
        m = cell(row).money.setdefault(row[4], FunderMoney())
        m.allocated += _euros(row[5])
        m.paid += _euros(row[6])
        funders.add(row[4])

    owed = _scope(
        sa.select(
            *_GRAIN,
            Debt.funder,
            _cents(Debt.amount),
            _cents(Debt.repaid),
            _cents(Debt.waived),
            _cents(Debt.written_off),
        )
        .select_from(Debt)
        .join(Case, Case.id == Debt.case_id)
        .join(Campaign, Campaign.id == Case.campaign_id)
        .join(Offer, Offer.id == Case.offer_id)
        .join(Employer, Employer.id == Offer.employer_id),
        scheme,
        campaign,
    ).group_by(Debt.funder)
    for row in session.execute(owed):
        m = cell(row).money.setdefault(row[4], FunderMoney())
        amount, m_repaid, m_waived, m_written = (_euros(v) for v in row[5:9])
        m.recovered += m_repaid
        m.waived += m_waived
        m.written_off += m_written
        m.to_recover += amount - m_repaid - m_waived - m_written
        funders.add(row[4])
    return cells, funders


# -- rolling up ----------------------------------------------------------------------------------

Keyer = Callable[[Grain], tuple[str, str, tuple[Any, ...]]]  # (key, label, sort key)


def _by_campaign(g: Grain) -> tuple[str, str, tuple[Any, ...]]:
    scheme, year, _, _ = g
    # The key keeps the scheme's id (JSON, scripts); the label a reader sees, its name.
    return f"{scheme}:{year}", f"{year} — {scheme_label(scheme)}", (year, scheme)


def _by_departement(g: Grain) -> tuple[str, str, tuple[Any, ...]]:
    code = departement_of(g[2])
    return code, departement_title(code), (len(code), code)


def _by_epci_type(g: Grain) -> tuple[str, str, tuple[Any, ...]]:
    code = epci_type_of(g[2])
    return code, epci_type_title(code), (code,)


def _by_sector(g: Grain) -> tuple[str, str, tuple[Any, ...]]:
    return g[3], sector_title(g[3]), (g[3],)


KEYERS: dict[str, Keyer] = {
    "campagne": _by_campaign,
    "departement": _by_departement,
    "type-epci": _by_epci_type,
    "secteur": _by_sector,
}


def check_dimension(dimension: str) -> str:
    if dimension not in DIMENSIONS:
        raise InvalidInput(
            f"Regroupement inconnu « {dimension} » (regroupements : {', '.join(DIMENSIONS)}).",
            "by",
        )
    return dimension


def observatory(
    session: Session,
    dimension: str = "campagne",
    *,
    scheme: str | None = None,
    campaign: int | None = None,
) -> Observatory:
    """The figures per group of `dimension` (campagne, departement, type-epci, secteur) and in
    total, for one scheme and/or one campaign year if given (checked by the caller)."""
    check_dimension(dimension)
    cells, funders = _gather(session, scheme, campaign)
    return _roll_up(cells, funders, dimension, scheme, campaign)


def observatories(
    session: Session, *, scheme: str | None = None, campaign: int | None = None
) -> list[Observatory]:
    """Every grouping at once (the workbook has a sheet for each); the queries run once."""
    cells, funders = _gather(session, scheme, campaign)
    return [_roll_up(cells, funders, d, scheme, campaign) for d in DIMENSIONS]


def _roll_up(
    cells: dict[Grain, Figures],
    funders: set[str],
    dimension: str,
    scheme: str | None,
    campaign: int | None,
) -> Observatory:
    keyer = KEYERS[dimension]
    groups: dict[str, Figures] = {}
    order: dict[str, tuple[Any, ...]] = {}
    total = Figures("total", "Ensemble")
    for grain, figures in cells.items():
        key, label, sort = keyer(grain)
        groups.setdefault(key, Figures(key, label)).add(figures)
        order[key] = sort
        total.add(figures)
    return Observatory(
        dimension=dimension,
        rows=[groups[k] for k in sorted(groups, key=lambda k: order[k])],
        total=total,
        funders=sorted(funders),
        reasons=sorted(total.breaches_by_reason),
        scheme=scheme,
        campaign=campaign,
    )


def percent_text(rate: Decimal | None) -> str:
    """0.5 -> « 50,0 % », None -> « — »."""
    if rate is None:
        return "—"
    return f"{(rate * 100).quantize(Decimal('0.1'))}\u00a0%".replace(".", ",")
