"""The pages every signed-in role reads, limited to the cases it may see (workflow.accounts):
the dashboard (`/`), the case list (`/dossiers`, filtered, searched, sorted, paginated by
keyset, HTMX partial), its CSV and XLSX exports, and the case page (`/dossiers/{id}`)."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from workflow import accounts, validation
from workflow.accounts import Principal
from workflow.documents.store import XLSX
from workflow.errors import InvalidInput
from workflow.reports.exports import EXPORTS, streamed_csv, xlsx_bytes
from workflow.reports.selection import Selection
from workflow.schemes import registry
from workflow.states import State
from workflow.views import CaseFilter, case_rows
from workflow.web import pages
from workflow.web.deps import Db, Ident, Who, attachment, render

router = APIRouter()

PAGE = 50
EXPORT_LIMIT = 200_000


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, who: Who, s: Db) -> HTMLResponse:
    return render(request, "dashboard.html", who=who, **pages.dashboard(s, who))


def _filters(request: Request) -> CaseFilter:
    q = request.query_params

    def number(name: str) -> int | None:
        value = q.get(name, "").strip()
        if not value.isascii() or not value.isdigit():
            return None
        # A number no id can be selects nothing, as any unknown one (and never reaches SQL).
        return int(value) if validation.in_id_range(int(value)) else 0

    state = q.get("etat", "")
    return CaseFilter(
        state=State(state) if state in State._value2member_map_ else None,
        scheme=q.get("dispositif") or None,
        campaign=number("campagne"),
        employer=number("employeur"),
        institute=number("institut"),
        departement=q.get("departement") or None,
        search=validation.optional_text(q.get("q") or "", "search", field="q"),
    )


def _after_event(cursor: str) -> tuple[date, int] | None:
    """The keyset of the « by last event » sort: `2026-05-22:17` (date, then case id)."""
    if ":" not in cursor:
        return None
    day, _, ident = cursor.partition(":")
    try:
        if not validation.in_id_range(int(ident)):
            raise ValueError(ident)
        return date.fromisoformat(day), int(ident)
    except ValueError:
        raise InvalidInput(
            f"Lien de page invalide : « {cursor} » (revenez à la première page)."
        ) from None


def _before(cursor: str) -> int | None:
    """The keyset of the « most recent » sort: the last case id shown."""
    if not cursor.isascii() or not cursor.isdigit():
        return None
    if not validation.in_id_range(int(cursor)):
        raise InvalidInput(f"Lien de page invalide : « {validation.shown(cursor)} ».")
    return int(cursor)


@router.get("/dossiers", response_class=HTMLResponse)
def case_list(request: Request, who: Who, s: Db) -> HTMLResponse:
    filters = _filters(request)
    q = request.query_params
    sort = "last_event" if q.get("tri") == "last_event" else "recent"
    cursor = q.get("apres", "")
    rows = case_rows(
        s,
        limit=PAGE + 1,
        before=_before(cursor) if sort == "recent" else None,
        after_event=_after_event(cursor) if sort == "last_event" else None,
        sort=sort,
        where=accounts.visible_cases(who),
        filters=filters,
    )
    last = rows[PAGE - 1] if len(rows) > PAGE else None
    next_cursor = (
        (f"{last['last_event']}:{last['id']}" if sort == "last_event" else str(last["id"]))
        if last
        else None
    )
    params = {k: v for k, v in q.items() if k != "apres"}
    template = "_case_table.html" if request.headers.get("HX-Request") else "cases.html"
    return render(
        request,
        template,
        who=who,
        rows=rows[:PAGE],
        f=filters,
        sort=sort,
        next_query=urlencode({**params, "apres": next_cursor}) if next_cursor else None,
        export_query=urlencode(params),
    )


@router.get("/dossiers.csv")
def export_csv(request: Request, who: Who) -> Response:
    selection = Selection(_filters(request), accounts.visible_cases(who), EXPORT_LIMIT)
    return StreamingResponse(
        streamed_csv(request.app.state.factory, EXPORTS["cases"], selection, registry()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="dossiers.csv"'},
    )


@router.get("/dossiers.xlsx")
def export_xlsx(request: Request, who: Who, s: Db) -> Response:
    selection = Selection(_filters(request), accounts.visible_cases(who), EXPORT_LIMIT)
    return attachment(xlsx_bytes(s, EXPORTS["cases"], selection, registry()), XLSX, "dossiers.xlsx")


def show_case(
    request: Request,
    who: Principal,
    s: Db,
    case_id: int,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The case page, with `error` above the forms when an action was refused; a 403 (or 404)
    for a case `who` may not see."""
    if not accounts.can_see(s, who, case_id):
        raise HTTPException(
            status_code=403 if pages.case_exists(s, case_id) else 404,
            detail="Ce dossier n'est pas accessible avec votre compte.",
        )
    context = pages.case_page(s, who, case_id)
    return render(request, "case.html", status, who=who, error=error, **context)


@router.get("/dossiers/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, who: Who, s: Db, case_id: Ident) -> HTMLResponse:
    return show_case(request, who, s, case_id)
