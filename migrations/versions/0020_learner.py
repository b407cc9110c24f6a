"""declarations by a party: a suspension, a departure, a change of working time or a payment
plan asked for, with its date and proof, until the Région accepts or rejects it

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "declarations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("party", sa.String(length=12), nullable=False),
        sa.Column("declared_by", sa.Integer(), nullable=True),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("text_id", sa.Integer(), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("declared_on", sa.Date(), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decision_text_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('suspension', 'departure', 'working_time', 'payment_plan')",
            name=op.f("ck_declarations_kind"),
        ),
        sa.CheckConstraint("party IN ('learner', 'employer')", name=op.f("ck_declarations_party")),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected')", name=op.f("ck_declarations_status")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_declarations_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["declared_by"], ["users.id"], name=op.f("fk_declarations_declared_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["text_id"], ["case_texts.id"], name=op.f("fk_declarations_text_id_case_texts")
        ),
        sa.ForeignKeyConstraint(
            ["decision_text_id"],
            ["case_texts.id"],
            name=op.f("fk_declarations_decision_text_id_case_texts"),
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_declarations_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declarations")),
    )
    op.create_index(op.f("ix_declarations_case_id"), "declarations", ["case_id"])
    op.create_index("ix_declarations_status_declared", "declarations", ["status", "declared_on"])


def downgrade() -> None:
    op.drop_index("ix_declarations_status_declared", table_name="declarations")
    op.drop_index(op.f("ix_declarations_case_id"), table_name="declarations")
    op.drop_table("declarations")
