"""The files a party attaches to its case (issue 15): a learner's application attachments, RIB,
identity document, diploma and attestations, an employer's attestations, and the proof of a
declaration (workflow.declarations). Each is a `documents` row of its kind, its content in the
document store (workflow.documents.store), checked by its first bytes and bounded like a
message's attachment (workflow.documents.scans).

Who may download one is decided here: the Région's agents every one, the party that attached it
its own, and the employer also the attachments of an application made to it; anyone else gets
the 404 of a document that does not exist (workflow.web.pages.document)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import accounts, validation
from workflow.accounts import Principal
from workflow.archive import DocumentStore
from workflow.clock import Clock, today_paris
from workflow.db import UnitOfWork
from workflow.documents.scans import attachment_suffix
from workflow.documents.store import default_store, store_document
from workflow.errors import InvalidInput
from workflow.models import Case, Document
from workflow.threads import Attachment

# The kinds a party attaches, by the party that attaches them, with their French labels.
KINDS: Mapping[str, str] = {
    "learner_application": "Pièce jointe à la candidature",
    "learner_rib": "RIB",
    "learner_identity": "Pièce d'identité",
    "learner_diploma": "Diplôme",
    "learner_attestation": "Attestation",
    "learner_proof": "Justificatif d'une déclaration",
    "employer_attestation": "Attestation de l'employeur",
    "employer_proof": "Justificatif d'une déclaration",
    "institute_proof": "Justificatif d'une déclaration",
}
PARTY_OF_KIND = {"learner": "Apprenant", "employer": "Employeur", "institute": "Institut"}
# What a party chooses from on its page (the proofs come with their declaration).
CHOICES: Mapping[str, tuple[str, ...]] = {
    "learner": ("learner_rib", "learner_identity", "learner_diploma", "learner_attestation"),
    "employer": ("employer_attestation",),
}
# Who besides the Région and the attaching party reads a kind: the employer an application's.
ALSO_READ_BY: Mapping[str, frozenset[str]] = {"learner_application": frozenset({"employer"})}
MAX_FILES = 5  # one form: a letter's CV and diplomas, not an archive


def party_of(who: Principal) -> str:
    """The party `who` attaches as; InvalidInput for the Région's agents and the institutes."""
    if who.role not in CHOICES:
        raise InvalidInput("Seuls l'apprenant et l'employeur joignent ici leurs pièces.", "kind")
    return who.role


def checked(files: Sequence[Attachment]) -> list[tuple[Attachment, str]]:
    """Each file with the suffix it is stored under; InvalidInput (French) for an empty, too
    large or unknown one, or too many: checked before anything is written."""
    if len(files) > MAX_FILES:
        raise InvalidInput(f"Au plus {MAX_FILES} pièces jointes à la fois.", "file")
    return [(f, attachment_suffix(f.content, validation.shown(f.name))) for f in files]


def store_attachment(
    s: Session,
    case: Case,
    kind: str,
    file: Attachment,
    suffix: str,
    *,
    on: date,
    actor: str,
    store: DocumentStore | None = None,
) -> Document:
    """Store one checked file of `kind` on the case, in the caller's transaction."""
    return store_document(
        s,
        store or default_store(),
        kind=kind,
        content=file.content,
        filename=f"{kind.split('_', 1)[1]}-{case.id}{suffix}",
        on=on,
        actor=actor,
        case=case,
    )


def attach(
    uow: UnitOfWork,
    who: Principal,
    case_id: int,
    kind: str,
    file: Attachment,
    *,
    store: DocumentStore | None = None,
    clock: Clock = today_paris,
) -> int:
    """A party attaches a document of `kind` to its own case; returns its id. A case it may not
    see is NotFound; a kind not its own, or a bad file, InvalidInput — nothing written."""
    party = party_of(who)
    if kind not in CHOICES[party]:
        labels = ", ".join(f"« {KINDS[k]} »" for k in CHOICES[party])
        raise InvalidInput(f"Choisissez le type de pièce : {labels}.", "kind")
    ((_, suffix),) = checked([file])
    with uow:
        s = uow.session
        accounts.ensure_visible(s, who, case_id)
        case = s.get_one(Case, case_id)
        doc = store_attachment(
            s,
            case,
            kind,
            file,
            suffix,
            on=max(clock(), case.last_effective_date),
            actor=who.actor,
            store=store,
        )
        uow.commit()
        return doc.id


def may_download(who: Principal, doc: Document) -> bool:
    """Whether `who`, who may see the document's case, may read this party's attachment (other
    documents are not this module's: True)."""
    if doc.kind not in KINDS or accounts.is_staff(who):
        return True
    return doc.kind.startswith(f"{who.role}_") or who.role in ALSO_READ_BY.get(doc.kind, ())


def case_attachments(s: Session, who: Principal, case_id: int) -> list[dict[str, Any]]:
    """The parties' attachments of a case `who` may read, oldest first (one query). The
    caller has checked that `who` sees the case."""
    docs = s.scalars(
        sa.select(Document)
        .where(Document.case_id == case_id, Document.kind.in_(sorted(KINDS)))
        .order_by(Document.id)
    ).all()
    return [
        {
            "id": d.id,
            "kind": d.kind,
            "label": KINDS[d.kind],
            "party": PARTY_OF_KIND[d.kind.split("_", 1)[0]],
            "filename": d.filename,
            "issued_on": d.issued_on,
            "status": d.status,
        }
        for d in docs
        if may_download(who, d)
    ]


def missing_file() -> InvalidInput:
    """The refusal of a form sent without its file."""
    return InvalidInput("Choisissez le fichier à joindre (PDF ou image, 10 Mo au plus).", "file")


__all__ = [
    "CHOICES",
    "KINDS",
    "MAX_FILES",
    "attach",
    "case_attachments",
    "checked",
    "may_download",
    "missing_file",
    "party_of",
    "store_attachment",
]
