"""tamper-evident history: each event hash-chained to the previous event of its case, the
nightly seals (`event_digests`), and REPLACE refused on SQLite

Revision ID: 0012
Revises: 0008
Create Date: 2026-11-28 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from workflow.audit import GENESIS, event_hash, seal

revision: str = "0012"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's INSERT OR REPLACE deletes the row it replaces without firing the delete trigger (no
# recursive triggers): refuse any insert that would collide with an existing event.
_SQLITE_NO_REPLACE = """CREATE TRIGGER case_events_no_replace BEFORE INSERT ON case_events
   WHEN EXISTS (SELECT 1 FROM case_events WHERE id = NEW.id
                OR (case_id = NEW.case_id AND seq = NEW.seq))
   BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END"""
_EVENTS = sa.table(
    "case_events",
    sa.column("id", sa.Integer),
    sa.column("case_id", sa.Integer),
    sa.column("seq", sa.Integer),
    sa.column("trigger", sa.String),
    sa.column("from_state", sa.String),
    sa.column("to_state", sa.String),
    sa.column("effective_date", sa.Date),
    sa.column("recorded_at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String),
    sa.column("reason", sa.Text),
    sa.column("payload", sa.JSON),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)


def upgrade() -> None:
    # Plain ALTER TABLE on both databases: a batch rebuild on SQLite would drop the triggers.
    op.add_column("case_events", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("case_events", sa.Column("hash", sa.String(length=64), nullable=True))
    op.create_table(
        "event_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("first_event_id", sa.BigInteger(), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("prev_digest", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["job_runs.id"], name=op.f("fk_event_digests_run_id_job_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_digests")),
    )
    bind = op.get_bind()
    dialect = bind.dialect.name
    # The history written before the chain existed is chained now, once, by its owner.
    if dialect == "postgresql":
        op.execute("ALTER TABLE case_events DISABLE TRIGGER case_events_append_only")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER case_events_no_update")
    _chain_existing(bind)
    if dialect == "postgresql":
        op.execute("ALTER TABLE case_events ENABLE TRIGGER case_events_append_only")
    elif dialect == "sqlite":
        op.execute(
            """CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
               BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END"""
        )
        op.execute(_SQLITE_NO_REPLACE)
    seal(bind)


def _chain_existing(bind: sa.Connection) -> None:
    rows = bind.execute(sa.select(_EVENTS).order_by(_EVENTS.c.case_id, _EVENTS.c.seq)).all()
    prev_case, prev_hash = None, GENESIS
    for r in rows:
        if r.case_id != prev_case:
            prev_case, prev_hash = r.case_id, GENESIS
        digest = event_hash(
            case_id=r.case_id, seq=r.seq, trigger=r.trigger, from_state=r.from_state,
            to_state=r.to_state, effective_date=r.effective_date, recorded_at=r.recorded_at,
            actor=r.actor, reason=r.reason, payload=r.payload or {}, prev_hash=prev_hash,
        )  # fmt: skip
        bind.execute(
            sa.update(_EVENTS).where(_EVENTS.c.id == r.id).values(prev_hash=prev_hash, hash=digest)
        )
        prev_hash = digest


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER case_events_no_replace")
    op.drop_table("event_digests")
    op.execute("ALTER TABLE case_events DROP COLUMN hash")  # SQLite ≥ 3.35 and PostgreSQL
    op.execute("ALTER TABLE case_events DROP COLUMN prev_hash")
