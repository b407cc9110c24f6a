"""The learner's space (issue 15), `/mon-espace`: their applications, the campaign's list of
employers to apply to (one or several, with a letter), each application followed to its end —
payments, debts and commitment, read only. Every page shows the signed-in learner's own cases
only (workflow.spaces): another case is the 404 of a case that does not exist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow import spaces, validation
from workflow.db import UnitOfWork
from workflow.errors import FidelisError, NotFound
from workflow.web.deps import Db, Ident, LearnerUser, OwnLearner, QueryIdent, check_csrf, render

router = APIRouter(prefix="/mon-espace")


@router.get("", response_class=HTMLResponse)
def home(request: Request, who: LearnerUser, me: OwnLearner, s: Db) -> HTMLResponse:
    return render(
        request,
        "learner_home.html",
        who=who,
        cases=spaces.learner_cases(s, me),
        campaigns=spaces.learner_campaigns(s, me),
        applied=request.query_params.get("envoye"),
    )


@router.get("/offres", response_class=HTMLResponse)
def offers(
    request: Request,
    who: LearnerUser,
    me: OwnLearner,
    s: Db,
    campagne: QueryIdent = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    return _offers_page(request, who, me, s, campagne, page=page)


def _offers_page(
    request: Request,
    who: LearnerUser,
    me: int,
    s: Db,
    campaign: int | None,
    *,
    error: str | None = None,
    letter: str = "",
    status: int = 200,
    page: int = 1,
) -> HTMLResponse:
    campaigns = spaces.learner_campaigns(s, me)
    chosen = campaign if campaign is not None else (campaigns[0]["id"] if campaigns else None)
    listed = (
        spaces.campaign_offers(s, chosen, learner_id=me, page=page) if chosen is not None else []
    )
    current = next((c for c in campaigns if c["id"] == chosen), None)
    return render(
        request,
        "learner_offers.html",
        status,
        who=who,
        campaigns=campaigns,
        campaign=current,
        offers=listed[: spaces.OFFERS_PAGE],
        page=page,
        has_next=len(listed) > spaces.OFFERS_PAGE,
        total=spaces.offer_count(s, chosen) if chosen is not None else 0,
        error=error,
        letter=letter,
    )


@router.post("/candidatures", response_model=None)
def apply(
    request: Request,
    who: LearnerUser,
    me: OwnLearner,
    s: Db,
    campaign: Annotated[int, Form(ge=1, le=validation.MAX_ID)],
    offer: Annotated[list[int], Form(default_factory=list)],
    letter: Annotated[str, Form(max_length=20_000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        done = spaces.apply(
            UnitOfWork(request.app.state.factory), me, offer, letter=letter, actor=who.actor
        )
    except FidelisError as exc:
        if isinstance(exc, NotFound):
            raise  # an offer not open to this learner: the 404 of one that does not exist
        return _offers_page(
            request, who, me, s, campaign, error=str(exc), letter=letter, status=400
        )
    return RedirectResponse(f"/mon-espace?envoye={len(done)}", status_code=303)


@router.get("/dossiers/{case_id}", response_class=HTMLResponse)
def case(request: Request, who: LearnerUser, me: OwnLearner, s: Db, case_id: Ident) -> HTMLResponse:
    return render(request, "learner_case.html", who=who, case=spaces.learner_case(s, me, case_id))


__all__ = ["router"]
