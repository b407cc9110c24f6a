"""Case-insensitive prefix search that an index serves, on both databases — the case list's
search box at a million cases.

`starts_with_ci(column, text)` is true when `lower(column)` begins with `text` (already lower
case):

- SQLite: `lower(col) >= 'dup' AND lower(col) < 'dup\U0010ffff'`, a range on the expression
  index `lower(col)` (SQLite compares text bytewise, and UTF-8 keeps code point order);
- PostgreSQL: `lower(col) LIKE 'dup%'`, which the planner turns into a range on the
  `lower(col) text_pattern_ops` index whatever the database's collation.

SQLite's `lower()` folds ASCII letters only; the search is as accent-sensitive as before."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

HIGHEST = "\U0010ffff"  # sorts after every character


class starts_with_ci(FunctionElement[Any]):
    # Untyped on purpose: a Boolean-typed expression gets `= 1` appended on SQLite, which hides
    # the range from the index.
    type = sa.types.NullType()
    inherit_cache = True

    def __init__(self, column: Any, text: str) -> None:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        super().__init__(
            sa.func.lower(column),
            sa.literal(text, sa.String),
            sa.literal(text + HIGHEST, sa.String),
            sa.literal(escaped + "%", sa.String),
        )


def _parts(element: starts_with_ci, compiler: Any, **kw: Any) -> list[str]:
    return [compiler.process(clause, **kw) for clause in element.clauses]


@compiles(starts_with_ci, "postgresql")
def _starts_with_pg(element: starts_with_ci, compiler: Any, **kw: Any) -> str:
    lowered, _, _, pattern = _parts(element, compiler, **kw)
    return f"({lowered} LIKE {pattern})"


@compiles(starts_with_ci)
def _starts_with(element: starts_with_ci, compiler: Any, **kw: Any) -> str:
    lowered, low, high, _ = _parts(element, compiler, **kw)
    return f"({lowered} >= {low} AND {lowered} < {high})"


def prefix_index(name: str, column: Any) -> sa.Index:
    """The index `starts_with_ci(column, …)` needs (text_pattern_ops on PostgreSQL)."""
    lowered = sa.func.lower(column).label(f"{name}_expr")
    return sa.Index(name, lowered, postgresql_ops={f"{name}_expr": "text_pattern_ops"})


__all__ = [
    "starts_with_ci",
]
