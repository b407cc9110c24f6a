"""indexes for the queue and the learner's offers at 1 000 000 cases

`ix_cases_state_last_event`: « À traiter » walks the selected cases in due order (their last
event's date) and stops at the page. `case_messages.waiting_since`: the date of a party's
message that nothing answers yet (None otherwise), kept by workflow.threads, so that the
threads waiting for the Région are an index range in due order (`ix_case_messages_waiting`)
instead of a pass over every message; filled here from the threads as they stand.
`ix_employers_name`: the campaign's list of employers, by name, one page at a time.

Revision ID: 0023
Revises: 0019
Create Date: 2026-11-28 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_cases_state_last_event", "cases", ["state", "last_effective_date", "id"], unique=False
    )
    op.create_index("ix_employers_name", "employers", ["name", "id"], unique=False)
    op.add_column("case_messages", sa.Column("waiting_since", sa.Date(), nullable=True))
    # The last message of each thread, when a party's, waits since its event's date.
    op.execute(
        "UPDATE case_messages SET waiting_since = (SELECT effective_date FROM case_events"
        " WHERE case_events.id = case_messages.event_id)"
        " WHERE from_region = false AND NOT EXISTS (SELECT 1 FROM case_messages AS later"
        " WHERE later.case_id = case_messages.case_id AND later.thread = case_messages.thread"
        " AND later.id > case_messages.id)"
    )
    op.create_index(
        "ix_case_messages_waiting", "case_messages", ["waiting_since", "case_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_case_messages_waiting", table_name="case_messages")
    op.drop_column("case_messages", "waiting_since")
    op.drop_index("ix_employers_name", table_name="employers")
    op.drop_index("ix_cases_state_last_event", table_name="cases")
