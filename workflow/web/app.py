"""`create_app(url)`: the FastAPI application. Pages in French under `/`, a JSON API under
`/api/v1` (token authentication). Every form carries a CSRF token; every read and write is
limited to what the signed-in role may see (workflow.accounts, through workflow.web.deps).

The routes live in one router per area (see ROUTERS); this module only assembles them with the
session middleware, the templates and the error handlers."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from workflow import accounts, display
from workflow.db import make_engine, session_factory
from workflow.documents.labels import BREACH_REASON_LABELS
from workflow.paths import templates_dir
from workflow.settings import settings
from workflow.states import SIGNING_PARTIES, STATE_LABELS, TRIGGER_LABELS, param_label
from workflow.web import (
    actions,
    api,
    auth,
    cases,
    documents,
    errors,
    forecast,
    imports,
    operations,
    payments,
    reference,
    reports,
)
from workflow.web.limits import IMPORT_PATHS, BodyLimit

ROUTERS: tuple[APIRouter, ...] = (
    api.router,
    imports.router,
    reports.router,
    forecast.router,
    auth.router,
    cases.router,
    actions.router,
    payments.router,
    operations.router,
    reference.router,
    documents.router,
)


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
        SIGNING_PARTIES=SIGNING_PARTIES,
        # Fields chosen from a list rather than typed: the breach's category.
        FIELD_CHOICES={"category": BREACH_REASON_LABELS},
        STAFF=accounts.STAFF,
        EMPLOYERS=accounts.EMPLOYERS,
        ATTESTERS=accounts.ATTESTERS,
    )
    return found


def create_app(url: str, *, secret_key: str | None = None) -> FastAPI:
    engine = make_engine(url)

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
        limit_of=lambda path: (
            conf.max_import_bytes if path in IMPORT_PATHS else conf.max_body_bytes
        ),
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key or secrets.token_urlsafe(32),
        same_site="strict",
        session_cookie="fidelis_session",
    )
    app.state.templates = jinja = templates()
    for router in ROUTERS:
        app.include_router(router)
    errors.install(app, jinja)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app
