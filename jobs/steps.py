"""The steps of the nightly run (SPEC §6), in order. Each is idempotent — run twice, or rerun
after a crash at any point, it leaves what one clean run leaves — because everything it writes is
either a state change guarded by the case's state or a row with a unique key inserted with
ON CONFLICT DO NOTHING. Candidates are selected in SQL; rows are written in bulk."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload, sessionmaker

from workflow import cases, ledger, money
from workflow.db import UnitOfWork
from workflow.errors import FidelisError
from workflow.models import (
    Case,
    Document,
    Employer,
    Learner,
    Offer,
    OutboxMessage,
    Payment,
    Signature,
    utcnow,
)
from workflow.schemes import SchemeRegistry
from workflow.states import State

BATCH = 5_000
NIGHTLY_ACTOR = "traitement de nuit"


@dataclass
class StepContext:
    factory: sessionmaker[Session]
    schemes: SchemeRegistry
    as_of: date
    progress: Callable[[int], None] = lambda n: None

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.factory)


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _chunks(rows: list[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def insert_ignoring_duplicates(session: Session, model: type, rows: list[dict[str, Any]]) -> int:
    """Bulk INSERT … ON CONFLICT DO NOTHING; returns how many rows were new."""
    table = model.__table__  # type: ignore[attr-defined]
    statement = _insert(session)(table).on_conflict_do_nothing().returning(table.c.id)
    inserted = 0
    for chunk in _chunks(rows):
        # RETURNING lists only the rows actually inserted: the count of new ones on every backend.
        inserted += len(session.connection().execute(statement, chunk).all())
    return inserted


# -- 1. automatic transitions ------------------------------------------------------------------


def transitions_due(ctx: StepContext) -> int:
    """`start_training` on the first day of the allowance period and `complete` the day after the
    commitment end, each with the date it was due, not the date the job runs (SPEC §3)."""
    fired = 0
    with ctx.uow() as uow:
        starting = uow.session.execute(
            sa.select(Case.id, Case.contract_date, Learner.training_start)
            .join(Learner, Learner.id == Case.learner_id)
            .where(
                Case.state == State.CONTRACTED,
                Learner.training_start <= ctx.as_of,
                Case.contract_date <= ctx.as_of,
            )
            .order_by(Case.id)
        ).all()
        serving = uow.session.scalars(
            sa.select(Case)
            .where(Case.state == State.SERVING)
            .options(selectinload(Case.suspensions))
            .order_by(Case.id)
        ).all()
        completions = []
        for case in serving:
            end = ledger.commitment_end(case, ctx.schemes[case.scheme_id])
            if end is not None and end < ctx.as_of:
                completions.append((case.id, end + timedelta(days=1)))
    due: list[tuple[int, date, str]] = [
        (cid, max(start, signed), "start_training") for cid, signed, start in starting if signed
    ]
    due += [(cid, on, "complete") for cid, on in completions]
    for case_id, on, trigger in due:
        try:
            cases.fire(ctx.uow(), case_id, trigger, on=on, actor=NIGHTLY_ACTOR, schemes=ctx.schemes)
            fired += 1
        except FidelisError:
            # A guard said no (e.g. a later event recorded by hand): the case stays for a
            # caseworker; the run goes on.
            continue
        ctx.progress(1)
    return fired


# -- 2. payments -------------------------------------------------------------------------------


def payments_due(ctx: StepContext) -> int:
    """One payment per (case, month, funder) whose due date has come (SPEC §4), created once."""
    with ctx.uow() as uow:
        s = uow.session
        candidates = s.scalars(
            sa.select(Case)
            .where(Case.contract_date.is_not(None), Case.allowance_settled.is_(False))
            .options(selectinload(Case.learner))
            .order_by(Case.id)
        ).all()
        rows: list[tuple[int, date, str, Decimal, date]] = []
        settled: list[int] = []
        for case in candidates:
            schedule = ledger.allowance_schedule(case, ctx.schemes[case.scheme_id])
            due = [i for i in schedule if i.due_date <= ctx.as_of]
            rows += [(case.id, i.period, i.funder, i.amount, i.due_date) for i in due]
            if _schedule_final(case, ctx.as_of) and len(due) == len(schedule):
                settled.append(case.id)
        created = _insert_payments(s, rows)
        for chunk in _id_chunks(settled):
            s.execute(
                sa.update(Case)
                .where(Case.id.in_(chunk))
                .values(allowance_settled=True)
                .execution_options(synchronize_session=False)
            )
        uow.commit()
    ctx.progress(len(candidates))
    return created


def _insert_payments(s: Session, rows: list[tuple[int, date, str, Decimal, date]]) -> int:
    """Bulk INSERT … ON CONFLICT DO NOTHING straight to the driver: the rows are plain values
    (cents, ISO dates on SQLite), so SQLAlchemy's per-value processing — most of the cost at a
    million rows — is skipped. The unique key (case, period, funder) makes it idempotent."""
    conn = s.connection()
    sqlite_backend = conn.dialect.name == "sqlite"
    mark = "?" if sqlite_backend else "%s"
    sql = (
        "INSERT INTO payments (case_id, period, funder, amount, due_date, status, created_at) "
        f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}, 'due', {mark}) ON CONFLICT DO NOTHING"
    )
    now = utcnow()
    stamp: Any = now.replace(tzinfo=None).isoformat(sep=" ") if sqlite_backend else now

    def day(d: date) -> Any:
        return d.isoformat() if sqlite_backend else d

    values = [
        (case_id, day(period), funder, int(amount * 100), day(due), stamp)
        for case_id, period, funder, amount, due in rows
    ]
    created = 0
    for i in range(0, len(values), BATCH * 4):
        result = conn.exec_driver_sql(sql, values[i : i + BATCH * 4])
        created += max(result.rowcount, 0)
    return created


def _schedule_final(case: Case, as_of: date) -> bool:
    """The schedule can no longer grow: the allowance has ended, or training is over."""
    return case.allowance_ended_on is not None or case.learner.training_end < as_of


def _id_chunks(ids: list[int], size: int = 900) -> Iterator[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def employer_statements(ctx: StepContext) -> int:
    """Employer shares are paid by the employer: once a month each employer gets a statement of
    the shares fallen due, and those payments become `notified` (SPEC §4)."""
    with ctx.uow() as uow:
        s = uow.session
        due = s.execute(
            sa.select(Payment.id, Payment.period, Offer.employer_id, Employer.email)
            .join(Case, Case.id == Payment.case_id)
            .join(Offer, Offer.id == Case.offer_id)
            .join(Employer, Employer.id == Offer.employer_id)
            .where(
                Payment.funder == "employer", Payment.status == "due", Payment.due_date <= ctx.as_of
            )
        ).all()
        groups: dict[tuple[int, date], list[int]] = {}
        emails: dict[int, str | None] = {}
        for pid, period, employer_id, email in due:
            groups.setdefault((employer_id, period), []).append(pid)
            emails[employer_id] = email
        rows = [
            {
                "dedup_key": f"employer:{emp}:employer_statement:{period.isoformat()}",
                "employer_id": emp,
                "kind": "employer_statement",
                "due_date": ctx.as_of,
                "recipient": emails[emp],
                "context": {"employer_id": emp, "period": period.isoformat()},
                "status": "pending",
                "attempts": 0,
            }
            for (emp, period) in groups
        ]
        created = insert_ignoring_duplicates(s, OutboxMessage, rows)
        ids = [pid for pids in groups.values() for pid in pids]
        for chunk in _id_chunks(ids):
            s.execute(
                sa.update(Payment)
                .where(Payment.id.in_(chunk), Payment.status == "due")
                .values(
                    status="notified", status_changed_on=ctx.as_of, status_changed_by=NIGHTLY_ACTOR
                )
                .execution_options(synchronize_session=False)
            )
        uow.commit()
    return created


# -- 3. reminders and 4. commitment checks --------------------------------------------------------


def _reminder_rows(
    kind: str, found: Iterable[tuple[int, date, str | None]], as_of: date
) -> list[dict[str, Any]]:
    return [
        {
            "dedup_key": f"case:{case_id}:{kind}:{due.isoformat()}",
            "case_id": case_id,
            "kind": kind,
            "due_date": due,
            "recipient": recipient,
            "context": {"case_id": case_id, "due_date": due.isoformat()},
            "status": "pending",
            "attempts": 0,
        }
        for case_id, due, recipient in found
        if due <= as_of
    ]


def _delays(ctx: StepContext, kind: str) -> dict[str, int]:
    delays: dict[str, int] = {}
    for scheme_id, scheme in ctx.schemes.items():
        days = scheme.reminders.get(kind)  # type: ignore[call-overload]
        if days is not None:
            delays[scheme_id] = days
    return delays


def reminders(ctx: StepContext) -> int:
    """Cases waiting too long on a person (SPEC §6), one message per (case, kind, due date)."""
    rows: list[dict[str, Any]] = []
    with ctx.uow() as uow:
        s = uow.session
        employer_email = sa.select(Employer.email).join(Offer, Offer.employer_id == Employer.id)
        for kind, state, to_employer in (
            ("application_without_interview", State.APPLIED, True),
            ("selection_without_contract", State.SELECTED, False),
        ):
            for scheme_id, days in _delays(ctx, kind).items():
                found = s.execute(
                    sa.select(
                        Case.id,
                        Case.last_effective_date,
                        employer_email.where(Offer.id == Case.offer_id).scalar_subquery()
                        if to_employer
                        else sa.null(),
                    ).where(
                        Case.state == state,
                        Case.scheme_id == scheme_id,
                        Case.last_effective_date <= ctx.as_of - timedelta(days=days),
                    )
                ).all()
                rows += _reminder_rows(
                    kind, ((c, d + timedelta(days=days), r) for c, d, r in found), ctx.as_of
                )
        for scheme_id, days in _delays(ctx, "contract_unsigned").items():
            signed = (
                sa.select(sa.func.count(Signature.id))
                .where(Signature.document_id == Document.id)
                .scalar_subquery()
            )
            found = s.execute(
                sa.select(Case.id, Document.issued_on, Learner.email)
                .join(Document, Document.case_id == Case.id)
                .join(Learner, Learner.id == Case.learner_id)
                .where(
                    Case.state == State.SELECTED,
                    Case.scheme_id == scheme_id,
                    Document.kind == "contract",
                    Document.status == "issued",
                    signed < 3,
                    Document.issued_on <= ctx.as_of - timedelta(days=days),
                )
            ).all()
            rows += _reminder_rows(
                "contract_unsigned",
                ((c, d + timedelta(days=days), r) for c, d, r in found),
                ctx.as_of,
            )
        for scheme_id, days in _delays(ctx, "training_ended_without_service").items():
            found = s.execute(
                sa.select(Case.id, Learner.training_end, Learner.email)
                .join(Learner, Learner.id == Case.learner_id)
                .where(
                    Case.state == State.IN_TRAINING,
                    Case.scheme_id == scheme_id,
                    Learner.training_end <= ctx.as_of - timedelta(days=days),
                )
            ).all()
            rows += _reminder_rows(
                "training_ended_without_service",
                ((c, d + timedelta(days=days), r) for c, d, r in found),
                ctx.as_of,
            )
        for scheme_id, days in _delays(ctx, "employer_share_unconfirmed").items():
            found = s.execute(
                sa.select(Case.id, sa.func.min(Payment.status_changed_on), Employer.email)
                .join(Payment, Payment.case_id == Case.id)
                .join(Offer, Offer.id == Case.offer_id)
                .join(Employer, Employer.id == Offer.employer_id)
                .where(
                    Case.scheme_id == scheme_id,
                    Payment.funder == "employer",
                    Payment.status == "notified",
                    Payment.status_changed_on <= ctx.as_of - timedelta(days=days),
                )
                .group_by(Case.id, Employer.email)
            ).all()
            rows += _reminder_rows(
                "employer_share_unconfirmed",
                ((c, d + timedelta(days=days), r) for c, d, r in found if d is not None),
                ctx.as_of,
            )
        created = insert_ignoring_duplicates(s, OutboxMessage, rows)
        uow.commit()
    return created


def commitment_checks(ctx: StepContext) -> int:
    """Annual service attestations due (flagged to the employer, then to a caseworker when
    overdue) and commitment ends approaching (SPEC §6)."""
    rows: list[dict[str, Any]] = []
    with ctx.uow() as uow:
        s = uow.session
        serving = s.scalars(
            sa.select(Case)
            .where(Case.state == State.SERVING)
            .options(
                selectinload(Case.suspensions),
                selectinload(Case.offer).selectinload(Offer.employer),
                selectinload(Case.learner),
            )
        ).all()
        for case in serving:
            scheme = ctx.schemes[case.scheme_id]
            assert case.service_start is not None
            attest_days = scheme.reminders.get("service_attestation_missing")
            if attest_days is not None:
                anniversary = _last_anniversary(case.service_start, ctx.as_of)
                if anniversary is not None and (case.attested_on or date.min) < anniversary:
                    due = anniversary + timedelta(days=attest_days)
                    rows += _reminder_rows(
                        "service_attestation_missing",
                        [(case.id, due, case.offer.employer.email)],
                        ctx.as_of,
                    )
            approach = scheme.reminders.get("commitment_end_approaching")
            end = ledger.commitment_end(case, scheme)
            if approach is not None and end is not None:
                rows += _reminder_rows(
                    "commitment_end_approaching",
                    [(case.id, end - timedelta(days=approach), case.learner.email)],
                    ctx.as_of,
                )
        created = insert_ignoring_duplicates(s, OutboxMessage, rows)
        uow.commit()
    return created


def _last_anniversary(start: date, as_of: date) -> date | None:
    """The latest anniversary of `start` not after `as_of` (None in the first year)."""
    years = 0
    while money.add_months(start, 12 * (years + 1)) <= as_of:
        years += 1
    return money.add_months(start, 12 * years) if years else None


# -- 5. retention ------------------------------------------------------------------------------


ANONYMOUS = "Anonymisé"


def retention_purge(ctx: StepContext) -> int:
    """Anonymise learners whose cases are all closed since longer than the scheme keeps them;
    never an active case (STYLE: Démarches Simplifiées). The event history stays, without the
    person's identity."""
    terminal = (State.COMPLETED, State.BREACHED, State.REJECTED, State.WITHDRAWN)
    anonymised = 0
    with ctx.uow() as uow:
        s = uow.session
        for scheme_id, scheme in ctx.schemes.items():
            years = scheme.retention.years_after_closure
            limit = date(ctx.as_of.year - years, ctx.as_of.month, min(ctx.as_of.day, 28))
            still_kept = sa.select(Case.learner_id).where(
                sa.or_(Case.state.not_in(terminal), Case.last_effective_date > limit)
            )
            expired = sa.select(Case.learner_id).where(Case.scheme_id == scheme_id)
            result = s.execute(
                sa.update(Learner)
                .where(
                    Learner.id.in_(expired),
                    Learner.id.not_in(still_kept),
                    Learner.last_name != ANONYMOUS,
                )
                .values(
                    first_name=ANONYMOUS,
                    last_name=ANONYMOUS,
                    email="anonyme@invalid",
                    iban=None,
                    birth_date=date(1900, 1, 1),
                )
                .execution_options(synchronize_session=False)
            )
            anonymised += max(result.rowcount, 0)  # type: ignore[attr-defined]
        uow.commit()
    return anonymised
