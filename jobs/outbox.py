"""Sending the outbox (SPEC §6): render each pending message from the case as it is now, send it
over SMTP, retry with backoff on transient errors, give up after MAX_ATTEMPTS.

Each message is claimed before it is sent: one conditional UPDATE takes the next pending message
whose claim is free or expired (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent senders
pass each other; on SQLite the write lock serialises the claims), setting `claimed_by` and
`claimed_until`. Two senders at once — two `fidelis outbox send`, or the nightly run and a manual
send — never send the same message. The result is written back only under our own claim.

SMTP cannot be exactly-once: a sender that dies after the server accepted a message, before
recording it, leaves its claim; once the claim has expired (CLAIM_TTL) the message is sent again.
Each message carries a stable Message-ID (`<outbox-N@fidelis>`) so that mail systems and people
can recognise the duplicate; the outbox row itself exists once.

No SMTP server configured: nothing is tried, the messages stay pending and the pass says so. A
server that cannot be reached: the pass stops at the first failed connection (that message is
retried later, with backoff), leaving the others untouched."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from jobs.lease import holder_id
from workflow import declarations, esign, invitations
from workflow.db import UnitOfWork
from workflow.debts import balance_of
from workflow.documents.french import date_fr, euros
from workflow.documents.labels import funder_label
from workflow.emails import render_email
from workflow.errors import FidelisError, NotFound
from workflow.mailer import (
    MAX_ATTEMPTS,
    Message,
    PermanentMailError,
    ServerUnreachable,
    SmtpSettings,
    TransientMailError,
    retry_delay,
    send,
    smtp_settings_from_env,
)
from workflow.models import Case, Debt, Employer, Offer, OutboxMessage, Payment, utcnow
from workflow.schemes import SchemeRegistry
from workflow.signing import unsigned_context
from workflow.states import STATE_LABELS
from workflow.threads import NOTIFICATION, link_to

# Longer than any one send can take (SMTP's own timeouts are 30 s per exchange).
CLAIM_TTL = timedelta(minutes=10)
NOT_CONFIGURED = "envoi des courriels non configuré (aucun serveur SMTP) : ils restent en attente"
OUTBOX: sa.Table = OutboxMessage.__table__  # type: ignore[assignment]  # Core: RETURNING
log = logging.getLogger("fidelis.outbox")


def _case_context(s: Session, case_id: int, schemes: SchemeRegistry) -> dict[str, Any]:
    case = s.get(Case, case_id)
    assert case is not None
    scheme = schemes[case.scheme_id]
    employer = case.offer.employer
    return {
        "case": {
            "id": case.id,
            "contract_number": case.contract_number or "",
            "state_label": STATE_LABELS[case.state],
        },
        "learner": {"full_name": case.learner.full_name, "email": case.learner.email},
        "employer": {"name": employer.name, "email": employer.email or ""},
        "scheme": {"label": scheme.label, "funding_body": scheme.funding_body},
    }


def _debt_context(s: Session, debt_id: int) -> dict[str, Any]:
    """A debt as its reminders state it (SPEC §4b): as it is now, not as it was when queued."""
    debt = s.get(Debt, debt_id)
    assert debt is not None
    return {
        "number": debt.number,
        "funder": funder_label(debt.funder),
        "amount": euros(debt.amount),
        "balance": euros(balance_of(debt)),
        "due_date": debt.due_date,
    }


def _statement_context(
    s: Session, employer_id: int, period: date, schemes: SchemeRegistry
) -> dict[str, Any]:
    employer = s.get(Employer, employer_id)
    assert employer is not None
    rows = s.execute(
        sa.select(Payment, Case)
        .join(Case, Case.id == Payment.case_id)
        .join(Offer, Offer.id == Case.offer_id)
        .where(
            Offer.employer_id == employer_id,
            # The employer's own shares: its schemes' `statement` funders.
            Payment.funder.in_(
                sorted({f for sc in schemes.values() for f in sc.funders_paid_by("statement")})
            ),
            Payment.period == period,
            Payment.status != "cancelled",
        )
        .order_by(Case.id)
    ).all()
    lines = [
        {
            "learner": c.learner.full_name,
            "contract_number": c.contract_number or "",
            "month": date_fr(p.period).split(" ", 1)[1],
            "amount": euros(p.amount),
            "due_date": p.due_date,
        }
        for p, c in rows
    ]
    total = sum((p.amount for p, _ in rows), Decimal(0))
    scheme_id = rows[0][1].scheme_id if rows else next(iter(schemes))
    scheme = schemes[scheme_id]
    return {
        "employer": {"name": employer.name, "email": employer.email or ""},
        "scheme": {"label": scheme.label, "funding_body": scheme.funding_body},
        "period": period,
        "lines": lines,
        "total": euros(total),
    }


def render(s: Session, message: OutboxMessage, schemes: SchemeRegistry) -> Message:
    if message.kind == invitations.KIND:
        context = invitations.invitation_context(message.context)
    elif message.kind == "employer_statement":
        context = _statement_context(
            s,
            int(message.context["employer_id"]),
            date.fromisoformat(message.context["period"]),
            schemes,
        )
    else:
        assert message.case_id is not None
        context = _case_context(s, message.case_id, schemes)
        if "debt_id" in (message.context or {}):
            context["debt"] = _debt_context(s, int(message.context["debt_id"]))
        if "esign_request_id" in (message.context or {}):  # workflow.esign (issue 16)
            context["esign"] = esign.mail_context(
                s, int(message.context["esign_request_id"]), schemes
            )
        if message.kind == "contract_unsigned":  # who has not signed, their link (issue 16)
            context["unsigned"] = unsigned_context(
                s, message.case_id, message.recipient or "", schemes
            )
        if message.kind == NOTIFICATION:
            context["link"] = link_to(message.case_id, (message.context or {}).get("space"))
        if message.kind == declarations.NOTIFICATION:  # the decision, never the reason's text
            context["declaration"] = declarations.mail_context(
                s, int(message.context["declaration_id"])
            )
    context["due_date"] = message.due_date
    email = render_email(message.kind, context)
    if not message.recipient:
        raise PermanentMailError("aucune adresse e-mail connue pour ce destinataire")
    return Message(
        to=message.recipient,
        subject=email.subject,
        text=email.text,
        html=email.html,
        headers={
            "Message-ID": f"<outbox-{message.id}@fidelis>",
            "X-Fidelis-Outbox-Id": str(message.id),
        },
    )


@dataclass
class Sending:
    """What one pass over the outbox did; `stopped` says, in French, why it sent no more."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    stopped: str | None = None


def send_pending(
    factory: sessionmaker[Session],
    schemes: SchemeRegistry,
    *,
    now: datetime | None = None,
    settings: SmtpSettings | None = None,
    limit: int = 10_000,
) -> int:
    """Send what is due with `settings` (else the environment's); return how many were sent."""
    smtp = settings or smtp_settings_from_env()
    return send_outbox(factory, schemes, smtp, now=now, limit=limit).sent


def send_outbox(
    factory: sessionmaker[Session],
    schemes: SchemeRegistry,
    smtp: SmtpSettings | None,
    *,
    now: datetime | None = None,
    limit: int = 10_000,
) -> Sending:
    """Claim, send and record due messages one at a time, up to `limit`. Each claim and each
    result is committed on its own, so a crash loses at most the message being sent."""
    done = Sending()
    if smtp is None:
        done.stopped = NOT_CONFIGURED
        return done
    me = holder_id()
    while done.sent + done.retried + done.failed < limit:
        moment = now or utcnow()
        message_id = _claim_next(factory, me, moment)
        if message_id is None:
            break
        try:
            _send_claimed(factory, schemes, smtp, message_id, me, moment, done)
        except ServerUnreachable as exc:
            done.stopped = f"{exc} : les courriels restent en attente"
            break
    return done


def send_case_mail_now(
    factory: sessionmaker[Session],
    schemes: SchemeRegistry,
    case_id: int,
    kinds: tuple[str, ...],
    *,
    smtp: SmtpSettings | None = None,
) -> Sending:
    """Send at once the case's pending messages of `kinds` — the electronic signature's: the
    next signer should not wait for the night. Each is claimed like any other (a concurrent
    `outbox send` never sends it twice); what cannot go now stays for the next pass."""
    done = Sending()
    smtp = smtp or smtp_settings_from_env()
    if smtp is None:
        done.stopped = NOT_CONFIGURED
        return done
    me = holder_id()
    with factory() as s:
        ids = s.scalars(
            sa.select(OUTBOX.c.id)
            .where(OUTBOX.c.case_id == case_id, OUTBOX.c.kind.in_(kinds))
            .where(OUTBOX.c.status == "pending")
            .order_by(OUTBOX.c.id)
        ).all()
    for ident in ids:
        moment = utcnow()
        with UnitOfWork(factory) as uow:
            claimed = uow.session.execute(
                sa.update(OUTBOX)
                .where(OUTBOX.c.id == ident, _claimable(moment))
                .values(claimed_by=me, claimed_until=moment + CLAIM_TTL)
                .returning(OUTBOX.c.id)
            ).scalar_one_or_none()
            uow.commit()
        if claimed is None:
            continue  # another sender holds it, or it waits for its retry
        try:
            _send_claimed(factory, schemes, smtp, ident, me, moment, done)
        except ServerUnreachable as exc:
            done.stopped = f"{exc} : les courriels restent en attente"
            break
    return done


def preview(s: Session, message_id: int, schemes: SchemeRegistry) -> dict[str, Any]:
    """One message as it would be sent now (the outbox page): its row and its rendered subject
    and text, or why it cannot be rendered."""
    message = s.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("Courriel", message_id)
    try:
        rendered = render(s, message, schemes)
        subject, text, problem = rendered.subject, rendered.text, None
    except (FidelisError, PermanentMailError) as exc:
        subject, text, problem = "", "", str(exc)
    return {"message": message, "subject": subject, "text": text, "problem": problem}


def resend(uow: UnitOfWork, message_id: int) -> None:
    """Queue the message again (sent, failed or cancelled): the next pass sends it, under the
    same Message-ID, so that mail systems can recognise a copy."""
    with uow:
        message = uow.session.get(OutboxMessage, message_id)
        if message is None:
            raise NotFound("Courriel", message_id)
        if message.status == "pending":
            raise FidelisError("Ce courriel est déjà en attente d'envoi.")
        message.status, message.attempts = "pending", 0
        message.next_attempt_at = message.last_error = None
        message.claimed_by = message.claimed_until = None
        uow.commit()


class Mailing:
    """The sending step of one nightly run, across the days of its catch-up: the server is read
    once; once mail could not go out (no server configured, or the server unreachable) the
    later days do not try again — the next run will."""

    def __init__(self, smtp: SmtpSettings | None) -> None:
        self.smtp = smtp
        self.stopped: str | None = None

    def send(self, factory: sessionmaker[Session], schemes: SchemeRegistry) -> Sending:
        if self.stopped is not None:
            return Sending(stopped=self.stopped)
        done = send_outbox(factory, schemes, self.smtp)
        self.stopped = done.stopped
        return done


def _claimable(moment: datetime) -> Any:
    return sa.and_(
        OUTBOX.c.status == "pending",
        sa.or_(OUTBOX.c.next_attempt_at.is_(None), OUTBOX.c.next_attempt_at <= moment),
        sa.or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until <= moment),
    )


def _claim_next(factory: sessionmaker[Session], me: str, moment: datetime) -> int | None:
    """Claim the first due message nobody holds; its id, or None when none is left."""
    with UnitOfWork(factory) as uow:
        s = uow.session
        candidate = sa.select(OUTBOX.c.id).where(_claimable(moment)).order_by(OUTBOX.c.id).limit(1)
        if s.get_bind().dialect.name == "postgresql":
            candidate = candidate.with_for_update(skip_locked=True)
        claimed = s.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == candidate.scalar_subquery(), _claimable(moment))
            .values(claimed_by=me, claimed_until=moment + CLAIM_TTL)
            .returning(OUTBOX.c.id)
        ).scalar_one_or_none()
        uow.commit()
    return claimed


def _send_claimed(
    factory: sessionmaker[Session],
    schemes: SchemeRegistry,
    smtp: SmtpSettings,
    message_id: int,
    me: str,
    moment: datetime,
    done: Sending,
) -> None:
    """Render (in a read-only session), send (holding no lock), then record the outcome."""
    with factory() as s:
        message = s.get(OutboxMessage, message_id)
        assert message is not None  # claimed by us a moment ago; outbox rows are never deleted
        attempts = message.attempts
        try:
            mail: Message | None = render(s, message, schemes)
            error = ""
        except (PermanentMailError, FidelisError) as exc:
            mail, error = None, str(exc)
    if mail is None:
        done.failed += 1
        _record(factory, message_id, me, status="failed", last_error=error, attempts=attempts + 1)
        return
    try:
        sent_as = send(smtp, mail)
    except TransientMailError as exc:
        outcome = _retry_later(attempts, str(exc), moment)
        if outcome.get("status") == "failed":
            done.failed += 1
        else:
            done.retried += 1
        _record(factory, message_id, me, **outcome)
        if isinstance(exc, ServerUnreachable):
            raise
        return
    except (PermanentMailError, FidelisError) as exc:
        done.failed += 1
        _record(
            factory, message_id, me, status="failed", last_error=str(exc), attempts=attempts + 1
        )
        return
    done.sent += 1
    _record(factory, message_id, me, status="sent", sent_at=utcnow(), message_id=sent_as)


def _record(factory: sessionmaker[Session], ident: int, me: str, /, **values: Any) -> None:
    """Write the outcome and free the claim, only if the claim is still ours."""
    with UnitOfWork(factory) as uow:
        result = uow.session.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == ident, OUTBOX.c.claimed_by == me)
            .values(claimed_by=None, claimed_until=None, **values)
        )
        uow.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        # Our claim expired and another sender took the message: it may go out twice.
        log.warning("outbox message %s: claim lost before its outcome was recorded", ident)


def _retry_later(attempts: int, error: str, now: datetime) -> dict[str, Any]:
    attempts += 1
    if attempts >= MAX_ATTEMPTS:
        return {"attempts": attempts, "last_error": error, "status": "failed"}
    return {
        "attempts": attempts,
        "last_error": error,
        "next_attempt_at": now + retry_delay(attempts),
    }


__all__ = [
    "CLAIM_TTL",
    "NOT_CONFIGURED",
    "Mailing",
    "Sending",
    "preview",
    "resend",
    "send_case_mail_now",
    "send_outbox",
    "send_pending",
]
