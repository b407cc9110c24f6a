"""Temporary tables for the set-based nightly steps: small lists computed in Python (rates,
calendars, anniversaries) that a single statement then joins with the cases. They live in the
step's own transaction's connection and are dropped at the end of the step."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session


def fill(s: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """(Re)create the temporary `table` on the session's connection and insert `rows`."""
    conn = s.connection()
    table.drop(conn, checkfirst=True)
    table.create(conn)
    if rows:
        conn.execute(table.insert(), rows)


def drop(s: Session, *tables: sa.Table) -> None:
    conn = s.connection()
    for table in tables:
        table.drop(conn, checkfirst=True)
