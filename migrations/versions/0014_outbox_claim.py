"""outbox claims, and a note on each nightly run

A sender claims a message before sending it (`claimed_by`, `claimed_until`): concurrent senders
never send the same message, and a claim left by a sender that died expires. A run's `note` says
in French why it sent no mail (no SMTP server configured, or the server unreachable).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("claimed_by", sa.String(length=200), nullable=True))
    op.add_column("outbox", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("job_runs", sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): nothing references these columns, and a
    # batch copy of `outbox` would reflect `cases`, whose expression indexes SQLAlchemy skips.
    op.drop_column("job_runs", "note")
    op.drop_column("outbox", "claimed_until")
    op.drop_column("outbox", "claimed_by")
