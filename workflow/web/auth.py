"""Signing in and out (`/connexion`, `/deconnexion`): the only pages open without an account.
Passwords are checked by workflow.accounts (argon2); the session keeps the user's id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow import accounts
from workflow.web.deps import Db, check_csrf, render

router = APIRouter()


@router.get("/connexion", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", error=None)


@router.post("/connexion", response_model=None)
def login(
    request: Request,
    s: Db,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    who = accounts.authenticate(s, email, password)
    if who is None:
        return render(request, "login.html", 401, error="Adresse ou mot de passe incorrect.")
    request.session.clear()
    request.session["user_id"] = who.id
    return RedirectResponse("/", status_code=303)


@router.post("/deconnexion")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/connexion", status_code=303)
