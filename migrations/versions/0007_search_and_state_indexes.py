"""indexes for the case list at a million cases: state then id (PostgreSQL walks a state's cases
newest first), the employer's département (its statistics let PostgreSQL's planner see how
common a département is), and the prefix search on learners' names and contract numbers

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 11:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREFIX_INDEXES = (
    ("ix_learners_last_name_prefix", "learners", "last_name"),
    ("ix_learners_first_name_prefix", "learners", "first_name"),
    ("ix_cases_contract_number_prefix", "cases", "contract_number"),
)


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_state")
        batch_op.create_index("ix_cases_state_id", ["state", "id"], unique=False)
    op.execute("CREATE INDEX ix_employers_departement ON employers ((substr(commune_insee, 1, 2)))")
    ops = " text_pattern_ops" if op.get_bind().dialect.name == "postgresql" else ""
    for name, table, column in PREFIX_INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} ((lower({column})){ops})")


def downgrade() -> None:
    op.drop_index("ix_employers_departement", table_name="employers")
    for name, table, _ in PREFIX_INDEXES:
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_state_id")
        batch_op.create_index("ix_cases_state", ["state"], unique=False)
