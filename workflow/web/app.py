"""`create_app(url)`: the FastAPI application. Pages in French under `/`, a JSON API under
`/api/v1` (token authentication). Every form carries a CSRF token; every read and write is
limited to what the signed-in role may see (workflow.accounts, through workflow.web.deps).

The routes live in one router per area (see ROUTERS); this module only assembles them with the
cookie and security-header middlewares, the sign-in policy and clock, the templates and the
error handlers.

The cookie holds the server-side session's id (workflow.signin) and the CSRF token, signed with
the secret key; it is `Secure`, `HttpOnly`, `SameSite=Strict` and dies with the browser. Only
FIDELIS_INSECURE_COOKIES=1 — development over plain http, and the tests' client — drops
`Secure` (and HSTS)."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from workflow import accounts, display
from workflow.clock import Instant, now_utc
from workflow.db import make_engine, session_factory
from workflow.documents.labels import BREACH_REASON_LABELS
from workflow.paths import templates_dir
from workflow.settings import settings
from workflow.signin import SignInPolicy
from workflow.states import STATE_LABELS, TRIGGER_LABELS, param_label
from workflow.web import (
    actions,
    admin,
    api,
    api_spaces,
    auth,
    campaigns_admin,
    cases,
    debts,
    decisions,
    documents,
    employer_space,
    errors,
    forecast,
    imports,
    institute_space,
    learner,
    learner_forms,
    operations,
    organisations,
    outbox,
    payments,
    queue,
    refdata,
    reference,
    reports,
    signing,
    threads,
)
from workflow.web.limits import BodyLimit, takes_files
from workflow.web.security import SecurityHeaders

ROUTERS: tuple[APIRouter, ...] = (
    api.router,
    api_spaces.router,
    imports.router,
    reports.router,
    forecast.router,
    auth.router,
    cases.router,
    actions.router,
    payments.router,
    debts.router,
    operations.router,
    reference.router,
    documents.router,
    admin.router,
    signing.router,  # the signers' page: no account, the link's token (issue 16)
    # The participants' spaces (issue 15).
    learner.router,
    learner_forms.router,
    decisions.router,
    employer_space.router,  # items 2 and 3: the employer's and the institute's
    institute_space.router,
    threads.router,
    queue.router,
    outbox.router,
    # Reference data and accounts edited on the web (issue 15, item 6).
    refdata.router,
    organisations.router,
    campaigns_admin.router,
)


_table_ids = itertools.count(1)


def templates() -> Jinja2Templates:
    """The pages' Jinja2 environment: French filters (workflow.display), the labels of states,
    triggers and their fields, and the role sets the pages show or hide their parts by."""
    found = Jinja2Templates(directory=str(templates_dir() / "web"))
    display.install(found.env)
    found.env.globals.update(
        STATE_LABELS=STATE_LABELS,
        TRIGGER_LABELS=TRIGGER_LABELS,
        # An action's input by the label the actions table gives it (workflow.states).
        param_label=param_label,
        # Fields chosen from a list rather than typed: the breach's category.
        FIELD_CHOICES={"category": BREACH_REASON_LABELS},
        STAFF=accounts.STAFF,
        EMPLOYERS=accounts.EMPLOYERS,
        ATTESTERS=accounts.ATTESTERS,
        ADMINS=accounts.ADMINS,
        LEARNERS=accounts.LEARNERS,
        INSTITUTES=accounts.INSTITUTES,
        # A table's scrolling box is a region named by its caption: each caption needs an id.
        table_id=lambda: f"tableau-{next(_table_ids)}",
    )
    return found


def create_app(
    url: str,
    *,
    secret_key: str | None = None,
    clock: Instant = now_utc,
    policy: SignInPolicy | None = None,
) -> FastAPI:
    """The application on the database `url`; `clock` and `policy` (default: the settings') are
    the sign-in's, which tests set."""
    engine = make_engine(url)
    secure = not settings().insecure_cookies

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()  # the connections close with the application

    app = FastAPI(
        title="Fidelis",
        version="1",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.factory = session_factory(engine)
    conf = settings()
    app.add_middleware(
        BodyLimit,
        limit_of=lambda path: conf.max_import_bytes if takes_files(path) else conf.max_body_bytes,
    )
    app.state.clock = clock
    app.state.policy = policy or SignInPolicy.from_settings()
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key or secrets.token_urlsafe(32),
        same_site="strict",
        https_only=secure,
        max_age=None,  # a browser-session cookie; the server-side session says how long it lives
        session_cookie="fidelis_session",
    )
    app.add_middleware(SecurityHeaders, hsts=secure)  # outermost: on every response
    app.state.templates = jinja = templates()
    for router in ROUTERS:
        app.include_router(router)
    errors.install(app, jinja)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app
