"""Learners edited on the web by the Région's staff (issue 15, item 6): create a learner, and a
learner's page — identity, postal address, institute, training dates, IBAN (checked by schwifty,
stored encrypted, shown masked), their cases and documents — whose form edits them. The checks
and what follows a change are workflow.directory's, as for `fidelis learner add|update` and the
imports: a bad value re-renders the form with its French error next to the field (400) and
writes nothing; a training correction on a signed case regularises it, a stale contract is
invalidated, and the page says so. Institutes read the list (`/apprenants`) but edit nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow import directory, records
from workflow.accounts import Principal
from workflow.clock import today_paris
from workflow.db import UnitOfWork
from workflow.errors import FidelisError
from workflow.validation import LIMITS
from workflow.web.deps import Db, Ident, Staff, flash, render
from workflow.web.forms import Form, posted

router = APIRouter(prefix="/apprenants")


def _values(found: Any) -> dict[str, str]:
    """A learner as the form shows it (the IBAN never: it is typed again to change it)."""
    return {
        "first_name": found.first_name,
        "last_name": found.last_name,
        "birth_date": found.birth_date.isoformat(),
        "email": found.email,
        "address": found.address or "",
        "institute": str(found.institute_id),
        "training_start": found.training_start.isoformat(),
        "training_end": found.training_end.isoformat(),
    }


def _page(
    request: Request,
    who: Principal,
    learner_id: int | None,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    with request.app.state.factory() as s:
        detail = records.learner(s, learner_id) if learner_id is not None else {}
        institutes = records.institute_choices(s)
        return render(
            request,
            "learner.html",
            400 if errors else 200,
            who=who,
            values=values,
            errors=errors or {},
            institutes=institutes,
            limits=LIMITS,
            **detail,
        )


@router.get("/nouveau", response_class=HTMLResponse)
def new_learner(request: Request, who: Staff) -> HTMLResponse:
    return _page(request, who, None, {})


@router.post("/nouveau", response_model=None)
async def create_learner(request: Request, who: Staff) -> Response:
    form = await posted(request)
    try:
        ident = directory.add_learner(
            UnitOfWork(request.app.state.factory),
            first_name=form.text("first_name"),
            last_name=form.text("last_name"),
            birth_date=form.day("birth_date", "la date de naissance"),
            email=form.text("email"),
            address=form.text("address"),
            institute_id=form.ident("institute", "l'institut"),
            training_start=form.day("training_start", "le début de formation"),
            training_end=form.day("training_end", "la fin de formation"),
            iban=form.optional("iban"),
            today=today_paris(),
        )
    except FidelisError as exc:
        form.refused(exc)
        return _page(request, who, None, _keep_iban(form), form.errors)
    flash(request, f"Apprenant n° {ident} enregistré.")
    return RedirectResponse(f"/apprenants/{ident}", status_code=303)


@router.get("/{learner_id}", response_class=HTMLResponse)
def learner_page(request: Request, who: Staff, s: Db, learner_id: Ident) -> HTMLResponse:
    return _page(request, who, learner_id, _values(records.learner(s, learner_id)["learner"]))


@router.post("/{learner_id}", response_model=None)
async def update_learner(request: Request, who: Staff, learner_id: Ident) -> Response:
    form = await posted(request)
    try:
        messages = directory.update_learner(
            UnitOfWork(request.app.state.factory),
            learner_id,
            first_name=form.text("first_name"),
            last_name=form.text("last_name"),
            birth_date=form.day("birth_date", "la date de naissance"),
            email=form.text("email"),
            address=form.text("address"),
            institute_id=form.ident("institute", "l'institut"),
            training_start=form.day("training_start", "le début de formation"),
            training_end=form.day("training_end", "la fin de formation"),
            iban=form.optional("iban"),
            today=today_paris(),
        )
    except FidelisError as exc:
        form.refused(exc)
        return _page(request, who, learner_id, _keep_iban(form), form.errors)
    flash(request, "Apprenant modifié.")
    for message in messages:  # a contract invalidated by the change (SPEC §5)
        flash(request, message, error=True)
    return RedirectResponse(f"/apprenants/{learner_id}", status_code=303)


def _keep_iban(form: Form) -> dict[str, str]:
    """What was typed, but the IBAN: it is not shown back on a page."""
    return {k: v for k, v in form.shown().items() if k != "iban"}
