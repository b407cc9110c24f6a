"""money after the happy path: entitlement, regularisation, debts, funders as data (SPEC §4b)

- `payments.seq`: a complementary payment for a month after a regularisation is a new row with
  the next `seq` (0 is the month's instalment); `payments.overpaid`: the part of a sent or paid
  amount beyond the entitlement, owed back by the learner.
- `cases.contract_terms` (the signed contract's terms, read by every computation) and
  `cases.complement_due` (the nightly run's complementary payments select their cases by it);
  `documents.terms` (a contract's terms as issued).
- `debts`, `debt_movements`, `debt_instalments`, `debt_counters`: what a learner owes each
  funder, numbered gapless per scheme and year, and its life.
- `working_times`: dated changes of working time during service.
- `signatures.party` is "learner" or the code of a funder that signs (no fixed list any more).

On SQLite, `payments` and `signatures` are rebuilt (batch mode) without reflecting the tables
their foreign keys point to; nothing points to either of them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 11:34:04.946730
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Batch copies on SQLite reflect the table alone (not `cases`, whose expression indexes it skips).
_ALONE = {"resolve_fks": False}


def upgrade() -> None:
    op.create_table(
        "debt_counters",
        sa.Column("scheme_id", sa.String(length=80), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scheme_id", "year", name=op.f("pk_debt_counters")),
    )
    op.create_table(
        "working_times",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("ratio", sa.Numeric(precision=4, scale=3), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ratio > 0 AND ratio <= 1", name=op.f("ck_working_times_ratio")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_working_times_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_working_times")),
        sa.UniqueConstraint("case_id", "start", name=op.f("uq_working_times_case_id_start")),
    )
    op.create_table(
        "debts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.String(length=80), nullable=False),
        sa.Column("funder", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("repaid", sa.BigInteger(), nullable=False),
        sa.Column("waived", sa.BigInteger(), nullable=False),
        sa.Column("written_off", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("plan_status", sa.String(length=12), nullable=True),
        sa.Column("last_reminder_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('breach', 'overpayment')", name=op.f("ck_debts_kind")),
        sa.CheckConstraint(
            "status IN ('open', 'partially_repaid', 'settled', 'waived', 'written_off')",
            name=op.f("ck_debts_status"),
        ),
        sa.CheckConstraint(
            "repaid + waived + written_off <= amount", name=op.f("ck_debts_balance")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_debts_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_debts_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debts")),
        sa.UniqueConstraint("number", name=op.f("uq_debts_number")),
    )
    with op.batch_alter_table("debts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_debts_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_debts_status_due", ["status", "due_date"], unique=False)

    op.create_table(
        "debt_instalments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("debt_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reminded_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'paid', 'missed', 'cancelled')",
            name=op.f("ck_debt_instalments_status"),
        ),
        sa.ForeignKeyConstraint(
            ["debt_id"], ["debts.id"], name=op.f("fk_debt_instalments_debt_id_debts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debt_instalments")),
        sa.UniqueConstraint("debt_id", "seq", name=op.f("uq_debt_instalments_debt_id_seq")),
    )
    with op.batch_alter_table("debt_instalments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_debt_instalments_due_date"), ["due_date"], unique=False
        )

    op.create_table(
        "debt_movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("debt_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("decision", sa.String(length=200), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('repayment', 'waiver', 'write_off', 'plan', 'confirmation')",
            name=op.f("ck_debt_movements_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["debt_id"], ["debts.id"], name=op.f("fk_debt_movements_debt_id_debts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debt_movements")),
    )
    with op.batch_alter_table("debt_movements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_debt_movements_debt_id"), ["debt_id"], unique=False)

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contract_terms", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("complement_due", sa.Date(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_cases_complement_due"), ["complement_due"], unique=False
        )

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("terms", sa.JSON(), nullable=True))

    with op.batch_alter_table("payments", schema=None, reflect_kwargs=_ALONE) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("overpaid", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.drop_constraint(batch_op.f("uq_payments_case_id_period_funder"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_payments_case_id_period_funder_seq"),
            ["case_id", "period", "funder", "seq"],
        )

    with op.batch_alter_table("signatures", schema=None, reflect_kwargs=_ALONE) as batch_op:
        batch_op.drop_constraint(op.f("ck_signatures_party"), type_="check")
        batch_op.alter_column(
            "party",
            existing_type=sa.VARCHAR(length=12),
            type_=sa.String(length=20),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("signatures", schema=None, reflect_kwargs=_ALONE) as batch_op:
        batch_op.alter_column(
            "party",
            existing_type=sa.String(length=20),
            type_=sa.VARCHAR(length=12),
            existing_nullable=False,
        )
        batch_op.create_check_constraint(
            op.f("ck_signatures_party"), "party IN ('learner', 'employer', 'region')"
        )

    with op.batch_alter_table("payments", schema=None, reflect_kwargs=_ALONE) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_payments_case_id_period_funder_seq"), type_="unique"
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_payments_case_id_period_funder"), ["case_id", "period", "funder"]
        )
        batch_op.drop_column("overpaid")
        batch_op.drop_column("seq")

    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of `cases` reflects its expression indexes.
    op.drop_column("documents", "terms")
    op.drop_index(op.f("ix_cases_complement_due"), table_name="cases")
    op.drop_column("cases", "complement_due")
    op.drop_column("cases", "contract_terms")

    with op.batch_alter_table("debt_movements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debt_movements_debt_id"))

    op.drop_table("debt_movements")
    with op.batch_alter_table("debt_instalments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debt_instalments_due_date"))

    op.drop_table("debt_instalments")
    with op.batch_alter_table("debts", schema=None) as batch_op:
        batch_op.drop_index("ix_debts_status_due")
        batch_op.drop_index(batch_op.f("ix_debts_case_id"))

    op.drop_table("debts")
    op.drop_table("working_times")
    op.drop_table("debt_counters")
