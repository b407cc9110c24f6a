"""Payment pages: the caseworkers' payments by month with the SEPA file (`/paiements`), and an
employer's own allowance shares with their confirmation (`/mes-paiements`). A bad month gives
the page back with its French error (400), nothing written."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow import payments
from workflow.clock import today_paris
from workflow.db import UnitOfWork
from workflow.errors import FidelisError
from workflow.reports.labels import funder_title
from workflow.web import pages
from workflow.web.deps import (
    Db,
    Employer,
    OwnEmployer,
    PageNumber,
    Staff,
    attachment,
    check_csrf,
    render,
)

router = APIRouter()
ROWS = 100  # payments per page; the totals are the whole list's


def listing(rows: list[dict[str, Any]], page: int = 1) -> dict[str, Any]:
    """One page of `rows` with the totals and counts per funder of them all (the pages' foot)."""
    last = max(1, -(-len(rows) // ROWS))
    page = min(page, last)
    return {
        "rows": rows[(page - 1) * ROWS : page * ROWS],
        "totals": pages.payment_totals(rows),
        "counts": Counter(r["funder"] for r in rows),
        "count": len(rows),
        "page": page,
        "last": last,
    }


@router.get("/paiements", response_class=HTMLResponse)
def payments_page(
    request: Request, who: Staff, s: Db, mois: str = "", page: PageNumber = 1
) -> HTMLResponse:
    period = payments.parse_period(mois) if mois else None
    rows = payments.payment_rows(s, period)
    return render(
        request,
        "payments.html",
        who=who,
        **listing(rows, page),
        mois=mois,
        transfer_funders=_funders(),
    )


def _funders() -> dict[str, str]:
    """The funders paid by SEPA transfer, by code, with their name (the schemes' `funders`)."""
    return {f: funder_title(f) for f in payments.transfer_funders()}


@router.post("/paiements/sepa", response_model=None)
async def sepa(request: Request, who: Staff) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    month = str(form.get("mois") or "")
    factory = request.app.state.factory
    try:
        period = payments.parse_period(month)
        export = payments.export_sepa(
            UnitOfWork(factory),
            period,
            on=today_paris(),
            actor=who.actor,
            funder=str(form.get("financeur") or "") or None,
        )
    except FidelisError as exc:
        with factory() as s:
            rows = payments.payment_rows(s)
            return render(
                request, "payments.html", 400, who=who, error=str(exc), **listing(rows),
                mois=month, transfer_funders=_funders(),
            )  # fmt: skip
    name = f"{export.funder}-{export.message_id}.xml"
    return attachment(export.xml, "application/xml", name)


@router.get("/mes-paiements", response_class=HTMLResponse)
def employer_payments(
    request: Request, who: Employer, employer: OwnEmployer, s: Db, page: PageNumber = 1
) -> HTMLResponse:
    rows = payments.payment_rows(s, employer_id=employer)
    return render(request, "employer_payments.html", who=who, **listing(rows, page), error=None)


@router.post("/mes-paiements/confirmer", response_model=None)
async def confirm(request: Request, who: Employer, employer: OwnEmployer) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    factory = request.app.state.factory
    try:
        period = payments.parse_period(str(form.get("mois") or ""))
        payments.confirm_employer(
            UnitOfWork(factory), employer, period, on=today_paris(), actor=who.actor
        )
    except FidelisError as exc:
        with factory() as s:
            rows = payments.payment_rows(s, employer_id=employer)
            return render(
                request, "employer_payments.html", 400, who=who, **listing(rows), error=str(exc)
            )
    return RedirectResponse("/mes-paiements", status_code=303)
