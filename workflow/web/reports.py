"""Pages of the reports (issue 7): the observatory (`/observatoire`, its workbook and charts)
and the budget forecast (`/previsions`, its workbook and charts). Caseworkers and admins only;
any other role gets a 403. Bad parameters give the page back with a French error (400), or a
French text for a chart or a workbook."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from workflow.clock import today_paris
from workflow.documents.french import euros
from workflow.documents.labels import breach_reason_label
from workflow.documents.store import XLSX
from workflow.errors import FidelisError, InvalidInput
from workflow.reports.labels import funder_title
from workflow.schemes import registry
from workflow.validation import parse_date
from workflow.web.deps import Db, Who, render, require_roles

router = APIRouter()

STAFF = ("region", "admin")
PNG = "image/png"
CHARTS = ("parcours", "argent", "retention")


def _attachment(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _png(content: bytes) -> Response:
    # Charts change with the data: never cached by the browser.
    return Response(content, media_type=PNG, headers={"Cache-Control": "no-store"})


def _bad(exc: FidelisError) -> PlainTextResponse:
    return PlainTextResponse(str(exc), status_code=400)


# -- observatory ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObservatoryQuery:
    dimension: str
    scheme: str | None
    campaign: int | None

    @property
    def query(self) -> str:
        params = {"par": self.dimension}
        if self.scheme:
            params["dispositif"] = self.scheme
        if self.campaign is not None:
            params["campagne"] = str(self.campaign)
        return urlencode(params)


def _observatory_query(request: Request, s: Db) -> ObservatoryQuery:
    from workflow.reports.observatory import check_dimension
    from workflow.reports.selection import check_campaign, check_scheme

    q = request.query_params
    dimension = check_dimension(q.get("par") or "campagne")
    scheme = check_scheme(q.get("dispositif") or None, registry())
    raw = (q.get("campagne") or "").strip()
    if raw and not raw.isdigit():
        raise InvalidInput(f"Campagne invalide : « {raw} » (une année, p. ex. 2026).", "campagne")
    campaign = check_campaign(s, int(raw) if raw else None, scheme)
    return ObservatoryQuery(dimension, scheme, campaign)


@router.get("/observatoire", response_class=HTMLResponse)
def observatory_page(request: Request, who: Who, s: Db) -> HTMLResponse:
    from workflow.reports.observatory import COUNTS, DIMENSIONS, observatory, percent_text

    require_roles(who, *STAFF)
    context: dict[str, Any] = {
        "who": who,
        "dimensions": DIMENSIONS,
        "counts": COUNTS,
        "schemes": sorted(registry()),
        "euros": euros,
        "percent": percent_text,
        "reason_label": breach_reason_label,
        "funder_title": funder_title,
        "zero": Decimal("0.00"),
        "q": request.query_params,
    }
    try:
        wanted = _observatory_query(request, s)
    except FidelisError as exc:
        return render(request, "observatory.html", 400, error=str(exc), obs=None, **context)
    obs = observatory(s, wanted.dimension, scheme=wanted.scheme, campaign=wanted.campaign)
    return render(request, "observatory.html", error=None, obs=obs, query=wanted.query, **context)


@router.get("/observatoire.xlsx")
def observatory_xlsx(request: Request, who: Who, s: Db) -> Response:
    from workflow.reports.observatory import observatories
    from workflow.reports.workbook import observatory_workbook

    require_roles(who, *STAFF)
    try:
        wanted = _observatory_query(request, s)
    except FidelisError as exc:
        return _bad(exc)
    every = observatories(s, scheme=wanted.scheme, campaign=wanted.campaign)
    every.sort(key=lambda o: o.dimension != wanted.dimension)
    content = observatory_workbook(every)
    assert content is not None
    return _attachment(content, XLSX, "observatoire.xlsx")


@router.get("/observatoire/{chart}.png")
def observatory_chart(request: Request, who: Who, s: Db, chart: str) -> Response:
    from workflow.reports import charts
    from workflow.reports.observatory import observatory

    require_roles(who, *STAFF)
    if chart not in CHARTS:
        return PlainTextResponse(
            f"Graphique inconnu « {chart} » (graphiques : {', '.join(CHARTS)}).", 404
        )
    try:
        wanted = _observatory_query(request, s)
    except FidelisError as exc:
        return _bad(exc)
    obs = observatory(s, wanted.dimension, scheme=wanted.scheme, campaign=wanted.campaign)
    draw = {"parcours": charts.funnel_png, "argent": charts.money_png}.get(
        chart, charts.retention_png
    )
    return _png(draw(obs))


# -- forecast -------------------------------------------------------------------------------------


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
    from workflow.reports.selection import check_scheme

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


def _campaign_cost(wanted: ForecastQuery) -> Any:
    from workflow.reports.forecast import new_campaign_cost, parse_new_campaign

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
    from workflow.reports.forecast import forecast

    require_roles(who, *STAFF)
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
def forecast_xlsx(request: Request, who: Who, s: Db) -> Response:
    from workflow.reports.forecast import forecast
    from workflow.reports.workbook import forecast_workbook

    require_roles(who, *STAFF)
    try:
        wanted = _forecast_query(request)
        cost = _campaign_cost(wanted)
    except FidelisError as exc:
        return _bad(exc)
    result = forecast(s, wanted.as_of, registry(), scheme=wanted.scheme)
    content = forecast_workbook(result, cost)
    assert content is not None
    return _attachment(content, XLSX, f"previsions-{wanted.as_of.isoformat()}.xlsx")


@router.get("/previsions.png")
def forecast_chart(request: Request, who: Who, s: Db) -> Response:
    from workflow.reports import charts
    from workflow.reports.forecast import forecast

    require_roles(who, *STAFF)
    try:
        wanted = _forecast_query(request)
    except FidelisError as exc:
        return _bad(exc)
    return _png(charts.forecast_png(forecast(s, wanted.as_of, registry(), scheme=wanted.scheme)))


@router.get("/previsions/nouvelle-campagne.png")
def campaign_cost_chart(request: Request, who: Who) -> Response:
    from workflow.reports import charts

    require_roles(who, *STAFF)
    try:
        wanted = _forecast_query(request)
        cost = _campaign_cost(wanted)
        if cost is None:
            raise InvalidInput("Décrivez la nouvelle campagne (paliers et début de formation).")
    except FidelisError as exc:
        return _bad(exc)
    return _png(charts.campaign_cost_png(cost))
