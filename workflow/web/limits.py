"""The request body limit (issue 14): FIDELIS_MAX_BODY_BYTES for every request (1 MB), and
FIDELIS_MAX_IMPORT_BYTES for the imports page's upload (50 MB). A body over its limit — as its
Content-Length declares it, or as it arrives when none is declared — stops being read: the route
that reads it meets a 413 whose French message says the limit (workflow.web.errors answers it,
as a page or as the API's JSON), and nothing is written.

A pure ASGI middleware rather than Starlette's own body limiter: that one answers in English
plain text, and replaces any response to a request declared too large by its own."""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The only route whose body may reach the larger limit (workflow.web.imports).
IMPORT_PATHS = frozenset({"/imports"})
# A message with its attachment (workflow.web.threads), a signed contract's scan
# (workflow.web.actions): the file's own bound applies (workflow.documents.scans).
_MESSAGE_PATH = re.compile(r"/dossiers/[0-9]{1,19}/(messages|contrat-signe)")
# The learner's application with its attachments, their pieces, RIB, messages and declarations
# (workflow.web.learner, workflow.web.learner_forms): each file bounded by scans' own limit.
_LEARNER_PATH = re.compile(
    r"/mon-espace/(candidatures|dossiers/[0-9]{1,19}/(pieces|rib|messages|declarations))"
)
# An employer's or an institute's declaration with its proof (workflow.web.employer_space,
# workflow.web.institute_space).
_PARTNER_PATH = re.compile(
    r"/espace-(employeur/candidatures/[0-9]{1,19}/declaration|institut/dossiers/[0-9]{1,19}/interruption)"
)


def takes_files(path: str) -> bool:
    """Whether the route at `path` receives files, and so the larger limit."""
    return (
        path in IMPORT_PATHS
        or _MESSAGE_PATH.fullmatch(path) is not None
        or _LEARNER_PATH.fullmatch(path) is not None
        or _PARTNER_PATH.fullmatch(path) is not None
    )


def size_fr(n: int) -> str:
    """A limit in bytes as a reader says it: « 50 Mo », « 1 Mo », « 512 Ko »."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.3g} Mo".replace(".", ",")
    return f"{max(n // 1024, 1)} Ko"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int, imports: bool) -> None:
        where = "" if imports else " (les fichiers s'envoient depuis la page des imports)"
        super().__init__(
            status_code=413,
            detail=f"Requête trop volumineuse : {size_fr(limit)} au plus{where} ; rien n'a été "
            "enregistré.",
        )


class BodyLimit:
    """Refuse, with a 413, any request body larger than `limit_of(path)` bytes."""

    def __init__(self, app: ASGIApp, limit_of: Callable[[str], int]) -> None:
        self.app = app
        self.limit_of = limit_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = self.limit_of(path)
        refusal = BodyTooLarge(limit, path in IMPORT_PATHS)
        declared = Headers(scope=scope).get("content-length", "")
        too_large = declared.isdigit() and int(declared) > limit
        received = 0

        async def limited() -> Message:
            nonlocal received
            if too_large:  # refused before a byte is read
                raise refusal
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise refusal
            return message

        await self.app(scope, limited, send)


__all__ = ["IMPORT_PATHS", "BodyLimit", "BodyTooLarge", "takes_files"]
