"""Debt pages (SPEC §4b): the caseworkers' list of debts (`/dettes`, by status and funder), their
actions on a case's debts — repayment, payment plan, waiver, write-off — as forms of the case
page, and an employer's debts owed to it (`/mes-dettes`), whose repayments it confirms. Each
form checks the CSRF token and calls one use case of workflow.debts; a refusal shows the page
again with its French message (400), nothing written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from workflow import debts, validation
from workflow.clock import today_paris
from workflow.db import UnitOfWork
from workflow.errors import FidelisError, InvalidInput
from workflow.web import pages
from workflow.web.actions import _form, _run, _text
from workflow.web.deps import Db, Employer, Ident, OwnEmployer, Staff, render

router = APIRouter()


def _on(form: FormData) -> Any:
    text = _text(form, "on")
    return validation.parse_date(text, "date") if text else today_paris()


def _confirmed(form: FormData) -> None:
    """An irreversible decision is recorded only once its box is ticked."""
    if not _text(form, "confirm"):
        raise InvalidInput("Cochez la case de confirmation : cette décision est irréversible.")


def _amount(form: FormData, required: bool = True) -> Any:
    text = _text(form, "amount")
    if not text and not required:
        return None
    return debts.parse_amount(text, "montant")


@router.get("/dettes", response_class=HTMLResponse)
def debts_page(request: Request, who: Staff, s: Db, statut: str = "", financeur: str = "") -> Any:
    return render(request, "debts.html", **pages.debts_list(s, statut, financeur), who=who)


def _debt_action(
    request: Request, who: Staff, case_id: int, act: Callable[[UnitOfWork], object]
) -> Response:
    def done(uow: UnitOfWork) -> None:
        act(uow)

    return _run(request, who, case_id, done)


@router.post("/dossiers/{case_id}/dettes/{debt_id}/remboursement", response_model=None)
async def repay(request: Request, who: Staff, case_id: Ident, debt_id: Ident) -> Response:
    form = await _form(request)
    return _debt_action(
        request,
        who,
        case_id,
        lambda uow: debts.repay(
            uow,
            debt_id,
            _amount(form),
            on=_on(form),
            actor=who.actor,
            reference=_text(form, "reference") or None,
        ),
    )


@router.post("/dossiers/{case_id}/dettes/{debt_id}/echeancier", response_model=None)
async def plan(request: Request, who: Staff, case_id: Ident, debt_id: Ident) -> Response:
    form = await _form(request)

    def act(uow: UnitOfWork) -> object:
        count = _text(form, "instalments")
        if not count.isascii() or not count.isdigit():
            raise InvalidInput("Le nombre d'échéances doit être un nombre entier.")
        first = validation.parse_date(_text(form, "first"), "première échéance")
        return debts.plan(uow, debt_id, instalments=int(count), first=first, actor=who.actor)

    return _debt_action(request, who, case_id, act)


@router.post("/dossiers/{case_id}/dettes/{debt_id}/remise", response_model=None)
async def waive(request: Request, who: Staff, case_id: Ident, debt_id: Ident) -> Response:
    form = await _form(request)

    def act(uow: UnitOfWork) -> object:
        _confirmed(form)
        amount = _amount(form, required=False)
        decision = _text(form, "decision")
        return debts.waive(
            uow, debt_id, on=_on(form), decision=decision, actor=who.actor, amount=amount
        )

    return _debt_action(request, who, case_id, act)


@router.post("/dossiers/{case_id}/dettes/{debt_id}/non-valeur", response_model=None)
async def write_off(request: Request, who: Staff, case_id: Ident, debt_id: Ident) -> Response:
    form = await _form(request)

    def act(uow: UnitOfWork) -> object:
        _confirmed(form)
        decision = _text(form, "decision")
        return debts.write_off(uow, debt_id, on=_on(form), decision=decision, actor=who.actor)

    return _debt_action(request, who, case_id, act)


@router.get("/mes-dettes", response_class=HTMLResponse)
def employer_debts(request: Request, who: Employer, employer: OwnEmployer, s: Db) -> Any:
    rows = pages.employer_debts(s, employer)
    return render(request, "employer_debts.html", who=who, rows=rows, error=None)


@router.post("/mes-dettes/{debt_id}/confirmer", response_model=None)
async def confirm(
    request: Request, who: Employer, employer: OwnEmployer, debt_id: Ident
) -> Response:
    form = await _form(request)
    factory = request.app.state.factory
    try:
        debts.confirm_repayment(
            UnitOfWork(factory), debt_id, _amount(form), on=_on(form), employer_id=employer,
            actor=who.actor,
        )  # fmt: skip
    except FidelisError as exc:
        with factory() as s:
            rows = pages.employer_debts(s, employer)
            return render(request, "employer_debts.html", 400, who=who, rows=rows, error=str(exc))
    return RedirectResponse("/mes-dettes", status_code=303)
