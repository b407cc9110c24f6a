"""The database side of an import, per kind: find the records that already exist (by their
upsert key), say which rows the database makes invalid, and write a batch — insert the new,
update the changed, leave the rest alone. Employers are matched on their SIRET, institutes on
(name, commune), learners on their identity (last name, first name, birth date); names compare
without case or accents (`workflow.imports.rows.institute_key`, `learner_key`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow.directory import learner_changed
from workflow.errors import FidelisError
from workflow.iban import Iban
from workflow.imports.columns import Kind
from workflow.imports.report import Issue
from workflow.imports.rows import (
    EmployerRecord,
    InstituteIndex,
    InstituteRecord,
    LearnerRecord,
    Record,
    institute_key,
    learner_key,
)
from workflow.models import Employer, Institute, InstituteScheme, Learner


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.warnings += other.warnings


class Store(Protocol):
    def check(self, records: Sequence[Any]) -> list[Issue]:
        """The rows the database makes invalid; `Issue.column` is the field's key."""
        ...

    def write(self, records: Sequence[Any]) -> Outcome: ...


def _apply(target: object, values: Mapping[str, object]) -> list[str]:
    """Set the attributes that differ; return their names."""
    changed = [k for k, v in values.items() if getattr(target, k) != v]
    for k in changed:
        setattr(target, k, values[k])
    return changed


def _ambiguous(what: str, ids: Collection[int]) -> str:
    numbers = ", ".join(str(i) for i in sorted(ids))
    return (
        f"Plusieurs {what} de la base correspondent à cette ligne (n° {numbers}) : impossible "
        "de savoir lequel mettre à jour ; corrigez la base d'abord."
    )


class EmployerStore:
    def __init__(self, s: Session) -> None:
        self.s = s

    def check(self, records: Sequence[EmployerRecord]) -> list[Issue]:
        return []  # the SIRET is unique in the database: a match is never ambiguous

    def write(self, records: Sequence[EmployerRecord]) -> Outcome:
        found = {
            e.siret: e
            for e in self.s.scalars(
                sa.select(Employer).where(Employer.siret.in_([r.siret for r in records]))
            )
        }
        outcome = Outcome()
        new: list[dict[str, Any]] = []
        for r in records:
            values: dict[str, Any] = {
                "name": r.name,
                "commune_insee": r.commune,
                "sector": r.sector,
            }
            if r.recruitment_difficulty is not None:
                values["recruitment_difficulty"] = r.recruitment_difficulty
            if r.email is not None:
                values["email"] = r.email
            employer = found.get(r.siret)
            if employer is None:
                new.append({"siret": r.siret, "recruitment_difficulty": False, **values})
                outcome.created += 1
            elif _apply(employer, values):
                outcome.updated += 1
            else:
                outcome.unchanged += 1
        if new:
            self.s.execute(sa.insert(Employer), new)
        return outcome


class InstituteStore:
    """Institutes are few: the whole table is indexed once."""

    def __init__(self, s: Session, default_schemes: Sequence[str]) -> None:
        self.s = s
        self.default_schemes = tuple(default_schemes)
        self.index: dict[tuple[str, str], list[int]] = defaultdict(list)
        for ident, name, commune in s.execute(
            sa.select(Institute.id, Institute.name, Institute.commune_insee)
        ):
            self.index[institute_key(name, commune)].append(ident)

    def check(self, records: Sequence[InstituteRecord]) -> list[Issue]:
        return [
            Issue(r.line, "name", r.name, _ambiguous("instituts", self.index[r.key]))
            for r in records
            if len(self.index.get(r.key, ())) > 1
        ]

    def write(self, records: Sequence[InstituteRecord]) -> Outcome:
        outcome = Outcome()
        for r in records:
            ids = self.index.get(r.key, [])
            if len(ids) > 1:
                raise FidelisError(_ambiguous("instituts", ids))
            if not ids:
                institute = Institute(name=r.name, commune_insee=r.commune)
                institute.schemes = [
                    InstituteScheme(scheme_id=s) for s in (r.schemes or self.default_schemes)
                ]
                self.s.add(institute)
                self.s.flush()
                self.index[r.key].append(institute.id)
                outcome.created += 1
                continue
            institute = self.s.get_one(Institute, ids[0])
            if r.schemes is None or {x.scheme_id for x in institute.schemes} == set(r.schemes):
                outcome.unchanged += 1
                continue
            # Changed by difference: a row deleted and re-added with the same key would clash.
            for link in [x for x in institute.schemes if x.scheme_id not in r.schemes]:
                institute.schemes.remove(link)
            present = {x.scheme_id for x in institute.schemes}
            institute.schemes += [
                InstituteScheme(scheme_id=s) for s in r.schemes if s not in present
            ]
            outcome.updated += 1
        return outcome


class LearnerStore:
    """Learners are matched in Python (names compare without case or accents), among the
    learners of the database born on the batch's birth dates."""

    def __init__(self, s: Session) -> None:
        self.s = s

    def _matches(self, records: Sequence[LearnerRecord]) -> dict[tuple[Any, ...], list[int]]:
        dates = sorted({r.birth_date for r in records})
        matches: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        wanted = {r.key for r in records}
        for ident, last, first, born in self.s.execute(
            sa.select(Learner.id, Learner.last_name, Learner.first_name, Learner.birth_date).where(
                Learner.birth_date.in_(dates)
            )
        ):
            key = learner_key(last, first, born)
            if key in wanted:
                matches[key].append(ident)
        return matches

    def check(self, records: Sequence[LearnerRecord]) -> list[Issue]:
        matches = self._matches(records)
        return [
            Issue(r.line, "last_name", r.last_name, _ambiguous("apprenants", matches[r.key]))
            for r in records
            if len(matches.get(r.key, ())) > 1
        ]

    def write(self, records: Sequence[LearnerRecord]) -> Outcome:
        matches = self._matches(records)
        ids = [ids[0] for ids in matches.values() if len(ids) == 1]
        found = {
            learner.id: learner
            for learner in self.s.scalars(sa.select(Learner).where(Learner.id.in_(ids)))
        }
        outcome = Outcome()
        new: list[dict[str, Any]] = []
        for r in records:
            ids_of = matches.get(r.key, [])
            if len(ids_of) > 1:
                raise FidelisError(_ambiguous("apprenants", ids_of))
            values: dict[str, Any] = {
                "email": r.email,
                "institute_id": r.institute_id,
                "training_start": r.training_start,
                "training_end": r.training_end,
            }
            if not ids_of:
                if r.iban is not None:
                    values["iban"] = Iban.seal(r.iban)
                new.append(
                    {
                        "last_name": r.last_name,
                        "first_name": r.first_name,
                        "birth_date": r.birth_date,
                        "iban": None,
                        **values,
                    }
                )
                outcome.created += 1
                continue
            learner = found[ids_of[0]]
            if r.iban is not None and not (learner.iban and learner.iban.same_as(r.iban)):
                values["iban"] = Iban.seal(r.iban)  # sealed again only when it changes
            changed = _apply(learner, values)
            if not changed:
                outcome.unchanged += 1
                continue
            outcome.updated += 1
            self.s.flush()
            training = bool({"training_start", "training_end"} & set(changed))
            outcome.warnings += learner_changed(self.s, learner.id, training_changed=training)
        if new:
            self.s.execute(sa.insert(Learner), new)
        return outcome


def store_for(kind: Kind, s: Session, *, default_schemes: Sequence[str]) -> Store:
    if kind is Kind.employers:
        return EmployerStore(s)
    if kind is Kind.institutes:
        return InstituteStore(s, default_schemes)
    return LearnerStore(s)


def institute_index(s: Session) -> InstituteIndex:
    """The institutes a learner's row may name."""
    return InstituteIndex(
        {
            i: (n, c)
            for i, n, c in s.execute(
                sa.select(Institute.id, Institute.name, Institute.commune_insee)
            )
        }
    )


__all__ = ["Outcome", "Record", "Store", "institute_index", "store_for"]
