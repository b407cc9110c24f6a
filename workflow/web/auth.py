"""Signing in and out (`/connexion`, `/connexion/lien/…`, `/deconnexion`): the only pages open
without an account. workflow.signin checks the password (argon2), slows down then locks repeated
failures per account and per client address, and opens a server-side session whose random id the
cookie carries; signing out revokes it. An invitation's one-time link (workflow.invitations) is
used by a button on its page, not by opening it: a mail scanner that follows links does not
spend it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow import invitations, signin
from workflow.accounts import Principal
from workflow.invitations import LinkRefused
from workflow.signin import AccountDisabled, BadCredentials, SignInRefused, TooManyAttempts
from workflow.web.deps import check_csrf, home_of, render

router = APIRouter()
REFUSALS = {BadCredentials: 401, AccountDisabled: 403, TooManyAttempts: 429, LinkRefused: 410}
# A link's token as invitations.invite makes it (token_urlsafe(32): 43 characters).
Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/connexion", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", error=None)


@router.post("/connexion", response_model=None)
def login(
    request: Request,
    email: Annotated[str, Form(max_length=254)],
    # No length check here: a refusal would print the password back; workflow.signin has one.
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    state = request.app.state
    address = request.client.host if request.client else "inconnue"
    try:
        who, session_id = signin.sign_in(
            state.factory, email, password, address, now=state.clock(), policy=state.policy
        )
    except SignInRefused as exc:
        page = render(request, "login.html", REFUSALS.get(type(exc), 403), error=str(exc))
        if isinstance(exc, TooManyAttempts):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    return _signed_in(request, who, session_id)


def _signed_in(request: Request, who: Principal, session_id: str) -> RedirectResponse:
    # A new session and a new CSRF token: nothing from before signing in is kept.
    request.session.clear()
    request.session["sid"] = session_id
    return RedirectResponse(home_of(who), status_code=303)


@router.get("/connexion/lien/{token}", response_class=HTMLResponse)
def link_page(request: Request, token: Token) -> HTMLResponse:
    return render(request, "link.html", token=token, error=None)


@router.post("/connexion/lien/{token}", response_model=None)
def link_sign_in(request: Request, token: Token, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    state = request.app.state
    try:
        who, session_id = invitations.sign_in_with_link(state.factory, token, now=state.clock())
    except SignInRefused as exc:
        status = REFUSALS.get(type(exc), 403)
        return render(request, "link.html", status, token=None, error=str(exc))
    return _signed_in(request, who, session_id)


@router.post("/deconnexion")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    check_csrf(request, csrf)
    session_id = request.session.get("sid")
    if session_id:
        state = request.app.state
        signin.sign_out(state.factory, str(session_id), now=state.clock())
    request.session.clear()
    return RedirectResponse("/connexion", status_code=303)
