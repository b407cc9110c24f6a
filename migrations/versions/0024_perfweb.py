"""indexes for the queue and the learner's offers at 1 000 000 cases

`ix_cases_state_last_event`: « À traiter » walks the selected cases in due order (their last
event's date) and stops at the page. `ix_employers_name`: the campaign's list of employers, by
name, one page at a time.

Revision ID: 0024_perfweb
Revises: 0019
Create Date: 2026-11-28 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0024_perfweb"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_cases_state_last_event", "cases", ["state", "last_effective_date", "id"], unique=False
    )
    op.create_index("ix_employers_name", "employers", ["name", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_employers_name", table_name="employers")
    op.drop_index("ix_cases_state_last_event", table_name="cases")
