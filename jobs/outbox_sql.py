"""Set-based writes of the nightly run: `INSERT … SELECT … ON CONFLICT DO NOTHING`, and outbox
messages built entirely in SQL — their dedup key, recipient and JSON context — so that a step
writes its hundred thousand reminders or statements without bringing one row into Python.

The keys are spelt as `workflow.models.OutboxMessage` documents them (`case:{id}:{kind}:{due}`,
`employer:{id}:employer_statement:{period}`, `debt:{id}:{kind}:{due}` for a debt's reminders);
the anti-joins of `not_yet_sent` read the same spelling, so a rerun finds nothing to write."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from workflow.models import Case, OutboxMessage, utcnow

OUTBOX: sa.Table = OutboxMessage.__table__  # type: ignore[assignment]  # Core: rowcount kept


class json_object(FunctionElement[Any]):
    """A JSON object from alternating keys and values: SQLite `json_object`, PostgreSQL
    `json_build_object` (dates become ISO strings on both)."""

    type = sa.JSON()
    inherit_cache = True


@compiles(json_object, "postgresql")
def _json_object_pg(element: json_object, compiler: Any, **kw: Any) -> str:
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object)
def _json_object(element: json_object, compiler: Any, **kw: Any) -> str:
    return f"json_object({compiler.process(element.clauses, **kw)})"


def insert_ignoring_conflicts(
    s: Session, table: sa.Table, columns: list[str], rows: sa.Select[Any]
) -> int:
    """INSERT INTO table (columns) SELECT … ON CONFLICT DO NOTHING; how many rows were new."""
    make = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    # SQLite needs a WHERE before ON CONFLICT to parse an INSERT … SELECT (its docs, "upsert").
    statement = make(table).from_select(columns, rows.where(sa.true())).on_conflict_do_nothing()
    result = s.connection().execute(statement.execution_options(preserve_rowcount=True))
    return max(result.rowcount, 0)


def _text(value: Any) -> Any:
    return sa.cast(value, sa.String)


def case_key(kind: str, due_date: Any, case_id: Any = Case.id) -> Any:
    return sa.literal("case:") + _text(case_id) + sa.literal(f":{kind}:") + _text(due_date)


def not_yet_sent(kind: str, due_date: Any) -> Any:
    """No outbox message yet for this case, kind and due date (its dedup key, built in SQL)."""
    return ~sa.exists().where(OutboxMessage.dedup_key == case_key(kind, due_date))


_COLUMNS = [
    "dedup_key", "case_id", "employer_id", "kind", "due_date", "recipient", "context",
    "status", "attempts", "created_at",
]  # fmt: skip


def _message(
    key: Any, case_id: Any, employer_id: Any, kind: str, due_date: Any, recipient: Any, context: Any
) -> list[Any]:
    return [
        key, case_id, employer_id, sa.literal(kind), due_date, recipient, context,
        sa.literal("pending"), sa.literal(0), sa.literal(utcnow(), OUTBOX.c.created_at.type),
    ]  # fmt: skip


def insert_case_messages(
    s: Session, kind: str, found: sa.Select[Any], due_date: Any, recipient: Any
) -> int:
    """One message of `kind` per row of `found` (a query over cases): due on `due_date`, sent to
    `recipient`, context {case_id, due_date}; the existing ones are left alone."""
    columns = _message(
        case_key(kind, due_date), Case.id, sa.null(), kind, due_date, recipient,
        json_object("case_id", Case.id, "due_date", _text(due_date)),
    )  # fmt: skip
    return insert_ignoring_conflicts(
        s, OUTBOX, _COLUMNS, found.with_only_columns(*columns, maintain_column_froms=True)
    )


def debt_key(kind: str, due_date: Any, debt_id: Any) -> Any:
    return sa.literal("debt:") + _text(debt_id) + sa.literal(f":{kind}:") + _text(due_date)


def insert_debt_messages(
    s: Session, kind: str, found: sa.Select[Any], debt_id: Any, due_date: Any, recipient: Any
) -> int:
    """One message of `kind` per row of `found` (a query over debts joined to their case), keyed
    `debt:{id}:{kind}:{due}` (one per debt, kind and due date), context {case_id, debt_id,
    due_date}; the existing ones are left alone."""
    key = debt_key(kind, due_date, debt_id)
    columns = _message(
        key, Case.id, sa.null(), kind, due_date, recipient,
        json_object("case_id", Case.id, "debt_id", debt_id, "due_date", _text(due_date)),
    )  # fmt: skip
    rows = found.where(~sa.exists().where(OutboxMessage.dedup_key == key))
    return insert_ignoring_conflicts(
        s, OUTBOX, _COLUMNS, rows.with_only_columns(*columns, maintain_column_froms=True)
    )


def insert_employer_statements(s: Session, groups: sa.Subquery, due_date: Any) -> int:
    """One statement per row of `groups` (employer_id, period, email), due on `due_date`."""
    g = groups.c
    key = (
        sa.literal("employer:") + _text(g.employer_id)
        + sa.literal(":employer_statement:") + _text(g.period)
    )  # fmt: skip
    columns = _message(
        key, sa.null(), g.employer_id, "employer_statement", sa.literal(due_date, sa.Date),
        g.email, json_object("employer_id", g.employer_id, "period", _text(g.period)),
    )  # fmt: skip
    return insert_ignoring_conflicts(s, OUTBOX, _COLUMNS, sa.select(*columns).select_from(groups))
