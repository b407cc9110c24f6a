"""Contract numbers: `PREFIX-YEAR-NNNNN`, gapless per scheme and year (SPEC §5)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflow.models import ContractCounter
from workflow.schemes import Scheme


def next_contract_number(s: Session, scheme: Scheme, year: int) -> str:
    """Gapless per scheme and year (SPEC §5): the counter row is updated in the caller's
    transaction, so a rolled-back signature gives its number back and concurrent ones queue on
    the row lock (PostgreSQL) or the database lock (SQLite)."""
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    s.execute(
        insert(ContractCounter)
        .values(scheme_id=scheme.id, year=year, last=0)
        .on_conflict_do_nothing()
    )
    number = s.execute(
        sa.update(ContractCounter)
        .where(ContractCounter.scheme_id == scheme.id, ContractCounter.year == year)
        .values(last=ContractCounter.last + 1)
        .returning(ContractCounter.last)
    ).scalar_one()
    return f"{scheme.contract_prefix}-{year}-{number:05d}"
