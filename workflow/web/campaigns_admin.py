"""Campaigns and their offers edited on the web by the Région's staff (issue 15, item 6): a new
campaign (a scheme and a year, created open), a campaign's page — close it to new applications
and listings, or reopen it; list an eligible employer with its places; change an offer's places
(never below those its selected learners hold); close an offer to new applications, or reopen
it. The checks are workflow.directory's, as for `fidelis campaign open|list-employer`: a refusal
shows the page again with the French error next to its field (400), nothing written."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from workflow import directory, records
from workflow.accounts import Principal
from workflow.db import UnitOfWork
from workflow.errors import FidelisError
from workflow.web.deps import Ident, Staff, flash, render
from workflow.web.forms import Form, posted

router = APIRouter()


def _new_page(request: Request, who: Principal, form: Form | None = None) -> HTMLResponse:
    return render(
        request,
        "campaign_new.html",
        400 if form and form.errors else 200,
        who=who,
        schemes=records.scheme_choices(),
        values=form.shown() if form else {},
        errors=form.errors if form else {},
    )


def _page(
    request: Request, who: Principal, campaign_id: int, form: Form | None = None
) -> HTMLResponse:
    with request.app.state.factory() as s:
        return render(
            request,
            "campaign.html",
            400 if form and form.errors else 200,
            who=who,
            employers=records.employer_choices(s),
            values=form.shown() if form else {},
            errors=form.errors if form else {},
            **records.campaign(s, campaign_id),
        )


async def _change(
    request: Request,
    who: Principal,
    act: Callable[[UnitOfWork, Form], tuple[str, int]],
    campaign_id: int | None = None,
    key: str | None = None,
) -> Response:
    """`act` on the posted form, then its message on the campaign's page; or that page again
    with the refusal next to its field (`key`: the row's field, for an offer's own form)."""
    form = await posted(request)
    try:
        message, where = act(UnitOfWork(request.app.state.factory), form)
    except FidelisError as exc:
        form.refused(exc)
        if key is not None:  # a row's own form: its refusal on the row, the others left empty
            form = Form(FormData(), {key: " ".join(form.errors.values())})
        if campaign_id is None:
            return _new_page(request, who, form)
        return _page(request, who, campaign_id, form)
    flash(request, message)
    return RedirectResponse(f"/campagnes/{where}", status_code=303)


@router.get("/campagnes/nouvelle", response_class=HTMLResponse)
def new_campaign(request: Request, who: Staff) -> HTMLResponse:
    return _new_page(request, who)


@router.post("/campagnes/nouvelle", response_model=None)
async def create_campaign(request: Request, who: Staff) -> Response:
    def act(uow: UnitOfWork, form: Form) -> tuple[str, int]:
        year = form.number("year", "L'année")
        ident = directory.open_campaign(uow, scheme_id=form.text("scheme"), year=year)
        return f"Campagne {year} créée, ouverte aux candidatures.", ident

    return await _change(request, who, act)


@router.get("/campagnes/{campaign_id}", response_class=HTMLResponse)
def campaign_page(request: Request, who: Staff, campaign_id: Ident) -> HTMLResponse:
    return _page(request, who, campaign_id)


@router.post("/campagnes/{campaign_id}/cloture", response_model=None)
async def close_campaign(request: Request, who: Staff, campaign_id: Ident) -> Response:
    def act(uow: UnitOfWork, _: Form) -> tuple[str, int]:
        name = directory.set_campaign_open(uow, campaign_id, is_open=False)
        return f"{name.capitalize()} close : plus de candidature ni d'inscription.", campaign_id

    return await _change(request, who, act, campaign_id, "campaign")


@router.post("/campagnes/{campaign_id}/ouverture", response_model=None)
async def open_campaign(request: Request, who: Staff, campaign_id: Ident) -> Response:
    def act(uow: UnitOfWork, _: Form) -> tuple[str, int]:
        name = directory.set_campaign_open(uow, campaign_id, is_open=True)
        return f"{name.capitalize()} rouverte aux candidatures.", campaign_id

    return await _change(request, who, act, campaign_id, "campaign")


@router.post("/campagnes/{campaign_id}/offres", response_model=None)
async def add_offer(request: Request, who: Staff, campaign_id: Ident) -> Response:
    def act(uow: UnitOfWork, form: Form) -> tuple[str, int]:
        directory.list_employer(
            uow,
            campaign_id=campaign_id,
            employer_id=form.ident("employer", "l'employeur"),
            places=form.number("places", "Le nombre de places"),
        )
        return "Employeur inscrit dans la campagne.", campaign_id

    return await _change(request, who, act, campaign_id)


@router.post("/campagnes/{campaign_id}/offres/{offer_id}/places", response_model=None)
async def offer_places(
    request: Request, who: Staff, campaign_id: Ident, offer_id: Ident
) -> Response:
    def act(uow: UnitOfWork, form: Form) -> tuple[str, int]:
        places = form.number("places", "Le nombre de places")
        return "Places de l'offre modifiées.", directory.update_offer(uow, offer_id, places=places)

    return await _change(request, who, act, campaign_id, f"offer-{offer_id}")


@router.post("/campagnes/{campaign_id}/offres/{offer_id}/cloture", response_model=None)
async def close_offer(
    request: Request, who: Staff, campaign_id: Ident, offer_id: Ident
) -> Response:
    def act(uow: UnitOfWork, _: Form) -> tuple[str, int]:
        name, where = directory.close_offer(uow, offer_id)
        return f"Offre de {name} close aux candidatures.", where

    return await _change(request, who, act, campaign_id, f"offer-{offer_id}")


@router.post("/campagnes/{campaign_id}/offres/{offer_id}/reouverture", response_model=None)
async def reopen_offer(
    request: Request, who: Staff, campaign_id: Ident, offer_id: Ident
) -> Response:
    def act(uow: UnitOfWork, _: Form) -> tuple[str, int]:
        name, where = directory.close_offer(uow, offer_id, reopen=True)
        return f"Offre de {name} rouverte aux candidatures.", where

    return await _change(request, who, act, campaign_id, f"offer-{offer_id}")
