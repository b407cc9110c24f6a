"""Employers, institutes, campaigns and offers edited on the web by the Région's staff (issue 15,
item 6). An employer: name, SIRET (python-stdnum), commune (a new one must be accepted by a
configured scheme: in its region and rural by its rule), sector, declared recruitment difficulty,
e-mail and signatory. An institute: name, commune, the schemes it is authorised for. A campaign:
created open, closed and reopened. An offer: an eligible employer listed in a campaign with its
places, its places changed, closed to new applications and reopened. Every check is
workflow.directory's, as on the command line: a refusal re-renders the form with its French
error next to the field (400) and writes nothing; a success goes back with a message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow import directory, records
from workflow.accounts import Principal
from workflow.db import UnitOfWork
from workflow.eligibility import SECTOR_LABELS
from workflow.errors import FidelisError
from workflow.validation import LIMITS
from workflow.web.deps import Ident, Staff, flash, render
from workflow.web.forms import Form, posted

router = APIRouter()
SECTORS = list(SECTOR_LABELS.items())


def _form_page(
    request: Request, who: Principal, template: str, errors: dict[str, str], **context: Any
) -> HTMLResponse:
    with request.app.state.factory() as s:
        return render(
            request,
            template,
            400 if errors else 200,
            who=who,
            errors=errors,
            limits=LIMITS,
            sectors=SECTORS,
            schemes=records.scheme_choices(),
            employers=records.employer_choices(s),
            **{k: v(s) if callable(v) else v for k, v in context.items()},
        )


async def _change(
    request: Request,
    who: Principal,
    act: Callable[[UnitOfWork, Form], Any],
    done: Callable[[Any], tuple[str, str]],
    page: Callable[[Form], HTMLResponse],
) -> Response:
    """`act` on the posted form: then a message and a redirect (`done` says which, from what
    `act` returned), or the form again (`page`) with the refusal next to its field."""
    form = await posted(request)
    try:
        result = act(UnitOfWork(request.app.state.factory), form)
    except FidelisError as exc:
        form.refused(exc)
        return page(form)
    message, where = done(result)
    flash(request, message)
    return RedirectResponse(where, status_code=303)


# -- employers ---------------------------------------------------------------------------------


def _employer_values(e: Any) -> dict[str, Any]:
    return {"name": e.name, "siret": e.siret, "commune": e.commune_insee, "sector": e.sector,
            "recruitment_difficulty": e.recruitment_difficulty, "email": e.email or "",
            "signatory": e.signatory or ""}  # fmt: skip


def _employer_fields(form: Form) -> dict[str, Any]:
    return {"name": form.text("name"), "siret": form.text("siret"),
            "commune": form.text("commune"), "sector": form.text("sector"),
            "recruitment_difficulty": form.checked("recruitment_difficulty"),
            "email": form.optional("email"), "signatory": form.text("signatory")}  # fmt: skip


def _employer_page(request: Request, who: Principal, ident: int | None, form: Form) -> HTMLResponse:
    values = {**form.shown(), "recruitment_difficulty": form.checked("recruitment_difficulty")}
    return _form_page(request, who, "employer.html", form.errors, values=values, ident=ident)


@router.get("/employeurs/nouveau", response_class=HTMLResponse)
def new_employer(request: Request, who: Staff) -> HTMLResponse:
    return _form_page(request, who, "employer.html", {}, values={}, ident=None)


@router.post("/employeurs/nouveau", response_model=None)
async def create_employer(request: Request, who: Staff) -> Response:
    return await _change(
        request, who,
        lambda uow, form: directory.add_employer(uow, eligible_commune=True,
                                                 **_employer_fields(form)),
        lambda ident: (f"Employeur n° {ident} enregistré.", "/employeurs"),
        lambda form: _employer_page(request, who, None, form),
    )  # fmt: skip


@router.get("/employeurs/{employer_id}", response_class=HTMLResponse)
def employer_page(request: Request, who: Staff, employer_id: Ident) -> HTMLResponse:
    return _form_page(
        request, who, "employer.html", {}, ident=employer_id,
        values=lambda s: _employer_values(records.employer(s, employer_id)),
    )  # fmt: skip


@router.post("/employeurs/{employer_id}", response_model=None)
async def update_employer(request: Request, who: Staff, employer_id: Ident) -> Response:
    return await _change(
        request, who,
        lambda uow, form: directory.update_employer(uow, employer_id, **_employer_fields(form)),
        lambda _: ("Employeur modifié.", "/employeurs"),
        lambda form: _employer_page(request, who, employer_id, form),
    )  # fmt: skip


# -- institutes --------------------------------------------------------------------------------


def _institute_page(
    request: Request, who: Principal, ident: int | None, form: Form
) -> HTMLResponse:
    values = {**form.shown(), "schemes": form.texts("schemes")}
    return _form_page(request, who, "institute.html", form.errors, values=values, ident=ident)


@router.get("/instituts/nouveau", response_class=HTMLResponse)
def new_institute(request: Request, who: Staff) -> HTMLResponse:
    values = {"schemes": [code for code, _ in records.scheme_choices()]}
    return _form_page(request, who, "institute.html", {}, values=values, ident=None)


@router.post("/instituts/nouveau", response_model=None)
async def create_institute(request: Request, who: Staff) -> Response:
    return await _change(
        request, who,
        lambda uow, form: directory.add_institute(uow, name=form.text("name"),
                                                  commune=form.text("commune"),
                                                  schemes=form.texts("schemes")),
        lambda ident: (f"Institut n° {ident} enregistré.", "/instituts"),
        lambda form: _institute_page(request, who, None, form),
    )  # fmt: skip


@router.get("/instituts/{institute_id}", response_class=HTMLResponse)
def institute_page(request: Request, who: Staff, institute_id: Ident) -> HTMLResponse:
    def values(s: Any) -> dict[str, Any]:
        found = records.institute(s, institute_id)
        i = found["institute"]
        return {"name": i.name, "commune": i.commune_insee, "schemes": found["schemes"]}

    return _form_page(request, who, "institute.html", {}, values=values, ident=institute_id)


@router.post("/instituts/{institute_id}", response_model=None)
async def update_institute(request: Request, who: Staff, institute_id: Ident) -> Response:
    return await _change(
        request, who,
        lambda uow, form: directory.update_institute(uow, institute_id, name=form.text("name"),
                                                     commune=form.text("commune"),
                                                     schemes=form.texts("schemes")),
        lambda _: ("Institut modifié.", "/instituts"),
        lambda form: _institute_page(request, who, institute_id, form),
    )  # fmt: skip
