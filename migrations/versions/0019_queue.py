"""threads and the queue: messages per case and thread, cases assigned to an agent

`case_messages`: one message of a case's thread (the learner's or the employer's, each with the
Région), pointing to its history event and to its text in `case_texts` (which the retention
purge can erase), with an optional attachment (`documents`). `case_assignments`: the agent a
case is assigned to (one at most), by hand or by the scheme's rule.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-28 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("thread", sa.String(length=12), nullable=False),
        sa.Column("from_region", sa.Boolean(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("text_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "thread IN ('learner', 'employer')", name=op.f("ck_case_messages_thread")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_messages_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_case_messages_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["case_events.id"], name=op.f("fk_case_messages_event_id_case_events")
        ),
        sa.ForeignKeyConstraint(
            ["text_id"], ["case_texts.id"], name=op.f("fk_case_messages_text_id_case_texts")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_case_messages_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_messages")),
    )
    op.create_index("ix_case_messages_case_thread", "case_messages", ["case_id", "thread", "id"])
    op.create_table(
        "case_assignments",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_assignments_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_case_assignments_user_id_users")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_assignments")),
    )
    op.create_index(op.f("ix_case_assignments_user_id"), "case_assignments", ["user_id", "case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_assignments_user_id"), table_name="case_assignments")
    op.drop_table("case_assignments")
    op.drop_index("ix_case_messages_case_thread", table_name="case_messages")
    op.drop_table("case_messages")
