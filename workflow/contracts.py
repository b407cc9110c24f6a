"""The contract's life around the case (SPEC §5): issue (numbered, rendered, stored), sign by
the three parties, attach the signed scan, invalidate when the case changes, and the letters the
case service issues on its own (recovery order, completion certificate, amendment).

A document row is written in the same transaction as the event that records it; its file is in
the content-addressed store (workflow.archive), so an issued document never changes."""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow.archive import DocumentStore
from workflow.clock import Clock, today_paris
from workflow.db import UnitOfWork
from workflow.errors import InvalidInput, NotFound
from workflow.models import Campaign, Case, Document, Offer, Signature
from workflow.numbering import next_contract_number
from workflow.paths import templates_dir
from workflow.schemes import Scheme, SchemeRegistry, registry
from workflow.settings import settings
from workflow.states import STATE_LABELS, GuardContext, State, Trigger, failed_guards
from workflow.territory import Territory, default_territory

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

PARTIES = {"learner": "l'apprenant", "employer": "l'employeur", "region": "le financeur"}
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
    "signed_scan": "Contrat signé (scan)",
    "recovery_order": "Ordre de reversement",
    "completion_certificate": "Attestation de fin d'engagement",
    "amendment": "Avenant",
    "campaign_employers": "Liste des employeurs",
    "campaign_employers_xlsx": "Liste des employeurs (tableur)",
}
# Where a contract may still be issued or re-issued: before it is signed.
ISSUABLE_STATES = frozenset({State.SELECTED})


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


def contract_fingerprint(case: Case) -> str:
    """What a contract states that may change after it is issued (tier, dates, IBAN, parties)."""
    learner = case.learner
    facts = {
        "tier": case.tier,
        "training": [learner.training_start.isoformat(), learner.training_end.isoformat()],
        "iban": learner.iban,
        "learner": [learner.first_name, learner.last_name, learner.birth_date.isoformat()],
        "employer": case.offer.employer_id,
    }
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


def _record_event(
    s: Session, case: Case, trigger: str, on: date, actor: str, payload: dict[str, Any]
) -> None:
    from workflow.cases import record_event

    record_event(s, case, trigger, case.state, case.state, on, actor, None, payload)


def _next_version(s: Session, case_id: int | None, campaign_id: int | None, kind: str) -> int:
    owner = Document.case_id == case_id if case_id else Document.campaign_id == campaign_id
    current = s.scalar(sa.select(sa.func.max(Document.version)).where(owner, Document.kind == kind))
    return (current or 0) + 1


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
        media_type=mimetypes.types_map.get(suffix, "application/octet-stream")
        if suffix not in (".docx", ".xlsx")
        else (DOCX if suffix == ".docx" else XLSX),
        sha256=stored.sha256,
        size=stored.size,
        fingerprint=fingerprint,
        issued_on=on,
        issued_by=actor,
    )
    s.add(doc)
    s.flush()
    return doc


def _render(kind: str, context: Mapping[str, Any]) -> bytes:
    from workflow.documents.render import render_docx

    return render_docx(templates_dir() / TEMPLATES[kind], context)


def _load(s: Session, case_id: int) -> Case:
    case = s.get(Case, case_id)
    if case is None:
        raise NotFound("Dossier", case_id)
    return case


def _not_before_last_event(case: Case, on: date) -> None:
    if on < case.last_effective_date:
        raise InvalidInput(
            f"La date ({on:%d/%m/%Y}) précède le dernier événement du dossier "
            f"({case.last_effective_date:%d/%m/%Y})."
        )


def generate_contract(
    uow: UnitOfWork,
    case_id: int,
    *,
    tier: str | None = None,
    on: date | None = None,
    actor: str = "système",
    pdf: bool = False,
    store: DocumentStore | None = None,
    schemes: SchemeRegistry | None = None,
    territory: Territory | None = None,
    clock: Clock = today_paris,
) -> DocumentInfo:
    """Issue the case's contract (a new version if one exists: the old one is kept, superseded).
    The number is given on first issue, gapless per scheme and year."""
    store = store or default_store()
    effective = on or clock()
    with uow:
        s = uow.session
        case = _load(s, case_id)
        scheme = (schemes or registry())[case.scheme_id]
        if case.state not in ISSUABLE_STATES:
            raise InvalidInput(
                f"Le contrat s'émet quand l'apprenant est retenu "
                f"(état « {STATE_LABELS[State.SELECTED]} ») ; "
                f"ce dossier est « {STATE_LABELS[case.state]} »."
            )
        _not_before_last_event(case, effective)
        if tier is not None:
            case.tier = tier
        _require_contract_data(s, case, scheme, effective)
        previous = current_contract(s, case.id)
        if previous is not None:
            previous.status = "superseded"
            previous.status_reason = "Remplacé par une nouvelle version."
        if case.contract_number is None:
            case.contract_number = next_contract_number(s, scheme, case.campaign.year)
        doc = _issue_contract(s, store, case, scheme, territory, effective, actor)
        payload: dict[str, Any] = {
            "document": doc.id,
            "version": doc.version,
            "number": doc.number,
            "sha256": doc.sha256,
        }
        if pdf:
            pdf_doc = _pdf_of(s, store, doc, case, effective, actor)
            payload["pdf"] = pdf_doc.id
        case.last_effective_date = effective
        _record_event(s, case, "contract_issued", effective, actor, payload)
        info = DocumentInfo.of(doc, store)
        uow.commit()
        return info


def _require_contract_data(s: Session, case: Case, scheme: Scheme, on: date) -> None:
    """A contract states the tier, the IBAN and the training dates: the `sign` guards on them
    must already hold (workflow.states), so a contract is never issued with a blank."""
    from workflow.errors import GuardFailed
    from workflow.facts import DbFacts

    ctx = GuardContext(case.state, on, DbFacts(s, case, scheme), None, None, {})
    wanted = {"tier_chosen", "valid_iban", "training_dates"}
    failures = [f for f in failed_guards(Trigger.SIGN, ctx) if f[0] in wanted]
    if failures:
        raise GuardFailed("contract generate", failures, "Émettre le contrat")


def _issue_contract(
    s: Session,
    store: DocumentStore,
    case: Case,
    scheme: Scheme,
    territory: Territory | None,
    on: date,
    actor: str,
) -> Document:
    from workflow.documents.context import contract_context

    assert case.contract_number is not None
    context = contract_context(
        case,
        scheme,
        territory or default_territory(),
        number=case.contract_number,
        issued_on=on,
        place=scheme.documents.place,
    )
    return store_document(
        s,
        store,
        kind="contract",
        content=_render("contract", context),
        filename=f"{case.contract_number}.docx",
        on=on,
        actor=actor,
        case=case,
        number=case.contract_number,
        fingerprint=contract_fingerprint(case),
    )


def _pdf_of(
    s: Session, store: DocumentStore, doc: Document, case: Case | None, on: date, actor: str
) -> Document:
    import tempfile

    from workflow.documents.pdf import to_pdf

    with tempfile.TemporaryDirectory(prefix="fidelis-pdf-") as tmp:
        source = Path(tmp) / Path(doc.filename).name
        source.write_bytes(store.read(stored_path(doc), doc.sha256))
        pdf_path = to_pdf(source, Path(tmp))
        content = pdf_path.read_bytes()
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


def sign_contract(
    uow: UnitOfWork,
    case_id: int,
    *,
    party: str,
    on: date,
    name: str,
    actor: str = "système",
) -> list[str]:
    """Record one party's signature on the current contract; return the parties still to sign."""
    if party not in PARTIES:
        raise InvalidInput(
            f"Partie inconnue « {party} » (parties : {', '.join(PARTIES)}).", "party"
        )
    signer = name.strip()
    if not signer:
        raise InvalidInput("Le nom du signataire est obligatoire.", "name")
    with uow:
        s = uow.session
        case = _load(s, case_id)
        doc = current_contract(s, case.id)
        if doc is None:
            raise InvalidInput(
                "Aucun contrat émis pour ce dossier : lancez d'abord « fidelis contract generate »."
            )
        if doc.fingerprint != contract_fingerprint(case):
            raise InvalidInput(
                "Le dossier a changé depuis l'émission du contrat : régénérez-le avant signature."
            )
        if on < doc.issued_on:
            raise InvalidInput(
                f"Signature datée du {on:%d/%m/%Y}, avant l'émission du contrat "
                f"({doc.issued_on:%d/%m/%Y})."
            )
        _not_before_last_event(case, on)
        existing = {sig.party: sig for sig in doc.signatures}
        if party in existing:
            raise InvalidInput(
                f"Le contrat {doc.filename} est déjà signé par {PARTIES[party]} "
                f"({existing[party].signer_name}, le {existing[party].signed_on:%d/%m/%Y})."
            )
        s.add(
            Signature(
                document_id=doc.id,
                party=party,
                signer_name=signer,
                signed_on=on,
                recorded_by=actor,
            )
        )
        case.last_effective_date = on
        _record_event(
            s,
            case,
            "contract_signed",
            on,
            actor,
            {"document": doc.id, "party": party, "name": signer},
        )
        uow.commit()
        return [p for p in PARTIES if p not in existing and p != party]


def attach_scan(
    uow: UnitOfWork,
    case_id: int,
    file: Path,
    *,
    on: date,
    actor: str = "système",
    store: DocumentStore | None = None,
) -> DocumentInfo:
    """Attach the scan of the signed contract to the current contract."""
    store = store or default_store()
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Fichier illisible : {file} ({exc.strerror}).", "file") from None
    if not content:
        raise InvalidInput(f"Le fichier {file} est vide.", "file")
    with uow:
        s = uow.session
        case = _load(s, case_id)
        doc = current_contract(s, case.id)
        if doc is None:
            raise InvalidInput("Aucun contrat émis pour ce dossier.")
        scan = store_document(
            s,
            store,
            kind="signed_scan",
            content=content,
            filename=f"{doc.number}-signe{file.suffix.lower() or '.pdf'}",
            on=on,
            actor=actor,
            case=case,
            number=doc.number,
            parent=doc,
        )
        _record_event(
            s,
            case,
            "scan_attached",
            max(on, case.last_effective_date),
            actor,
            {"document": scan.id, "contract": doc.id, "sha256": scan.sha256},
        )
        info = DocumentInfo.of(scan, store)
        uow.commit()
        return info


def invalidate_stale_contracts(s: Session, case: Case, reason: str) -> list[str]:
    """Mark the case's issued contracts that no longer match it as invalidated; return a French
    message per contract so the caller can say so."""
    fingerprint = contract_fingerprint(case)
    messages = []
    for doc in s.scalars(
        sa.select(Document).where(
            Document.case_id == case.id, Document.kind == "contract", Document.status == "issued"
        )
    ):
        if doc.fingerprint != fingerprint or case.state in (State.WITHDRAWN, State.REJECTED):
            doc.status = "invalidated"
            doc.status_reason = reason
            messages.append(
                f"Le contrat {doc.filename} du dossier {case.id} est invalidé ({reason}) : "
                "il faudra le régénérer et le faire signer."
            )
    return messages


# -- letters the case service issues on its own ------------------------------------------------


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
    from workflow.documents import context as ctx

    builders: dict[str, Callable[..., dict[str, Any]]] = {
        "recovery_order": ctx.recovery_order_context,
        "completion_certificate": ctx.completion_certificate_context,
        "amendment": ctx.amendment_context,
    }
    s.flush()
    s.refresh(case)
    context = builders[kind](
        case, scheme, default_territory(), issued_on=on, place=scheme.documents.place, **extra
    )
    base = case.contract_number or f"dossier-{case.id}"
    return store_document(
        s,
        store,
        kind=kind,
        content=_render(kind, context),
        filename=f"{base}-{kind}.docx",
        on=on,
        actor=actor,
        case=case,
        number=case.contract_number,
    )


# -- campaigns ---------------------------------------------------------------------------------


def campaign_employer_list(
    uow: UnitOfWork,
    campaign_id: int,
    *,
    on: date,
    actor: str = "système",
    store: DocumentStore | None = None,
    schemes: SchemeRegistry | None = None,
) -> list[DocumentInfo]:
    """The campaign's list of employers for the institutes, as .docx and .xlsx."""
    from workflow.documents.context import campaign_list_context
    from workflow.documents.xlsx import campaign_list_xlsx

    store = store or default_store()
    with uow:
        s = uow.session
        campaign = s.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFound("Campagne", campaign_id)
        scheme = (schemes or registry())[campaign.scheme_id]
        offers = list(
            s.scalars(sa.select(Offer).where(Offer.campaign_id == campaign_id).order_by(Offer.id))
        )
        context = campaign_list_context(campaign, offers, scheme, default_territory())
        name = f"{scheme.contract_prefix}-{campaign.year}-employeurs"
        docs = [
            store_document(
                s,
                store,
                kind="campaign_employers",
                content=_render("campaign_employers", context),
                filename=f"{name}.docx",
                on=on,
                actor=actor,
                campaign_id=campaign_id,
            ),
            store_document(
                s,
                store,
                kind="campaign_employers_xlsx",
                content=campaign_list_xlsx(context),
                filename=f"{name}.xlsx",
                on=on,
                actor=actor,
                campaign_id=campaign_id,
            ),
        ]
        infos = [DocumentInfo.of(d, store) for d in docs]
        uow.commit()
        return infos


def cases_awaiting_contract(uow: UnitOfWork, campaign_id: int) -> list[int]:
    """Selected cases of a campaign without a current contract (for batch generation)."""
    with uow:
        s = uow.session
        if s.get(Campaign, campaign_id) is None:
            raise NotFound("Campagne", campaign_id)
        issued = sa.select(Document.case_id).where(
            Document.kind == "contract", Document.status == "issued"
        )
        return list(
            s.scalars(
                sa.select(Case.id)
                .where(
                    Case.campaign_id == campaign_id,
                    Case.state == State.SELECTED,
                    Case.id.not_in(issued.where(Document.case_id.is_not(None))),
                )
                .order_by(Case.id)
            )
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
        content = store.read(stored_path(doc), doc.sha256)
        target = out / doc.filename if out.is_dir() else out
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    return target


__all__ = [
    "attach_scan",
    "campaign_employer_list",
    "cases_awaiting_contract",
    "current_contract",
    "document_rows",
    "export_document",
    "generate_contract",
    "invalidate_stale_contracts",
    "issue_letter",
    "sign_contract",
]
