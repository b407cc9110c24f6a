"""What every page router shares: the database session, the signed-in user and what their role
allows, CSRF, and `render` (a French Jinja2 page from `templates/web/`, with the CSRF token in
its context).

Roles are checked here only, by dependencies built from the role sets of `workflow.accounts`:
a route that needs the caseworkers' service declares `who: Staff`, and its body never reads
`who.role` (tests/unit/test_web_layout.py holds every route to it)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from workflow import signin
from workflow.accounts import (
    ADMINS,
    ATTESTERS,
    EMPLOYERS,
    INSTITUTES,
    LEARNER_READERS,
    LEARNERS,
    ROLES,
    STAFF,
    Principal,
)
from workflow.validation import MAX_ID

NOT_YOURS = "Cette page n'est pas accessible avec votre compte."
STAFF_PAGE = "Page réservée au service instructeur."
EMPLOYERS_ONLY = "Page réservée aux employeurs."
ADMINS_ONLY = "Page réservée aux administrateurs de Fidelis."
LEARNERS_ONLY = "Page réservée aux apprenants."
INSTITUTES_ONLY = "Page réservée aux instituts de formation."
LEARNER_ELSEWHERE = "Votre espace est la page « Mon espace »."
# The pages written for the caseworkers, employers and institutes; a learner has their own space
# (workflow.web.learner), where nothing of another case or of the caseworkers' notes shows.
NOT_LEARNERS = frozenset(ROLES) - LEARNERS
# Where each role lands after signing in (a role without a space of its own: the dashboard).
HOMES = {
    "learner": "/mon-espace",
    "employer": "/espace-employeur",
    "institute": "/espace-institut",
}


def db(request: Request) -> Iterator[Session]:
    with request.app.state.factory() as session:
        yield session


def current_user(request: Request) -> Principal:
    """Who the session cookie's server-side session belongs to (workflow.signin), or off to the
    sign-in page — with the cookie emptied when its session has ended."""
    token = request.session.get("sid")
    state = request.app.state
    who = (
        signin.session_user(state.factory, str(token), now=state.clock(), policy=state.policy)
        if token
        else None
    )
    if who is None:
        request.session.clear()
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


def allow(who: Principal, roles: frozenset[str], refusal: str = NOT_YOURS) -> Principal:
    """`who`, or a 403 saying `refusal` unless their role is one of `roles`."""
    if who.role not in roles:
        raise HTTPException(status_code=403, detail=refusal)
    return who


def require(
    roles: frozenset[str],
    refusal: str = NOT_YOURS,
    *,
    user: Callable[..., Principal] = current_user,
) -> Callable[..., Principal]:
    """A dependency: the user signed in by `user` (the session, or the API's token), allowed by
    `allow`. Its refusal comes before the route reads anything."""

    def allowed(who: Principal = Depends(user)) -> Principal:
        return allow(who, roles, refusal)

    return allowed


# An id in a path or a query, as either database can store it; else a French 422 (errors.py).
Ident = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryIdent = Annotated[int | None, Query(ge=1, le=MAX_ID)]
# A page of a paginated list (`?page=N`); past the bound, a French 422 (errors.py).
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
Who = Annotated[Principal, Depends(require(NOT_LEARNERS, LEARNER_ELSEWHERE))]
Db = Annotated[Session, Depends(db)]
# The caseworkers' service (region, admin).
Staff = Annotated[Principal, Depends(require(STAFF, STAFF_PAGE))]
ContractStaff = Annotated[
    Principal, Depends(require(STAFF, "Seul le service instructeur gère les contrats."))
]
# Whole routers reserved to the caseworkers' service: `APIRouter(dependencies=[STAFF_ONLY])`.
STAFF_ONLY = Depends(require(STAFF))
Employer = Annotated[Principal, Depends(require(EMPLOYERS, EMPLOYERS_ONLY))]
Attester = Annotated[Principal, Depends(require(ATTESTERS, "Ce dossier n'est pas accessible."))]
Admin = Annotated[Principal, Depends(require(ADMINS, ADMINS_ONLY))]
LearnerReader = Annotated[
    Principal, Depends(require(LEARNER_READERS, "Page réservée aux instituts et à la Région."))
]


LearnerUser = Annotated[Principal, Depends(require(LEARNERS, LEARNERS_ONLY))]
InstituteUser = Annotated[Principal, Depends(require(INSTITUTES, INSTITUTES_ONLY))]


def home_of(who: Principal) -> str:
    """The page `who` lands on after signing in."""
    return HOMES.get(who.role, "/")


def own_learner(who: LearnerUser) -> int:
    """The learner a learner account is (accounts.add_user always sets one)."""
    if who.learner_id is None:
        raise HTTPException(status_code=403, detail=LEARNERS_ONLY)
    return who.learner_id


def own_institute(who: InstituteUser) -> int:
    """The institute an institute account acts for (accounts.add_user always sets one)."""
    if who.institute_id is None:
        raise HTTPException(status_code=403, detail=INSTITUTES_ONLY)
    return who.institute_id


OwnLearner = Annotated[int, Depends(own_learner)]
OwnInstitute = Annotated[int, Depends(own_institute)]


def own_employer(who: Employer) -> int:
    """The employer an employer account acts for (accounts.add_user always sets one)."""
    if who.employer_id is None:
        raise HTTPException(status_code=403, detail=EMPLOYERS_ONLY)
    return who.employer_id


OwnEmployer = Annotated[int, Depends(own_employer)]


def flash(request: Request, message: str, *, error: bool = False) -> None:
    """A message for the next page the user sees (« Contrat émis. »), shown once."""
    said = {"text": message, "error": error}
    request.session["flash"] = [*request.session.get("flash", []), said][-5:]


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page `name` rendered with `context` (plus the session's CSRF token and the messages
    `flash` left for it)."""
    context.setdefault("csrf", csrf_token(request))
    context.setdefault("flashes", request.session.pop("flash", []))
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status
    )
    return response


def attachment(content: bytes, media_type: str, filename: str) -> Response:
    """A file the browser downloads as `filename`."""
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
