"""What the engine does by itself, for the caseworkers' service: the outbox of e-mails
(`/courriels`) and the nightly runs (`/traitements`) with the anomalies they met, which a
caseworker resolves there; and for everyone, the state diagram
(`/schema`), drawn from the machine's own definition."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from workflow.anomalies import anomaly_rows, resolve
from workflow.db import UnitOfWork
from workflow.states import GUARD_LABELS, TRANSITIONS, State
from workflow.web import pages
from workflow.web.deps import Db, Ident, PageNumber, Staff, Who, check_csrf, render
from workflow.web.diagram import state_diagram_svg

router = APIRouter()


@router.get("/courriels", response_class=HTMLResponse)
def outbox_page(request: Request, who: Staff, s: Db) -> HTMLResponse:
    return render(request, "outbox.html", who=who, messages=pages.outbox(s))


@router.get("/traitements", response_class=HTMLResponse)
def runs_page(request: Request, who: Staff, s: Db, page: PageNumber = 1) -> HTMLResponse:
    runs, older = pages.runs(s, page)
    return render(
        request,
        "runs.html",
        who=who,
        runs=runs,
        page=page,
        older=older,
        anomalies=anomaly_rows(s, limit=200),
    )


@router.post("/traitements/anomalies/{anomaly_id}", response_model=None)
async def resolve_anomaly(request: Request, who: Staff, anomaly_id: Ident) -> Response:
    """A caseworker closes an anomaly of the nightly run, saying what was done."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    resolve(
        UnitOfWork(request.app.state.factory),
        anomaly_id,
        who.actor,
        str(form.get("note") or ""),
    )
    return RedirectResponse("/traitements", status_code=303)


@router.get("/schema", response_class=HTMLResponse)
def diagram(request: Request, who: Who) -> HTMLResponse:
    return render(
        request,
        "diagram.html",
        svg=Markup(state_diagram_svg()),  # built from our own escaped strings
        who=who,
        transitions=TRANSITIONS,
        guard_labels=GUARD_LABELS,
        states=list(State),
    )
