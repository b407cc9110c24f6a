"""The forms of the case page: fire a trigger, issue the contract, record a signature, suspend the
commitment, attest service. Each checks the CSRF token, calls one service of the engine, and goes
back to the case page: with the refusal in French (400) when the service refuses, nothing
written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from workflow import accounts, cases, contracts, esign, validation
from workflow.accounts import Principal
from workflow.clock import today_paris
from workflow.db import UnitOfWork
from workflow.documents.scans import SCAN_MAX_BYTES
from workflow.errors import FidelisError
from workflow.states import label
from workflow.web.cases import show_case
from workflow.web.deps import Attester, ContractStaff, Ident, Staff, Who, check_csrf, flash
from workflow.web.signing import send_signature_mail

router = APIRouter()

# Form fields that are not the trigger's own parameters.
NOT_PARAMS = ("csrf", "on", "reason", "confirm")


async def _form(request: Request) -> FormData:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    return form


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def _day(form: FormData, name: str, label: str) -> date | None:
    text = _text(form, name)
    return validation.parse_date(text, label) if text else None


def _visible(request: Request, who: Principal, case_id: int) -> None:
    """A case `who` may not see is the 404 of a missing one."""
    with request.app.state.factory() as s:
        accounts.ensure_visible(s, who, case_id)


def _run(
    request: Request,
    who: Principal,
    case_id: int,
    act: Callable[[UnitOfWork], None],
    done: str = "Enregistré.",
) -> Response:
    """`act` in a unit of work, then the case page: `done` shown there (a flash), or its
    refusal with a 400."""
    factory = request.app.state.factory
    try:
        act(UnitOfWork(factory))
    except FidelisError as exc:
        with factory() as s:
            return show_case(request, who, s, case_id, error=str(exc), status=400)
    flash(request, done)
    return RedirectResponse(f"/dossiers/{case_id}", status_code=303)


@router.post("/dossiers/{case_id}/actions/{trigger}", response_model=None)
async def fire(request: Request, who: Who, case_id: Ident, trigger: str) -> Response:
    form = await _form(request)
    _visible(request, who, case_id)
    if not accounts.may_fire(who, trigger):
        raise HTTPException(status_code=403, detail="Votre rôle ne permet pas cette action.")
    params = {k: str(v) for k, v in form.items() if k not in NOT_PARAMS and str(v).strip()}

    def act(uow: UnitOfWork) -> None:
        cases.fire(
            uow,
            case_id,
            trigger,
            on=_day(form, "on", "date d'effet"),
            actor=who.actor,
            reason=str(form.get("reason") or "") or None,
            params=params,
        )

    return _run(request, who, case_id, act, f"« {label(trigger)} » : enregistré.")


@router.post("/dossiers/{case_id}/contrat", response_model=None)
async def issue_contract(request: Request, who: ContractStaff, case_id: Ident) -> Response:
    form = await _form(request)

    def act(uow: UnitOfWork) -> None:
        on = _day(form, "on", "date") or today_paris()
        tier = _text(form, "tier") or None
        pdf = bool(form.get("pdf"))  # the PDF beside the Word file (LibreOffice)
        contracts.generate_contract(uow, case_id, tier=tier, on=on, actor=who.actor, pdf=pdf)

    return _run(request, who, case_id, act, "Contrat émis.")


@router.post("/dossiers/{case_id}/signature-electronique", response_model=None)
async def start_esign(request: Request, who: ContractStaff, case_id: Ident) -> Response:
    """The current contract sent to electronic signature (issue 16): the first signer's
    invitation leaves at once, the others' as each one signs."""
    await _form(request)

    def act(uow: UnitOfWork) -> None:
        invited = esign.start(uow, case_id, actor=who.actor)
        names.extend(f"{i.label} ({i.name})" for i in invited)

    names: list[str] = []
    response = _run(request, who, case_id, act, "Contrat envoyé à la signature électronique.")
    if names:
        await run_in_threadpool(send_signature_mail, request, case_id)
        flash(request, "Ordre des signataires : " + ", ".join(names) + ".")
    return response


@router.post("/dossiers/{case_id}/signatures", response_model=None)
async def sign_contract(request: Request, who: ContractStaff, case_id: Ident) -> Response:
    form = await _form(request)

    def act(uow: UnitOfWork) -> None:
        contracts.sign_contract(
            uow,
            case_id,
            party=str(form.get("party") or ""),
            on=_day(form, "on", "date") or today_paris(),
            name=str(form.get("name") or ""),
            actor=who.actor,
        )

    return _run(request, who, case_id, act, "Signature enregistrée.")


@router.post("/dossiers/{case_id}/contrat-signe", response_model=None)
async def attach_scan(request: Request, who: ContractStaff, case_id: Ident) -> Response:
    """The signed contract's scan, from the case page (PDF or image, SCAN_MAX_BYTES at most)."""
    form = await _form(request)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        content, name = b"", "(aucun fichier)"
    else:
        try:
            content, name = await upload.read(SCAN_MAX_BYTES + 1), upload.filename
        finally:
            await upload.close()
    on = _day(form, "on", "date")

    def act(uow: UnitOfWork) -> None:
        contracts.attach_scan_content(uow, case_id, content, name, on=on, actor=who.actor)

    return _run(request, who, case_id, act, "Contrat signé numérisé joint au dossier.")


@router.post("/dossiers/{case_id}/suspension", response_model=None)
async def suspend(request: Request, who: Staff, case_id: Ident) -> Response:
    form = await _form(request)

    def act(uow: UnitOfWork) -> None:
        cases.suspend(
            uow,
            case_id,
            start=validation.parse_date(str(form.get("from") or ""), "début"),
            reason=str(form.get("reason") or ""),
            end=_day(form, "to", "fin"),
            actor=who.actor,
        )

    return _run(request, who, case_id, act, "Suspension enregistrée.")


@router.post("/dossiers/{case_id}/attestation", response_model=None)
async def attest(request: Request, who: Attester, case_id: Ident) -> Response:
    form = await _form(request)
    _visible(request, who, case_id)

    def act(uow: UnitOfWork) -> None:
        on = _day(form, "on", "date") or today_paris()
        cases.attest_service(uow, case_id, actor=who.actor, on=on)

    return _run(request, who, case_id, act, "Attestation de service enregistrée.")
