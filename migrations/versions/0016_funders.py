"""funders as data: a SEPA batch belongs to one `transfer` funder

`sepa_batches.funder`: the funder whose account the file debits (the schemes declare which
funders are paid by SEPA transfer, README « Financeurs »). The batches written before were all
the Région's: they get `region`, which is also the column's server default.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28 12:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sepa_batches",
        sa.Column("funder", sa.String(length=20), nullable=False, server_default="region"),
    )


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): nothing references or indexes the column.
    op.drop_column("sepa_batches", "funder")
