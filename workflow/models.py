"""The database tables (SQLAlchemy 2.0 typed models). Schema changes go through Alembic
(`migrations/`); `tests/integration/test_migrations.py` checks that both agree."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from workflow.iban import Iban
from workflow.sqltext import prefix_index
from workflow.states import State

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Cents(TypeDecorator[Decimal]):
    """Money as an integer number of cents in the database, `Decimal` in Python: exact on every
    backend (SQLite has no decimal type) and summable in SQL."""

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: sa.Dialect) -> int | None:
        if value is None:
            return None
        cents = value * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"amount {value} is not a whole number of cents")
        return int(cents)

    def process_result_value(self, value: int | None, dialect: sa.Dialect) -> Decimal | None:
        return None if value is None else (Decimal(value) / 100).quantize(Decimal("0.01"))


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored and returned in UTC, aware, on every backend."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SealedIban(TypeDecorator[Iban]):
    """A learner's IBAN, encrypted (workflow.iban): only an `Iban` is written, never a clear
    string, so an account cannot reach the database in clear by mistake."""

    impl = sa.String(200)
    cache_ok = True

    def process_bind_param(self, value: Iban | None, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Iban):
            raise TypeError("an IBAN is stored sealed: pass workflow.iban.Iban.seal(...)")
        return value.stored

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> Iban | None:
        return None if value is None else Iban(value)


def state_column_type(name: str) -> sa.Enum:
    """A state as a string with a CHECK of the allowed values (the check is named after the
    column: two state columns in one table need two names)."""
    return sa.Enum(
        State,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda enum: [m.value for m in enum],
    )


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {Decimal: Cents, datetime: UTCDateTime}


class Institute(Base):
    __tablename__ = "institutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    commune_insee: Mapped[str] = mapped_column(sa.String(5))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    schemes: Mapped[list[InstituteScheme]] = relationship(
        back_populates="institute", cascade="all, delete-orphan"
    )


class InstituteScheme(Base):
    """An institute authorised for a scheme (SPEC §3 `submit` guard)."""

    __tablename__ = "institute_schemes"

    institute_id: Mapped[int] = mapped_column(sa.ForeignKey("institutes.id"), primary_key=True)
    scheme_id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    institute: Mapped[Institute] = relationship(back_populates="schemes")


class Employer(Base):
    __tablename__ = "employers"
    # The campaign's list of employers by name, a page at a time (workflow.spaces).
    __table_args__ = (sa.Index("ix_employers_name", "name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    siret: Mapped[str] = mapped_column(sa.String(14), unique=True)
    commune_insee: Mapped[str] = mapped_column(sa.String(5))
    sector: Mapped[str] = mapped_column(sa.String(20))
    recruitment_difficulty: Mapped[bool] = mapped_column(default=False)
    email: Mapped[str | None] = mapped_column(sa.String(254))
    # Who signs for the employer, name and position (edited on the web: workflow.web.refdata).
    signatory: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (sa.UniqueConstraint("scheme_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[str] = mapped_column(sa.String(80))
    year: Mapped[int]
    is_open: Mapped[bool] = mapped_column(default=True)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)


class Offer(Base):
    """An employer listed in a campaign with a number of places."""

    __tablename__ = "offers"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "employer_id"),
        sa.CheckConstraint("places >= 1", name="places_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id"))
    employer_id: Mapped[int] = mapped_column(sa.ForeignKey("employers.id"))
    places: Mapped[int]
    # Bumped by every selection so that two selections racing for the last place conflict.
    version: Mapped[int] = mapped_column(default=1)
    # Closed to new applications (its cases go on): workflow.directory.close_offer.
    closed_at: Mapped[datetime | None]
    campaign: Mapped[Campaign] = relationship()
    employer: Mapped[Employer] = relationship()


class Learner(Base):
    __tablename__ = "learners"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    birth_date: Mapped[date]
    email: Mapped[str] = mapped_column(sa.String(254))
    institute_id: Mapped[int] = mapped_column(sa.ForeignKey("institutes.id"))
    training_start: Mapped[date]
    training_end: Mapped[date]
    # Encrypted, with its masked form readable without the key (workflow.iban).
    iban: Mapped[Iban | None] = mapped_column(SealedIban)
    # The postal address, as typed (erased by the retention purge: workflow.privacy).
    address: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    institute: Mapped[Institute] = relationship()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Case(Base):
    """One learner's application to one offer, followed to its end (SPEC §3)."""

    __tablename__ = "cases"
    __table_args__ = (
        sa.UniqueConstraint("offer_id", "learner_id"),
        # The case list sorted by latest event, paginated by keyset.
        sa.Index("ix_cases_last_event", "last_effective_date", "id"),
        # The nightly completions and end-of-commitment reminders: serving cases by end date.
        sa.Index("ix_cases_state_commitment_end", "state", "commitment_ends_on"),
        # The case list filtered by state, newest first (keyset on id).
        sa.Index("ix_cases_state_id", "state", "id"),
        # « À traiter »: the selected cases in due order (workflow.queue).
        sa.Index("ix_cases_state_last_event", "state", "last_effective_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(sa.ForeignKey("offers.id"), index=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("learners.id"), index=True)
    # Denormalised from the offer: the guards and the lists ask "this learner in this campaign".
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id"), index=True)
    scheme_id: Mapped[str] = mapped_column(sa.String(80))
    state: Mapped[State] = mapped_column(state_column_type("state"))
    version: Mapped[int] = mapped_column(default=1)
    tier: Mapped[str | None] = mapped_column(sa.String(40))
    contract_number: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    interview_date: Mapped[date | None]
    contract_date: Mapped[date | None]
    diploma_date: Mapped[date | None]
    service_start: Mapped[date | None]
    part_time_ratio: Mapped[Decimal] = mapped_column(
        sa.Numeric(4, 3, asdecimal=True), default=Decimal(1)
    )
    # Effective date of start_service, breach or withdraw: the allowance stops the day before.
    allowance_ended_on: Mapped[date | None]
    breach_date: Mapped[date | None]
    breach_category: Mapped[str | None] = mapped_column(sa.String(40))
    exempted: Mapped[bool] = mapped_column(default=False)
    exemption_ref: Mapped[str | None] = mapped_column(sa.String(200))
    exemption_decided_by: Mapped[str | None] = mapped_column(sa.String(200))
    exemption_decided_on: Mapped[date | None]
    last_effective_date: Mapped[date]
    # Projections kept by the case service so that the nightly steps select their work by index:
    # - the due date of the next allowance instalment not yet created (None: none left). `sign`
    #   sets it to the contract date, a safe lower bound; the payments step moves it forward.
    next_payment_due: Mapped[date | None] = mapped_column(index=True)
    # - the last day of the commitment (ledger.commitment_end), recomputed at every event that
    #   moves it (start_service, suspend, resume); None while a suspension runs.
    commitment_ends_on: Mapped[date | None]
    # The last annual service attestation received from the employer (SPEC §6).
    attested_on: Mapped[date | None]
    # The terms of the signed contract (SPEC §4b), copied from the contract issued at `sign`:
    # every computation for the case reads them, never the scheme's later values.
    contract_terms: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    # The earliest due date of a month whose entitlement grew past what was paid for it (a
    # regularisation): the nightly run's complementary payments select their cases by it.
    complement_due: Mapped[date | None] = mapped_column(index=True)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    offer: Mapped[Offer] = relationship()
    learner: Mapped[Learner] = relationship()
    campaign: Mapped[Campaign] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(
        order_by="CaseEvent.seq", back_populates="case", viewonly=True
    )
    suspensions: Mapped[list[Suspension]] = relationship(
        order_by="Suspension.start", back_populates="case", viewonly=True
    )
    payments: Mapped[list[Payment]] = relationship(
        order_by="(Payment.period, Payment.funder, Payment.seq)",
        back_populates="case",
        viewonly=True,
    )
    reimbursements: Mapped[list[Reimbursement]] = relationship(
        order_by="Reimbursement.funder", back_populates="case", viewonly=True
    )
    debts: Mapped[list[Debt]] = relationship(
        order_by="Debt.id", back_populates="case", viewonly=True
    )
    working_times: Mapped[list[WorkingTime]] = relationship(
        order_by="WorkingTime.start", back_populates="case", viewonly=True
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


ERASED_TEXT = "(texte effacé : durée de conservation échue)"


class CaseText(Base):
    """The free text of an event — a caseworker's note, the reason given for a refusal, a
    withdrawal or a breach — kept beside the append-only history, which points to it
    (`case_events.text_id`): a person may write anything there, a name included, so the
    retention purge must be able to erase it (workflow.privacy); inside `case_events` it could
    not."""

    __tablename__ = "case_texts"
    __table_args__ = (sa.CheckConstraint("kind IN ('note', 'reason')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(12))
    text: Mapped[str | None] = mapped_column(sa.Text)  # None once erased
    erased_on: Mapped[date | None]

    @property
    def shown(self) -> str:
        return ERASED_TEXT if self.text is None else self.text


class CaseEvent(Base):
    """Append-only history of a case: written in the same transaction as the change it records.
    The database refuses UPDATE and DELETE on this table (triggers in the first migration). It
    holds no personal data: the case and documents are referenced by id, and free text lives in
    `case_texts`, which the retention purge can erase."""

    __tablename__ = "case_events"
    __table_args__ = (sa.UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    seq: Mapped[int]
    trigger: Mapped[str] = mapped_column(sa.String(40))
    from_state: Mapped[State | None] = mapped_column(state_column_type("from_state"))
    to_state: Mapped[State] = mapped_column(state_column_type("to_state"))
    effective_date: Mapped[date]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(200))
    # The event's reason or note, if any (a refusal, withdrawal or breach; a caseworker's note).
    text_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_texts.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # The tamper-evident chain (workflow.audit): the hash of the case's previous event, and this
    # row's own SHA-256 over its canonical encoding, that previous hash included.
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    hash: Mapped[str | None] = mapped_column(sa.String(64))
    case: Mapped[Case] = relationship(back_populates="events")
    free_text: Mapped[CaseText | None] = relationship(lazy="joined")

    @property
    def reason(self) -> str | None:
        text = self.free_text
        return text.shown if text is not None and text.kind == "reason" else None

    @property
    def note(self) -> str | None:
        text = self.free_text
        return text.shown if text is not None and text.kind == "note" else None


class EventDigest(Base):
    """A seal of the events recorded since the previous seal (ids first_event_id < id ≤
    last_event_id), chained to the previous digest; written by each nightly run."""

    __tablename__ = "event_digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("job_runs.id"))
    first_event_id: Mapped[int] = mapped_column(sa.BigInteger)
    last_event_id: Mapped[int] = mapped_column(sa.BigInteger)
    events: Mapped[int]
    digest: Mapped[str] = mapped_column(sa.String(64))
    prev_digest: Mapped[str] = mapped_column(sa.String(64))
    sealed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suspension(Base):
    """A period that stops the commitment clock (SPEC §4); `end` is None while it runs."""

    __tablename__ = "suspensions"
    __table_args__ = (sa.CheckConstraint('"end" IS NULL OR "end" >= start', name="ordered"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    start: Mapped[date]
    end: Mapped[date | None]
    reason: Mapped[str] = mapped_column(sa.String(40))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    case: Mapped[Case] = relationship(back_populates="suspensions")


class Payment(Base):
    """One allowance share for one (case, month, funder), created once when due (SPEC §4); a
    complementary payment for the same month after a regularisation has the next `seq`."""

    __tablename__ = "payments"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "period", "funder", "seq"),
        sa.CheckConstraint(
            "status IN ('due', 'exported', 'notified', 'paid', 'cancelled')", name="status"
        ),
        # The employers' monthly statements: shares still `due`, by funder and due date.
        sa.Index("ix_payments_status_funder_due", "status", "funder", "due_date"),
        # The reminders of employer shares left unconfirmed: by the date they were notified.
        sa.Index("ix_payments_status_funder_changed", "status", "funder", "status_changed_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    period: Mapped[date]  # first day of the month paid for
    funder: Mapped[str] = mapped_column(sa.String(20))
    # 0: the month's instalment; 1, 2…: complementary payments after regularisations (SPEC §4b).
    seq: Mapped[int] = mapped_column(default=0, server_default="0")
    amount: Mapped[Decimal]
    # The part of a sent or paid amount beyond the entitlement: an overpayment the learner owes.
    overpaid: Mapped[Decimal] = mapped_column(default=Decimal(0), server_default="0")
    due_date: Mapped[date] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(sa.String(12), default="due")
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    status_changed_on: Mapped[date | None]
    status_changed_by: Mapped[str | None] = mapped_column(sa.String(200))
    # The SEPA batch that exported it (Région shares): a payment is exported once.
    batch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sepa_batches.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    case: Mapped[Case] = relationship(back_populates="payments")


class Reimbursement(Base):
    """What a breach costs the learner, per funder (SPEC §4)."""

    __tablename__ = "reimbursements"
    __table_args__ = (sa.UniqueConstraint("case_id", "funder"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    funder: Mapped[str] = mapped_column(sa.String(20))
    base: Mapped[Decimal]
    amount: Mapped[Decimal]
    due_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    case: Mapped[Case] = relationship(back_populates="reimbursements")


class WorkingTime(Base):
    """A change of working time during service, from a date (SPEC §4: part time counts pro rata
    where the scheme says so). The ratio at service start is the case's `part_time_ratio`."""

    __tablename__ = "working_times"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "start"),
        sa.CheckConstraint("ratio > 0 AND ratio <= 1", name="ratio"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    start: Mapped[date]
    ratio: Mapped[Decimal] = mapped_column(sa.Numeric(4, 3, asdecimal=True))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    case: Mapped[Case] = relationship(back_populates="working_times")


DEBT_KINDS = ("breach", "overpayment")
DEBT_STATUSES = ("open", "partially_repaid", "settled", "waived", "written_off")


class Debt(Base):
    """What a learner owes one funder (SPEC §4b): a breach reimbursement or an overpayment, with
    its number (« titre », gapless per scheme and year), due date and life. Balance = amount −
    repaid − waived − written off, never below zero."""

    __tablename__ = "debts"
    __table_args__ = (
        sa.UniqueConstraint("number"),
        sa.CheckConstraint("kind IN ('breach', 'overpayment')", name="kind"),
        sa.CheckConstraint(
            "status IN ('open', 'partially_repaid', 'settled', 'waived', 'written_off')",
            name="status",
        ),
        sa.CheckConstraint("repaid + waived + written_off <= amount", name="balance"),
        # The reminders of overdue debts and the « à traiter » lists: by status and due date.
        sa.Index("ix_debts_status_due", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    scheme_id: Mapped[str] = mapped_column(sa.String(80))
    funder: Mapped[str] = mapped_column(sa.String(20))
    kind: Mapped[str] = mapped_column(sa.String(12))
    number: Mapped[str] = mapped_column(sa.String(40))
    amount: Mapped[Decimal]
    repaid: Mapped[Decimal] = mapped_column(default=Decimal(0))
    waived: Mapped[Decimal] = mapped_column(default=Decimal(0))
    written_off: Mapped[Decimal] = mapped_column(default=Decimal(0))
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    opened_on: Mapped[date]
    due_date: Mapped[date]
    # The case event that gave rise to it (its `seq`), and the recovery order issued for it.
    event_seq: Mapped[int | None]
    document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("documents.id"))
    # A payment plan (échéancier): None, "active", "lapsed" (an instalment missed) or "completed".
    plan_status: Mapped[str | None] = mapped_column(sa.String(12))
    last_reminder_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    case: Mapped[Case] = relationship(back_populates="debts")
    movements: Mapped[list[DebtMovement]] = relationship(
        order_by="DebtMovement.id", back_populates="debt", viewonly=True
    )
    instalments: Mapped[list[DebtInstalment]] = relationship(
        order_by="DebtInstalment.seq", back_populates="debt", viewonly=True
    )

    @property
    def balance(self) -> Decimal:
        return max(Decimal(0), self.amount - self.repaid - self.waived - self.written_off)


class DebtMovement(Base):
    """One step of a debt's life: a repayment, a waiver or a write-off (with its decision), or
    the employer's confirmation that it received a repayment of its share."""

    __tablename__ = "debt_movements"
    __table_args__ = (
        sa.CheckConstraint(
            "kind IN ('repayment', 'waiver', 'write_off', 'plan', 'confirmation')", name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    debt_id: Mapped[int] = mapped_column(sa.ForeignKey("debts.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(12))
    amount: Mapped[Decimal] = mapped_column(default=Decimal(0))
    on: Mapped[date]
    reference: Mapped[str | None] = mapped_column(sa.String(200))
    decision: Mapped[str | None] = mapped_column(sa.String(200))
    decided_by: Mapped[str | None] = mapped_column(sa.String(200))
    actor: Mapped[str] = mapped_column(sa.String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    debt: Mapped[Debt] = relationship(back_populates="movements")


class DebtInstalment(Base):
    """One instalment of a debt's payment plan."""

    __tablename__ = "debt_instalments"
    __table_args__ = (
        sa.UniqueConstraint("debt_id", "seq"),
        sa.CheckConstraint("status IN ('pending', 'paid', 'missed', 'cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    debt_id: Mapped[int] = mapped_column(sa.ForeignKey("debts.id"))
    seq: Mapped[int]
    due_date: Mapped[date] = mapped_column(index=True)
    amount: Mapped[Decimal]
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    reminded_on: Mapped[date | None]
    debt: Mapped[Debt] = relationship(back_populates="instalments")


class DebtCounter(Base):
    """The last debt number issued per scheme and year: numbers are gapless (SPEC §4b)."""

    __tablename__ = "debt_counters"

    scheme_id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class Document(Base):
    """A generated or attached file (SPEC §5). The content lives in the document store under its
    SHA-256 and never changes; regenerating makes a new version and keeps the old one."""

    __tablename__ = "documents"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "kind", "version"),
        # `purged`: erased by the retention purge, file removed (the one change the database
        # allows to an issued document's content columns: its fingerprint to NULL; migration 0013).
        sa.CheckConstraint(
            "status IN ('issued', 'superseded', 'invalidated', 'purged')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(sa.ForeignKey("campaigns.id"))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("documents.id"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    version: Mapped[int]
    number: Mapped[str | None] = mapped_column(sa.String(40))
    filename: Mapped[str] = mapped_column(sa.String(200))
    media_type: Mapped[str] = mapped_column(sa.String(120))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int]
    # What the document was built from (tier, dates, IBAN…): a change makes it stale.
    fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    # A contract's terms as issued (tier, amounts per funder, commitment, rules; SPEC §4b).
    terms: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(12), default="issued")
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    issued_on: Mapped[date]
    issued_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    signatures: Mapped[list[Signature]] = relationship(
        order_by="Signature.id", back_populates="document", viewonly=True
    )


class Signature(Base):
    """One party's signature on an issued contract."""

    __tablename__ = "signatures"
    __table_args__ = (sa.UniqueConstraint("document_id", "party"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("documents.id"))
    # "learner" or the code of a funder that signs (the scheme's declaration, SPEC §4b).
    party: Mapped[str] = mapped_column(sa.String(20))
    signer_name: Mapped[str] = mapped_column(sa.String(200))
    signed_on: Mapped[date]
    recorded_by: Mapped[str] = mapped_column(sa.String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # "typed" (a name an agent recorded) or "electronic" (workflow.esign, issue 16).
    method: Mapped[str] = mapped_column(sa.String(12), default="typed", server_default="typed")
    document: Mapped[Document] = relationship(back_populates="signatures")


class EsignRequest(Base):
    """One party's electronic signature of one contract PDF (issue 16): the invitation, its
    one-time code (hashed, never stored in clear) and, once signed, the evidence that makes a
    simple electronic signature hold (eIDAS art. 25): who, which e-mail, when, from where, what
    document (its SHA-256) and the consent they ticked."""

    __tablename__ = "esign_requests"
    __table_args__ = (
        sa.UniqueConstraint("pdf_id", "party"),
        sa.CheckConstraint(
            "status IN ('pending', 'signed', 'refused', 'invalidated')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("documents.id"))
    # The PDF the party reads and signs: its SHA-256 below is what the evidence states.
    pdf_id: Mapped[int] = mapped_column(sa.ForeignKey("documents.id"))
    document_sha256: Mapped[str] = mapped_column(sa.String(64))
    party: Mapped[str] = mapped_column(sa.String(20))
    position: Mapped[int]
    signer_name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(254))
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    code_hash: Mapped[str | None] = mapped_column(sa.String(64))
    code_expires_at: Mapped[datetime | None]
    code_attempts: Mapped[int] = mapped_column(default=0)
    signature_id: Mapped[int | None] = mapped_column(sa.ForeignKey("signatures.id"))
    signed_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(400))
    consent_text: Mapped[str | None] = mapped_column(sa.Text)
    # Why the party refused, or why the request no longer holds (the contract changed).
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SepaBatch(Base):
    """One pain.001 file of one `transfer` funder's shares, debited from its account;
    re-exporting it reproduces the same bytes."""

    __tablename__ = "sepa_batches"
    __table_args__ = (sa.UniqueConstraint("message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    funder: Mapped[str] = mapped_column(sa.String(20))
    period: Mapped[date]
    message_id: Mapped[str] = mapped_column(sa.String(35))
    execution_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(200))
    count: Mapped[int]
    total: Mapped[Decimal]
    sha256: Mapped[str] = mapped_column(sa.String(64))


class OutboxMessage(Base):
    """A reminder or notice to send (SPEC §6): one per (case, kind, due date), whatever the
    reruns; rendered and sent over SMTP by the last nightly step, with retries. A sender claims
    it first (`claimed_by` until `claimed_until`, see jobs.outbox): two senders never send it
    both, and the claim of a sender that died expires."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.UniqueConstraint("dedup_key"),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed', 'cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(sa.String(200))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    employer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("employers.id"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    due_date: Mapped[date]
    recipient: Mapped[str | None] = mapped_column(sa.String(254))
    context: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    status: Mapped[str] = mapped_column(sa.String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    message_id: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(sa.String(200))
    claimed_until: Mapped[datetime | None]


class JobRun(Base):
    """One nightly run: its as-of date, timing, per-step counts and outcome."""

    __tablename__ = "job_runs"
    __table_args__ = (
        sa.CheckConstraint("status IN ('running', 'succeeded', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date] = mapped_column(index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(sa.String(12), default="running")
    counts: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)
    holder: Mapped[str] = mapped_column(sa.String(200))
    # Why a step did less than it could, in French (« envoi des courriels non configuré »).
    note: Mapped[str | None] = mapped_column(sa.Text)


class RunAnomaly(Base):
    """An automatic transition a nightly run could not fire because the case service refused it
    (e.g. `complete` after an attestation dated past the commitment end): kept for a caseworker
    instead of being skipped in silence (workflow.anomalies). At most one open per (case,
    trigger): a later run meeting the same refusal updates it; it is closed when the case leaves
    the state the trigger starts from, or by a caseworker with a note."""

    __tablename__ = "run_anomalies"
    __table_args__ = (
        sa.Index(
            "uq_run_anomalies_open",
            "case_id",
            "trigger",
            unique=True,
            sqlite_where=sa.text("resolved_at IS NULL"),
            postgresql_where=sa.text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The run that met the refusal first, and the latest run that met it again.
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("job_runs.id"), index=True)
    last_run_id: Mapped[int] = mapped_column(sa.ForeignKey("job_runs.id"), index=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    trigger: Mapped[str] = mapped_column(sa.String(40))
    # The effective date the transition was due on.
    effective_date: Mapped[date]
    # The failed guards: [{"name": …, "message": …}] (messages in French).
    guards: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    message: Mapped[str] = mapped_column(sa.Text)
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(sa.String(200))
    resolution_note: Mapped[str | None] = mapped_column(sa.Text)


class LearnerPurge(Base):
    """A learner erased by the retention purge (workflow.privacy): the run and day, and what
    was erased (`counts`: signatures, texts, messages, documents, payment and anomaly notes).
    `files_removed_at` is set once the documents' files are gone from the store: a run killed
    between its commit and the removal finishes it the next night."""

    __tablename__ = "learner_purges"

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("learners.id"), unique=True)
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("job_runs.id"))
    as_of: Mapped[date]
    counts: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    files_removed_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobLease(Base):
    """At most one nightly run at a time: the run holds this row until it ends or expires."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(200))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class User(Base):
    """A person who signs in to the web application (workflow.web), with one role."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(
            "role IN ('region', 'employer', 'institute', 'admin', 'learner')", name="role"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(12))
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    # SHA-256 of the API token (the token itself is shown once, at creation).
    api_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    employer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("employers.id"))
    institute_id: Mapped[int | None] = mapped_column(sa.ForeignKey("institutes.id"))
    # A learner's own account (issue 15): they see their own cases only.
    learner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("learners.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A disabled account cannot sign in, its sessions are revoked and its token refused.
    disabled_at: Mapped[datetime | None]
    last_sign_in_at: Mapped[datetime | None]


class SignInLink(Base):
    """A one-time sign-in link (an invitation, workflow.invitations): the e-mail carries a
    random token, stored here only as its SHA-256; it opens one session, once, before
    `expires_at`."""

    __tablename__ = "sign_in_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser (workflow.signin): the cookie carries a random id, stored here only as
    its SHA-256, so a copy of the table opens no session. Revoked at sign-out, when the account
    is disabled or its password reset; refused after the idle time or the lifetime."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class SignInThrottle(Base):
    """Failed sign-ins of one account (the address typed, known or not) or from one client
    address: the next attempt is refused until `blocked_until` (workflow.signin). Kept in the
    database so that every web worker counts the same failures."""

    __tablename__ = "sign_in_throttles"
    __table_args__ = (sa.CheckConstraint("kind IN ('account', 'address')", name="kind"),)

    kind: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(254), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime]
    blocked_until: Mapped[datetime | None]


class ContractCounter(Base):
    """The last contract number issued per scheme and year: numbers are gapless (SPEC §5)."""

    __tablename__ = "contract_counters"

    scheme_id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class Setting(Base):
    """Small key/value facts about the database itself (e.g. that `fidelis demo` built it)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


# -- threads and the queue (issue 15) ---------------------------------------------------------


class CaseMessage(Base):
    """One message of a case's thread: the learner's or the employer's, each with the Région
    (workflow.threads). Its text is in `case_texts`, referenced by its history event as a note's
    is, so the retention purge can erase it; an attachment is a `documents` row."""

    __tablename__ = "case_messages"
    __table_args__ = (
        sa.CheckConstraint("thread IN ('learner', 'employer')", name="thread"),
        sa.Index("ix_case_messages_case_thread", "case_id", "thread", "id"),
        # « À traiter »: the threads waiting for the Région, oldest first (workflow.queue).
        sa.Index("ix_case_messages_waiting", "waiting_since", "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    thread: Mapped[str] = mapped_column(sa.String(12))
    # Written by the Région's side (an agent) or by the thread's other party.
    from_region: Mapped[bool]
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("case_events.id"))
    text_id: Mapped[int] = mapped_column(sa.ForeignKey("case_texts.id"))
    document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("documents.id"))
    written_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A party's message no later message of its thread answers yet: its date (the queue's due
    # date); None once answered, and on the Région's messages (workflow.threads keeps it).
    waiting_since: Mapped[date | None]
    text: Mapped[CaseText] = relationship()
    event: Mapped[CaseEvent] = relationship()
    document: Mapped[Document | None] = relationship()


class CaseAssignment(Base):
    """The agent a case is assigned to (workflow.queue): one at most, by hand or by the scheme's
    rule. Work distribution, not a fact of the case: it is no event of its history."""

    __tablename__ = "case_assignments"
    __table_args__ = (sa.Index("ix_case_assignments_user_id", "user_id", "case_id"),)

    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_by: Mapped[str] = mapped_column(sa.String(200))


# -- declarations by a party (issue 15) -------------------------------------------------------

DECLARATION_KINDS = ("suspension", "departure", "working_time", "payment_plan")
DECLARATION_STATUSES = ("pending", "accepted", "rejected")


class Declaration(Base):
    """What a party declares on its case — a suspension, a departure, a change of working time,
    a request for a payment plan — with a date and an optional proof, until the Région accepts
    it (firing the matching action) or rejects it with a reason (workflow.declarations). Free
    texts live in `case_texts`, which the retention purge erases."""

    __tablename__ = "declarations"
    __table_args__ = (
        sa.CheckConstraint(
            "kind IN ('suspension', 'departure', 'working_time', 'payment_plan')", name="kind"
        ),
        sa.CheckConstraint("party IN ('learner', 'employer', 'institute')", name="party"),
        sa.CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name="status"),
        # « À traiter »: the pending ones by the day they were declared.
        sa.Index("ix_declarations_status_declared", "status", "declared_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    party: Mapped[str] = mapped_column(sa.String(12))
    declared_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    effective_on: Mapped[date]
    # Codes, dates and figures only (a suspension's reason and end, a ratio, a debt's id).
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    text_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_texts.id"))
    document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("documents.id"))
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    declared_on: Mapped[date]
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_on: Mapped[date | None]
    decided_by: Mapped[str | None] = mapped_column(sa.String(200))
    decision_text_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_texts.id"))
    text: Mapped[CaseText | None] = relationship(foreign_keys=[text_id])
    decision_text: Mapped[CaseText | None] = relationship(foreign_keys=[decision_text_id])
    document: Mapped[Document | None] = relationship()


# The case list's search box: the beginning of a learner's names or of a contract number
# (workflow.sqltext.starts_with_ci), served by an index at any number of cases.
prefix_index("ix_learners_last_name_prefix", Learner.last_name)
prefix_index("ix_learners_first_name_prefix", Learner.first_name)
prefix_index("ix_cases_contract_number_prefix", Case.contract_number)
# The case list filtered by the employer's département (CaseFilter.departement).
sa.Index("ix_employers_departement", sa.func.substr(Employer.commune_insee, 1, 2))


__all__ = [
    "DECLARATION_KINDS",
    "DECLARATION_STATUSES",
    "ERASED_TEXT",
    "Campaign",
    "Case",
    "CaseAssignment",
    "CaseEvent",
    "CaseMessage",
    "CaseText",
    "Debt",
    "DebtCounter",
    "DebtInstalment",
    "DebtMovement",
    "Declaration",
    "Document",
    "Employer",
    "EsignRequest",
    "Institute",
    "InstituteScheme",
    "JobLease",
    "JobRun",
    "Learner",
    "LearnerPurge",
    "Offer",
    "OutboxMessage",
    "Payment",
    "Reimbursement",
    "SignInThrottle",
    "Signature",
    "Suspension",
    "User",
    "WebSession",
    "WorkingTime",
    "utcnow",
]
