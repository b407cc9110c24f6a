"""What every page router shares: the database session, the signed-in user, CSRF, and `render`
(a French Jinja2 page from `templates/web/`, with the CSRF token in its context)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from workflow import accounts
from workflow.accounts import Principal


def db(request: Request) -> Iterator[Session]:
    with request.app.state.factory() as session:
        yield session


def current_user(request: Request, s: Annotated[Session, Depends(db)]) -> Principal:
    user_id = request.session.get("user_id")
    who = accounts.by_id(s, int(user_id)) if user_id else None
    if who is None:
        raise HTTPException(status_code=303, headers={"Location": "/connexion"})
    return who


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf(request: Request, csrf: str) -> None:
    expected = request.session.get("csrf")
    if not expected or not secrets.compare_digest(str(expected), csrf):
        raise HTTPException(
            status_code=403, detail="Jeton CSRF absent ou invalide : rechargez la page."
        )


Who = Annotated[Principal, Depends(current_user)]
Db = Annotated[Session, Depends(db)]


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page `name` rendered with `context` (plus the session's CSRF token)."""
    context.setdefault("csrf", csrf_token(request))
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status
    )
    return response


def require_roles(who: Principal, *roles: str) -> None:
    """403 unless the signed-in user has one of `roles`."""
    if who.role not in roles:
        raise HTTPException(
            status_code=403, detail="Cette page n'est pas accessible avec votre compte."
        )
