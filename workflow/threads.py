"""A thread per case (issue 15): messages between the Région and the learner, and between the
Région and the employer — each party sees its own thread only, the Région's agents both — and
the agents' private notes (`CaseAction.NOTE`, workflow.cases.add_note).

Every message is an event of the case's history (`CaseAction.MESSAGE`, through the gate,
workflow.cases.act): the event keeps the thread and the attachment's id, its text goes to
`case_texts` as a note's does (the retention purge can erase it). A message may carry one
attachment (a PDF or an image, bounded by workflow.documents.scans), and queues an e-mail to
the other side through the outbox (`case_message`: a link, never the message's text).

Who may use a case's threads is decided in two places only: whether the account may see the
case at all (workflow.accounts.visible_cases — a learner's account, once it exists, sees the
cases of its `learner_id`), and which thread its role writes in (`THREAD_OF_ROLE` below)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import accounts, cases, validation
from workflow.accounts import Principal
from workflow.archive import DocumentStore
from workflow.clock import Clock, today_paris
from workflow.db import UnitOfWork
from workflow.documents.scans import attachment_suffix
from workflow.documents.store import default_store, store_document
from workflow.errors import InvalidInput, NotFound
from workflow.models import (
    Case,
    CaseAssignment,
    CaseMessage,
    Document,
    OutboxMessage,
    User,
)
from workflow.schemes import SchemeRegistry
from workflow.settings import settings
from workflow.states import CaseAction

THREADS = ("learner", "employer")
THREAD_LABELS: Mapping[str, str] = {"learner": "Apprenant", "employer": "Employeur"}
# The thread a participant's role writes in and reads; the Région's agents have both.
THREAD_OF_ROLE: Mapping[str, str] = {"employer": "employer", "learner": "learner"}
ATTACHMENT_KIND = "message_attachment"
NOTIFICATION = "case_message"
# The history's events whose text only some may read: notes (agents), messages (their thread).
PRIVATE_EVENTS = frozenset({CaseAction.NOTE.value, CaseAction.MESSAGE.value})


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message, as received (its bounds are checked when posted)."""

    name: str
    content: bytes


def readable_threads(who: Principal) -> tuple[str, ...]:
    """The threads `who` reads on a case it may see: an agent both, a party its own, others
    (an institute) none."""
    if accounts.is_staff(who):
        return THREADS
    own = THREAD_OF_ROLE.get(who.role)
    return (own,) if own else ()


def thread_for(who: Principal, asked: str | None) -> str:
    """The thread `who` writes in: a party's own (whatever it asks), an agent's choice among
    THREADS. A thread `who` may not read is the 404 of a missing one."""
    if not accounts.is_staff(who):
        own = THREAD_OF_ROLE.get(who.role)
        if own is None or (asked and asked != own):
            raise NotFound("Fil de messages", asked or "—")
        return own
    if asked not in THREADS:
        choices = ", ".join(f"« {THREAD_LABELS[t]} »" for t in THREADS)
        raise InvalidInput(f"Choisissez le fil du message : {choices}.", "thread")
    return str(asked)


def ensure_thread_visible(s: Session, who: Principal, case_id: int) -> None:
    """NotFound unless `who` may see the case and has a thread on it."""
    accounts.ensure_visible(s, who, case_id)
    if not readable_threads(who):
        raise NotFound("Fil de messages", case_id)


def post_message(
    uow: UnitOfWork,
    case_id: int,
    who: Principal,
    body: str,
    *,
    thread: str | None = None,
    attachment: Attachment | None = None,
    store: DocumentStore | None = None,
    schemes: SchemeRegistry | None = None,
    clock: Clock = today_paris,
) -> int:
    """`who`'s message in the case's thread, dated today or the case's last event if later (a
    message records when it was written, as a note does); returns its id. The other side is
    told by e-mail: the party by its address, the Région by the agent the case is assigned to."""
    with uow:
        ensure_thread_visible(uow.session, who, case_id)
    chosen = thread_for(who, thread)
    text = validation.non_blank(body, "body", "Le message", kind="note")
    suffix = (
        attachment_suffix(attachment.content, validation.shown(attachment.name))
        if attachment is not None
        else None
    )
    docs = store or default_store()
    with cases.changing(uow, case_id, schemes) as (s, case, scheme):
        effective = max(clock(), case.last_effective_date)
        stored: list[Document] = []

        def attach() -> dict[str, Any]:
            if attachment is None or suffix is None:
                return {}
            doc = store_document(
                s,
                docs,
                kind=ATTACHMENT_KIND,
                content=attachment.content,
                filename=f"piece-jointe-{case.id}{suffix}",
                on=effective,
                actor=who.actor,
                case=case,
            )
            stored.append(doc)
            return {"document": doc.id}

        event = cases.act(
            s,
            case,
            scheme,
            CaseAction.MESSAGE,
            on=effective,
            actor=who.actor,
            params={"text": text},
            note=text,  # in case_texts, which the retention purge can erase
            payload={"thread": chosen},
            effects=attach,
            clock=clock,
        )
        s.flush()
        assert event.text_id is not None  # the guard refused an empty message
        # The thread's earlier message, if a party's, no longer waits: this one answers it.
        s.execute(
            sa.update(CaseMessage)
            .where(
                CaseMessage.case_id == case.id,
                CaseMessage.thread == chosen,
                CaseMessage.waiting_since.is_not(None),
            )
            .values(waiting_since=None)
        )
        staff = accounts.is_staff(who)
        message = CaseMessage(
            case_id=case.id,
            thread=chosen,
            from_region=staff,
            waiting_since=None if staff else effective,
            author_id=who.id,
            event_id=event.id,
            text_id=event.text_id,
            document_id=stored[0].id if stored else None,
        )
        s.add(message)
        s.flush()
        _notify(s, case, message, effective)
        return message.id


def _notify(s: Session, case: Case, message: CaseMessage, on: date) -> None:
    """Queue the e-mail to the other side of the thread, if an address is known."""
    if not message.from_region:
        recipient = s.scalar(
            sa.select(User.email)
            .join(CaseAssignment, CaseAssignment.user_id == User.id)
            .where(CaseAssignment.case_id == case.id, User.disabled_at.is_(None))
        )
    elif message.thread == "employer":
        recipient = case.offer.employer.email
    else:
        recipient = case.learner.email
    if not recipient:
        return  # the Région's side without an agent assigned: « À traiter » shows it
    s.add(
        OutboxMessage(
            dedup_key=f"message:{message.id}",
            case_id=case.id,
            employer_id=case.offer.employer_id if message.thread == "employer" else None,
            kind=NOTIFICATION,
            due_date=on,
            recipient=recipient,
            context={"message_id": message.id, "thread": message.thread}
            | ({"space": "learner"} if message.from_region and message.thread == "learner" else {}),
        )
    )


def link_to(case_id: int, space: str | None = None) -> str:
    """The case's page, where the thread is read (the e-mails' link): the learner's own page
    in their space (`space` "learner"), the case page for everyone else."""
    base = settings().public_url.rstrip("/")
    if space == "learner":
        return f"{base}/mon-espace/dossiers/{case_id}#messages"
    return f"{base}/dossiers/{case_id}#messages"


def messages(s: Session, who: Principal, case_id: int) -> list[dict[str, Any]]:
    """The messages of the case's threads `who` may read, oldest first (one query)."""
    rows = s.execute(
        sa.select(CaseMessage, User.name)
        .outerjoin(User, User.id == CaseMessage.author_id)
        .where(CaseMessage.case_id == case_id, CaseMessage.thread.in_(readable_threads(who)))
        .order_by(CaseMessage.id)
        .options(sa.orm.joinedload(CaseMessage.text), sa.orm.joinedload(CaseMessage.document))
    ).all()
    return [_row(m, author) for m, author in rows]


def _row(m: CaseMessage, author: str | None) -> dict[str, Any]:
    return {
        "id": m.id,
        "thread": m.thread,
        "thread_label": THREAD_LABELS[m.thread],
        "from_region": m.from_region,
        "author": author or "",
        "written_at": _iso(m.written_at),
        "body": m.text.shown,
        "attachment": (
            {"id": m.document.id, "filename": m.document.filename} if m.document else None
        ),
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def visible_history(who: Principal, events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The case's history as `who` may read it: every event, but a note's text for the agents
    only and a message's text for its thread's readers only."""
    if accounts.is_staff(who):
        return list(events)
    threads = readable_threads(who)
    shown = []
    for e in events:
        private = e["trigger"] in PRIVATE_EVENTS
        if private and (
            e["trigger"] == CaseAction.NOTE or (e.get("payload") or {}).get("thread") not in threads
        ):
            e = {**e, "note": None, "payload": {}}
        shown.append(e)
    return shown


def may_download(s: Session, who: Principal, document: Document) -> bool:
    """A message's attachment goes with its thread; other documents are not this module's."""
    thread = s.scalar(sa.select(CaseMessage.thread).where(CaseMessage.document_id == document.id))
    return thread is None or thread in readable_threads(who)


__all__ = [
    "ATTACHMENT_KIND",
    "NOTIFICATION",
    "PRIVATE_EVENTS",
    "THREADS",
    "THREAD_LABELS",
    "THREAD_OF_ROLE",
    "Attachment",
    "ensure_thread_visible",
    "link_to",
    "may_download",
    "messages",
    "post_message",
    "readable_threads",
    "thread_for",
    "visible_history",
]
