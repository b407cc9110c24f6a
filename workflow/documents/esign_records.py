"""The electronic signature's records below the use cases (issue 16): voiding the requests of a
contract that no longer holds (the signers are told), and each party's signature as `case show`
lists it. workflow.esign holds the use cases; the document store calls `void_requests`."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow.clock import today_paris
from workflow.models import Document, EsignRequest, OutboxMessage

__all__ = ["signature_rows", "void_requests"]


def void_requests(s: Session, doc: Document, reason: str) -> int:
    """Invalidate the electronic signatures of contract `doc` (collected or awaited) and queue
    a notice to each signer invited so far; return how many were voided."""
    requests = s.scalars(
        sa.select(EsignRequest).where(
            EsignRequest.contract_id == doc.id, EsignRequest.status.in_(("pending", "signed"))
        )
    ).all()
    for request in requests:
        told = request.status == "signed" or request.code_hash is not None
        request.status = "invalidated"
        request.reason = reason
        request.code_hash = None
        if told or request.position == 1:
            s.add(
                OutboxMessage(
                    dedup_key=f"esign:{request.id}:esign_invalidated:{secrets.token_hex(4)}",
                    case_id=request.case_id,
                    kind="esign_invalidated",
                    due_date=today_paris(),
                    recipient=request.email,
                    context={"case_id": request.case_id, "esign_request_id": request.id},
                )
            )
    return len(requests)


def signature_rows(s: Session, case_id: int) -> list[dict[str, Any]]:
    """Each party's signature of the case's current (else latest) contract: `method`
    electronic, scan (typed, with a signed scan attached) or typed; `signed_at`, `name`."""
    doc = s.scalars(
        sa.select(Document)
        .where(Document.case_id == case_id, Document.kind == "contract")
        .order_by((Document.status == "issued").desc(), Document.version.desc())
    ).first()
    if doc is None:
        return []
    scanned = s.scalar(
        sa.select(sa.func.count())
        .select_from(Document)
        .where(Document.parent_id == doc.id, Document.kind == "signed_scan")
    )
    at = {
        r.signature_id: r.signed_at
        for r in s.scalars(sa.select(EsignRequest).where(EsignRequest.contract_id == doc.id))
        if r.signature_id is not None
    }
    rows = []
    for sig in doc.signatures:
        method = sig.method if sig.method == "electronic" else ("scan" if scanned else "typed")
        when = at.get(sig.id)
        rows.append(
            {
                "party": sig.party,
                "method": method,
                "name": sig.signer_name,
                "signed_at": when.isoformat() if when else sig.signed_on.isoformat(),
                "document": doc.id,
            }
        )
    return rows
