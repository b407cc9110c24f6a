"""The web stays thin (issue 12): every page but sign-in needs an account; roles are checked by
the dependencies of workflow.web.deps only, never by a route reading `who.role`; route modules
issue no SQL of their own (workflow.web.pages and workflow.views do); each stays small."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import workflow.web
from workflow.accounts import ROLES
from workflow.paths import templates_dir
from workflow.web import create_app
from workflow.web.api import api_user
from workflow.web.app import ROUTERS
from workflow.web.deps import current_user

# Open without an account: signing in (by password or one-time link), and signing out (which
# only clears the session).
PUBLIC = {
    ("GET", "/connexion"),
    ("POST", "/connexion"),
    ("GET", "/connexion/lien/{token}"),
    ("POST", "/connexion/lien/{token}"),
    ("POST", "/deconnexion"),
}
# The signing page of an invitation's link (issue 16): its token is the credential.
PUBLIC |= {
    ("GET", "/signature/{token}"),
    ("GET", "/signature/{token}/contrat.pdf"),
    ("POST", "/signature/{token}/code"),
    ("POST", "/signature/{token}/signer"),
    ("POST", "/signature/{token}/refus"),
}
SIGNED_IN = {current_user, api_user}
MAX_LINES = 250
# Where roles may be read: the dependencies that check them.
ROLE_CHECKS = {"workflow.web.deps"}


def web_modules() -> Iterator[ModuleType]:
    for info in pkgutil.iter_modules(workflow.web.__path__, "workflow.web."):
        yield importlib.import_module(info.name)


def router_modules() -> list[ModuleType]:
    return [m for m in web_modules() if isinstance(getattr(m, "router", None), APIRouter)]


def source(module: ModuleType) -> str:
    assert module.__file__ is not None
    return Path(module.__file__).read_text(encoding="utf-8")


def calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from calls(dep)


def role_checks(tree: ast.AST) -> list[str]:
    """`x.role` anywhere, or a comparison with a role's name (`… in ("region", "admin")`)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "role":
            found.append(f"line {node.lineno}: .role")
        if isinstance(node, ast.Compare):
            for part in ast.walk(node):
                if isinstance(part, ast.Constant) and part.value in ROLES:
                    found.append(f"line {node.lineno}: compared with {part.value!r}")
    return found


def routes() -> list[APIRoute]:
    """Every route of the application: those of its routers (a router's own dependencies are in
    each of its routes) and any declared on the application itself."""
    app = create_app("sqlite://", secret_key="test")
    own = [r for r in app.routes if isinstance(r, APIRoute)]
    return own + [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def test_every_route_but_signing_in_needs_an_account() -> None:
    found = routes()
    open_routes = {
        (method, route.path)
        for route in found
        for method in route.methods
        if SIGNED_IN.isdisjoint(calls(route.dependant))
    }
    assert open_routes == PUBLIC
    assert len(found) >= 40  # the pages, the API, the reports, the imports (issue 12)


def test_without_an_account_every_route_sends_to_the_sign_in_page_or_answers_401() -> None:
    app = create_app("sqlite://", secret_key="test")
    answers = {}
    with TestClient(app) as client:
        for path, operations in app.openapi()["paths"].items():
            url = re.sub(r"\{[^}]+\}", "1", path)
            for method in operations:
                if (method.upper(), path) in PUBLIC:
                    continue
                response = client.request(method, url, follow_redirects=False)
                answers[method.upper(), path] = (
                    response.status_code,
                    response.headers.get("location"),
                )
    assert len(answers) == sum(len(r.methods) for r in routes()) - len(PUBLIC)  # all were tried
    expected = {
        k: (401, None) if k[1].startswith("/api/") else (303, "/connexion") for k in answers
    }
    assert answers == expected


def test_the_application_is_its_routers_and_nothing_else() -> None:
    modules = router_modules()
    assert {id(m.router) for m in modules} == {id(r) for r in ROUTERS}
    app = create_app("sqlite://", secret_key="test")
    assert not [r for r in app.routes if isinstance(r, APIRoute)]
    declared = {r.path for router in ROUTERS for r in router.routes}
    assert set(app.openapi()["paths"]) == declared


def test_no_route_module_checks_a_role_by_hand() -> None:
    problems = {
        module.__name__: found
        for module in web_modules()
        if module.__name__ not in ROLE_CHECKS
        if (found := role_checks(ast.parse(source(module))))
    }
    assert problems == {}
    pages = {
        page.name: hits
        for page in (templates_dir() / "web").glob("*.html")
        if (hits := re.findall(r"who\.role\s*(?:==|!=|in\s*[(\[{])", page.read_text()))
    }
    assert pages == {}  # templates test `who.role in STAFF`, the sets of workflow.accounts
    assert '"region", "admin"' not in "".join(source(m) for m in web_modules())


def test_the_role_check_finder_finds_role_checks() -> None:
    by_hand = 'if who.role not in ("region", "admin"):\n    raise Forbidden\n'
    assert len(role_checks(ast.parse(by_hand))) == 3
    assert role_checks(ast.parse('if trigger in ("submit", "select"):\n    pass\n')) == []


def test_route_modules_leave_queries_to_the_view_modules() -> None:
    problems = {}
    for module in router_modules():
        imported = [
            name
            for node in ast.walk(ast.parse(source(module)))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for name in (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            )
            if name and (name.split(".")[0] == "sqlalchemy" or name == "workflow.models")
        ]
        if imported:
            problems[module.__name__] = imported
    assert problems == {}


def test_each_router_module_stays_small() -> None:
    sizes = {m.__name__: len(source(m).splitlines()) for m in router_modules()}
    assert len(sizes) >= 10
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
