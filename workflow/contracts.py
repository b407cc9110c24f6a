"""The contract's use cases (SPEC §5): issue (numbered, rendered, stored), sign by the three
parties, attach the signed scan, and the campaign's list of employers for the institutes.

Each is one transaction that goes through the case service's gate (`workflow.cases.act`): the
action's guards (workflow.states) judge it and the one event writer records it. The files are kept
by the document store below (workflow.documents.store)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from workflow import cases, ledger
from workflow.archive import DocumentStore
from workflow.clock import Clock, today_paris
from workflow.db import UnitOfWork
from workflow.documents.context import campaign_list_context, contract_context
from workflow.documents.esign_records import void_requests
from workflow.documents.scans import SCAN_MAX_BYTES, scan_suffix
from workflow.documents.store import (
    DocumentInfo,
    contract_fingerprint,
    current_contract,
    default_store,
    document_rows,
    export_document,
    pdf_of,
    render,
    store_document,
)
from workflow.documents.xlsx import campaign_list_xlsx
from workflow.errors import InvalidInput, NotFound
from workflow.models import Campaign, Case, Document, Offer, Signature
from workflow.numbering import next_contract_number
from workflow.schemes import Scheme, SchemeRegistry, registry
from workflow.states import CaseAction, State
from workflow.territory import Territory, default_territory
from workflow.validation import shown


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
    The number is given on first issue, gapless per scheme and year. The `sign` guards on the
    tier, the IBAN and the training dates must already hold, so a contract is never issued with
    a blank."""
    docs = store or default_store()
    effective = on or clock()
    with cases.changing(uow, case_id, schemes) as (s, case, scheme):
        issued: list[Document] = []

        def issue() -> dict[str, Any]:
            if tier is not None:
                case.tier = tier
            previous = current_contract(s, case.id)
            if previous is not None:
                previous.status = "superseded"
                previous.status_reason = "Remplacé par une nouvelle version."
                # Its electronic signatures (collected or awaited) go with it; the signers are
                # told (issue 16: a tier change, say, voids them).
                void_requests(s, previous, "remplacé par une nouvelle version du contrat")
            if case.contract_number is None:
                case.contract_number = next_contract_number(s, scheme, case.campaign.year)
            doc = _issue_contract(s, docs, case, scheme, territory, effective, actor)
            issued.append(doc)
            payload: dict[str, Any] = {
                "document": doc.id,
                "version": doc.version,
                "number": doc.number,
                "sha256": doc.sha256,
                "tier": case.tier,
            }
            if pdf:
                payload["pdf"] = pdf_of(s, docs, doc, case, effective, actor).id
            return payload

        cases.act(
            s,
            case,
            scheme,
            CaseAction.CONTRACT_ISSUED,
            on=effective,
            actor=actor,
            params={"tier": tier} if tier is not None else {},
            effects=issue,
        )
        info = DocumentInfo.of(issued[0], docs)
        return info


def _issue_contract(
    s: Any,
    store: DocumentStore,
    case: Case,
    scheme: Scheme,
    territory: Territory | None,
    on: date,
    actor: str,
) -> Document:
    assert case.contract_number is not None
    assert case.tier is not None
    # The terms the contract fixes: the scheme's values for its tier in force on its issue day.
    terms = ledger.ContractTerms.of(scheme, case.tier, on).record()
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
        content=render("contract", context),
        filename=f"{case.contract_number}.docx",
        on=on,
        actor=actor,
        case=case,
        number=case.contract_number,
        fingerprint=contract_fingerprint(case, terms),
        terms=terms,
    )


def sign_contract(
    uow: UnitOfWork,
    case_id: int,
    *,
    party: str,
    on: date,
    name: str,
    actor: str = "système",
    schemes: SchemeRegistry | None = None,
) -> list[str]:
    """Record one party's signature on the current contract; return the parties still to sign."""
    with cases.changing(uow, case_id, schemes) as (s, case, scheme):
        doc = current_contract(s, case.id)
        signer = name.strip()

        def signed() -> dict[str, Any]:
            assert doc is not None  # the `contract_current` guard said so
            signature = Signature(
                document_id=doc.id, party=party, signer_name=signer, signed_on=on, recorded_by=actor
            )
            s.add(signature)
            s.flush()
            # The name stays in `signatures`, which the retention purge anonymises.
            return {"document": doc.id, "party": party, "signature": signature.id}

        cases.act(
            s,
            case,
            scheme,
            CaseAction.CONTRACT_SIGNED,
            on=on,
            actor=actor,
            params={"party": party, "name": signer},
            effects=signed,
        )
        assert doc is not None
        done = {sig.party for sig in doc.signatures} | {party}
        return [p for p in scheme.signing_parties() if p not in done]


def attach_scan(
    uow: UnitOfWork,
    case_id: int,
    file: Path,
    *,
    on: date | None = None,
    actor: str = "système",
    store: DocumentStore | None = None,
    schemes: SchemeRegistry | None = None,
) -> DocumentInfo:
    """Attach the scan of the signed contract to the current contract. Unless given, its date is
    the case's last event's: an attachment recorded months later neither moves the case's
    dates forward nor blocks the automatic transitions due in between."""
    try:
        with file.open("rb") as handle:  # a byte past the limit is enough to refuse it
            content = handle.read(SCAN_MAX_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"Fichier illisible : {file} ({exc.strerror}).", "file") from None
    return attach_scan_content(
        uow, case_id, content, file.name, on=on, actor=actor, store=store, schemes=schemes
    )


def attach_scan_content(
    uow: UnitOfWork,
    case_id: int,
    content: bytes,
    name: str,
    *,
    on: date | None = None,
    actor: str = "système",
    store: DocumentStore | None = None,
    schemes: SchemeRegistry | None = None,
) -> DocumentInfo:
    """`attach_scan` for a file already read (the case page's upload), named `name`."""
    docs = store or default_store()
    suffix = scan_suffix(content, shown(name))
    with cases.changing(uow, case_id, schemes) as (s, case, scheme):
        doc = current_contract(s, case.id)
        effective = on or case.last_effective_date
        stored: list[Document] = []

        def attach() -> dict[str, Any]:
            assert doc is not None  # the `contract_exists` guard said so
            scan = store_document(
                s,
                docs,
                kind="signed_scan",
                content=content,
                filename=f"{doc.number}-signe{suffix}",
                on=effective,
                actor=actor,
                case=case,
                number=doc.number,
                parent=doc,
            )
            stored.append(scan)
            return {"document": scan.id, "contract": doc.id, "sha256": scan.sha256}

        cases.act(
            s, case, scheme, CaseAction.SCAN_ATTACHED, on=effective, actor=actor, effects=attach
        )
        info = DocumentInfo.of(stored[0], docs)
        return info


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
                content=render("campaign_employers", context),
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


__all__ = [
    "DocumentInfo",
    "attach_scan",
    "attach_scan_content",
    "campaign_employer_list",
    "cases_awaiting_contract",
    "document_rows",
    "export_document",
    "generate_contract",
    "sign_contract",
]
