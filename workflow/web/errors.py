"""What the web application answers when something goes wrong, in French: a page for the
browser, `{"detail": …}` for the JSON API under `/api`. Fidelis's own errors (a bad month, an
unknown campaign, a refused action) are the reader's to fix: 400, 404 or 409 with their message
(503 when SQLite stayed busy past its timeout).
HTTP errors keep their status (a redirect to the sign-in page stays a redirect) with a French
text in place of Starlette's English one. Anything else is logged and answered with a French
500 that reveals nothing of the cause."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException

from workflow import signin
from workflow.accounts import Principal
from workflow.errors import (
    ConcurrentModification,
    DatabaseBusy,
    FidelisError,
    GuardFailed,
    NotFound,
)
from workflow.validation import shown
from workflow.web.deps import csrf_token
from workflow.web.security import add_headers

log = logging.getLogger("fidelis.web")

# Starlette's defaults, for the statuses a reader may meet.
FRENCH_STATUS = {
    400: "Requête invalide.",
    401: "Authentification requise.",
    403: "Accès refusé.",
    404: "Page introuvable.",
    405: "Méthode non autorisée pour cette adresse.",
    409: "Conflit : l'enregistrement a changé entre-temps.",
    413: "Requête trop volumineuse.",
    500: "Erreur interne : l'équipe technique a été prévenue ; rien n'a été enregistré.",
}
_ENGLISH_DEFAULTS = {"Not Found", "Method Not Allowed", "Unauthorized", "Forbidden", "Bad Request"}
# The parts of a field's location that say where it was, not which field it is.
_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def status_of(exc: FidelisError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, ConcurrentModification):
        return 409
    if isinstance(exc, DatabaseBusy):
        return 503
    return 400


def _signed_in(request: Request) -> Principal | None:
    """Who the request's session belongs to, if anyone (the error page's menu)."""
    token = request.session.get("sid") if "session" in request.scope else None
    if not token:
        return None
    state = request.app.state
    try:
        return signin.session_user(
            state.factory, str(token), now=state.clock(), policy=state.policy
        )
    except SQLAlchemyError:  # the page still answers, without its menu
        return None


def install(app: FastAPI, templates: Jinja2Templates) -> None:
    def answer(
        request: Request, status: int, message: str, extra: dict[str, object] | None = None
    ) -> Response:
        if request.url.path.startswith("/api"):
            return JSONResponse({"detail": message, **(extra or {})}, status)
        # The page keeps its menu for whoever is signed in (never on a 500: the cause may be
        # the database itself).
        who = _signed_in(request) if status < 500 else None
        context = {
            "message": message,
            "status": status,
            "who": who,
            "csrf": csrf_token(request) if who else "",
        }
        return templates.TemplateResponse(request, "error.html", context, status_code=status)

    @app.exception_handler(FidelisError)
    async def fidelis_error(request: Request, exc: FidelisError) -> Response:
        extra: dict[str, object] | None = None
        if isinstance(exc, GuardFailed):
            # The French message names no code; an API client also gets the action and the
            # failed guards by name, with what to send (the parameter's name).
            extra = {
                "trigger": exc.trigger,
                "guards": [{"name": n, "message": m} for n, m in exc.failures],
            }
        return answer(request, status_of(exc), str(exc), extra)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.headers and "Location" in exc.headers:
            return Response(status_code=exc.status_code, headers=exc.headers)
        detail = exc.detail if isinstance(exc.detail, str) else None
        if not detail or detail in _ENGLISH_DEFAULTS:
            detail = FRENCH_STATUS.get(exc.status_code, f"Erreur {exc.status_code}.")
        response = answer(request, exc.status_code, detail)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        """Bad input answers in French, naming each field (a date that does not exist…)."""
        problems = [
            f"{'.'.join(str(p) for p in err['loc'] if p not in _LOCATIONS)} : valeur invalide "
            f"« {shown(str(err.get('input')))} »"
            for err in exc.errors()
        ]
        return answer(request, 422, "Requête invalide — " + " ; ".join(problems))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("erreur interne sur %s %s", request.method, request.url.path)
        response = answer(request, 500, FRENCH_STATUS[500])
        # Starlette answers this one outside the middlewares: the security headers by hand.
        add_headers(response.headers, request.url.path, hsts=False)
        return response
