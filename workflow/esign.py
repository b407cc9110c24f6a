"""Electronic signature of the contract by its parties (issue 16): a simple electronic signature
(eIDAS, article 25) whose evidence makes it hold, then the funding body's seal.

- `start` fixes the PDF the parties read (the contract's PDF/A, made now if it has none) and
  its SHA-256, creates one request per signing party in the scheme's order (the learner, then
  the signing funders: the employer when it signs, then the funding body) and invites the first
  signer through the outbox; each signature invites the next.
- `send_code` gives the party whose turn it is a one-time code of six digits, sent at once by
  e-mail (it expires in ten minutes: the outbox's nightly pace would be too slow); only its
  HMAC is stored. Five wrong tries lock it: a new code is needed.
- `confirm` checks the code, then records the signature through the case service's gate (the
  same `contract_signed` action as a typed signature, so the `sign` guard stays the judge), with
  the evidence on the request row: the signer as the case knows them, the e-mail the code went
  to, the time, the IP address and user-agent, the document's SHA-256 and the consent text.
  After the last party, the PDF gets its signature page and evidence and is sealed
  (workflow.documents.seal), stored as the `contract_sealed` document, and `sign` is fired.
- `refuse` records a party's refusal with its reason (an event; the Région is told).
- A change that invalidates the contract voids its requests and tells the signers
  (`void_requests`, called by workflow.documents.store.invalidate_stale_contracts)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from workflow import cases
from workflow.archive import DocumentStore
from workflow.clock import Clock, today_paris
from workflow.db import UnitOfWork
from workflow.documents.esign_records import void_requests
from workflow.documents.store import (
    current_contract,
    default_store,
    pdf_of,
    read_document,
    store_document,
)
from workflow.errors import FidelisError, GuardFailed, NotFound, TriggerRefused
from workflow.mailer import Message, send, smtp_settings_from_env
from workflow.models import Case, Document, EsignRequest, OutboxMessage, Signature, utcnow
from workflow.schemes import EMPLOYER, LEARNER, Scheme, SchemeRegistry
from workflow.settings import settings
from workflow.states import CaseAction, Trigger

__all__ = [
    "CODE_TTL",
    "CONSENT",
    "LINK_TTL",
    "MAX_TRIES",
    "EsignRefused",
    "Invited",
    "Signed",
    "check_code",
    "code_hash",
    "confirm",
    "mail_context",
    "new_code",
    "read_token",
    "refuse",
    "request_for_token",
    "send_code",
    "signing_link",
    "start",
    "void_requests",
]

CODE_TTL = timedelta(minutes=10)
# How long an invitation's link opens the signing page; a reminder sends a fresh one.
LINK_TTL = timedelta(days=30)
MAX_TRIES = 5
CONSENT = (
    "J'ai lu le contrat ci-dessus. En saisissant le code à usage unique reçu par courriel, je le "
    "signe électroniquement et j'accepte que cette signature électronique m'engage comme une "
    "signature manuscrite."
)
PARIS = ZoneInfo("Europe/Paris")
_SALT = "fidelis-esign"


class EsignRefused(FidelisError):
    """An electronic signature refused: wrong, expired or locked code, not this party's turn."""

    def __init__(self, message: str, field: str = "code") -> None:
        super().__init__(message)
        self.field = field


# -- the one-time code (pure) -------------------------------------------------------------------


def new_code() -> str:
    """Six digits from the system's secure random source."""
    return f"{secrets.randbelow(1_000_000):06d}"


def _secret() -> bytes:
    key = settings().secret_key
    if key is None or not key.get_secret_value():
        raise FidelisError(
            "FIDELIS_SECRET_KEY n'est pas défini : les liens et les codes de signature ne "
            "peuvent pas être protégés."
        )
    return key.get_secret_value().encode()


def code_hash(secret: bytes, request_id: int, code: str) -> str:
    """The stored form of a code: an HMAC keyed by the deployment's secret and bound to its
    request, so a database read alone neither gives the code nor lets it be tried offline."""
    return hmac.new(secret, f"{request_id}:{code}".encode(), hashlib.sha256).hexdigest()


def check_code(request: EsignRequest, code: str, now: datetime, secret: bytes) -> None:
    """Judge `code` against the request's: EsignRefused (in French) when there is none, it has
    expired, it is locked, or it is wrong — counting the try (the caller commits that)."""
    if request.code_hash is None or request.code_expires_at is None:
        raise EsignRefused("Aucun code en cours : demandez un nouveau code.")
    if request.code_attempts >= MAX_TRIES:
        raise EsignRefused(
            f"Code bloqué après {MAX_TRIES} essais erronés : demandez un nouveau code."
        )
    if now >= request.code_expires_at:
        raise EsignRefused("Ce code a expiré (validité : 10 minutes) : demandez un nouveau code.")
    given = code.strip()
    if not hmac.compare_digest(code_hash(secret, request.id, given), request.code_hash):
        request.code_attempts += 1
        left = MAX_TRIES - request.code_attempts
        if left <= 0:
            raise EsignRefused(
                f"Code erroné. Code bloqué après {MAX_TRIES} essais : demandez un nouveau code."
            )
        raise EsignRefused(f"Code erroné ({left} essai(s) restant(s)).")


# -- signers and links -------------------------------------------------------------------------


@dataclass(frozen=True)
class Invited:
    party: str
    label: str
    name: str
    email: str
    position: int


def _signatory(scheme: Scheme, case: Case, party: str) -> tuple[str, str]:
    """Who signs for `party`, as the case knows them: the learner; the employer (its name and
    e-mail); another funder, from FIDELIS_ESIGN_<CODE>_NAME and _EMAIL."""
    import os

    if party == LEARNER:
        return case.learner.full_name, case.learner.email
    employer = case.offer.employer
    if party == EMPLOYER:
        if not employer.email:
            raise FidelisError(
                f"L'employeur {employer.name} n'a pas d'adresse e-mail : il ne peut pas "
                "signer électroniquement (renseignez-la, ou signez sur papier)."
            )
        return employer.name, employer.email
    name = os.environ.get(f"FIDELIS_ESIGN_{party.upper()}_NAME", "").strip()
    email = os.environ.get(f"FIDELIS_ESIGN_{party.upper()}_EMAIL", "").strip()
    if not email:
        raise FidelisError(
            f"Aucun signataire configuré pour {scheme.party_label(party)} "
            f"(FIDELIS_ESIGN_{party.upper()}_EMAIL et _NAME)."
        )
    return name or scheme.funder(party).label, email


def signing_link(request_id: int, at: datetime | None = None) -> str:
    """The link of a request's invitation: its token names the request and when it was made
    (the link expires LINK_TTL later; workflow.signing judges it)."""
    made = int((at or utcnow()).timestamp())
    token = URLSafeSerializer(_secret(), salt=_SALT).dumps([request_id, made])
    return f"{settings().public_url.rstrip('/')}/signature/{token}"


def read_token(token: str) -> tuple[int, datetime]:
    """The request id a link's token names and when the link was made; NotFound when it was
    not made here."""
    try:
        value = URLSafeSerializer(_secret(), salt=_SALT).loads(token)
    except BadSignature:
        raise NotFound("Lien de signature", token[:12]) from None
    match value:
        case [int(request_id), int(made)]:
            return request_id, datetime.fromtimestamp(made, UTC)
    raise NotFound("Lien de signature", token[:12])


def request_for_token(token: str) -> int:
    """The request id a link's token names; NotFound when it was not made here."""
    return read_token(token)[0]


def _invite(s: Session, request: EsignRequest, kind: str = "esign_invitation") -> None:
    """Queue an e-mail to the request's signer (rendered and sent by the outbox)."""
    s.add(
        OutboxMessage(
            dedup_key=f"esign:{request.id}:{kind}:{secrets.token_hex(4)}",
            case_id=request.case_id,
            kind=kind,
            due_date=today_paris(),
            recipient=request.email,
            context={"case_id": request.case_id, "esign_request_id": request.id},
        )
    )


def _requests(s: Session, pdf_id: int) -> list[EsignRequest]:
    return list(
        s.scalars(
            sa.select(EsignRequest)
            .where(EsignRequest.pdf_id == pdf_id)
            .order_by(EsignRequest.position)
        )
    )


def _open_request(s: Session, case: Case, party: str) -> EsignRequest:
    """The current contract's request of `party`, whose turn it must be."""
    doc = current_contract(s, case.id)
    found = (
        s.scalars(
            sa.select(EsignRequest).where(
                EsignRequest.contract_id == doc.id,
                EsignRequest.party == party,
                EsignRequest.status != "invalidated",
            )
        ).first()
        if doc is not None
        else None
    )
    if found is None:
        raise EsignRefused(
            "Aucune signature électronique en cours pour cette partie sur le contrat actuel.",
            "party",
        )
    if found.status == "signed":
        raise EsignRefused("Cette partie a déjà signé le contrat.", "party")
    if found.status == "refused":
        raise EsignRefused("Cette partie a refusé de signer ce contrat.", "party")
    waiting = [r for r in _requests(s, found.pdf_id) if r.position < found.position]
    unsigned = [r for r in waiting if r.status != "signed"]
    if unsigned:
        raise EsignRefused(
            f"Ce n'est pas encore le tour de cette partie : {unsigned[0].signer_name} doit "
            "signer d'abord.",
            "party",
        )
    return found


# -- use cases ---------------------------------------------------------------------------------


def start(
    uow: UnitOfWork,
    case_id: int,
    *,
    actor: str = "système",
    store: DocumentStore | None = None,
    schemes: SchemeRegistry | None = None,
    clock: Clock = today_paris,
) -> list[Invited]:
    """Send the current contract to electronic signature; return the signers in their order."""
    docs = store or default_store()
    # pyHanko is imported where a seal is made: every command line would pay for it otherwise.
    from workflow.documents import seal as sealing

    sealing.seal_key()  # no seal, no electronic signature: say so before anyone signs
    _secret()
    on = clock()
    with cases.changing(uow, case_id, schemes) as (s, case, scheme):
        invited: list[Invited] = []

        def started() -> dict[str, Any]:
            doc = current_contract(s, case.id)
            assert doc is not None  # the `contract_current` guard said so
            pdf = s.scalars(
                sa.select(Document)
                .where(Document.parent_id == doc.id, Document.kind == "contract_pdf")
                .order_by(Document.version.desc())
            ).first() or pdf_of(s, docs, doc, case, max(on, doc.issued_on), actor)
            existing = {r.party: r for r in _requests(s, pdf.id)}
            done = {sig.party for sig in doc.signatures}
            for position, party in enumerate(scheme.signing_parties(), start=1):
                name, email = _signatory(scheme, case, party)
                request = existing.get(party)
                if request is None:
                    request = EsignRequest(
                        case_id=case.id,
                        contract_id=doc.id,
                        pdf_id=pdf.id,
                        document_sha256=pdf.sha256,
                        party=party,
                        position=position,
                        signer_name=name,
                        email=email,
                        status="signed" if party in done else "pending",
                    )
                    s.add(request)
                invited.append(Invited(party, scheme.party_label(party), name, email, position))
            s.flush()
            first = next((r for r in _requests(s, pdf.id) if r.status == "pending"), None)
            if first is not None:
                _invite(s, first)
            return {"document": pdf.id, "sha256": pdf.sha256, "parties": [i.party for i in invited]}

        cases.act(
            s,
            case,
            scheme,
            CaseAction.ESIGN_STARTED,
            on=max(on, case.last_effective_date),
            actor=actor,
            effects=started,
        )
        return invited


def send_code(
    uow: UnitOfWork,
    case_id: int,
    party: str,
    *,
    now: Callable[[], datetime] = utcnow,
) -> str:
    """Give `party` a new one-time code, e-mailed at once; return the address it went to."""
    smtp = smtp_settings_from_env()
    if smtp is None:
        raise EsignRefused(
            "L'envoi des courriels n'est pas configuré (FIDELIS_SMTP_HOST) : aucun code ne "
            "peut être envoyé.",
            "party",
        )
    secret = _secret()
    code = new_code()
    with uow:
        s = uow.session
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound("Dossier", case_id)
        request = _open_request(s, case, party)
        request.code_hash = code_hash(secret, request.id, code)
        request.code_expires_at = now() + CODE_TTL
        request.code_attempts = 0
        email, number = request.email, case.contract_number or ""
        uow.commit()
    send(
        smtp,
        Message(
            to=email,
            subject=f"Votre code de signature du contrat {number}",
            text=(
                "Bonjour,\n\n"
                f"Votre code pour signer le contrat de fidélisation n° {number} : {code}\n\n"
                "Il est valable 10 minutes et ne peut servir qu'une fois. Ne le communiquez à "
                "personne : il vaut votre signature.\n\n"
                "Si vous n'avez rien demandé, ignorez ce message.\n"
            ),
        ),
    )
    return email


@dataclass(frozen=True)
class Signed:
    party: str
    missing: list[str]
    sealed: int | None  # the sealed contract's document id, once the last party signed
    state: str


def _evidence(
    s: Session, requests: list[EsignRequest], pdf: Document, scheme: Scheme
) -> dict[str, Any]:
    return {
        "document": {
            "sha256": pdf.sha256,
            "length": pdf.size,
            "number": pdf.number,
            "filename": pdf.filename,
        },
        "signature_level": "signature électronique simple (règlement eIDAS, article 25)",
        "signers": [
            {
                "party": r.party,
                "label": scheme.party_label(r.party),
                "name": r.signer_name,
                "email": r.email,
                "signed_at": r.signed_at.astimezone(PARIS).isoformat(timespec="seconds")
                if r.signed_at
                else None,
                "ip": r.ip,
                "user_agent": r.user_agent,
                "document_sha256": r.document_sha256,
                "consent": r.consent_text,
                "method": "code à usage unique envoyé par courriel",
            }
            for r in requests
        ],
    }


def confirm(
    uow: UnitOfWork,
    case_id: int,
    party: str,
    code: str,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    consent: bool = True,
    actor: str | None = None,
    store: DocumentStore | None = None,
    schemes: SchemeRegistry | None = None,
    clock: Clock = today_paris,
    now: Callable[[], datetime] = utcnow,
) -> Signed:
    """Record `party`'s electronic signature with the code it received; after the last party,
    seal the contract and fire `sign`."""
    if not consent:
        raise EsignRefused("Cochez la case pour donner votre consentement.", "consent")
    docs = store or default_store()
    secret = _secret()
    moment = now()
    # The code is judged in its own transaction, so a wrong try counts even though we refuse.
    with uow:
        s = uow.session
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound("Dossier", case_id)
        pending = _open_request(s, case, party)
        try:
            check_code(pending, code, moment, secret)
        except EsignRefused:
            uow.commit()
            raise
        request_id = pending.id
        pending.code_hash = None  # used once
        uow.commit()
    on = clock()
    sealed: list[int] = []
    with cases.changing(uow, case_id, schemes) as (s, case, scheme):
        request = s.get(EsignRequest, request_id)
        assert request is not None
        who = actor or f"{request.signer_name} (signature électronique)"

        def signed() -> dict[str, Any]:
            assert request is not None
            signature = Signature(
                document_id=request.contract_id,
                party=party,
                signer_name=request.signer_name,
                signed_on=on,
                recorded_by=who,
                method="electronic",
            )
            s.add(signature)
            s.flush()
            request.status = "signed"
            request.signature_id = signature.id
            request.signed_at = moment
            request.ip = (ip or "")[:64] or None
            request.user_agent = (user_agent or "")[:400] or None
            request.consent_text = CONSENT
            requests = _requests(s, request.pdf_id)
            following = [r for r in requests if r.status == "pending"]
            payload: dict[str, Any] = {
                "document": request.contract_id,
                "party": party,
                "signature": signature.id,
                "method": "electronic",
                "sha256": request.document_sha256,
            }
            if following:
                _invite(s, following[0])
            elif all(r.status == "signed" for r in requests):
                pdf = s.get(Document, request.pdf_id)
                assert pdf is not None
                sealed_doc = _seal(s, docs, case, scheme, pdf, requests, on, who)
                sealed.append(sealed_doc.id)
                payload["sealed"] = sealed_doc.id
            return payload

        cases.act(
            s,
            case,
            scheme,
            CaseAction.CONTRACT_SIGNED,
            on=max(on, case.last_effective_date),
            actor=who,
            params={"party": party, "name": request.signer_name},
            effects=signed,
            clock=clock,
        )
        doc = current_contract(s, case.id)
        done = {sig.party for sig in doc.signatures} | {party} if doc else {party}
        missing = [p for p in scheme.signing_parties() if p not in done]
    state = _fire_sign(uow, case_id, on, schemes, clock) if sealed else None
    return Signed(party, missing, sealed[0] if sealed else None, state or "selected")


def _seal(
    s: Session,
    store: DocumentStore,
    case: Case,
    scheme: Scheme,
    pdf: Document,
    requests: list[EsignRequest],
    on: date,
    actor: str,
) -> Document:
    from workflow.documents import seal as sealing

    content = read_document(store, pdf)
    sealed = sealing.seal_contract(
        content,
        _evidence(s, requests, pdf, scheme),
        sealing.seal_key(),
        reason=f"Contrat {pdf.number or ''} signé par toutes les parties",
        location=scheme.documents.place,
    )
    return store_document(
        s,
        store,
        kind="contract_sealed",
        content=sealed,
        filename=f"{pdf.number or f'dossier-{case.id}'}-signe-scelle.pdf",
        on=on,
        actor=actor,
        case=case,
        number=pdf.number,
        parent=pdf,
    )


def _fire_sign(
    uow: UnitOfWork, case_id: int, on: date, schemes: SchemeRegistry | None, clock: Clock
) -> str | None:
    """Fire `sign` now the contract is sealed; when a guard still refuses (a term no longer in
    force…), the case stays `selected` and the trigger stays available by hand."""
    try:
        return str(
            cases.fire(uow, case_id, Trigger.SIGN, on=on, schemes=schemes, clock=clock).value
        )
    except (GuardFailed, TriggerRefused):
        return None


def refuse(
    uow: UnitOfWork,
    case_id: int,
    party: str,
    reason: str,
    *,
    actor: str | None = None,
    schemes: SchemeRegistry | None = None,
    clock: Clock = today_paris,
) -> None:
    """Record `party`'s refusal to sign, with its reason; the Région is told (e-mail to the
    funding body's signatory, and an event of the case)."""
    on = clock()
    with cases.changing(uow, case_id, schemes) as (s, case, scheme):
        request = _open_request(s, case, party)

        def refused() -> dict[str, Any]:
            request.status = "refused"
            request.reason = reason.strip()
            region = next(
                (r for r in _requests(s, request.pdf_id) if r.party != LEARNER and r.position
                 == max(x.position for x in _requests(s, request.pdf_id))),
                None,
            )  # fmt: skip
            if region is not None and region.id != request.id:
                _invite(s, region, "esign_refused")
            return {"party": party, "document": request.contract_id}

        cases.act(
            s,
            case,
            scheme,
            CaseAction.ESIGN_REFUSED,
            on=max(on, case.last_effective_date),
            actor=actor or request.signer_name,
            reason=reason,
            params={"party": party},
            effects=refused,
            clock=clock,
        )


def mail_context(s: Session, request_id: int, schemes: SchemeRegistry) -> dict[str, Any]:
    """What the outbox's e-mails about a request say (rendered when sent: the link is made then,
    never stored)."""
    request = s.get(EsignRequest, request_id)
    assert request is not None
    case = s.get(Case, request.case_id)
    assert case is not None
    scheme = schemes[case.scheme_id]
    others = [r for r in _requests(s, request.pdf_id) if r.status == "refused"]
    return {
        "signer_name": request.signer_name,
        "party_label": scheme.party_label(request.party),
        "link": signing_link(request.id),
        "position": request.position,
        "sha256": request.document_sha256,
        "reason": request.reason or "",
        "refusals": [
            {"label": scheme.party_label(r.party), "name": r.signer_name, "reason": r.reason or ""}
            for r in others
        ],
    }
