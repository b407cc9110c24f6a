"""Pages of the observatory (issue 7): `/observatoire`, its workbook and its charts, by campaign,
scheme, employer… Caseworkers and admins only; any other role gets a 403. Bad parameters give
the page back with a French error (400), or a French text for a chart or a workbook. The budget
forecast is its neighbour, workflow.web.forecast."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from workflow.documents.french import euros
from workflow.documents.labels import breach_reason_label
from workflow.documents.store import XLSX
from workflow.errors import FidelisError, InvalidInput
from workflow.reports import charts
from workflow.reports.labels import funder_title
from workflow.reports.observatory import (
    COUNTS,
    DIMENSIONS,
    check_dimension,
    observatories,
    observatory,
    percent_text,
)
from workflow.reports.selection import check_campaign, check_scheme
from workflow.reports.workbook import observatory_workbook
from workflow.schemes import registry
from workflow.validation import shown
from workflow.web.deps import STAFF_ONLY, Db, Who, attachment, render

router = APIRouter(dependencies=[STAFF_ONLY])

PNG = "image/png"
CHARTS = ("parcours", "argent", "retention")


def png(content: bytes) -> Response:
    # Charts change with the data: never cached by the browser.
    return Response(content, media_type=PNG, headers={"Cache-Control": "no-store"})


def bad(exc: FidelisError) -> PlainTextResponse:
    return PlainTextResponse(str(exc), status_code=400)


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
    q = request.query_params
    dimension = check_dimension(q.get("par") or "campagne")
    scheme = check_scheme(q.get("dispositif") or None, registry())
    raw = (q.get("campagne") or "").strip()
    if raw and not (raw.isascii() and raw.isdigit()):
        raise InvalidInput(
            f"Campagne invalide : « {shown(raw)} » (une année, p. ex. 2026).", "campagne"
        )
    campaign = check_campaign(s, int(raw) if raw else None, scheme)
    return ObservatoryQuery(dimension, scheme, campaign)


@router.get("/observatoire", response_class=HTMLResponse)
def observatory_page(request: Request, who: Who, s: Db) -> HTMLResponse:
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
def observatory_xlsx(request: Request, s: Db) -> Response:
    try:
        wanted = _observatory_query(request, s)
    except FidelisError as exc:
        return bad(exc)
    every = observatories(s, scheme=wanted.scheme, campaign=wanted.campaign)
    every.sort(key=lambda o: o.dimension != wanted.dimension)
    content = observatory_workbook(every)
    assert content is not None
    return attachment(content, XLSX, "observatoire.xlsx")


@router.get("/observatoire/{chart}.png")
def observatory_chart(request: Request, s: Db, chart: str) -> Response:
    if chart not in CHARTS:
        return PlainTextResponse(
            f"Graphique inconnu « {chart} » (graphiques : {', '.join(CHARTS)}).", 404
        )
    try:
        wanted = _observatory_query(request, s)
    except FidelisError as exc:
        return bad(exc)
    obs = observatory(s, wanted.dimension, scheme=wanted.scheme, campaign=wanted.campaign)
    draw = {"parcours": charts.funnel_png, "argent": charts.money_png}.get(
        chart, charts.retention_png
    )
    return png(draw(obs))
