"""The participants' part of the JSON API (issue 15), under `/api/v1`: a campaign's offers, a
learner's application (a case opened and submitted), and the cases the caller may see. A
learner's token reaches their own cases and the campaigns open to them only; anything else is
the 404 of what does not exist."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from workflow import accounts, spaces
from workflow.accounts import LEARNERS, Principal
from workflow.db import UnitOfWork
from workflow.validation import LIMITS, MAX_ID
from workflow.views import case_rows
from workflow.web.api import Who, api_user
from workflow.web.deps import Db, QueryIdent, require

router = APIRouter(prefix="/api/v1", tags=["espaces"])
ApiLearner = Annotated[
    Principal, Depends(require(LEARNERS, "Réservé aux apprenants.", user=api_user))
]


class Application(BaseModel):
    offer: int = Field(ge=1, le=MAX_ID, description="L'offre (employeur d'une campagne).")
    letter: str = Field(default="", max_length=LIMITS["note"].chars)


@router.get("/offers")
def offers(who: Who, s: Db, campaign: QueryIdent = None) -> list[dict[str, Any]]:
    """Les employeurs d'une campagne (la liste que relaient les instituts) ; pour un apprenant,
    une campagne ouverte à sa formation, avec son dossier sur chaque offre s'il en a un."""
    if campaign is None:
        return [
            row
            for c in (spaces.learner_campaigns(s, who.learner_id) if who.learner_id else [])
            for row in spaces.campaign_offers(s, c["id"], learner_id=who.learner_id)
        ]
    return spaces.campaign_offers(s, campaign, learner_id=who.learner_id)


@router.post("/cases", status_code=201)
def apply(request: Request, who: ApiLearner, body: Application) -> dict[str, Any]:
    """Candidater à une offre : un dossier ouvert et envoyé (réservé aux apprenants)."""
    assert who.learner_id is not None  # accounts.add_user ties every learner account
    (case_id,) = spaces.apply(
        UnitOfWork(request.app.state.factory),
        who.learner_id,
        [body.offer],
        letter=body.letter,
        actor=who.actor,
    )
    return {"id": case_id, "state": "applied"}


@router.get("/me/cases")
def my_cases(who: Who, s: Db, before: QueryIdent = None, limit: int = 100) -> list[dict[str, Any]]:
    """Les dossiers que ce compte peut voir (un apprenant : les siens), du plus récent au plus
    ancien (pagination par `before`)."""
    return case_rows(
        s, None, min(max(limit, 1), 500), before=before, where=accounts.visible_cases(who)
    )


__all__ = ["router"]
