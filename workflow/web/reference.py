"""Reference data pages: employers (with their commune and its rurality), institutes, learners
(an institute sees its own), campaigns with their offers, and the list of a campaign's employers
for the institutes (Word and XLSX; the browser is sent to the Word one, `/documents/{id}`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from workflow import contracts, validation
from workflow.clock import today_paris
from workflow.db import UnitOfWork
from workflow.web import pages
from workflow.web.deps import Db, Ident, LearnerReader, Staff, check_csrf, render

router = APIRouter()


@router.get("/employeurs", response_class=HTMLResponse)
def employers_page(request: Request, who: Staff, s: Db) -> HTMLResponse:
    return render(request, "employers.html", who=who, rows=pages.employers(s))


@router.get("/instituts", response_class=HTMLResponse)
def institutes_page(request: Request, who: Staff, s: Db) -> HTMLResponse:
    return render(request, "institutes.html", who=who, **pages.institutes(s))


@router.get("/apprenants", response_class=HTMLResponse)
def learners_page(request: Request, who: LearnerReader, s: Db, q: str = "") -> HTMLResponse:
    q = validation.text(q, "search", field="q")
    return render(request, "learners.html", who=who, learners=pages.learners(s, who, q), q=q)


@router.get("/campagnes", response_class=HTMLResponse)
def campaigns_page(request: Request, who: Staff, s: Db) -> HTMLResponse:
    return render(request, "campaigns.html", who=who, campaigns=pages.campaigns(s))


@router.post("/campagnes/{campaign_id}/liste")
async def campaign_list(request: Request, who: Staff, campaign_id: Ident) -> RedirectResponse:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    infos = contracts.campaign_employer_list(
        UnitOfWork(request.app.state.factory), campaign_id, on=today_paris(), actor=who.actor
    )
    return RedirectResponse(f"/documents/{infos[0].id}", status_code=303)
