"""The accounts' administration (`/administration/comptes`), for the administrators only: every
account with its role, state, API token and last sign-in; disable or enable it, give it a new
password (the password policy applies), revoke its API token. Disabling an account or resetting
its password ends its sessions (workflow.accounts). Each form checks the CSRF token; a refusal is
the page again with its reason in French (400), nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Form as FormField
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from workflow import accounts, invitations, records
from workflow.accounts import ROLE_LABELS, Principal
from workflow.db import UnitOfWork
from workflow.display import day_fr
from workflow.errors import FidelisError, InvalidInput
from workflow.web.deps import Admin, Ident, QueryIdent, check_csrf, flash, render
from workflow.web.forms import Form, posted

router = APIRouter(prefix="/administration/comptes")
Csrf = Annotated[str, FormField()]


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
    password: Annotated[str, FormField()] = "",  # its length is the policy's to refuse, unechoed
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


# -- invitations and roles (issue 15, item 6) ---------------------------------------------------
# Where the invitation form types an account's tie, as a refusal names it (accounts.check_ties).
WEB_TIES = {
    "employer": "champ « Employeur rattaché »",
    "institute": "champ « Institut rattaché »",
    "learner": "champ « N° de l'apprenant rattaché »",
}


def _ties(form: Form) -> dict[str, int | None]:
    """The employer, institute or learner the form ties the account to (none left empty)."""
    return {
        "employer_id": form.ident("employer", "l'employeur") if form.optional("employer") else None,
        "institute_id": form.ident("institute", "l'institut")
        if form.optional("institute")
        else None,
        "learner_id": form.ident("learner", "l'apprenant") if form.optional("learner") else None,
    }


def _account_form(
    request: Request, who: Principal, template: str, form: Form | None, **context: Any
) -> HTMLResponse:
    with request.app.state.factory() as s:
        return render(
            request,
            template,
            400 if form and form.errors else 200,
            who=who,
            role_labels=ROLE_LABELS,
            employers=records.employer_choices(s),
            institutes=records.institute_choices(s),
            values={k: v for k, v in form.shown().items() if k != "password"} if form else {},
            errors=form.errors if form else {},
            **{k: v(s) if callable(v) else v for k, v in context.items()},
        )


@router.get("/invitation", response_class=HTMLResponse)
def invitation_page(request: Request, who: Admin, apprenant: QueryIdent = None) -> HTMLResponse:
    form = Form(FormData({"role": "learner", "learner": str(apprenant)})) if apprenant else None
    return _account_form(request, who, "admin_invite.html", form)


@router.post("/invitation", response_model=None)
async def invite_account(request: Request, who: Admin) -> Response:
    """`fidelis user add`'s code: the account, then — without a password — its one-time link
    sent by e-mail through the outbox (workflow.invitations)."""
    form = await posted(request)
    factory = request.app.state.factory
    password = form.text("password") or None
    try:
        role, ties = form.text("role"), _ties(form)
        accounts.check_ties(
            role, ties["employer_id"], ties["institute_id"], ties["learner_id"], WEB_TIES
        )
        ident, _ = accounts.add_user(
            UnitOfWork(factory), email=form.text("email"), name=form.optional("name"),
            role=role, password=password, **ties,
        )  # fmt: skip
    except FidelisError as exc:
        form.refused(exc)
        return _account_form(request, who, "admin_invite.html", form)
    if password is None:
        sent = invitations.invite(UnitOfWork(factory), ident, now=request.app.state.clock())
        until = day_fr(sent.expires_at.date())
        flash(request, f"Compte créé pour {sent.email} : un lien de connexion à usage unique, "
              f"valable jusqu'au {until}, lui est envoyé par courriel.")  # fmt: skip
    else:
        flash(request, "Compte créé : il se connecte avec le mot de passe saisi.")
    return RedirectResponse("/administration/comptes", status_code=303)


@router.get("/{user_id}", response_class=HTMLResponse)
def account_page(request: Request, who: Admin, user_id: Ident) -> HTMLResponse:
    def account(s: Any) -> Any:
        return records.account(s, user_id)

    return _account_form(request, who, "admin_account.html", None, account=account)


@router.post("/{user_id}/role", response_model=None)
async def change_role(request: Request, who: Admin, user_id: Ident) -> Response:
    form = await posted(request)
    try:
        if user_id == who.id:
            raise InvalidInput("Vous ne pouvez pas changer le rôle de votre propre compte.", "role")
        email = accounts.change_role(
            UnitOfWork(request.app.state.factory), user_id, form.text("role"), ties=WEB_TIES,
            now=request.app.state.clock(), **_ties(form),
        )  # fmt: skip
    except FidelisError as exc:
        form.refused(exc)

        def account(s: Any) -> Any:
            return records.account(s, user_id)

        return _account_form(request, who, "admin_account.html", form, account=account)
    flash(request, f"Rôle de {email} modifié : ses sessions sont fermées.")
    return RedirectResponse("/administration/comptes", status_code=303)
