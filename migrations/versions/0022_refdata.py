"""reference data on the web: a learner's postal address, an employer's signatory, closed offers

`learners.address`: where the learner lives (erased by the retention purge with the rest of their
identity). `employers.signatory`: who signs for the employer (name and position), shown on the
employer's page. `offers.closed_at`: an offer closed to new applications (its cases go on).

Revision ID: 0022
Revises: 0019
Create Date: 2026-11-28 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("learners", sa.Column("address", sa.String(length=300), nullable=True))
    op.add_column("employers", sa.Column("signatory", sa.String(length=200), nullable=True))
    op.add_column("offers", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+): a batch copy of `employers` would lose its expression
    # index on the département.
    op.drop_column("offers", "closed_at")
    op.drop_column("employers", "signatory")
    op.drop_column("learners", "address")
