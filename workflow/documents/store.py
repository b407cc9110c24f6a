"""The document store, below the case service: storing a rendered file and its row, versions,
reading, exporting, the letters the case service issues on its own (recovery order, completion
certificate, amendment) and the stale-contract check. It knows nothing of triggers or events:
the case service (workflow.cases) and the contract use cases (workflow.contracts) call it inside
their transactions.

A document row is written in the same transaction as the event that records it; its file is in
the content-addressed store (workflow.archive), so an issued document never changes."""

from __future__ import annotations

import hashlib
import json
import mimetypes
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow.archive import DocumentStore
from workflow.db import UnitOfWork
from workflow.documents import context as contexts
from workflow.documents.esign_records import void_requests
from workflow.documents.pdf import to_pdf
from workflow.documents.render import render_docx
from workflow.errors import FidelisError, NotFound
from workflow.models import Case, Document
from workflow.paths import templates_dir
from workflow.schemes import Scheme
from workflow.settings import settings
from workflow.states import State
from workflow.territory import default_territory

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

TEMPLATES = {
    "contract": "contracts/contract.docx",
    "recovery_order": "letters/recovery_order.docx",
    "completion_certificate": "letters/completion_certificate.docx",
    "amendment": "letters/amendment.docx",
    "campaign_employers": "letters/campaign_employers.docx",
}
KIND_LABELS = {
    "contract": "Contrat",
    "contract_pdf": "Contrat (PDF)",
    "contract_sealed": "Contrat signé et scellé (PDF)",
    "signed_scan": "Contrat signé (scan)",
    "recovery_order": "Ordre de reversement",
    "completion_certificate": "Attestation de fin d'engagement",
    "amendment": "Avenant",
    "campaign_employers": "Liste des employeurs",
    "campaign_employers_xlsx": "Liste des employeurs (tableur)",
}


class DocumentPurged(NotFound):
    def __init__(self, doc: Document) -> None:
        FidelisError.__init__(
            self,
            f"Le document n° {doc.id} ({doc.filename}) a été effacé : durée de conservation "
            "échue (RGPD).",
        )
        self.what, self.ident = "Document", doc.id


def read_document(store: DocumentStore, doc: Document) -> bytes:
    """A stored document's content, its checksum verified; DocumentPurged once it is erased."""
    if doc.status == "purged":
        raise DocumentPurged(doc)
    return store.read(stored_path(doc), doc.sha256)


def default_store() -> DocumentStore:
    return DocumentStore(settings().documents_dir)


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    kind: str
    version: int
    number: str | None
    filename: str
    sha256: str
    path: Path

    @classmethod
    def of(cls, doc: Document, store: DocumentStore) -> DocumentInfo:
        return cls(
            doc.id,
            doc.kind,
            doc.version,
            doc.number,
            doc.filename,
            doc.sha256,
            store.root / stored_path(doc),
        )


def stored_path(doc: Document) -> str:
    suffix = Path(doc.filename).suffix
    return f"{doc.sha256[:2]}/{doc.sha256}{suffix}"


def contract_fingerprint(case: Case, terms: Mapping[str, Any] | None = None) -> str:
    """What a contract states that may change after it is issued (tier, dates, IBAN, parties),
    and the terms it fixes (amounts, commitment, rules: SPEC §4b) when it records them."""
    learner = case.learner
    facts: dict[str, Any] = {
        "tier": case.tier,
        "training": [learner.training_start.isoformat(), learner.training_end.isoformat()],
        # The sealed value: it changes with the IBAN (never sealed again unchanged), no key needed.
        "iban": learner.iban.stored if learner.iban else None,
        "learner": [learner.first_name, learner.last_name, learner.birth_date.isoformat()],
        "employer": case.offer.employer_id,
    }
    if terms is not None:  # contracts issued before terms were recorded keep their fingerprint
        facts["terms"] = terms
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def current_contract(s: Session, case_id: int) -> Document | None:
    """The latest issued (not superseded, not invalidated) contract of a case."""
    return s.scalars(
        sa.select(Document)
        .where(
            Document.case_id == case_id, Document.kind == "contract", Document.status == "issued"
        )
        .order_by(Document.version.desc())
    ).first()


def _next_version(s: Session, case_id: int | None, campaign_id: int | None, kind: str) -> int:
    owner = Document.case_id == case_id if case_id else Document.campaign_id == campaign_id
    current = s.scalar(sa.select(sa.func.max(Document.version)).where(owner, Document.kind == kind))
    return (current or 0) + 1


def _media_type(suffix: str) -> str:
    known = {".docx": DOCX, ".xlsx": XLSX}
    return known.get(suffix) or mimetypes.types_map.get(suffix, "application/octet-stream")


def store_document(
    s: Session,
    store: DocumentStore,
    *,
    kind: str,
    content: bytes,
    filename: str,
    on: date,
    actor: str,
    case: Case | None = None,
    campaign_id: int | None = None,
    number: str | None = None,
    fingerprint: str | None = None,
    parent: Document | None = None,
    terms: Mapping[str, Any] | None = None,
) -> Document:
    """Write the file to the store and its row to the database (in the caller's transaction)."""
    suffix = Path(filename).suffix
    stored = store.put(content, suffix)
    version = _next_version(s, case.id if case else None, campaign_id, kind)
    doc = Document(
        case_id=case.id if case else None,
        campaign_id=campaign_id,
        parent_id=parent.id if parent else None,
        kind=kind,
        version=version,
        number=number,
        filename=f"{Path(filename).stem}-v{version}{suffix}",
        media_type=_media_type(suffix),
        sha256=stored.sha256,
        size=stored.size,
        fingerprint=fingerprint,
        terms=dict(terms) if terms is not None else None,
        issued_on=on,
        issued_by=actor,
    )
    s.add(doc)
    s.flush()
    return doc


def render(kind: str, context: Mapping[str, Any]) -> bytes:
    """The Word template of `kind` filled with `context`."""
    return render_docx(templates_dir() / TEMPLATES[kind], context)


def pdf_of(
    s: Session, store: DocumentStore, doc: Document, case: Case | None, on: date, actor: str
) -> Document:
    """Store the PDF of a stored Word document (LibreOffice headless), as its child."""
    with tempfile.TemporaryDirectory(prefix="fidelis-pdf-") as tmp:
        source = Path(tmp) / Path(doc.filename).name
        source.write_bytes(store.read(stored_path(doc), doc.sha256))
        content = to_pdf(source, Path(tmp)).read_bytes()
    return store_document(
        s,
        store,
        kind=f"{doc.kind}_pdf",
        content=content,
        filename=Path(doc.filename).with_suffix(".pdf").name.replace(f"-v{doc.version}", ""),
        on=on,
        actor=actor,
        case=case,
        number=doc.number,
        parent=doc,
    )


def invalidate_stale_contracts(s: Session, case: Case, reason: str) -> list[str]:
    """Mark the case's issued contracts that no longer match it as invalidated; return a French
    message per contract so the caller can say so."""
    messages = []
    for doc in s.scalars(
        sa.select(Document).where(
            Document.case_id == case.id, Document.kind == "contract", Document.status == "issued"
        )
    ):
        if doc.fingerprint != contract_fingerprint(case, doc.terms) or case.state in (
            State.WITHDRAWN,
            State.REJECTED,
        ):
            doc.status = "invalidated"
            doc.status_reason = reason
            void_requests(s, doc, reason)  # its electronic signatures go with it (issue 16)
            messages.append(
                f"Le contrat {doc.filename} du dossier {case.id} est invalidé ({reason}) : "
                "il faudra le régénérer et le faire signer."
            )
    return messages


LETTER_CONTEXTS: Mapping[str, Callable[..., dict[str, Any]]] = {
    "recovery_order": contexts.recovery_order_context,
    "completion_certificate": contexts.completion_certificate_context,
    "amendment": contexts.amendment_context,
}


def issue_letter(
    s: Session,
    store: DocumentStore,
    case: Case,
    scheme: Scheme,
    kind: str,
    on: date,
    actor: str,
    **extra: Any,
) -> Document:
    """Render and store a letter of `case` (recovery order, completion certificate, amendment)
    inside the caller's transaction."""
    s.flush()
    s.refresh(case)
    context = LETTER_CONTEXTS[kind](
        case, scheme, default_territory(), issued_on=on, place=scheme.documents.place, **extra
    )
    base = case.contract_number or f"dossier-{case.id}"
    return store_document(
        s,
        store,
        kind=kind,
        content=render(kind, context),
        filename=f"{base}-{kind}.docx",
        on=on,
        actor=actor,
        case=case,
        number=case.contract_number,
    )


def document_rows(s: Session, case_id: int) -> list[dict[str, Any]]:
    docs = s.scalars(
        sa.select(Document).where(Document.case_id == case_id).order_by(Document.id)
    ).all()
    return [
        {
            "id": d.id,
            "kind": d.kind,
            "label": KIND_LABELS.get(d.kind, d.kind),
            "version": d.version,
            "number": d.number,
            "filename": d.filename,
            "sha256": d.sha256,
            "status": d.status,
            "status_reason": d.status_reason,
            "issued_on": d.issued_on.isoformat(),
            "signatures": [
                {"party": g.party, "name": g.signer_name, "on": g.signed_on.isoformat()}
                for g in d.signatures
            ],
        }
        for d in docs
    ]


def export_document(
    uow: UnitOfWork, document_id: int, out: Path, store: DocumentStore | None = None
) -> Path:
    """Copy a stored document to `out` (a file, or a folder to put it in under its name)."""
    store = store or default_store()
    with uow:
        doc = uow.session.get(Document, document_id)
        if doc is None:
            raise NotFound("Document", document_id)
        content = read_document(store, doc)
        target = out / doc.filename if out.is_dir() else out
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return target


__all__ = [
    "DOCX",
    "KIND_LABELS",
    "PDF",
    "TEMPLATES",
    "XLSX",
    "DocumentInfo",
    "DocumentPurged",
    "contract_fingerprint",
    "current_contract",
    "default_store",
    "document_rows",
    "export_document",
    "invalidate_stale_contracts",
    "issue_letter",
    "pdf_of",
    "read_document",
    "render",
    "store_document",
    "stored_path",
]
