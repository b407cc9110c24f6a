"""A tamper-evident history: each event row carries a SHA-256 chained to the previous event of its
case, and each nightly run seals the events recorded since the last seal into a digest chained
to the previous digest (`event_digests`). `verify` recomputes both and names the first row
altered, inserted or removed.

What it detects: a row changed, a row removed (a gap in a case's chain, or a sealed range that
no longer adds up), a row inserted among sealed ones, a table emptied. What it cannot: a row
appended, hash and all, after the last seal by someone who can write to the database — the next
seal takes it in. The last digest (`fidelis audit verify --json` prints it) can be copied out of
the database to anchor the history elsewhere. The database refuses UPDATE, DELETE and REPLACE on
`case_events`, and on PostgreSQL the application's role may only INSERT and SELECT there
(`fidelis db grant-app-role`)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow.errors import FidelisError, InvalidInput
from workflow.models import CaseEvent, EventDigest, utcnow

GENESIS = ""  # the previous hash of a case's first event, and of the first digest


def _instant(value: datetime) -> str:
    """One spelling of an instant whatever the database gives back (aware or naive UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def event_hash(
    *,
    case_id: int,
    seq: int,
    trigger: str,
    from_state: str | None,
    to_state: str,
    effective_date: date,
    recorded_at: datetime,
    actor: str,
    reason: str | None,
    payload: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 of the event's canonical encoding (sorted-key JSON), its predecessor's included."""
    canonical = json.dumps(
        [
            case_id,
            seq,
            trigger,
            from_state,
            to_state,
            effective_date.isoformat(),
            _instant(recorded_at),
            actor,
            reason,
            payload,
            prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def hash_of(e: CaseEvent) -> str:
    return event_hash(
        case_id=e.case_id,
        seq=e.seq,
        trigger=e.trigger,
        from_state=e.from_state.value if e.from_state else None,
        to_state=e.to_state.value,
        effective_date=e.effective_date,
        recorded_at=e.recorded_at,
        actor=e.actor,
        reason=e.reason,
        payload=e.payload or {},
        prev_hash=e.prev_hash or GENESIS,
    )


def _digest_of(s: Session | sa.Connection, prev: str, first: int, last: int) -> tuple[str, int]:
    """The digest of the events with `first` < id ≤ `last`, in id order, and their number."""
    digest = hashlib.sha256(prev.encode())
    count = 0
    rows = s.execute(
        sa.select(CaseEvent.id, CaseEvent.hash)
        .where(CaseEvent.id > first, CaseEvent.id <= last)
        .order_by(CaseEvent.id)
        .execution_options(yield_per=10_000)
    )
    for event_id, event_hash_ in rows:
        digest.update(f"{event_id}:{event_hash_ or ''};".encode())
        count += 1
    return digest.hexdigest(), count


def seal(s: Session | sa.Connection, run_id: int | None = None) -> int:
    """Seal the events recorded since the last seal (inside the caller's transaction); return
    how many."""
    last = s.execute(
        sa.select(EventDigest.last_event_id, EventDigest.digest)
        .order_by(EventDigest.id.desc())
        .limit(1)
    ).first()
    first, prev = (last[0], last[1]) if last else (0, GENESIS)
    top = s.scalar(sa.select(sa.func.max(CaseEvent.id))) or 0
    if top <= first:
        return 0
    digest, count = _digest_of(s, prev, first, top)
    s.execute(
        sa.insert(EventDigest).values(
            run_id=run_id,
            first_event_id=first,
            last_event_id=top,
            events=count,
            digest=digest,
            prev_digest=prev,
            sealed_at=utcnow(),
        )
    )
    return count


@dataclass(frozen=True)
class Finding:
    """One place where the stored history differs from what was recorded."""

    case_id: int | None
    event_id: int | None
    seq: int | None
    what: str

    def __str__(self) -> str:
        where = []
        if self.case_id is not None:
            where.append(f"dossier n° {self.case_id}")
        if self.seq is not None:
            where.append(f"événement n° {self.seq}")
        if self.event_id is not None:
            where.append(f"ligne {self.event_id}")
        return (", ".join(where) + " : " if where else "") + self.what


def _chain(events: list[CaseEvent]) -> Iterator[Finding]:
    prev = GENESIS
    for expected_seq, e in enumerate(events, start=1):
        if e.seq != expected_seq:
            yield Finding(e.case_id, e.id, expected_seq, "événement absent (ligne supprimée)")
            return
        if (e.prev_hash or GENESIS) != prev:
            yield Finding(e.case_id, e.id, e.seq, "chaînage rompu (ligne insérée ou remplacée)")
            return
        if e.hash != hash_of(e):
            yield Finding(e.case_id, e.id, e.seq, "contenu modifié depuis son enregistrement")
            return
        prev = e.hash


def verify(s: Session, case_id: int | None = None, *, batch: int = 2_000) -> Iterator[Finding]:
    """Every finding, the chains case by case (one case, or all), then the sealed digests."""
    cases = sa.select(CaseEvent.case_id).distinct().order_by(CaseEvent.case_id)
    if case_id is not None:
        cases = cases.where(CaseEvent.case_id == case_id)
    ids = list(s.scalars(cases))
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        rows = s.scalars(
            sa.select(CaseEvent)
            .where(CaseEvent.case_id.in_(chunk))
            .order_by(CaseEvent.case_id, CaseEvent.seq)
        ).all()
        by_case: dict[int, list[CaseEvent]] = {}
        for e in rows:
            by_case.setdefault(e.case_id, []).append(e)
        for events in by_case.values():
            yield from _chain(events)
        s.expunge_all()
    if case_id is None:
        yield from _digests(s)


def _digests(s: Session) -> Iterator[Finding]:
    prev = GENESIS
    for d in s.scalars(sa.select(EventDigest).order_by(EventDigest.id)):
        if d.prev_digest != prev:
            yield Finding(None, None, None, f"scellé n° {d.id} : chaînage des scellés rompu")
            return
        digest, count = _digest_of(s, prev, d.first_event_id, d.last_event_id)
        if count != d.events:
            yield Finding(
                None,
                None,
                None,
                f"scellé n° {d.id} (lignes {d.first_event_id + 1} à {d.last_event_id}) : "
                f"{count} événements au lieu de {d.events} (lignes supprimées ou insérées)",
            )
            return
        if digest != d.digest:
            yield Finding(
                None,
                None,
                None,
                f"scellé n° {d.id} (lignes {d.first_event_id + 1} à {d.last_event_id}) : "
                "empreinte différente (ligne modifiée ou remplacée)",
            )
            return
        prev = d.digest


def latest_digest(s: Session) -> dict[str, Any] | None:
    d = s.scalars(sa.select(EventDigest).order_by(EventDigest.id.desc()).limit(1)).first()
    if d is None:
        return None
    return {"id": d.id, "last_event_id": d.last_event_id, "digest": d.digest,
            "sealed_at": _instant(d.sealed_at)}  # fmt: skip


# What the application's own PostgreSQL role may do (README, Deployment): everything it needs on
# every table, but on the history only read and append; it owns nothing, so it can neither
# TRUNCATE nor ALTER nor disable a trigger. Migrations run as the owner.
APPEND_ONLY_TABLES = ("case_events", "event_digests")


def grant_app_role(engine: sa.Engine, role: str) -> list[str]:
    """Grant `role` what the application needs (run as the database owner, after each
    `fidelis db upgrade`); return the statements run."""
    if engine.dialect.name != "postgresql":
        raise FidelisError(
            "Les rôles ne concernent que PostgreSQL : SQLite protège l'historique par ses "
            "déclencheurs."
        )
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise InvalidInput(f"Nom de rôle invalide : « {role} » (minuscules, chiffres, _).", "role")
    append_only = ", ".join(APPEND_ONLY_TABLES)
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {append_only} FROM {role}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    return statements


__all__ = [
    "GENESIS",
    "Finding",
    "event_hash",
    "grant_app_role",
    "hash_of",
    "latest_digest",
    "seal",
    "verify",
]
