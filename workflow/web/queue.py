"""The caseworkers' queue (workflow.queue): « À traiter » (`/a-traiter`), what waits for the
Région sorted by due date, « Mes dossiers » (`/mes-dossiers`), the same for the cases assigned
to the agent signed in, and their bulk actions (`POST /a-traiter/lot`): assign, assign by the
schemes' rules, issue the contracts, send a message. Each action ends on the page it came from
with what it did (a flash), refusals named case by case."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow import contracts, queue, threads, validation
from workflow.accounts import Principal
from workflow.clock import today_paris
from workflow.db import UnitOfWork
from workflow.errors import FidelisError, InvalidInput
from workflow.web.deps import STAFF_ONLY, Db, Staff, check_csrf, flash, render

router = APIRouter(dependencies=[STAFF_ONLY])

BACK = {"a-traiter": "/a-traiter", "mes-dossiers": "/mes-dossiers"}


def _page(request: Request) -> int:
    raw = request.query_params.get("page", "1").strip()
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise InvalidInput(f"Numéro de page invalide : « {validation.shown(raw)} ».", "page")
    return int(raw)


def _queue(request: Request, who: Principal, s: Db, *, mine: bool) -> HTMLResponse:
    found = queue.to_do(s, today=today_paris(), page=_page(request), only=who if mine else None)
    return render(
        request,
        "queue.html",
        who=who,
        title="Mes dossiers" if mine else "À traiter",
        here="mes-dossiers" if mine else "a-traiter",
        agents=queue.agents(s),
        tiers=queue.tier_labels(),
        thread_labels=threads.THREAD_LABELS,
        **found,
    )


@router.get("/a-traiter", response_class=HTMLResponse)
def to_do(request: Request, who: Staff, s: Db) -> HTMLResponse:
    return _queue(request, who, s, mine=False)


@router.get("/mes-dossiers", response_class=HTMLResponse)
def my_cases(request: Request, who: Staff, s: Db) -> HTMLResponse:
    return _queue(request, who, s, mine=True)


def _ids(values: list[str]) -> list[int]:
    ids = []
    for value in values:
        if not value.isascii() or not value.isdigit() or not validation.in_id_range(int(value)):
            raise InvalidInput(f"Numéro de dossier invalide : « {validation.shown(value)} ».")
        ids.append(int(value))
    return ids


@router.post("/a-traiter/lot", response_model=None)
async def bulk(request: Request, who: Staff) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    back = BACK.get(str(form.get("depuis") or ""), "/a-traiter")
    factory = request.app.state.factory
    action = str(form.get("action") or "")
    refused = False
    try:
        ids = _ids([str(v) for v in form.getlist("dossiers")])
        if action == "assign":
            agent = str(form.get("agent") or "")
            chosen = int(agent) if agent.isdigit() else None
            n = queue.assign(UnitOfWork(factory), ids, chosen, actor=who.actor)
            said = f"{n} dossier(s) attribué(s)." if chosen else f"{n} dossier(s) sans agent."
        elif action == "rule":
            n = queue.assign_by_rule(UnitOfWork(factory), actor=who.actor)
            said = f"Règles d'attribution appliquées : {n} dossier(s) attribué(s)."
        elif action == "contracts":
            tier = str(form.get("tier") or "") or None
            result = queue.each_case(
                ids,
                lambda c: contracts.generate_contract(
                    UnitOfWork(factory), c, tier=tier, actor=who.actor
                ),
            )
            refused, said = bool(result.refused), result.summary("Contrats émis")
        elif action == "message":
            body, thread = str(form.get("body") or ""), str(form.get("thread") or "")
            result = queue.each_case(
                ids,
                lambda c: threads.post_message(UnitOfWork(factory), c, who, body, thread=thread),
            )
            refused, said = bool(result.refused), result.summary("Messages envoyés")
        else:
            raise InvalidInput("Choisissez une action à appliquer aux dossiers cochés.", "action")
    except FidelisError as exc:
        flash(request, f"Rien n'a été fait : {exc}", error=True)
        return RedirectResponse(back, status_code=303)
    flash(request, said, error=refused)
    return RedirectResponse(back, status_code=303)
