"""One e-mail of the outbox (`/courriels/{id}`): its subject and text as they would be sent now,
and « Renvoyer » (`POST /courriels/{id}/renvoi`), which queues it again — the caseworkers'
service only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from jobs.outbox import preview, resend
from workflow.db import UnitOfWork
from workflow.schemes import registry
from workflow.web.deps import Db, Ident, Staff, check_csrf, flash, render

router = APIRouter()


@router.get("/courriels/{message_id}", response_class=HTMLResponse)
def message_page(request: Request, who: Staff, s: Db, message_id: Ident) -> HTMLResponse:
    return render(request, "outbox_message.html", who=who, **preview(s, message_id, registry()))


@router.post("/courriels/{message_id}/renvoi", response_model=None)
async def resend_message(request: Request, who: Staff, message_id: Ident) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    resend(UnitOfWork(request.app.state.factory), message_id)
    flash(request, "Courriel remis en file d'envoi : il partira au prochain envoi.")
    return RedirectResponse(f"/courriels/{message_id}", status_code=303)
