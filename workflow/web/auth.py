"""Signing in and out (`/connexion`, `/deconnexion`): the only pages open without an account.
workflow.signin checks the password (argon2), slows down then locks repeated failures per account
and per client address, and opens a server-side session whose random id the cookie carries;
signing out revokes it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow import signin
from workflow.signin import AccountDisabled, BadCredentials, SignInRefused, TooManyAttempts
from workflow.web.deps import check_csrf, render

router = APIRouter()
REFUSALS = {BadCredentials: 401, AccountDisabled: 403, TooManyAttempts: 429}


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
        _, session_id = signin.sign_in(
            state.factory, email, password, address, now=state.clock(), policy=state.policy
        )
    except SignInRefused as exc:
        page = render(request, "login.html", REFUSALS.get(type(exc), 403), error=str(exc))
        if isinstance(exc, TooManyAttempts):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    # A new session and a new CSRF token: nothing from before signing in is kept.
    request.session.clear()
    request.session["sid"] = session_id
    return RedirectResponse("/", status_code=303)


@router.post("/deconnexion")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    check_csrf(request, csrf)
    session_id = request.session.get("sid")
    if session_id:
        state = request.app.state
        signin.sign_out(state.factory, str(session_id), now=state.clock())
    request.session.clear()
    return RedirectResponse("/connexion", status_code=303)
