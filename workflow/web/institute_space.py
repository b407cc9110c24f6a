"""The institute's space (issue 15), `/espace-institut`: its learners and their cases, the
campaigns' lists of employers to relay (Word or XLSX), the training start, and the diploma
results of a cohort entered in one form — all or nothing. Every page shows the institute's own
learners only (workflow.partner_spaces): another case is the 404 of one that does not exist."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from workflow import declarations, partner_spaces, validation
from workflow.db import UnitOfWork
from workflow.documents.scans import ATTACHMENT_MAX_BYTES
from workflow.errors import FidelisError, NotFound
from workflow.threads import Attachment
from workflow.web.deps import (
    Db,
    Ident,
    InstituteUser,
    OwnInstitute,
    attachment,
    check_csrf,
    flash,
    render,
)

router = APIRouter(prefix="/espace-institut")


@router.get("", response_class=HTMLResponse)
def home(request: Request, who: InstituteUser, me: OwnInstitute, s: Db) -> HTMLResponse:
    return render(
        request,
        "institute_space.html",
        who=who,
        campaigns=partner_spaces.relay_campaigns(s, me),
        cohorts=partner_spaces.cohorts(s, me),
        **partner_spaces.institute_learners(s, me),
    )


@router.get("/campagnes/{campaign_id}/liste.{fmt}")
def campaign_list(
    who: InstituteUser, me: OwnInstitute, s: Db, campaign_id: Ident, fmt: Literal["docx", "xlsx"]
) -> Response:
    content, media_type, name = partner_spaces.campaign_list(s, me, campaign_id, fmt)
    return attachment(content, media_type, name)


@router.get("/dossiers/{case_id}", response_class=HTMLResponse)
def case(request: Request, who: InstituteUser, me: OwnInstitute, s: Db, case_id: Ident) -> Response:
    return _case_page(request, who, me, s, case_id)


def _case_page(
    request: Request,
    who: InstituteUser,
    me: int,
    s: Db,
    case_id: int,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    found = partner_spaces.institute_case(s, me, case_id)  # another institute's: NotFound
    return render(
        request,
        "institute_case.html",
        status,
        who=who,
        case=found,
        error=error,
        declarations=declarations.of_case(s, who, case_id),
    )


@router.post("/dossiers/{case_id}/debut-formation", response_model=None)
async def start_training(
    request: Request, who: InstituteUser, me: OwnInstitute, case_id: Ident
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    factory = request.app.state.factory
    try:
        text = str(form.get("on") or "").strip()
        on = validation.parse_date(text, "date de début") if text else None
        partner_spaces.institute_start_training(
            UnitOfWork(factory), me, case_id, on=on, actor=who.actor
        )
    except FidelisError as exc:
        if isinstance(exc, NotFound):
            raise
        with factory() as s:
            return _case_page(request, who, me, s, case_id, error=str(exc), status=400)
    flash(request, "Début de formation enregistré : la période d'allocation commence.")
    return RedirectResponse(f"/espace-institut/dossiers/{case_id}", status_code=303)


@router.post("/dossiers/{case_id}/interruption", response_model=None)
async def interrupt(
    request: Request, who: InstituteUser, me: OwnInstitute, case_id: Ident
) -> Response:
    """The training interrupted, with its date and proof: the Région decides (a declaration)."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    upload = form.get("proof")
    proof = None
    if isinstance(upload, UploadFile) and upload.filename:
        try:
            proof = Attachment(upload.filename, await upload.read(ATTACHMENT_MAX_BYTES + 1))
        finally:
            await upload.close()
    factory = request.app.state.factory
    try:
        partner_spaces.institute_interrupt(
            UnitOfWork(factory),
            who,
            case_id,
            on=str(form.get("on") or ""),
            text=str(form.get("text") or ""),
            proof=proof,
        )
    except FidelisError as exc:
        if isinstance(exc, NotFound):
            raise
        with factory() as s:
            return _case_page(request, who, me, s, case_id, error=str(exc), status=400)
    flash(request, "Interruption déclarée : la Région la traite et vous prévient de sa décision.")
    return RedirectResponse(f"/espace-institut/dossiers/{case_id}", status_code=303)


@router.get("/diplomes/{campaign_id}", response_class=HTMLResponse)
def diplomas(
    request: Request, who: InstituteUser, me: OwnInstitute, s: Db, campaign_id: Ident
) -> HTMLResponse:
    return _diplomas_page(request, who, me, s, campaign_id)


def _diplomas_page(
    request: Request,
    who: InstituteUser,
    me: int,
    s: Db,
    campaign_id: int,
    *,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    cohort = {c["id"]: c for c in partner_spaces.cohorts(s, me)}.get(campaign_id)
    if cohort is None:
        raise NotFound("Promotion", campaign_id)
    return render(
        request,
        "institute_diplomas.html",
        status,
        who=who,
        cohort=cohort,
        lines=partner_spaces.cohort(s, me, campaign_id),
        results=partner_spaces.DIPLOMA_RESULTS,
        error=error,
        typed=typed or {},
    )


@router.post("/diplomes/{campaign_id}", response_model=None)
async def record_diplomas(
    request: Request, who: InstituteUser, me: OwnInstitute, campaign_id: Ident
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    typed = {k: str(v) for k, v in form.items() if k != "csrf"}
    factory = request.app.state.factory
    try:
        lines = [
            partner_spaces.DiplomaLine(
                case_id=validation.ident(str(case_id), "dossier"),
                result=typed.get(f"result-{case_id}", ""),
                diploma_date=typed.get(f"diploma-{case_id}", ""),
                service_start=typed.get(f"start-{case_id}", ""),
                part_time=typed.get(f"part_time-{case_id}", ""),
            )
            for case_id in form.getlist("case")
        ]
        done = partner_spaces.record_diplomas(UnitOfWork(factory), me, campaign_id, lines, who=who)
    except FidelisError as exc:
        if isinstance(exc, NotFound):
            raise
        with factory() as s:
            return _diplomas_page(
                request, who, me, s, campaign_id, error=str(exc), typed=typed, status=400
            )
    flash(request, f"Résultats enregistrés : {done} ligne(s).")
    return RedirectResponse("/espace-institut", status_code=303)


__all__ = ["router"]
