"""Date arithmetic in SQL that SQLite and PostgreSQL spell differently, as SQLAlchemy
expressions: the set-based nightly steps compute schedules inside the database with them.

SQLite stores dates as ISO text (`2026-09-07`), PostgreSQL as `date`:

- `add_days(d, n)`: SQLite `date(d, '+n days')`, PostgreSQL `d + n`;
- `days_between(a, b)` (b - a, in days): SQLite `julianday(b) - julianday(a)`, PostgreSQL `b - a`;
- `greatest(a, b)` / `least(a, b)`: SQLite's scalar `max(a, b)` / `min(a, b)` (which compare ISO
  text correctly), PostgreSQL `GREATEST` / `LEAST`. Both arguments must be non-NULL: the two
  backends treat NULL differently."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class add_days(FunctionElement[Any]):
    type = sa.Date()
    inherit_cache = True


class days_between(FunctionElement[Any]):
    type = sa.Integer()
    inherit_cache = True


class greatest(FunctionElement[Any]):
    inherit_cache = True


class least(FunctionElement[Any]):
    inherit_cache = True


def _args(element: FunctionElement[Any], compiler: Any, **kw: Any) -> list[str]:
    return [compiler.process(arg, **kw) for arg in element.clauses]


@compiles(add_days, "sqlite")
def _add_days_sqlite(element: add_days, compiler: Any, **kw: Any) -> str:
    day, days = _args(element, compiler, **kw)
    return f"date({day}, printf('%+d days', {days}))"


@compiles(add_days)
def _add_days(element: add_days, compiler: Any, **kw: Any) -> str:
    day, days = _args(element, compiler, **kw)
    return f"(CAST({day} AS DATE) + CAST({days} AS INTEGER))"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = _args(element, compiler, **kw)
    return f"CAST(julianday({end}) - julianday({start}) AS INTEGER)"


@compiles(days_between)
def _days_between(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = _args(element, compiler, **kw)
    return f"(CAST({end} AS DATE) - CAST({start} AS DATE))"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"max({', '.join(_args(element, compiler, **kw))})"


@compiles(greatest)
def _greatest(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"GREATEST({', '.join(_args(element, compiler, **kw))})"


@compiles(least, "sqlite")
def _least_sqlite(element: least, compiler: Any, **kw: Any) -> str:
    return f"min({', '.join(_args(element, compiler, **kw))})"


@compiles(least)
def _least(element: least, compiler: Any, **kw: Any) -> str:
    return f"LEAST({', '.join(_args(element, compiler, **kw))})"


__all__ = [
    "add_days",
    "days_between",
    "greatest",
    "least",
]
