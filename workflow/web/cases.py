"""The pages every signed-in role reads, limited to the cases it may see (workflow.accounts):
the dashboard (`/`), the case list (`/dossiers`, filtered, searched, sorted, paginated by
keyset, HTMX partial), its CSV and XLSX exports, and the case page (`/dossiers/{id}`)."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request
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


DEPARTEMENT = re.compile(r"[0-9]{2}|2A|2B|97[0-9]")


def _filters(request: Request) -> CaseFilter:
    """The case list's filters; one that cannot be read is said in French (a 400)."""
    q = request.query_params

    def number(name: str, label: str) -> int | None:
        value = q.get(name, "").strip()
        if not value:
            return None
        if not value.isascii() or not value.isdigit():
            raise InvalidInput(
                f"Filtre « {label} » invalide : « {validation.shown(value)} » (choisissez dans "
                "la liste).",
                name,
            )
        # A number no id can be selects nothing, as any unknown one (and never reaches SQL).
        return int(value) if validation.in_id_range(int(value)) else 0

    state = q.get("etat", "").strip()
    if state and state not in State._value2member_map_:
        raise InvalidInput(f"État inconnu : « {validation.shown(state)} ».", "etat")
    scheme = q.get("dispositif", "").strip()
    if scheme and scheme not in registry():
        raise InvalidInput(f"Dispositif inconnu : « {validation.shown(scheme)} ».", "dispositif")
    departement = q.get("departement", "").strip().upper()
    if departement and not DEPARTEMENT.fullmatch(departement):
        raise InvalidInput(
            f"Département invalide : « {validation.shown(departement)} » (deux chiffres, 2A "
            "ou 2B, ou 97x).",
            "departement",
        )
    return CaseFilter(
        state=State(state) if state else None,
        scheme=scheme or None,
        campaign=number("campagne", "campagne"),
        employer=number("employeur", "employeur"),
        institute=number("institut", "institut"),
        departement=departement or None,
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
        choices=pages.case_filter_choices(s, who),
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
    """The case page, with `error` above the forms when an action was refused; for a case `who`
    may not see, the 404 of a case that does not exist."""
    accounts.ensure_visible(s, who, case_id)
    context = pages.case_page(s, who, case_id)
    return render(request, "case.html", status, who=who, error=error, **context)


@router.get("/dossiers/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, who: Who, s: Db, case_id: Ident) -> HTMLResponse:
    return show_case(request, who, s, case_id)
