"""Sending the outbox (SPEC §6): render each pending message from the case as it is now, send it
over SMTP, retry with backoff on transient errors, give up after MAX_ATTEMPTS.

SMTP cannot be exactly-once: a message accepted by the server just before the process dies is
sent again on the rerun. Each message carries a stable Message-ID (`<outbox-N@fidelis>`) so that
mail systems and people can recognise the duplicate; the outbox row itself exists once."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from workflow.documents.french import date_fr, euros
from workflow.emails import render_email
from workflow.errors import FidelisError
from workflow.mailer import (
    MAX_ATTEMPTS,
    Message,
    PermanentMailError,
    SmtpSettings,
    TransientMailError,
    retry_delay,
    send,
    smtp_settings_from_env,
)
from workflow.models import Case, Employer, Offer, OutboxMessage, Payment, utcnow
from workflow.schemes import SchemeRegistry
from workflow.states import STATE_LABELS


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
            Payment.funder == "employer",
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
    if message.kind == "employer_statement":
        context = _statement_context(
            s,
            int(message.context["employer_id"]),
            date.fromisoformat(message.context["period"]),
            schemes,
        )
    else:
        assert message.case_id is not None
        context = _case_context(s, message.case_id, schemes)
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


def send_pending(
    factory: sessionmaker[Session],
    schemes: SchemeRegistry,
    *,
    now: datetime | None = None,
    settings: SmtpSettings | None = None,
    limit: int = 10_000,
) -> int:
    """Send what is due; return how many were sent. Each message is committed on its own, so a
    crash loses at most the one being sent."""
    smtp = settings or smtp_settings_from_env()
    moment = now or utcnow()
    with factory() as s:
        ids = s.scalars(
            sa.select(OutboxMessage.id)
            .where(
                OutboxMessage.status == "pending",
                sa.or_(
                    OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= moment
                ),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
    sent = 0
    for message_id in ids:
        with factory() as s:
            message = s.get(OutboxMessage, message_id)
            if message is None or message.status != "pending":
                continue
            try:
                message.message_id = send(smtp, render(s, message, schemes))
                message.status, message.sent_at = "sent", utcnow()
                sent += 1
            except TransientMailError as exc:
                _retry_later(message, str(exc), moment)
            except (PermanentMailError, FidelisError) as exc:
                message.status, message.last_error = "failed", str(exc)
                message.attempts += 1
            s.commit()
    return sent


def _retry_later(message: OutboxMessage, error: str, now: datetime) -> None:
    message.attempts += 1
    message.last_error = error
    if message.attempts >= MAX_ATTEMPTS:
        message.status = "failed"
    else:
        message.next_attempt_at = now + retry_delay(message.attempts)


__all__ = [
    "send_pending",
]
