"""Pages of the budget forecast (issue 7): `/previsions`, its workbook and its charts, with the
cost of a new campaign described by its tiers and training dates. Caseworkers and admins only;
any other role gets a 403. Bad parameters give the page back with a French error (400), or a
French text for a chart or a workbook."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from workflow.clock import today_paris
from workflow.documents.french import euros
from workflow.documents.store import XLSX
from workflow.errors import FidelisError, InvalidInput
from workflow.reports import charts
from workflow.reports.forecast import (
    CampaignCost,
    forecast,
    new_campaign_cost,
    parse_new_campaign,
)
from workflow.reports.labels import funder_title
from workflow.reports.selection import check_scheme
from workflow.reports.workbook import forecast_workbook
from workflow.schemes import registry
from workflow.validation import parse_date
from workflow.web.deps import STAFF_ONLY, Db, Who, attachment, render
from workflow.web.reports import bad, png

router = APIRouter(dependencies=[STAFF_ONLY])


@dataclass(frozen=True)
class ForecastQuery:
    as_of: date
    scheme: str | None
    new_campaign: str | None
    start: date | None
    end: date | None

    @property
    def query(self) -> str:
        params = {"date": self.as_of.isoformat()}
        if self.scheme:
            params["dispositif"] = self.scheme
        if self.new_campaign:
            params["nouvelle"] = self.new_campaign
        if self.start:
            params["debut"] = self.start.isoformat()
        if self.end:
            params["fin"] = self.end.isoformat()
        return urlencode(params)


def _forecast_query(request: Request) -> ForecastQuery:
    q = request.query_params

    def day(name: str, label: str) -> date | None:
        raw = (q.get(name) or "").strip()
        return parse_date(raw, label) if raw else None

    scheme = check_scheme(q.get("dispositif") or None, registry())
    new_campaign = (q.get("nouvelle") or "").strip() or None
    start = day("debut", "le début de formation")
    if new_campaign and start is None:
        raise InvalidInput("Indiquez le début de formation de la nouvelle campagne.", "debut")
    return ForecastQuery(
        as_of=day("date", "la date de situation") or today_paris(),
        scheme=scheme,
        new_campaign=new_campaign,
        start=start,
        end=day("fin", "la fin de formation"),
    )


def _campaign_cost(wanted: ForecastQuery) -> CampaignCost | None:
    if not wanted.new_campaign or wanted.start is None:
        return None
    schemes = registry()
    if wanted.scheme is None and len(schemes) != 1:
        raise InvalidInput(
            "Choisissez le dispositif de la nouvelle campagne "
            f"(dispositifs : {', '.join(sorted(schemes))}).",
            "dispositif",
        )
    scheme = schemes[wanted.scheme or next(iter(schemes))]
    counts = parse_new_campaign(wanted.new_campaign, scheme)
    return new_campaign_cost(scheme, counts, wanted.start, wanted.end)


@router.get("/previsions", response_class=HTMLResponse)
def forecast_page(request: Request, who: Who, s: Db) -> HTMLResponse:
    schemes = registry()
    context: dict[str, Any] = {
        "who": who,
        "schemes": sorted(schemes),
        "tiers": {sid: list(schemes[sid].tiers) for sid in schemes},
        "euros": euros,
        "funder_title": funder_title,
        "zero": Decimal("0.00"),
        "q": request.query_params,
    }
    try:
        wanted = _forecast_query(request)
        cost = _campaign_cost(wanted)
    except FidelisError as exc:
        return render(request, "forecast.html", 400, error=str(exc), fc=None, cost=None, **context)
    result = forecast(s, wanted.as_of, schemes, scheme=wanted.scheme)
    return render(
        request,
        "forecast.html",
        error=None,
        fc=result,
        cost=cost,
        query=wanted.query,
        **context,
    )


@router.get("/previsions.xlsx")
def forecast_xlsx(request: Request, s: Db) -> Response:
    try:
        wanted = _forecast_query(request)
        cost = _campaign_cost(wanted)
    except FidelisError as exc:
        return bad(exc)
    result = forecast(s, wanted.as_of, registry(), scheme=wanted.scheme)
    content = forecast_workbook(result, cost)
    assert content is not None
    return attachment(content, XLSX, f"previsions-{wanted.as_of.isoformat()}.xlsx")


@router.get("/previsions.png")
def forecast_chart(request: Request, s: Db) -> Response:
    try:
        wanted = _forecast_query(request)
    except FidelisError as exc:
        return bad(exc)
    return png(charts.forecast_png(forecast(s, wanted.as_of, registry(), scheme=wanted.scheme)))


@router.get("/previsions/nouvelle-campagne.png")
def campaign_cost_chart(request: Request) -> Response:
    try:
        wanted = _forecast_query(request)
        cost = _campaign_cost(wanted)
        if cost is None:
            raise InvalidInput("Décrivez la nouvelle campagne (paliers et début de formation).")
    except FidelisError as exc:
        return bad(exc)
    return png(charts.campaign_cost_png(cost))
