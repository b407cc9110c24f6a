"""Downloading a stored document (`/documents/{id}`): a case's documents by whoever may see the
case, the other ones (a campaign's list of employers) by the caseworkers' service only. The file
is read back from the store with its checksum verified."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from workflow import accounts
from workflow.accounts import STAFF
from workflow.documents.store import default_store, stored_path
from workflow.web import pages
from workflow.web.deps import STAFF_PAGE, Db, Ident, Who, allow, attachment

router = APIRouter()


@router.get("/documents/{document_id}")
def download(who: Who, s: Db, document_id: Ident) -> Response:
    doc = pages.document(s, document_id)
    if doc.case_id is None:
        allow(who, STAFF, STAFF_PAGE)
    elif not accounts.can_see(s, who, doc.case_id):
        raise HTTPException(status_code=403, detail="Ce document n'est pas accessible.")
    content = default_store().read(stored_path(doc), doc.sha256)
    return attachment(content, doc.media_type, doc.filename)
