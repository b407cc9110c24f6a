"""The signing page behind the invitations' link (`/signature/<token>`, issue 16): open without
an account, the token being the credential (workflow.signing: it names one party's request,
is signed with the deployment's secret and expires). The signer reads the contract PDF, ticks
their consent, receives a one-time code by e-mail and types it, or refuses with a reason. The
forms carry the CSRF token of the cookie session like every other; a refusal of the engine is
shown next to its field (400), nothing written but a wrong code's try. The IP address and
user-agent of the request that signs go into the evidence."""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from jobs.outbox import send_case_mail_now
from workflow import esign
from workflow.db import UnitOfWork
from workflow.documents.store import default_store, read_document
from workflow.emails import ESIGN_KINDS
from workflow.errors import FidelisError, NotFound
from workflow.esign import EsignRefused
from workflow.schemes import registry
from workflow.signing import SigningPage, contract_pdf, signing_page
from workflow.web.deps import check_csrf, render

router = APIRouter(prefix="/signature")

# A token is about 50 characters: anything far longer is no token of ours (a 404 like any).
MAX_TOKEN = 200
UNKNOWN = "Ce lien de signature n'existe pas : vérifiez l'adresse reçue par courriel."
EXPIRED = (
    "Ce lien de signature a expiré. Demandez au service instructeur de vous envoyer une "
    "nouvelle invitation."
)
MAX_REASON = 2000


def _page(request: Request, token: str) -> SigningPage:
    """The token's page: 404 for a token not made here, 410 once it has expired."""
    if len(token) > MAX_TOKEN:
        raise HTTPException(status_code=404, detail=UNKNOWN)
    try:
        with request.app.state.factory() as s:
            page = signing_page(s, token, request.app.state.clock())
    except NotFound:
        raise HTTPException(status_code=404, detail=UNKNOWN) from None
    if page.expired:
        raise HTTPException(status_code=410, detail=EXPIRED)
    return page


def _show(
    request: Request, token: str, status: int = 200, errors: dict[str, str] | None = None
) -> HTMLResponse:
    page = _page(request, token)
    now = request.app.state.clock()
    return render(request, "signing.html", status, page=page, token=token, errors=errors or {},
                  may_resend=page.may_resend(now), who=None)  # fmt: skip


async def _form(request: Request) -> FormData:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    return form


def send_signature_mail(request: Request, case_id: int) -> None:
    """The next signer's invitation (or the Région's notice) leaves now, not at night."""
    try:
        send_case_mail_now(request.app.state.factory, registry(), case_id, ESIGN_KINDS)
    except Exception:  # the signature is recorded: the outbox's next pass sends the e-mail
        logging.getLogger(__name__).exception("Envoi immédiat du dossier %s", case_id)


def _back(token: str) -> RedirectResponse:
    return RedirectResponse(f"/signature/{token}", status_code=303)


def _refused(request: Request, token: str, exc: FidelisError) -> HTMLResponse:
    field = exc.field if isinstance(exc, EsignRefused) else "page"
    return _show(request, token, 400, {field: str(exc)})


@router.get("/{token}", response_class=HTMLResponse)
def show(request: Request, token: str) -> HTMLResponse:
    return _show(request, token)


@router.get("/{token}/contrat.pdf")
def document(request: Request, token: str, telecharger: bool = False) -> Response:
    """The PDF the signer signs: shown in the browser, or downloaded."""
    page = _page(request, token)
    with request.app.state.factory() as s:
        doc = contract_pdf(s, page)
        content = read_document(default_store(), doc)
    disposition = "attachment" if telecharger else "inline"
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'{disposition}; filename="{doc.filename}"'},
    )


@router.post("/{token}/code", response_class=HTMLResponse, response_model=None)
async def ask_code(request: Request, token: str) -> Response:
    await _form(request)
    page = _page(request, token)
    clock = request.app.state.clock
    if page.open and not page.may_resend(clock()):
        message = "Un code vient de vous être envoyé : attendez une minute avant d'en redemander."
        return _show(request, token, 429, {"code": message})
    try:
        await run_in_threadpool(
            esign.send_code, UnitOfWork(request.app.state.factory), page.case_id, page.party,
            now=clock,
        )  # fmt: skip
    except FidelisError as exc:
        return _refused(request, token, exc)
    return _back(token)


@router.post("/{token}/signer", response_class=HTMLResponse, response_model=None)
async def sign(request: Request, token: str) -> Response:
    form = await _form(request)
    page = _page(request, token)
    code = str(form.get("code") or "").strip()
    consent = form.get("consentement") == "oui"
    if not consent:
        return _show(request, token, 400, {"consent": "Cochez la case pour donner votre "
                                           "consentement avant de signer."})  # fmt: skip
    if not re.fullmatch(r"\d{6}", code):
        return _show(request, token, 400, {"code": "Saisissez le code à six chiffres reçu par "
                                           "courriel."})  # fmt: skip
    try:
        # In a worker thread: the SMTP send and pyHanko's seal block (and pyHanko runs its
        # own event loop).
        await run_in_threadpool(
            esign.confirm,
            UnitOfWork(request.app.state.factory),
            page.case_id,
            page.party,
            code,
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            consent=consent,
            now=request.app.state.clock,
        )
    except FidelisError as exc:
        return _refused(request, token, exc)
    await run_in_threadpool(send_signature_mail, request, page.case_id)
    return _back(token)


@router.post("/{token}/refus", response_class=HTMLResponse, response_model=None)
async def refuse(request: Request, token: str) -> Response:
    form = await _form(request)
    page = _page(request, token)
    reason = str(form.get("motif") or "").strip()
    if not reason:
        return _show(request, token, 400, {"motif": "Indiquez pourquoi vous refusez de signer."})
    if len(reason) > MAX_REASON:
        message = f"Le motif est trop long ({MAX_REASON} caractères au plus)."
        return _show(request, token, 400, {"motif": message})
    try:
        await run_in_threadpool(
            esign.refuse, UnitOfWork(request.app.state.factory), page.case_id, page.party, reason
        )
    except FidelisError as exc:
        return _refused(request, token, exc)
    await run_in_threadpool(send_signature_mail, request, page.case_id)
    return _back(token)
