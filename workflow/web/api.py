"""The JSON API, `/api/v1` (OpenAPI at /api/openapi.json): token authentication
(`Authorization: Bearer TOKEN`), the same roles and guards as the pages. Errors are JSON
`{"detail": "…"}` in French, and a refused request writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from workflow import accounts, cases, payments
from workflow.accounts import Principal
from workflow.db import UnitOfWork
from workflow.errors import NotFound
from workflow.models import Case
from workflow.states import State
from workflow.views import case_detail, case_rows

router = APIRouter(prefix="/api/v1", tags=["dossiers"])


def _db(request: Request) -> Iterator[Session]:
    with request.app.state.factory() as session:
        yield session


def api_user(
    s: Annotated[Session, Depends(_db)], authorization: Annotated[str, Header()] = ""
) -> Principal:
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
Db = Annotated[Session, Depends(_db)]


class FireRequest(BaseModel):
    trigger: str = Field(examples=["submit"])
    on: date | None = Field(default=None, description="Date d'effet (défaut : aujourd'hui).")
    reason: str | None = None
    params: dict[str, str] = Field(
        default_factory=dict, examples=[{"interview_date": "2026-06-09"}]
    )


def _visible(s: Session, who: Principal, case_id: int) -> None:
    if not accounts.can_see(s, who, case_id):
        if s.get(Case, case_id) is None:
            raise HTTPException(status_code=404, detail=str(NotFound("Dossier", case_id)))
        raise HTTPException(
            status_code=403, detail="Ce dossier n'est pas accessible avec votre compte."
        )


@router.get("/cases")
def list_cases(
    who: Who, s: Db, state: State | None = None, before: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Les dossiers visibles, du plus récent au plus ancien (pagination par `before`)."""
    return case_rows(
        s, state, min(max(limit, 1), 500), before=before, where=accounts.visible_cases(who)
    )


@router.get("/cases/{case_id}")
def get_case(who: Who, s: Db, case_id: int) -> dict[str, Any]:
    """Un dossier : état, échéancier, paiements, historique, actions possibles."""
    _visible(s, who, case_id)
    return case_detail(s, case_id)


@router.get("/payments", tags=["paiements"])
def list_payments(who: Who, s: Db, period: str | None = None) -> list[dict[str, Any]]:
    """Les paiements (d'un mois AAAA-MM) ; réservé au service instructeur."""
    if who.role not in ("region", "admin"):
        raise HTTPException(status_code=403, detail="Réservé au service instructeur.")
    # A bad month is a FidelisError: workflow.web.errors answers 400 with its French message.
    month = payments.parse_period(period) if period else None
    return payments.payment_rows(s, month)


@router.post("/cases/{case_id}/fire")
def fire(request: Request, who: Who, s: Db, case_id: int, body: FireRequest) -> dict[str, Any]:
    """Déclencher une action ; 400 (refus motivé), 403, 404 ou 409 (modifié entre-temps)."""
    _visible(s, who, case_id)
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
