"""run anomalies: the automatic transitions a nightly run could not fire, kept for a caseworker

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("resolved_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "run_anomalies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("guards", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_run_anomalies_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["last_run_id"], ["job_runs.id"], name=op.f("fk_run_anomalies_last_run_id_job_runs")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["job_runs.id"], name=op.f("fk_run_anomalies_run_id_job_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_anomalies")),
    )
    with op.batch_alter_table("run_anomalies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_anomalies_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_run_anomalies_last_run_id"), ["last_run_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_run_anomalies_run_id"), ["run_id"], unique=False)
        # One open anomaly per (case, trigger); resolved ones are kept as history.
        batch_op.create_index(
            "uq_run_anomalies_open",
            ["case_id", "trigger"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )


def downgrade() -> None:
    with op.batch_alter_table("run_anomalies", schema=None) as batch_op:
        batch_op.drop_index("uq_run_anomalies_open")
        batch_op.drop_index(batch_op.f("ix_run_anomalies_run_id"))
        batch_op.drop_index(batch_op.f("ix_run_anomalies_last_run_id"))
        batch_op.drop_index(batch_op.f("ix_run_anomalies_case_id"))
    op.drop_table("run_anomalies")
