"""The Région's decision on a party's declaration (workflow.declarations), from the case page:
accept — the matching action fired with the declared date — or reject with a reason. Agents
only; a declaration of a case the agent may not see does not exist."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from workflow import declarations
from workflow.db import UnitOfWork
from workflow.errors import FidelisError
from workflow.web.cases import show_case
from workflow.web.deps import Db, Ident, Staff, check_csrf, flash
from workflow.web.errors import status_of

router = APIRouter()
# What the agent may complete or correct when accepting (workflow.declarations.decide).
PARAMS = ("category", "exemption", "reason", "end", "instalments", "first")


@router.post("/declarations/{declaration_id}/decision", response_model=None)
async def decide(request: Request, who: Staff, s: Db, declaration_id: Ident) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    case_id = declarations.case_of(s, declaration_id)
    s.close()  # the decision has its own transaction
    try:
        said = declarations.decide(
            UnitOfWork(request.app.state.factory),
            who,
            declaration_id,
            accept=form.get("decision") == "accept",
            reason=str(form.get("reason_text") or ""),
            params={k: str(form.get(k) or "")[:200] for k in PARAMS if form.get(k)},
        )
    except FidelisError as exc:
        with request.app.state.factory() as page:
            return show_case(request, who, page, case_id, error=str(exc), status=status_of(exc))
    flash(request, said)
    return RedirectResponse(f"/dossiers/{case_id}#declarations", status_code=303)
