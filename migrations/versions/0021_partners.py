"""the institute's declarations: `declarations.party` admits `institute` (a training
interruption, or a diploma failed, reported from the institute's space for the Région to decide)

On SQLite the CHECK is changed in place (the stored rows already satisfy the new one), as
migration 0018 does for `users.role`.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
# After 0020_learner, which creates `declarations`.
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTIES = "'learner', 'employer'"


def upgrade() -> None:
    _party_check(PARTIES, f"{PARTIES}, 'institute'")


def downgrade() -> None:
    op.execute("DELETE FROM declarations WHERE party = 'institute'")
    _party_check(f"{PARTIES}, 'institute'", PARTIES)


def _party_check(before: str, after: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_declarations_party"), "declarations", type_="check")
        op.create_check_constraint(
            op.f("ck_declarations_party"), "declarations", f"party IN ({after})"
        )
        return
    old, new = f"party IN ({before})", f"party IN ({after})"
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'declarations'")
    ).scalar_one()
    if sql.count(old) != 1:
        raise RuntimeError(f"declarations: {old!r} not found in {sql!r}")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    bind.execute(
        sa.text(
            "UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'declarations'"
        ),
        {"sql": sql.replace(old, new)},
    )
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")
    problems = bind.exec_driver_sql("PRAGMA integrity_check").scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"declarations: integrity check failed: {problems}")
