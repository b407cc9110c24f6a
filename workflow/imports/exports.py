"""Reference data written in the format its import reads (French headers, CSV or XLSX by the
file's extension), streamed from the database: export, edit, re-import."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow.db import UnitOfWork
from workflow.eligibility import SECTOR_LABELS
from workflow.iban import masked
from workflow.imports.columns import Kind, export_header
from workflow.imports.writers import TableWriter
from workflow.models import Employer, Institute, InstituteScheme, Learner

_BATCH = 1000


def export_file(uow: UnitOfWork, kind: Kind, path: Path) -> int:
    """Write every `kind` of the database to `path`; return how many rows."""
    with uow, TableWriter(path, export_header(kind), kind.label.capitalize()) as writer:
        for row in _ROWS[kind](uow.session):
            writer.write(row)
        return writer.count


def _institutes(s: Session) -> Iterator[Sequence[object]]:
    schemes: dict[int, list[str]] = defaultdict(list)
    for institute_id, scheme_id in s.execute(
        sa.select(InstituteScheme.institute_id, InstituteScheme.scheme_id).order_by(
            InstituteScheme.scheme_id
        )
    ):
        schemes[institute_id].append(scheme_id)
    query = sa.select(Institute.id, Institute.name, Institute.commune_insee).order_by(Institute.id)
    for ident, name, commune in s.execute(query.execution_options(yield_per=_BATCH)):
        yield name, commune, ", ".join(schemes[ident])


def _employers(s: Session) -> Iterator[Sequence[object]]:
    query = sa.select(
        Employer.name,
        Employer.siret,
        Employer.commune_insee,
        Employer.sector,
        Employer.recruitment_difficulty,
        Employer.email,
    ).order_by(Employer.id)
    for name, siret, commune, sector, difficulty, email in s.execute(
        query.execution_options(yield_per=_BATCH)
    ):
        yield name, siret, commune, SECTOR_LABELS.get(sector, sector), difficulty, email


def _learners(s: Session) -> Iterator[Sequence[object]]:
    query = (
        sa.select(
            Learner.last_name,
            Learner.first_name,
            Learner.birth_date,
            Learner.email,
            Institute.name,
            Institute.commune_insee,
            Learner.training_start,
            Learner.training_end,
            Learner.iban,
        )
        .join(Institute, Institute.id == Learner.institute_id)
        .order_by(Learner.id)
    )
    for *row, iban in s.execute(query.execution_options(yield_per=_BATCH)):
        yield *row, masked(iban)  # read back by the import as "unchanged"


_ROWS = {Kind.institutes: _institutes, Kind.employers: _employers, Kind.learners: _learners}
