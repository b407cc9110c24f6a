"""The accounts' administration (`/administration/comptes`), for the administrators only: every
account with its role, state, API token and last sign-in; disable or enable it, give it a new
password (the password policy applies), revoke its API token. Disabling an account or resetting
its password ends its sessions (workflow.accounts). Each form checks the CSRF token; a refusal is
the page again with its reason in French (400), nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from workflow import accounts
from workflow.accounts import ROLE_LABELS, Principal
from workflow.db import UnitOfWork
from workflow.errors import FidelisError, InvalidInput
from workflow.web.deps import Admin, check_csrf, render

router = APIRouter(prefix="/administration/comptes")
Csrf = Annotated[str, Form()]


def page(
    request: Request, who: Principal, *, notice: str | None = None, error: str | None = None
) -> HTMLResponse:
    with request.app.state.factory() as s:
        rows = accounts.user_rows(s)
    return render(
        request,
        "admin_accounts.html",
        400 if error else 200,
        who=who,
        users=rows,
        role_labels=ROLE_LABELS,
        notice=notice,
        error=error,
    )


def change(
    request: Request, who: Principal, csrf: str, act: Callable[[UnitOfWork], str], done: str
) -> HTMLResponse:
    """`act` on a fresh unit of work, then the page saying `done` (with the account's address)
    or the refusal."""
    check_csrf(request, csrf)
    try:
        email = act(UnitOfWork(request.app.state.factory))
    except FidelisError as exc:
        return page(request, who, error=str(exc))
    return page(request, who, notice=done.format(email=email))


@router.get("", response_class=HTMLResponse)
def accounts_page(request: Request, who: Admin) -> HTMLResponse:
    return page(request, who)


@router.post("/{user_id}/desactivation", response_class=HTMLResponse)
def disable(request: Request, who: Admin, user_id: int, csrf: Csrf = "") -> HTMLResponse:
    def act(uow: UnitOfWork) -> str:
        if user_id == who.id:
            raise InvalidInput("Vous ne pouvez pas désactiver votre propre compte.")
        return accounts.disable(uow, user_id, now=request.app.state.clock())

    return change(request, who, csrf, act, "Compte {email} désactivé : ses sessions sont fermées.")


@router.post("/{user_id}/reactivation", response_class=HTMLResponse)
def enable(request: Request, who: Admin, user_id: int, csrf: Csrf = "") -> HTMLResponse:
    return change(
        request, who, csrf, lambda uow: accounts.enable(uow, user_id), "Compte {email} réactivé."
    )


@router.post("/{user_id}/mot-de-passe", response_class=HTMLResponse)
def reset_password(
    request: Request,
    who: Admin,
    user_id: int,
    password: Annotated[str, Form()] = "",  # its length is the policy's to refuse, unechoed
    csrf: Csrf = "",
) -> HTMLResponse:
    def act(uow: UnitOfWork) -> str:
        return accounts.reset_password(uow, user_id, password, now=request.app.state.clock())

    done = "Mot de passe réinitialisé pour {email} : ses sessions sont fermées."
    return change(request, who, csrf, act, done)


@router.post("/{user_id}/jeton", response_class=HTMLResponse)
def revoke_token(request: Request, who: Admin, user_id: int, csrf: Csrf = "") -> HTMLResponse:
    def act(uow: UnitOfWork) -> str:
        email, _ = accounts.revoke_token(uow, user_id)
        return email

    return change(request, who, csrf, act, "Jeton d'API de {email} révoqué.")
