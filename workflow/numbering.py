"""Gapless numbers per scheme and year: contracts `PREFIX-YEAR-NNNNN` (SPEC §5) and debts
(« titres », `PREFIX-TR-YEAR-NNNNN`, SPEC §4b)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflow.models import ContractCounter, DebtCounter
from workflow.schemes import Scheme


def _next(
    s: Session, counter: type[ContractCounter | DebtCounter], scheme_id: str, year: int
) -> int:
    """Gapless per scheme and year: the counter row is updated in the caller's transaction, so
    a rolled-back transaction gives its number back and concurrent ones queue on the row lock
    (PostgreSQL) or the database lock (SQLite)."""
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    s.execute(
        insert(counter).values(scheme_id=scheme_id, year=year, last=0).on_conflict_do_nothing()
    )
    number: int = s.execute(
        sa.update(counter)
        .where(counter.scheme_id == scheme_id, counter.year == year)
        .values(last=counter.last + 1)
        .returning(counter.last)
    ).scalar_one()
    return number


def next_contract_number(s: Session, scheme: Scheme, year: int) -> str:
    """`OCC-AS-2026-00042` (SPEC §5)."""
    return f"{scheme.contract_prefix}-{year}-{_next(s, ContractCounter, scheme.id, year):05d}"


def next_debt_number(s: Session, scheme: Scheme, year: int) -> str:
    """`OCC-AS-TR-2027-00007`: a debt's « titre » number (SPEC §4b)."""
    return f"{scheme.contract_prefix}-TR-{year}-{_next(s, DebtCounter, scheme.id, year):05d}"
