"""The security headers of every response — pages, API, static files, errors, redirects (issue
14, ANSSI's recommendations for web applications): a Content Security Policy that lets the pages
load only their own scripts, styles, fonts and images from /static (no inline script or style:
the templates have none, and tests/integration/test_signin.py keeps it so) — plus the `data:`
images the DSFR's stylesheet draws its small icons with — never in a frame; no MIME
sniffing; the address of a page never sent to another site; and, when the cookies are `Secure`
(production, behind HTTPS), HSTS.

The interactive API documentation (/api/docs, Swagger UI) loads its script from a CDN and starts
it inline: that one page gets a policy that allows them, and nothing else does."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS = "/api/docs"
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000"


def add_headers(headers: MutableHeaders, path: str, *, hsts: bool) -> None:
    headers["Content-Security-Policy"] = DOCS_CSP if path == DOCS else CSP
    for name, value in HEADERS.items():
        headers[name] = value
    if hsts:
        headers["Strict-Transport-Security"] = HSTS


class SecurityHeaders:
    """ASGI middleware: the headers above on every response that passes through it (a plain
    ASGI middleware, so streamed exports are left streaming)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_headers(MutableHeaders(scope=message), scope["path"], hsts=self.hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)
