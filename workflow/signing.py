"""What the public signing page (`/signature/<token>`, workflow.web.signing) reads: the request a
link's token names, the contract PDF its signer reads, where the signature stands. No account:
the token is the credential, so it names one request (one party of one contract PDF), is signed
with the deployment's secret, and expires (workflow.esign.LINK_TTL after it was made). The use
cases themselves (codes, signature, refusal) stay in workflow.esign."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow.documents.store import current_contract
from workflow.errors import NotFound
from workflow.esign import CODE_TTL, CONSENT, LINK_TTL, read_token, signing_link
from workflow.models import Case, Document, EsignRequest
from workflow.schemes import EMPLOYER, LEARNER, SchemeRegistry, registry

__all__ = [
    "RESEND_AFTER",
    "SigningPage",
    "contract_pdf",
    "mask_email",
    "signing_page",
    "turn_email",
    "unsigned_context",
]

# A new code at most once a minute: the page must not become a way to flood someone's inbox.
RESEND_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class Signer:
    label: str
    name: str
    status: str
    signed_at: datetime | None


@dataclass(frozen=True)
class SigningPage:
    """One signer's view of their request."""

    request_id: int
    case_id: int
    party: str
    party_label: str
    signer_name: str
    email: str  # masked: the page shows where the code goes, not the whole address
    status: str  # pending, signed, refused, invalidated
    expired: bool
    contract_number: str
    learner: str
    employer: str
    pdf_id: int
    filename: str
    sha256: str
    consent: str
    signers: list[Signer]
    waiting_for: str | None  # who must sign first, when it is not this party's turn
    code_sent: bool  # a code is in force: the page offers its input
    code_sent_at: datetime | None
    signed_at: datetime | None
    reason: str | None

    @property
    def open(self) -> bool:
        """The signer may ask for a code, sign or refuse now."""
        return self.status == "pending" and not self.expired and self.waiting_for is None

    def may_resend(self, now: datetime) -> bool:
        return self.code_sent_at is None or now - self.code_sent_at >= RESEND_AFTER


def mask_email(email: str) -> str:
    """« c•••@exemple.fr »: enough for the signer to recognise their address."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


def signing_page(s: Session, token: str, now: datetime) -> SigningPage:
    """The page of `token`'s request; NotFound (one message for all) when the token was not
    made here or names nothing."""
    try:
        request_id, made = read_token(token)
    except NotFound:
        raise NotFound("Lien de signature", "inconnu") from None
    request = s.get(EsignRequest, request_id)
    pdf = s.get(Document, request.pdf_id) if request is not None else None
    case = s.get(Case, request.case_id) if request is not None else None
    if request is None or pdf is None or case is None:
        raise NotFound("Lien de signature", "inconnu")
    scheme = registry()[case.scheme_id]
    requests = list(
        s.scalars(
            sa.select(EsignRequest)
            .where(EsignRequest.pdf_id == request.pdf_id)
            .order_by(EsignRequest.position)
        )
    )
    before = [r for r in requests if r.position < request.position and r.status != "signed"]
    expires = request.code_expires_at
    code_live = request.code_hash is not None and expires is not None and expires > now
    return SigningPage(
        request_id=request.id,
        case_id=case.id,
        party=request.party,
        party_label=scheme.party_label(request.party),
        signer_name=request.signer_name,
        email=mask_email(request.email),
        status=request.status,
        expired=now - made > LINK_TTL,
        contract_number=pdf.number or case.contract_number or "",
        learner=case.learner.full_name,
        employer=case.offer.employer.name,
        pdf_id=pdf.id,
        filename=pdf.filename,
        sha256=request.document_sha256,
        consent=CONSENT,
        signers=[
            Signer(scheme.party_label(r.party), r.signer_name, r.status, r.signed_at)
            for r in requests
        ],
        waiting_for=before[0].signer_name if before else None,
        code_sent=code_live,
        code_sent_at=expires - CODE_TTL if code_live and expires else None,
        signed_at=request.signed_at,
        reason=request.reason,
    )


def contract_pdf(s: Session, page: SigningPage) -> Document:
    """The PDF the page's signer reads (the one whose SHA-256 they sign)."""
    doc = s.get(Document, page.pdf_id)
    if doc is None:
        raise NotFound("Document", page.pdf_id)
    return doc


def turn_email(contract_id: object) -> sa.ScalarSelect[str]:
    """SQL: the e-mail of the party whose turn it is to sign contract `contract_id` (a column
    or a value) electronically; NULL when no electronic signature is under way."""
    return (
        sa.select(EsignRequest.email)
        .where(EsignRequest.contract_id == contract_id, EsignRequest.status == "pending")
        .order_by(EsignRequest.position)
        .limit(1)
        .scalar_subquery()
    )


def unsigned_context(
    s: Session, case_id: int, recipient: str, schemes: SchemeRegistry
) -> dict[str, object]:
    """What the reminder of an unsigned contract says (SPEC §6): who has not signed yet, in
    the scheme's order, and — when an electronic signature is under way and it is the
    recipient's turn — the link to their signing page. A link is a credential: it goes only to
    the address its request names."""
    case = s.get(Case, case_id)
    assert case is not None
    scheme = schemes[case.scheme_id]
    doc = current_contract(s, case_id)
    signed = {sig.party for sig in doc.signatures} if doc is not None else set()
    requests = (
        list(
            s.scalars(
                sa.select(EsignRequest)
                .where(EsignRequest.contract_id == doc.id, EsignRequest.status != "invalidated")
                .order_by(EsignRequest.position)
            )
        )
        if doc is not None
        else []
    )
    named = {r.party: r.signer_name for r in requests}
    named.setdefault(LEARNER, case.learner.full_name)
    named.setdefault(EMPLOYER, case.offer.employer.name)
    missing = [
        {"label": scheme.party_label(p), "name": named.get(p, "")}
        for p in scheme.signing_parties()
        if p not in signed
    ]
    turn = next((r for r in requests if r.status == "pending"), None)
    mine = turn is not None and turn.email.casefold() == recipient.strip().casefold()
    return {
        "missing": missing,
        "electronic": bool(requests),
        "link": signing_link(turn.id) if turn is not None and mine else "",
    }
