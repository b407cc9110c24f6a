"""The JSON API, `/api/v1` (OpenAPI at /api/openapi.json): token authentication
(`Authorization: Bearer TOKEN`), the same roles and guards as the pages. Errors are JSON
`{"detail": "…"}` in French, and a refused request writes nothing."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from pydantic import BaseModel, Field

from workflow import accounts, cases, payments, spaces, threads
from workflow.accounts import STAFF, Principal
from workflow.db import UnitOfWork
from workflow.states import State
from workflow.validation import LIMITS
from workflow.views import case_detail, case_rows
from workflow.web.deps import Db, Ident, QueryIdent, require

router = APIRouter(prefix="/api/v1", tags=["dossiers"])


def api_user(s: Db, authorization: Annotated[str, Header()] = "") -> Principal:
    scheme, _, token = authorization.partition(" ")
    who = accounts.by_token(s, token.strip()) if scheme.lower() == "bearer" and token else None
    if who is None:
        raise HTTPException(
            status_code=401,
            detail="Jeton d'API absent ou invalide.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return who


Who = Annotated[Principal, Depends(api_user)]
Staff = Annotated[
    Principal, Depends(require(STAFF, "Réservé au service instructeur.", user=api_user))
]


class FireRequest(BaseModel):
    trigger: str = Field(examples=["submit"], max_length=LIMITS["code"].chars)
    on: date | None = Field(default=None, description="Date d'effet (défaut : aujourd'hui).")
    reason: str | None = None
    params: dict[str, str] = Field(
        default_factory=dict, examples=[{"interview_date": "2026-06-09"}]
    )


@router.get("/cases")
def list_cases(
    who: Who, s: Db, state: State | None = None, before: QueryIdent = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Les dossiers visibles, du plus récent au plus ancien (pagination par `before`)."""
    return case_rows(
        s, state, min(max(limit, 1), 500), before=before, where=accounts.visible_cases(who)
    )


@router.get("/cases/{case_id}")
def get_case(who: Who, s: Db, case_id: Ident) -> dict[str, Any]:
    """Un dossier : état, échéancier, paiements, historique, actions possibles."""
    accounts.ensure_visible(s, who, case_id)  # else the 404 of a missing case
    if who.learner_id is not None:  # a learner reads their case without the staff's notes
        return spaces.learner_case(s, who.learner_id, case_id)
    detail = case_detail(s, case_id)
    # Notes for the Région's agents only, messages for their thread's readers only.
    detail["events"] = threads.visible_history(who, detail["events"])
    return detail


@router.get("/payments", tags=["paiements"])
def list_payments(who: Staff, s: Db, period: str | None = None) -> list[dict[str, Any]]:
    """Les paiements (d'un mois AAAA-MM) ; réservé au service instructeur."""
    # A bad month is a FidelisError: workflow.web.errors answers 400 with its French message.
    month = payments.parse_period(period) if period else None
    return payments.payment_rows(s, month)


@router.post("/cases/{case_id}/fire")
def fire(request: Request, who: Who, s: Db, case_id: Ident, body: FireRequest) -> dict[str, Any]:
    """Déclencher une action ; 400 (refus motivé), 403 (rôle), 404 (dossier introuvable ou
    invisible pour ce compte) ou 409 (modifié entre-temps)."""
    accounts.ensure_visible(s, who, case_id)  # else the 404 of a missing case
    if not accounts.may_fire(who, body.trigger):
        raise HTTPException(status_code=403, detail="Votre rôle ne permet pas cette action.")
    # Refusals and races are FidelisErrors: workflow.web.errors answers 400 or 409.
    state = cases.fire(
        UnitOfWork(request.app.state.factory),
        case_id,
        body.trigger,
        on=body.on,
        actor=who.actor,
        reason=body.reason,
        params=body.params,
    )
    return {"id": case_id, "state": state.value}
