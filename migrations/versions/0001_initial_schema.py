"""initial schema: the tables of the core engine, and case_events made append-only

Revision ID: 0001
Revises:
Create Date: 2026-11-23 03:14:05.078564
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.String(length=80), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("scheme_id", "year", name=op.f("uq_campaigns_scheme_id_year")),
    )
    op.create_table(
        "contract_counters",
        sa.Column("scheme_id", sa.String(length=80), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scheme_id", "year", name=op.f("pk_contract_counters")),
    )
    op.create_table(
        "employers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("siret", sa.String(length=14), nullable=False),
        sa.Column("commune_insee", sa.String(length=5), nullable=False),
        sa.Column("sector", sa.String(length=20), nullable=False),
        sa.Column("recruitment_difficulty", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employers")),
        sa.UniqueConstraint("siret", name=op.f("uq_employers_siret")),
    )
    op.create_table(
        "institutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("commune_insee", sa.String(length=5), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_institutes")),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    op.create_table(
        "institute_schemes",
        sa.Column("institute_id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["institute_id"],
            ["institutes.id"],
            name=op.f("fk_institute_schemes_institute_id_institutes"),
        ),
        sa.PrimaryKeyConstraint("institute_id", "scheme_id", name=op.f("pk_institute_schemes")),
    )
    op.create_table(
        "learners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("institute_id", sa.Integer(), nullable=False),
        sa.Column("training_start", sa.Date(), nullable=False),
        sa.Column("training_end", sa.Date(), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["institute_id"], ["institutes.id"], name=op.f("fk_learners_institute_id_institutes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learners")),
    )
    op.create_table(
        "offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("employer_id", sa.Integer(), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("places >= 1", name=op.f("ck_offers_places_positive")),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_offers_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["employer_id"], ["employers.id"], name=op.f("fk_offers_employer_id_employers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
        sa.UniqueConstraint(
            "campaign_id", "employer_id", name=op.f("uq_offers_campaign_id_employer_id")
        ),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.String(length=80), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "listed",
                "applied",
                "interviewed",
                "selected",
                "contracted",
                "in_training",
                "serving",
                "completed",
                "breached",
                "rejected",
                "withdrawn",
                name="state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=40), nullable=True),
        sa.Column("contract_number", sa.String(length=40), nullable=True),
        sa.Column("interview_date", sa.Date(), nullable=True),
        sa.Column("contract_date", sa.Date(), nullable=True),
        sa.Column("diploma_date", sa.Date(), nullable=True),
        sa.Column("service_start", sa.Date(), nullable=True),
        sa.Column("part_time_ratio", sa.Numeric(precision=4, scale=3), nullable=False),
        sa.Column("allowance_ended_on", sa.Date(), nullable=True),
        sa.Column("breach_date", sa.Date(), nullable=True),
        sa.Column("breach_category", sa.String(length=40), nullable=True),
        sa.Column("exempted", sa.Boolean(), nullable=False),
        sa.Column("exemption_ref", sa.String(length=200), nullable=True),
        sa.Column("exemption_decided_by", sa.String(length=200), nullable=True),
        sa.Column("exemption_decided_on", sa.Date(), nullable=True),
        sa.Column("last_effective_date", sa.Date(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_cases_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["learners.id"], name=op.f("fk_cases_learner_id_learners")
        ),
        sa.ForeignKeyConstraint(["offer_id"], ["offers.id"], name=op.f("fk_cases_offer_id_offers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("contract_number", name=op.f("uq_cases_contract_number")),
        sa.UniqueConstraint("offer_id", "learner_id", name=op.f("uq_cases_offer_id_learner_id")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_learner_id"), ["learner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_offer_id"), ["offer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_state"), ["state"], unique=False)

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column(
            "from_state",
            sa.Enum(
                "listed",
                "applied",
                "interviewed",
                "selected",
                "contracted",
                "in_training",
                "serving",
                "completed",
                "breached",
                "rejected",
                "withdrawn",
                name="from_state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_state",
            sa.Enum(
                "listed",
                "applied",
                "interviewed",
                "selected",
                "contracted",
                "in_training",
                "serving",
                "completed",
                "breached",
                "rejected",
                "withdrawn",
                name="to_state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
        sa.UniqueConstraint("case_id", "seq", name=op.f("uq_case_events_case_id_seq")),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("funder", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('due', 'exported', 'notified', 'paid', 'cancelled')",
            name=op.f("ck_payments_status"),
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_payments_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint(
            "case_id", "period", "funder", name=op.f("uq_payments_case_id_period_funder")
        ),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_due_date"), ["due_date"], unique=False)

    op.create_table(
        "reimbursements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("funder", sa.String(length=20), nullable=False),
        sa.Column("base", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_reimbursements_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reimbursements")),
        sa.UniqueConstraint("case_id", "funder", name=op.f("uq_reimbursements_case_id_funder")),
    )
    op.create_table(
        "suspensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('"end" IS NULL OR "end" >= start', name=op.f("ck_suspensions_ordered")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_suspensions_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suspensions")),
    )
    with op.batch_alter_table("suspensions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_suspensions_case_id"), ["case_id"], unique=False)

    _make_events_append_only()


# SPEC §3 / STYLE: the event table is a history; the database itself refuses to rewrite it.
_SQLITE_TRIGGERS = (
    """CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
       BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END""",
    """CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
       BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END""",
)
_POSTGRES_TRIGGERS = (
    """CREATE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'case_events is append-only'; END $$""",
    """CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events
       FOR EACH ROW EXECUTE FUNCTION case_events_append_only()""",
)


def _make_events_append_only() -> None:
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": _SQLITE_TRIGGERS, "postgresql": _POSTGRES_TRIGGERS}.get(dialect, ())
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER case_events_append_only ON case_events")
        op.execute("DROP FUNCTION case_events_append_only()")
    with op.batch_alter_table("suspensions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_suspensions_case_id"))

    op.drop_table("suspensions")
    op.drop_table("reimbursements")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_due_date"))

    op.drop_table("payments")
    op.drop_table("case_events")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_state"))
        batch_op.drop_index(batch_op.f("ix_cases_offer_id"))
        batch_op.drop_index(batch_op.f("ix_cases_learner_id"))
        batch_op.drop_index(batch_op.f("ix_cases_campaign_id"))

    op.drop_table("cases")
    op.drop_table("offers")
    op.drop_table("learners")
    op.drop_table("institute_schemes")
    op.drop_table("settings")
    op.drop_table("institutes")
    op.drop_table("employers")
    op.drop_table("contract_counters")
    op.drop_table("campaigns")
