"""Downloading a stored document (`/documents/{id}`): a case's documents by whoever may see the
case, the other ones (a campaign's list of employers) by the caseworkers' service only — anyone
else gets the 404 of a document that does not exist. The file is read back from the store with
its checksum verified."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from workflow.documents.store import default_store, read_document
from workflow.web import pages
from workflow.web.deps import Db, Ident, Who, attachment

router = APIRouter()


@router.get("/documents/{document_id}")
def download(who: Who, s: Db, document_id: Ident) -> Response:
    doc = pages.document(s, who, document_id)
    content = read_document(default_store(), doc)  # a purged one: a French 404
    return attachment(content, doc.media_type, doc.filename)
