"""The learner's own case page and its forms (issue 15, item 1), `/mon-espace/dossiers/{id}`:
their documents (RIB, identity, diploma, attestations), the IBAN with its RIB, their thread with
the Région, their declarations (suspension, working time, departure, payment plan) and what they
owe. Another learner's case is the 404 of one that does not exist; a refusal re-shows the page
with its French message and writes nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from workflow import attachments, declarations, learner_details, spaces, threads
from workflow.accounts import Principal
from workflow.clock import today_paris
from workflow.db import UnitOfWork
from workflow.documents.scans import ATTACHMENT_MAX_BYTES
from workflow.errors import FidelisError, NotFound
from workflow.web.deps import (
    Db,
    Ident,
    LearnerUser,
    OwnLearner,
    check_csrf,
    flash,
    render,
)
from workflow.web.errors import status_of

router = APIRouter(prefix="/mon-espace/dossiers")
# The fields of the declaration form the module reads (workflow.declarations._details).
DETAIL_FIELDS = ("reason", "end", "part_time", "category", "debt", "instalments")


def show(
    request: Request,
    who: Principal,
    me: int,
    s: Db,
    case_id: int,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The learner's case page (workflow.spaces.learner_case) with its forms."""
    case = spaces.learner_case(s, me, case_id)
    return render(
        request,
        "learner_case.html",
        status,
        who=who,
        case=case,
        error=error,
        **extras(s, who, me, case_id),
    )


def extras(s: Db, who: Principal, me: int, case_id: int) -> dict[str, Any]:
    return {
        "pieces": attachments.case_attachments(s, who, case_id),
        "piece_kinds": {k: attachments.KINDS[k] for k in attachments.CHOICES["learner"]},
        "identity": learner_details.identity(s, me),
        "messages": threads.messages(s, who, case_id),
        "declarations": declarations.of_case(s, who, case_id),
        "declaration_kinds": {k: declarations.KIND_LABELS[k] for k in declarations.kinds_for(who)},
        "declaration_choices": declarations.choices(s, case_id),
        "today": today_paris().isoformat(),
    }


async def file_of(upload: Any) -> threads.Attachment | None:
    """The form's file, read up to one byte past the bound (enough to refuse it)."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    try:
        content = await upload.read(ATTACHMENT_MAX_BYTES + 1)
    finally:
        await upload.close()
    return threads.Attachment(upload.filename, content)


def _refused(
    request: Request, who: Principal, me: int, case_id: int, exc: FidelisError
) -> Response:
    if isinstance(exc, NotFound):
        raise exc  # another's case: the 404 of one that does not exist
    with request.app.state.factory() as s:
        return show(request, who, me, s, case_id, error=str(exc), status=status_of(exc))


def _done(request: Request, case_id: int, said: str, anchor: str) -> Response:
    flash(request, said)
    return RedirectResponse(f"/mon-espace/dossiers/{case_id}#{anchor}", status_code=303)


@router.post("/{case_id}/pieces", response_model=None)
async def add_piece(request: Request, who: LearnerUser, me: OwnLearner, case_id: Ident) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    file = await file_of(form.get("file"))
    try:
        if file is None:
            raise attachments.missing_file()
        attachments.attach(
            UnitOfWork(request.app.state.factory), who, case_id, str(form.get("kind", "")), file
        )
    except FidelisError as exc:
        return _refused(request, who, me, case_id, exc)
    return _done(request, case_id, "Pièce ajoutée à votre dossier.", "pieces")


@router.post("/{case_id}/rib", response_model=None)
async def bank(request: Request, who: LearnerUser, me: OwnLearner, case_id: Ident) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    try:
        said = learner_details.set_bank_details(
            UnitOfWork(request.app.state.factory),
            who,
            case_id,
            str(form.get("iban", ""))[:64],
            await file_of(form.get("file")),
        )
    except FidelisError as exc:
        return _refused(request, who, me, case_id, exc)
    return _done(request, case_id, " ".join(["Coordonnées bancaires enregistrées.", *said]), "rib")


@router.post("/{case_id}/messages", response_model=None)
async def message(request: Request, who: LearnerUser, me: OwnLearner, case_id: Ident) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    try:
        threads.post_message(
            UnitOfWork(request.app.state.factory),
            case_id,
            who,
            str(form.get("body") or ""),
            attachment=await file_of(form.get("file")),
        )
    except FidelisError as exc:
        return _refused(request, who, me, case_id, exc)
    return _done(request, case_id, "Message envoyé au service instructeur.", "messages")


@router.post("/{case_id}/declarations", response_model=None)
async def declare(request: Request, who: LearnerUser, me: OwnLearner, case_id: Ident) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    try:
        declarations.declare(
            UnitOfWork(request.app.state.factory),
            who,
            case_id,
            str(form.get("kind", "")),
            str(form.get("on", ""))[:40],
            details={k: str(form.get(k) or "")[:40] for k in DETAIL_FIELDS},
            text=str(form.get("text") or ""),
            proof=await file_of(form.get("file")),
        )
    except FidelisError as exc:
        return _refused(request, who, me, case_id, exc)
    said = "Déclaration envoyée : la Région vous répondra par courriel."
    return _done(request, case_id, said, "declarations")


__all__ = ["extras", "router", "show"]
