"""The learner's space (issue 15), `/mon-espace`: their applications, the campaign's list of
employers to apply to (one or several, with a letter), each application followed to its end —
payments, debts and commitment, read only. Every page shows the signed-in learner's own cases
only (workflow.spaces): another case is the 404 of a case that does not exist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow import attachments, spaces, threads, validation
from workflow.db import UnitOfWork
from workflow.documents.scans import ATTACHMENT_MAX_BYTES
from workflow.documents.store import default_store, read_document
from workflow.errors import FidelisError, NotFound
from workflow.web import learner_forms, pages
from workflow.web.deps import (
    Db,
    Ident,
    LearnerUser,
    OwnLearner,
    QueryIdent,
    attachment,
    check_csrf,
    render,
)

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
    file: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    check_csrf(request, csrf)
    try:
        done = spaces.apply(
            UnitOfWork(request.app.state.factory),
            me,
            offer,
            letter=letter,
            files=_files(file or []),
            actor=who.actor,
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
    return learner_forms.show(request, who, me, s, case_id)


@router.get("/documents/{document_id}")
def download(who: LearnerUser, s: Db, document_id: Ident) -> Response:
    """A document of the learner's own case (their pieces, their messages' attachments, the
    contract, a recovery order); anyone else's is the 404 of one that does not exist."""
    doc = pages.document(s, who, document_id)
    return attachment(read_document(default_store(), doc), doc.media_type, doc.filename)


def _files(uploads: list[UploadFile]) -> list[threads.Attachment]:
    """The application's attachments, each read up to one byte past the bound (enough to
    refuse it), at most one past the number allowed."""
    chosen = [u for u in uploads if u.filename][: attachments.MAX_FILES + 1]
    return [
        threads.Attachment(u.filename or "", u.file.read(ATTACHMENT_MAX_BYTES + 1)) for u in chosen
    ]


__all__ = ["router"]
