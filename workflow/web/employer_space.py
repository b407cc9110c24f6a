"""The employer's space (issue 15), `/espace-employeur`: the applications received for its offers
with the learner's letter and attachments, the interview scheduled and recorded, the selection or
the rejection with its reason, the contracts to sign (its electronic-signature page), the annual
attestation of service; its statements stay « Mes paiements ». Every page shows the employer's
own cases only (workflow.partner_spaces): another is the 404 of a case that does not exist."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from workflow import declarations, partner_spaces, validation
from workflow.clock import today_paris
from workflow.db import UnitOfWork
from workflow.documents.scans import ATTACHMENT_MAX_BYTES
from workflow.errors import FidelisError, InvalidInput, NotFound
from workflow.states import Trigger
from workflow.threads import Attachment
from workflow.web.deps import Db, Employer, Ident, OwnEmployer, check_csrf, flash, render

router = APIRouter(prefix="/espace-employeur")
DECISIONS = {"select": Trigger.SELECT, "reject": Trigger.REJECT}


@router.get("", response_class=HTMLResponse)
def home(request: Request, who: Employer, me: OwnEmployer, s: Db) -> HTMLResponse:
    return render(request, "employer_space.html", who=who, **partner_spaces.employer_cases(s, me))


@router.get("/candidatures/{case_id}", response_class=HTMLResponse)
def application(
    request: Request, who: Employer, me: OwnEmployer, s: Db, case_id: Ident
) -> HTMLResponse:
    return _page(request, who, me, s, case_id)


def _page(
    request: Request,
    who: Employer,
    me: int,
    s: Db,
    case_id: int,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    now = request.app.state.clock()
    case = partner_spaces.employer_case(s, me, case_id, now=now)  # another's: NotFound
    return render(
        request,
        "employer_case.html",
        status,
        who=who,
        case=case,
        error=error,
        declarations=declarations.of_case(s, who, case_id),
        choices=declarations.choices(s, case_id),
        kinds={k: declarations.KIND_LABELS[k] for k in declarations.kinds_for(who)},
    )


async def _form(request: Request) -> FormData:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    return form


def _day(form: FormData, name: str, label: str) -> date | None:
    text = str(form.get(name) or "").strip()
    return validation.parse_date(text, label) if text else None


def _run(
    request: Request, who: Employer, me: int, case_id: int, act: Callable[[], object], done: str
) -> Response:
    """`act`, then the application's page: `done` said there, or the refusal in French (400),
    nothing written. Another employer's case stays the 404 of a missing one."""
    try:
        act()
    except FidelisError as exc:
        if isinstance(exc, NotFound):
            raise
        with request.app.state.factory() as s:
            return _page(request, who, me, s, case_id, error=str(exc), status=400)
    flash(request, done)
    return RedirectResponse(f"/espace-employeur/candidatures/{case_id}", status_code=303)


@router.post("/candidatures/{case_id}/entretien", response_model=None)
async def interview(request: Request, who: Employer, me: OwnEmployer, case_id: Ident) -> Response:
    form = await _form(request)

    def act() -> object:
        # The interview is dated its own day: set in advance, the learner sees it coming.
        day = _day(form, "interview_date", "date de l'entretien")
        if day is None:
            raise InvalidInput("Indiquez la date de l'entretien.", "interview_date")
        return partner_spaces.employer_fire(
            UnitOfWork(request.app.state.factory),
            me,
            case_id,
            Trigger.INTERVIEW,
            on=day,
            actor=who.actor,
            params={"interview_date": day.isoformat()},
        )

    return _run(request, who, me, case_id, act, "Entretien enregistré.")


@router.post("/candidatures/{case_id}/decision", response_model=None)
async def decide(request: Request, who: Employer, me: OwnEmployer, case_id: Ident) -> Response:
    form = await _form(request)
    trigger = DECISIONS.get(str(form.get("decision") or ""))

    def act() -> object:
        if trigger is None:
            raise InvalidInput("Choisissez : retenir ou ne pas retenir l'apprenant.", "decision")
        return partner_spaces.employer_fire(
            UnitOfWork(request.app.state.factory),
            me,
            case_id,
            trigger,
            on=_day(form, "on", "date d'effet"),
            actor=who.actor,
            reason=str(form.get("reason") or "").strip() or None,
        )

    said = "Apprenant retenu." if trigger == Trigger.SELECT else "Candidature non retenue."
    return _run(request, who, me, case_id, act, said)


@router.post("/candidatures/{case_id}/attestation", response_model=None)
async def attest(request: Request, who: Employer, me: OwnEmployer, case_id: Ident) -> Response:
    form = await _form(request)

    def act() -> None:
        on = _day(form, "on", "date") or today_paris()
        partner_spaces.employer_attest(
            UnitOfWork(request.app.state.factory), me, case_id, on=on, actor=who.actor
        )

    return _run(request, who, me, case_id, act, "Attestation de service enregistrée.")


@router.post("/candidatures/{case_id}/declaration", response_model=None)
async def declare(request: Request, who: Employer, me: OwnEmployer, case_id: Ident) -> Response:
    """A departure or a change of working time, with its date and proof: the Région decides
    from its queue (workflow.declarations)."""
    form = await _form(request)
    upload = form.get("proof")
    proof = None
    if isinstance(upload, UploadFile) and upload.filename:
        try:
            proof = Attachment(upload.filename, await upload.read(ATTACHMENT_MAX_BYTES + 1))
        finally:
            await upload.close()
    kind = str(form.get("kind") or "")

    def act() -> object:
        return declarations.declare(
            UnitOfWork(request.app.state.factory),
            who,
            case_id,
            kind,
            str(form.get("on") or ""),
            details={k: str(form.get(k) or "") for k in ("category", "part_time")},
            text=str(form.get("text") or ""),
            proof=proof,
        )

    said = "Déclaration envoyée : la Région la traite et vous prévient de sa décision."
    return _run(request, who, me, case_id, act, said)


__all__ = ["router"]
