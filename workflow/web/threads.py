"""A case's threads and notes (workflow.threads), on the case page and in the JSON API:
`GET|POST /api/v1/cases/{id}/messages` ({"body": …}), `POST /api/v1/cases/{id}/notes` (the
Région's agents only). A caller who may not see the case, or has no thread on it, gets the 404
of a case that does not exist."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from workflow import cases, threads
from workflow.db import UnitOfWork
from workflow.documents.scans import ATTACHMENT_MAX_BYTES
from workflow.errors import FidelisError
from workflow.validation import LIMITS
from workflow.web.api import Staff as ApiStaff
from workflow.web.api import Who as ApiWho
from workflow.web.cases import show_case
from workflow.web.deps import Db, Ident, Staff, Who, check_csrf, flash
from workflow.web.errors import status_of

router = APIRouter()


class MessageRequest(BaseModel):
    body: str = Field(max_length=LIMITS["note"].chars, examples=["Merci de joindre votre RIB."])
    thread: str | None = Field(
        default=None,
        description="Le fil (`learner` ou `employer`) ; pour les agents de la Région seulement.",
    )


@router.get("/api/v1/cases/{case_id}/messages", tags=["dossiers"])
def list_messages(who: ApiWho, s: Db, case_id: Ident) -> list[dict[str, Any]]:
    """Les messages des fils du dossier que le compte peut lire, du plus ancien au plus récent."""
    threads.ensure_thread_visible(s, who, case_id)
    return threads.messages(s, who, case_id)


@router.post("/api/v1/cases/{case_id}/messages", tags=["dossiers"], status_code=201)
def post_message(
    request: Request, who: ApiWho, case_id: Ident, body: MessageRequest
) -> dict[str, Any]:
    """Envoyer un message dans le fil du dossier (l'autre partie est prévenue par courriel)."""
    ident = threads.post_message(
        UnitOfWork(request.app.state.factory), case_id, who, body.body, thread=body.thread
    )
    return {"id": ident, "case": case_id}


@router.post("/api/v1/cases/{case_id}/notes", tags=["dossiers"], status_code=201)
def post_note(
    request: Request, who: ApiStaff, case_id: Ident, body: MessageRequest
) -> dict[str, Any]:
    """Ajouter une note privée à l'historique (visible des seuls agents de la Région)."""
    cases.add_note(UnitOfWork(request.app.state.factory), case_id, body.body, actor=who.actor)
    return {"case": case_id}


async def _attachment(upload: Any) -> threads.Attachment | None:
    """The form's file, read up to one byte past the bound (enough to refuse it)."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    try:
        content = await upload.read(ATTACHMENT_MAX_BYTES + 1)
    finally:
        await upload.close()
    return threads.Attachment(upload.filename, content)


@router.post("/dossiers/{case_id}/messages", response_model=None)
async def message_form(request: Request, who: Who, case_id: Ident) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    factory = request.app.state.factory
    try:
        threads.post_message(
            UnitOfWork(factory),
            case_id,
            who,
            str(form.get("body") or ""),
            thread=str(form.get("thread") or "") or None,
            attachment=await _attachment(form.get("file")),
        )
    except FidelisError as exc:
        with factory() as s:
            return show_case(request, who, s, case_id, error=str(exc), status=status_of(exc))
    flash(request, "Message envoyé.")
    return RedirectResponse(f"/dossiers/{case_id}#messages", status_code=303)


@router.post("/dossiers/{case_id}/notes", response_model=None)
async def note_form(request: Request, who: Staff, case_id: Ident) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    factory = request.app.state.factory
    try:
        cases.add_note(UnitOfWork(factory), case_id, str(form.get("text") or ""), actor=who.actor)
    except FidelisError as exc:
        with factory() as s:
            return show_case(request, who, s, case_id, error=str(exc), status=status_of(exc))
    flash(request, "Note ajoutée à l'historique.")
    return RedirectResponse(f"/dossiers/{case_id}#notes", status_code=303)
