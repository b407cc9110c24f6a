"""A learner's personal data from retention to erasure (RGPD art. 5-1-e, 15 and 17).

**The retention purge** (the nightly step `retention`). A learner whose cases are all closed
(completed, breached, rejected, withdrawn) since longer than the scheme keeps them is erased —
never one with an active case (STYLE: Démarches Simplifiées). What identifies the learner goes,
what the accounts and statistics need stays (states, dates, amounts, contract numbers, codes):

- the `learners` row: names, e-mail, postal address, birth date, IBAN;
- the signers' names of the learner's contracts (`signatures`; party and date stay);
- the electronic signatures' evidence on the learner's cases (`esign_requests`: every signer's
  name and e-mail, IP address, user-agent, refusal reason and code; party, times, the
  document's SHA-256 and the consent text stay);
- the reasons and notes of the learner's case histories (`case_texts`; the append-only
  `case_events` hold ids, dates, codes and amounts only — workflow.events);
- the learner's messages (`outbox`: recipient, context, last error; a pending one is cancelled);
- the learner's documents: each row becomes `purged` (fingerprint erased: the one change the
  database allows to an issued document, migration 0013) and its file leaves the store once no
  document kept elsewhere shares it;
- the free text around the cases: payment cancellation reasons, the nightly anomalies' messages
  and notes, and the learner's name in the nightly runs' error texts;
- the learner's own web account (issue 15): disabled, its name, address and API token erased
  (the history names it by its number only: `accounts.Principal.actor`).

Each purged learner gets a `learner_purges` row with what was erased; the run counts learners and
documents. The files go after the transaction commits (a rolled-back purge keeps them); a run
killed in between leaves `files_removed_at` empty, and the next run finishes the removal.

**The right of access** (`fidelis privacy export`): `learner_data` gathers what Fidelis holds on a
learner — identity (IBAN masked), cases, events, payments, reimbursements, documents, signatures,
messages — as one JSON-ready dict."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased, sessionmaker

from workflow.archive import DocumentStore
from workflow.db import UnitOfWork
from workflow.documents.store import KIND_LABELS, stored_path
from workflow.errors import NotFound
from workflow.iban import masked
from workflow.models import (
    Case,
    CaseEvent,
    CaseText,
    Document,
    EsignRequest,
    Institute,
    JobRun,
    Learner,
    LearnerPurge,
    Offer,
    OutboxMessage,
    Payment,
    RunAnomaly,
    Signature,
    User,
    utcnow,
)
from workflow.schemes import SchemeRegistry
from workflow.states import State

ANONYMOUS = "Anonymisé"
ANONYMOUS_EMAIL = "anonyme@invalid"
ERASED = "Effacé : durée de conservation échue."
CLOSED = (State.COMPLETED, State.BREACHED, State.REJECTED, State.WITHDRAWN)
BATCH = 500  # learners per transaction: a first purge of an old database commits as it goes
_ALREADY = {f"{ANONYMOUS} {ANONYMOUS}", ANONYMOUS_EMAIL, ""}


def expired_learners(s: Session, schemes: SchemeRegistry, as_of: date) -> list[int]:
    """Learners not yet purged whose cases are all closed since longer than their scheme keeps
    them (the index on cases.last_effective_date serves the first condition)."""
    found: set[int] = set()
    for scheme_id, scheme in schemes.items():
        years = scheme.retention.years_after_closure
        limit = date(as_of.year - years, as_of.month, min(as_of.day, 28))
        other = aliased(Case)
        found.update(
            s.scalars(
                sa.select(Case.learner_id)
                .where(
                    Case.scheme_id == scheme_id,
                    Case.last_effective_date <= limit,
                    Case.state.in_(CLOSED),
                    ~sa.exists().where(LearnerPurge.learner_id == Case.learner_id),
                    ~sa.exists().where(
                        other.learner_id == Case.learner_id,
                        sa.or_(other.state.not_in(CLOSED), other.last_effective_date > limit),
                    ),
                )
                .distinct()
            )
        )
    return sorted(found)


def _count(result: sa.Result[Any]) -> int:
    return max(int(result.rowcount), 0)  # type: ignore[attr-defined]


def _update(s: Session, table: Any, where: Sequence[Any], **values: Any) -> int:
    statement = sa.update(table).where(*where).values(**values)
    return _count(s.execute(statement.execution_options(synchronize_session=False)))


def purge_learner(
    s: Session, learner_id: int, *, as_of: date, run_id: int | None = None
) -> dict[str, int]:
    """Erase one learner's personal data (the module's list), in the caller's transaction, and
    record it; return the counts. The files are removed by `remove_purged_files` after commit."""
    learner = s.get(Learner, learner_id)
    if learner is None:
        raise NotFound("Apprenant", learner_id)
    # How a run's error text may spell the learner (a learner anonymised before 0013 is spelt
    # "Anonymisé" already).
    names = {learner.full_name, f"{learner.last_name} {learner.first_name}", learner.email}
    cases = sa.select(Case.id).where(Case.learner_id == learner_id).scalar_subquery()
    documents = sa.select(Document.id).where(Document.case_id.in_(cases)).scalar_subquery()
    counts = {
        "signatures": _update(
            s, Signature, [Signature.document_id.in_(documents)], signer_name=ANONYMOUS
        ),
        "esign": _update(
            s,
            EsignRequest,
            [EsignRequest.case_id.in_(cases)],
            signer_name=ANONYMOUS,
            email=ANONYMOUS_EMAIL,
            ip=None,
            user_agent=None,
            reason=sa.case((EsignRequest.reason.is_(None), None), else_=ERASED),
            code_hash=None,
        ),
        "texts": _update(
            s,
            CaseText,
            [CaseText.case_id.in_(cases), CaseText.text.is_not(None)],
            text=None,
            erased_on=as_of,
        ),
        "messages": _update(
            s,
            OutboxMessage,
            [OutboxMessage.case_id.in_(cases)],
            recipient=None,
            context={},
            last_error=None,
            status=sa.case(
                (OutboxMessage.status == "pending", "cancelled"), else_=OutboxMessage.status
            ),
        ),
        "documents": _update(
            s,
            Document,
            [Document.case_id.in_(cases), Document.status != "purged"],
            status="purged",
            status_reason=ERASED,
            fingerprint=None,
        ),
        "payment_reasons": _update(
            s,
            Payment,
            [Payment.case_id.in_(cases), Payment.status_reason.is_not(None)],
            status_reason=ERASED,
        ),
        "anomalies": _update(
            s,
            RunAnomaly,
            [RunAnomaly.case_id.in_(cases)],
            message=ERASED,
            guards=[],
            resolution_note=sa.case((RunAnomaly.resolution_note.is_(None), None), else_=ERASED),
        ),
        "run_errors": sum(_scrub_run_errors(s, name) for name in sorted(names - _ALREADY)),
        # The learner's own web account (issue 15): closed, its name and address erased.
        "accounts": _update(
            s,
            User,
            [User.learner_id == learner_id],
            name=ANONYMOUS,
            email=sa.literal("anonyme-") + sa.cast(User.id, sa.String) + sa.literal("@invalid"),
            api_token_hash=None,
            disabled_at=sa.func.coalesce(User.disabled_at, utcnow()),
        ),
    }
    learner.first_name = learner.last_name = ANONYMOUS
    learner.email = ANONYMOUS_EMAIL
    learner.birth_date = date(1900, 1, 1)
    learner.iban = None
    learner.address = None
    s.add(LearnerPurge(learner_id=learner_id, run_id=run_id, as_of=as_of, counts=counts))
    s.flush()
    return counts


def _scrub_run_errors(s: Session, text: str) -> int:
    """A failed run's French error may name a learner (« L'apprenant Léa Fabre n'a pas d'IBAN »)."""
    return _update(
        s, JobRun, [JobRun.error.contains(text, autoescape=True)],
        error=sa.func.replace(JobRun.error, text, ANONYMOUS),
    )  # fmt: skip


def purge_expired(
    factory: sessionmaker[Session],
    schemes: SchemeRegistry,
    as_of: date,
    store: DocumentStore,
    *,
    run_id: int | None = None,
) -> dict[str, int]:
    """The retention purge of `as_of`: the files a previous run left, then the expired learners,
    `BATCH` per transaction, each batch's files removed once it is committed. Returns the
    counts: learners, documents, files."""
    totals = {"learners": 0, "documents": 0, "files": remove_purged_files(factory, store)}
    with factory() as s:
        expired = expired_learners(s, schemes, as_of)
    for start in range(0, len(expired), BATCH):
        with UnitOfWork(factory) as uow:
            _overwrite_freed_space(uow.session)
            for learner_id in expired[start : start + BATCH]:
                counts = purge_learner(uow.session, learner_id, as_of=as_of, run_id=run_id)
                totals["learners"] += 1
                totals["documents"] += counts["documents"]
            uow.commit()
        totals["files"] += remove_purged_files(factory, store)
    if expired:
        _truncate_sqlite_log(factory)
    return totals


def _overwrite_freed_space(s: Session) -> None:
    """SQLite keeps a rewritten row's old bytes in the page's free space unless told to zero
    them (Debian's build does by default; others do not)."""
    if s.get_bind().dialect.name == "sqlite":
        s.execute(sa.text("PRAGMA secure_delete=ON"))


def _truncate_sqlite_log(factory: sessionmaker[Session]) -> None:
    """In WAL mode the log still holds the pages as they were before the purge: copy it into
    the database and empty it (best effort: a reader still at work keeps it for now). PostgreSQL
    reclaims old row versions by (auto)vacuum."""
    with factory() as s:
        if s.get_bind().dialect.name == "sqlite":
            s.connection().exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def remove_purged_files(factory: sessionmaker[Session], store: DocumentStore) -> int:
    """Remove the files of the purged learners whose files are still there, unless a document
    kept elsewhere shares the file (content addressing); return how many files went."""
    removed = 0
    with UnitOfWork(factory) as uow:
        s = uow.session
        pending = s.scalars(
            sa.select(LearnerPurge).where(LearnerPurge.files_removed_at.is_(None))
        ).all()
        for purge in pending:
            gone = 0
            for doc in _purged_documents(s, purge.learner_id):
                if _shared_with_a_kept_document(s, doc.sha256):
                    continue
                gone += store.remove(stored_path(doc))
            purge.counts = {**purge.counts, "files": purge.counts.get("files", 0) + gone}
            purge.files_removed_at = utcnow()
            removed += gone
        uow.commit()
    return removed


def _purged_documents(s: Session, learner_id: int) -> Iterator[Document]:
    yield from s.scalars(
        sa.select(Document)
        .join(Case, Case.id == Document.case_id)
        .where(Case.learner_id == learner_id, Document.status == "purged")
        .order_by(Document.id)
    )


def _shared_with_a_kept_document(s: Session, sha256: str) -> bool:
    query = sa.select(Document.id).where(Document.sha256 == sha256, Document.status != "purged")
    return s.scalars(query).first() is not None


# -- the right of access -----------------------------------------------------------------------


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def learner_data(s: Session, learner_id: int) -> dict[str, Any]:
    """Everything Fidelis holds on one learner, for the learner (RGPD art. 15): JSON-ready."""
    learner = s.get(Learner, learner_id)
    if learner is None:
        raise NotFound("Apprenant", learner_id)
    institute = s.get(Institute, learner.institute_id)
    purge = s.scalars(sa.select(LearnerPurge).where(LearnerPurge.learner_id == learner_id)).first()
    cases = s.scalars(sa.select(Case).where(Case.learner_id == learner_id).order_by(Case.id)).all()
    return {
        "identity": {
            "id": learner.id,
            "first_name": learner.first_name,
            "last_name": learner.last_name,
            "birth_date": learner.birth_date.isoformat(),
            "email": learner.email,
            "address": learner.address,
            "iban": masked(learner.iban) or None,
            "institute": institute.name if institute else None,
            "training_start": learner.training_start.isoformat(),
            "training_end": learner.training_end.isoformat(),
            "recorded_at": learner.created_at.isoformat(),
        },
        "purge": ({"as_of": purge.as_of.isoformat(), "erased": purge.counts} if purge else None),
        "cases": [_case_data(s, case) for case in cases],
    }


def _case_data(s: Session, case: Case) -> dict[str, Any]:
    offer = s.get(Offer, case.offer_id)
    assert offer is not None
    documents = s.scalars(
        sa.select(Document).where(Document.case_id == case.id).order_by(Document.id)
    ).all()
    messages = s.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.case_id == case.id).order_by(OutboxMessage.id)
    ).all()
    return {
        "id": case.id,
        "scheme": case.scheme_id,
        "employer": offer.employer.name,
        "state": case.state.value,
        "tier": case.tier,
        "contract_number": case.contract_number,
        "dates": {
            name: _iso(getattr(case, name))
            for name in (
                "interview_date",
                "contract_date",
                "diploma_date",
                "service_start",
                "allowance_ended_on",
                "breach_date",
                "commitment_ends_on",
                "attested_on",
            )
        },
        "events": [_event_data(e) for e in case.events],
        "payments": [
            {
                "period": p.period.strftime("%Y-%m"),
                "funder": p.funder,
                "amount": str(p.amount),
                "due_date": p.due_date.isoformat(),
                "status": p.status,
            }
            for p in case.payments
        ],
        "reimbursements": [
            {"funder": r.funder, "amount": str(r.amount), "due_date": r.due_date.isoformat()}
            for r in case.reimbursements
        ],
        "documents": [
            {
                "id": d.id,
                "kind": d.kind,
                "label": KIND_LABELS.get(d.kind, d.kind),
                "version": d.version,
                "number": d.number,
                "filename": d.filename,
                "status": d.status,
                "issued_on": d.issued_on.isoformat(),
                "sha256": d.sha256,
                "signatures": [
                    {"party": g.party, "name": g.signer_name, "on": g.signed_on.isoformat()}
                    for g in d.signatures
                ],
            }
            for d in documents
        ],
        "messages": [
            {
                "kind": m.kind,
                "due_date": m.due_date.isoformat(),
                "recipient": m.recipient,
                "status": m.status,
                "sent_at": _iso(m.sent_at),
            }
            for m in messages
        ],
    }


def _event_data(e: CaseEvent) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "action": e.trigger,
        "from": e.from_state.value if e.from_state else None,
        "to": e.to_state.value,
        "effective_date": e.effective_date.isoformat(),
        "recorded_at": e.recorded_at.isoformat(),
        "by": e.actor,
        "reason": e.reason,
        "note": e.note,
        "details": e.payload,
    }


__all__ = [
    "ANONYMOUS",
    "expired_learners",
    "learner_data",
    "purge_expired",
    "purge_learner",
    "remove_purged_files",
]
