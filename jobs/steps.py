"""The steps of the nightly run (SPEC §6), in order. Each is idempotent — run twice, or rerun
after a crash at any point, it leaves what one clean run leaves — because everything it writes is
either a state change guarded by the case's state or a row with a unique key inserted with
ON CONFLICT DO NOTHING. Candidates are selected in SQL; rows are written in bulk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from jobs import temptables
from jobs.outbox_sql import (
    insert_case_messages,
    insert_debt_messages,
    insert_employer_statements,
    not_yet_sent,
)
from jobs.schedule_sql import insert_complements, insert_due_payments
from workflow import anomalies, audit, cases, debts, money, privacy, sqldates
from workflow.db import UnitOfWork
from workflow.documents.store import default_store
from workflow.errors import ConcurrentModification, FidelisError, GuardFailed
from workflow.models import (
    Case,
    Debt,
    DebtInstalment,
    Document,
    Employer,
    Learner,
    Offer,
    Payment,
    Signature,
)
from workflow.schemes import SchemeRegistry
from workflow.signing import turn_email
from workflow.states import State

if TYPE_CHECKING:
    from jobs.outbox import Mailing

NIGHTLY_ACTOR = "traitement de nuit"


@dataclass
class StepContext:
    factory: sessionmaker[Session]
    schemes: SchemeRegistry
    as_of: date
    run_id: int  # the run's `job_runs` row, which its anomalies point to
    progress: Callable[[int], None] = lambda n: None
    # Statements the payments step wrote in its own transaction, counted by the statements step.
    statements_sent: int = 0
    # Counts a step adds to the run's besides its own (the transitions step: "anomalies").
    extra_counts: dict[str, int] = field(default_factory=dict)
    # The run's sending of mail, shared by the days of a catch-up (None: --no-mail).
    mailing: Mailing | None = None
    # What the run's row should say of a step that did less than it could, in French.
    notes: list[str] = field(default_factory=list)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.factory)


# -- 1. automatic transitions ------------------------------------------------------------------


def transitions_due(ctx: StepContext) -> int:
    """`start_training` on the first day of the allowance period and `complete` the day after the
    commitment end, each with the date it was due, not the date the job runs (SPEC §3). A
    transition the case service refuses is recorded as an anomaly of the run (workflow.anomalies),
    counted as "anomalies"; the open anomalies whose case has moved on are closed."""
    fired = 0
    met: set[int] = set()
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
        # The day after the commitment's last day (kept on the case by the case service).
        # Sorted here, not by the database: an ORDER BY id would lead SQLite's planner to walk
        # every serving case in (state, id) order instead of the (state, end) index's range.
        ended = uow.session.execute(
            sa.select(Case.id, Case.commitment_ends_on).where(
                Case.state == State.SERVING, Case.commitment_ends_on < ctx.as_of
            )
        ).all()
        completions = sorted((case_id, end + timedelta(days=1)) for case_id, end in ended if end)
    due: list[tuple[int, date, str]] = [
        (cid, max(start, signed), "start_training") for cid, signed, start in starting if signed
    ]
    due += [(cid, on, "complete") for cid, on in completions]
    for case_id, on, trigger in due:
        try:
            cases.fire(ctx.uow(), case_id, trigger, on=on, actor=NIGHTLY_ACTOR, schemes=ctx.schemes)
            fired += 1
        except ConcurrentModification:
            # Someone changed the case meanwhile: nothing to fix, tomorrow's run meets it again.
            continue
        except FidelisError as refused:
            # A refusal a person must look at — guards (GuardFailed), a state the trigger cannot
            # leave (TriggerRefused), a bad value: recorded in its own transaction, the run goes
            # on. Any other exception is a crash and fails the run.
            failures = refused.failures if isinstance(refused, GuardFailed) else ()
            met.add(
                anomalies.record(
                    ctx.uow(),
                    run_id=ctx.run_id,
                    case_id=case_id,
                    trigger=trigger,
                    effective_date=on,
                    failures=failures,
                    message=str(refused),
                )
            )
            continue
        ctx.progress(1)
    anomalies.close_settled(ctx.uow(), actor=NIGHTLY_ACTOR)
    ctx.extra_counts["anomalies"] = len(met)
    return fired


# -- 2. payments -------------------------------------------------------------------------------


def payments_due(ctx: StepContext) -> int:
    """One payment per (case, month, funder) whose due date has come (SPEC §4), created once:
    the schedules are computed in SQL (jobs.schedule_sql), for the cases whose next instalment
    has fallen due — the index on `next_payment_due` finds them. The employer shares are written
    `notified`, and their employers' statements in the same transaction: a share is never
    notified without its statement, whatever the point a run stops at."""
    with ctx.uow() as uow:
        s = uow.session
        created = insert_due_payments(s, ctx.schemes, ctx.as_of, notified_by=NIGHTLY_ACTOR)
        if created:
            notified_tonight = sa.and_(
                Payment.status == "notified",
                Payment.funder.in_(_statement_funders(ctx)),
                Payment.status_changed_on == ctx.as_of,
            )
            ctx.statements_sent += insert_employer_statements(
                s, _statement_groups(notified_tonight), ctx.as_of
            )
        uow.commit()
    ctx.progress(created)
    return created


def complementary_payments(ctx: StepContext) -> int:
    """The complementary payments of the months whose entitlement grew past what was paid for
    them (SPEC §4b: a regularisation set `complement_due`), set-based (jobs.schedule_sql). They
    are written `due`: SEPA exports them with the next file, the statements step notifies the
    employers' shares."""
    with ctx.uow() as uow:
        created = insert_complements(uow.session, ctx.schemes, ctx.as_of)
        uow.commit()
    ctx.progress(created)
    return created


def _statement_funders(ctx: StepContext) -> list[str]:
    """The funders whose shares the employer pays on a monthly statement (`statement`)."""
    return sorted({f for s in ctx.schemes.values() for f in s.funders_paid_by("statement")})


def _statement_groups(shares: Any) -> sa.Subquery:
    """The (employer, month, address) of each statement the `shares` call for."""
    return (
        sa.select(Offer.employer_id, Payment.period, Employer.email)
        .select_from(Payment)
        .join(Case, Case.id == Payment.case_id)
        .join(Offer, Offer.id == Case.offer_id)
        .join(Employer, Employer.id == Offer.employer_id)
        .where(shares)
        .distinct()
        .subquery()
    )


def employer_statements(ctx: StepContext) -> int:
    """Employer shares are paid by the employer: once a month each employer gets a statement of
    the shares fallen due, and those payments become `notified` (SPEC §4). The payments step
    already did so for the shares it wrote (counted here); this step catches the shares still
    `due`: written by another path, or by a version of Fidelis that notified them here."""
    shares_due = sa.and_(
        Payment.funder.in_(_statement_funders(ctx)),
        Payment.status == "due",
        Payment.due_date <= ctx.as_of,
    )
    with ctx.uow() as uow:
        s = uow.session
        created = insert_employer_statements(s, _statement_groups(shares_due), ctx.as_of)
        s.execute(
            sa.update(Payment)
            .where(shares_due)
            .values(status="notified", status_changed_on=ctx.as_of, status_changed_by=NIGHTLY_ACTOR)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
    written_with_payments, ctx.statements_sent = ctx.statements_sent, 0
    return created + written_with_payments


# -- 3. reminders and 4. commitment checks --------------------------------------------------------


ANNIVERSARIES = sa.Table(
    "fidelis_anniversaries",
    sa.MetaData(),
    sa.Column("service_start", sa.Date),
    sa.Column("anniversary", sa.Date),
    sa.Column("due_date", sa.Date),
    prefixes=["TEMPORARY"],
)


def _delays(ctx: StepContext, kind: str) -> dict[str, int]:
    delays: dict[str, int] = {}
    for scheme_id, scheme in ctx.schemes.items():
        days = scheme.reminders.get(kind)  # type: ignore[call-overload]
        if days is not None:
            delays[scheme_id] = days
    return delays


def reminders(ctx: StepContext) -> int:
    """Cases waiting too long on a person (SPEC §6), one message per (case, kind, due date),
    each kind written by one INSERT … SELECT (jobs.outbox_sql)."""
    created = 0
    with ctx.uow() as uow:
        s = uow.session
        employer_email = (
            sa.select(Employer.email)
            .join(Offer, Offer.employer_id == Employer.id)
            .where(Offer.id == Case.offer_id)
            .scalar_subquery()
        )
        for kind, state, recipient in (
            ("application_without_interview", State.APPLIED, employer_email),
            ("selection_without_contract", State.SELECTED, sa.null()),
        ):
            for scheme_id, days in _delays(ctx, kind).items():
                due = sqldates.add_days(Case.last_effective_date, days)
                found = sa.select(Case.id).where(
                    Case.state == state,
                    Case.scheme_id == scheme_id,
                    Case.last_effective_date <= ctx.as_of - timedelta(days=days),
                    not_yet_sent(kind, due),
                )
                created += insert_case_messages(s, kind, found, due, recipient)
        for scheme_id, days in _delays(ctx, "contract_unsigned").items():
            # Unsigned until every party of the scheme signed: the learner and its signing funders.
            parties = len(ctx.schemes[scheme_id].signing_parties())
            signed = (
                sa.select(sa.func.count(Signature.id))
                .where(Signature.document_id == Document.id)
                .scalar_subquery()
            )
            due = sqldates.add_days(Document.issued_on, days)
            found = (
                sa.select(Case.id)
                .join(Document, Document.case_id == Case.id)
                .join(Learner, Learner.id == Case.learner_id)
                .where(
                    Case.state == State.SELECTED,
                    Case.scheme_id == scheme_id,
                    Document.kind == "contract",
                    Document.status == "issued",
                    signed < parties,
                    Document.issued_on <= ctx.as_of - timedelta(days=days),
                    not_yet_sent("contract_unsigned", due),
                )
            )
            # To the party whose turn it is when the contract is signed electronically (its
            # reminder carries its signing link), else to the learner.
            to = sa.func.coalesce(turn_email(Document.id), Learner.email)
            created += insert_case_messages(s, "contract_unsigned", found, due, to)
        for scheme_id, days in _delays(ctx, "training_ended_without_service").items():
            kind = "training_ended_without_service"
            due = sqldates.add_days(Learner.training_end, days)
            found = (
                sa.select(Case.id)
                .join(Learner, Learner.id == Case.learner_id)
                .where(
                    Case.state == State.IN_TRAINING,
                    Case.scheme_id == scheme_id,
                    Learner.training_end <= ctx.as_of - timedelta(days=days),
                    not_yet_sent(kind, due),
                )
            )
            created += insert_case_messages(s, kind, found, due, Learner.email)
        for scheme_id, days in _delays(ctx, "employer_share_unconfirmed").items():
            # From the payments' side: the index on (status, funder, status_changed_on) gives
            # the shares notified long enough ago; then their cases and employers. Grouped by
            # `case_id + 0`, not the bare column: SQLite would otherwise walk the whole table
            # in the order of the (case_id, period, funder) unique index.
            case_key = (Payment.case_id + 0).label("case_id")
            unconfirmed = (
                sa.select(case_key, sa.func.min(Payment.status_changed_on).label("since"))
                .where(
                    Payment.status == "notified",
                    Payment.funder.in_(_statement_funders(ctx)),
                    Payment.status_changed_on <= ctx.as_of - timedelta(days=days),
                )
                .group_by(case_key)
                .subquery()
            )
            found = (
                sa.select(Case.id)
                .select_from(unconfirmed)
                .join(Case, Case.id == unconfirmed.c.case_id)
                .join(Offer, Offer.id == Case.offer_id)
                .join(Employer, Employer.id == Offer.employer_id)
                .where(Case.scheme_id == scheme_id)
            )
            due = sqldates.add_days(unconfirmed.c.since, days)
            created += insert_case_messages(
                s, "employer_share_unconfirmed", found, due, Employer.email
            )
        uow.commit()
    return created


def commitment_checks(ctx: StepContext) -> int:
    """Annual service attestations due (flagged to the employer, then to a caseworker when
    overdue) and commitment ends approaching (SPEC §6). Set-based: the end approaching is read
    from the case's stored commitment end; the anniversaries are computed once per distinct
    service start date, then joined."""
    created = 0
    with ctx.uow() as uow:
        s = uow.session
        for scheme_id, scheme in ctx.schemes.items():
            serving = sa.and_(Case.scheme_id == scheme_id, Case.state == State.SERVING)
            approach = scheme.reminders.get("commitment_end_approaching")
            if approach is not None:
                kind = "commitment_end_approaching"
                due = sqldates.add_days(Case.commitment_ends_on, -approach)
                found = (
                    sa.select(Case.id)
                    .join(Learner, Learner.id == Case.learner_id)
                    .where(
                        serving,
                        Case.commitment_ends_on <= ctx.as_of + timedelta(days=approach),
                        not_yet_sent(kind, due),
                    )
                )
                created += insert_case_messages(s, kind, found, due, Learner.email)
            attest_days = scheme.reminders.get("service_attestation_missing")
            if attest_days is not None:
                created += _attestations_missing(ctx, s, serving, attest_days)
        uow.commit()
    return created


def _attestations_missing(ctx: StepContext, s: Session, serving: Any, attest_days: int) -> int:
    starts = s.scalars(sa.select(Case.service_start).where(serving).distinct()).all()
    anniversaries = []
    for start in starts:
        anniversary = _last_anniversary(start, ctx.as_of) if start else None
        if anniversary is not None and anniversary + timedelta(days=attest_days) <= ctx.as_of:
            anniversaries.append(
                {
                    "service_start": start,
                    "anniversary": anniversary,
                    "due_date": anniversary + timedelta(days=attest_days),
                }
            )
    if not anniversaries:
        return 0
    kind = "service_attestation_missing"
    temptables.fill(s, ANNIVERSARIES, anniversaries)
    a = ANNIVERSARIES.c
    found = (
        sa.select(Case.id)
        .join(ANNIVERSARIES, a.service_start == Case.service_start)
        .join(Offer, Offer.id == Case.offer_id)
        .join(Employer, Employer.id == Offer.employer_id)
        .where(
            serving,
            sa.or_(Case.attested_on.is_(None), Case.attested_on < a.anniversary),
            not_yet_sent(kind, a.due_date),
        )
    )
    created = insert_case_messages(s, kind, found, a.due_date, Employer.email)
    temptables.drop(s, ANNIVERSARIES)
    return created


def _last_anniversary(start: date, as_of: date) -> date | None:
    """The latest anniversary of `start` not after `as_of` (None in the first year)."""
    years = 0
    while money.add_months(start, 12 * (years + 1)) <= as_of:
        years += 1
    return money.add_months(start, 12 * years) if years else None


# -- debts: missed instalments, lapsed plans, overdue reminders ---------------------------------


def _debt_delays(ctx: StepContext, kind: str) -> dict[str, int]:
    """The scheme's delay for a debt reminder, or the default of workflow.debts."""
    return {
        scheme_id: scheme.reminders.get(kind, debts.DEFAULT_DELAYS[kind])  # type: ignore[call-overload]
        for scheme_id, scheme in ctx.schemes.items()
    }


def debts_due(ctx: StepContext) -> int:
    """SPEC §4b, set-based: an instalment of an active plan unpaid after its due date is missed
    and the learner reminded; a plan whose missed instalment is older than the scheme's
    `debt_instalment_missed` delay lapses; a debt owed without a running plan,
    `debt_overdue` days after its due date, is reminded — one message per (debt, kind, due
    date). Counts the messages written and the plans lapsed."""
    done = 0
    active_plan = sa.and_(Debt.plan_status == "active", Debt.status.in_(debts.ACTIVE))
    with ctx.uow() as uow:
        s = uow.session
        owed_by = (
            sa.select(Debt.id)
            .join(Case, Case.id == Debt.case_id)
            .join(Learner, Learner.id == Case.learner_id)
        )
        missed = owed_by.join(DebtInstalment, DebtInstalment.debt_id == Debt.id).where(
            active_plan,
            DebtInstalment.status == "pending",
            DebtInstalment.due_date < ctx.as_of,
        )
        done += insert_debt_messages(
            s, "debt_instalment_missed", missed, Debt.id, DebtInstalment.due_date, Learner.email
        )
        s.execute(
            sa.update(DebtInstalment)
            .where(
                DebtInstalment.status == "pending",
                DebtInstalment.due_date < ctx.as_of,
                DebtInstalment.debt_id.in_(sa.select(Debt.id).where(active_plan)),
            )
            .values(status="missed", reminded_on=ctx.as_of)
            .execution_options(synchronize_session=False)
        )
        for scheme_id, grace in _debt_delays(ctx, "debt_instalment_missed").items():
            late = sa.select(DebtInstalment.debt_id).where(
                DebtInstalment.status == "missed",
                DebtInstalment.due_date <= ctx.as_of - timedelta(days=grace),
            )
            lapsed = s.execute(
                sa.update(Debt)
                .where(active_plan, Debt.scheme_id == scheme_id, Debt.id.in_(late))
                .values(plan_status="lapsed")
                .execution_options(synchronize_session=False)
            )
            done += int(lapsed.rowcount)  # type: ignore[attr-defined]
        for scheme_id, days in _debt_delays(ctx, "debt_overdue").items():
            overdue = owed_by.where(
                Debt.scheme_id == scheme_id,
                Debt.status.in_(debts.ACTIVE),
                sa.or_(Debt.plan_status.is_(None), Debt.plan_status != "active"),
                Debt.due_date <= ctx.as_of - timedelta(days=days),
            )
            done += insert_debt_messages(
                s, "debt_overdue", overdue, Debt.id, Debt.due_date, Learner.email
            )
        uow.commit()
    return done


# -- 5. retention ------------------------------------------------------------------------------


def retention_purge(ctx: StepContext) -> int:
    """Erase the personal data of learners whose cases are all closed since longer than the
    scheme keeps them, never an active case (workflow.privacy): the learner, signatures, texts,
    messages, documents and their files. Counts learners; "retention_documents" the documents."""
    counts = privacy.purge_expired(
        ctx.factory, ctx.schemes, ctx.as_of, default_store(), run_id=ctx.run_id
    )
    ctx.extra_counts["retention_documents"] = counts["documents"]
    return counts["learners"]


# -- sealing the history -----------------------------------------------------------------------


def seal_history(ctx: StepContext) -> int:
    """Seal the events recorded since the last run into a digest chained to the previous one
    (workflow.audit), so that a row later removed or slipped in among them shows."""
    with ctx.uow() as uow:
        sealed = audit.seal(uow.session, ctx.run_id)
        uow.commit()
    return sealed
