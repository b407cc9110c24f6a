"""privacy: personal data where the retention purge can erase it; IBANs encrypted

- `case_texts`: the free text of events (reasons of refusals, withdrawals and breaches, notes)
  leaves the append-only `case_events`, which keeps a reference (`text_id`); `case_events.reason`
  is dropped, as are the `text` of note payloads and the signer's `name` of `contract_signed`
  payloads (the name stays in `signatures`, which the purge anonymises; the payload gets the
  signature's id).
- `documents.status` may be `purged`, and the content trigger allows exactly one change to an
  issued document's content columns: the retention purge setting its fingerprint to NULL as it
  marks it purged. A purged document never changes again.
- `learner_purges`: one row per learner the retention purge erased, with what it erased.
- `learners.iban` is sealed with Fernet under FIDELIS_IBAN_KEY (workflow.iban): the key must be
  set when learners have an IBAN; the fingerprints of issued contracts that still matched their
  learner follow (they now read the sealed value).
- The tamper-evident chain (migration 0012, workflow.audit) now covers an event's text by its
  reference (`text_id`), not its words, so that erasing them breaks nothing: every event's hash
  is computed again, and every seal of `event_digests` after it. A digest copied out of the
  database before this upgrade no longer matches: copy the last one again
  (`fidelis audit verify --json`).

Old events and documents are rewritten with their triggers set aside, as the schema's owner,
inside this migration's transaction. On SQLite, widening the CHECK of `documents.status` follows
SQLite's documented procedure for constraint changes that leave the stored rows valid
(https://www.sqlite.org/lang_altertable.html#otheralter): rebuilding the table is not possible
while the foreign keys that point to it are enforced.

The sealing and fingerprint formulas are copied here, frozen, from workflow.iban and
workflow.documents.store as they were written with this migration.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 12:00:00
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"  # after the chain, which it re-computes
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_VARIABLE = "FIDELIS_IBAN_KEY"
STATUSES = "'issued', 'superseded', 'invalidated'"
_CONTENT = ("case_id", "kind", "version", "number", "sha256", "size", "issued_on", "fingerprint")
_KEPT = tuple(c for c in _CONTENT if c != "fingerprint")


def upgrade() -> None:
    _key_if_needed()  # before any change: SQLite's driver commits DDL as it goes
    _create_tables()
    with _triggers_set_aside():
        _move_free_texts()
        _rechain("text_id")
        _seal_ibans()
        _allow_purged_documents()


def downgrade() -> None:
    _key_if_needed()
    with _triggers_set_aside(restore_0002=True):
        _forbid_purged_documents()
        _unseal_ibans()
        _restore_free_texts()
        _rechain("reason")
    op.drop_table("learner_purges")
    with op.batch_alter_table("case_texts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_texts_case_id"))
    op.drop_table("case_texts")


def _create_tables() -> None:
    op.create_table(
        "case_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("erased_on", sa.Date(), nullable=True),
        sa.CheckConstraint("kind IN ('note', 'reason')", name=op.f("ck_case_texts_kind")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_texts_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_texts")),
    )
    with op.batch_alter_table("case_texts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_texts_case_id"), ["case_id"], unique=False)
    op.create_table(
        "learner_purges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("files_removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["learners.id"], name=op.f("fk_learner_purges_learner_id_learners")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["job_runs.id"], name=op.f("fk_learner_purges_run_id_job_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learner_purges")),
        sa.UniqueConstraint("learner_id", name=op.f("uq_learner_purges_learner_id")),
    )
    with op.batch_alter_table("learner_purges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_learner_purges_files_removed_at"), ["files_removed_at"], unique=False
        )


def _sqlite() -> bool:
    return bool(op.get_bind().dialect.name == "sqlite")


# -- triggers ----------------------------------------------------------------------------------

_EVENTS_SQLITE = (
    """CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
       BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END""",
    """CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
       BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END""",
)


class _triggers_set_aside:
    """The append-only and immutable-content triggers off while old rows are rewritten, then
    back — the new documents rules after an upgrade, those of migration 0002 after a downgrade."""

    def __init__(self, *, restore_0002: bool = False) -> None:
        self.restore_0002 = restore_0002

    def __enter__(self) -> None:
        if _sqlite():
            for name in ("case_events_no_update", "case_events_no_delete"):
                op.execute(f"DROP TRIGGER {name}")
            op.execute("DROP TRIGGER documents_content_immutable")
            if self.restore_0002:
                op.execute("DROP TRIGGER documents_purged_final")
        else:
            op.execute("ALTER TABLE case_events DISABLE TRIGGER case_events_append_only")
            op.execute("ALTER TABLE documents DISABLE TRIGGER documents_content_immutable")

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            return  # the transaction rolls back, triggers included
        documents = _documents_0002 if self.restore_0002 else _documents_0011
        if _sqlite():
            for statement in _EVENTS_SQLITE:
                op.execute(statement)
            documents()
        else:
            documents()
            op.execute("ALTER TABLE documents ENABLE TRIGGER documents_content_immutable")
            op.execute("ALTER TABLE case_events ENABLE TRIGGER case_events_append_only")


def _documents_0011() -> None:
    """An issued document's content never changes, but for one change: the retention purge marks
    it `purged` and sets its fingerprint to NULL, the other content columns unchanged. A purged
    document never changes again."""
    same = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in _KEPT)
    if _sqlite():
        same_sqlite = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in _KEPT)
        op.execute(
            f"""CREATE TRIGGER documents_content_immutable
                BEFORE UPDATE OF {", ".join(_CONTENT)} ON documents
                WHEN NOT (NEW.status = 'purged' AND OLD.status <> 'purged'
                          AND NEW.fingerprint IS NULL AND {same_sqlite})
                BEGIN SELECT RAISE(ABORT, 'an issued document never changes'); END"""
        )
        op.execute(
            """CREATE TRIGGER documents_purged_final BEFORE UPDATE ON documents
               WHEN OLD.status = 'purged'
               BEGIN SELECT RAISE(ABORT, 'a purged document never changes'); END"""
        )
        return
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _CONTENT)
    op.execute(
        f"""CREATE OR REPLACE FUNCTION documents_content_immutable() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              IF OLD.status = 'purged' THEN
                RAISE EXCEPTION 'a purged document never changes';
              END IF;
              IF NEW.status = 'purged' THEN
                IF NOT ({same} AND NEW.fingerprint IS NULL) THEN
                  RAISE EXCEPTION 'an issued document never changes';
                END IF;
              ELSIF {changed} THEN
                RAISE EXCEPTION 'an issued document never changes';
              END IF;
              RETURN NEW;
            END $$"""
    )


def _documents_0002() -> None:
    if _sqlite():
        op.execute(
            f"""CREATE TRIGGER documents_content_immutable
                BEFORE UPDATE OF {", ".join(_CONTENT)} ON documents
                BEGIN SELECT RAISE(ABORT, 'an issued document never changes'); END"""
        )
        return
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _CONTENT)
    op.execute(
        f"""CREATE OR REPLACE FUNCTION documents_content_immutable() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              IF {changed} THEN RAISE EXCEPTION 'an issued document never changes'; END IF;
              RETURN NEW;
            END $$"""
    )


# -- free texts --------------------------------------------------------------------------------


def _move_free_texts() -> None:
    """Reasons and notes to `case_texts` (each keeps its event's id, so the reference is the
    event's own id); the signer's name out of `contract_signed` payloads."""
    sqlite = _sqlite()
    op.execute(
        "INSERT INTO case_texts (id, case_id, kind, text) "
        "SELECT id, case_id, 'reason', reason FROM case_events "
        "WHERE trigger <> 'note' AND reason IS NOT NULL AND trim(reason) <> ''"
    )
    note = "json_extract(payload, '$.text')" if sqlite else "payload->>'text'"
    op.execute(
        "INSERT INTO case_texts (id, case_id, kind, text) "
        f"SELECT id, case_id, 'note', {note} FROM case_events "
        f"WHERE trigger = 'note' AND {note} IS NOT NULL"
    )
    if not sqlite:
        op.execute(
            "SELECT setval(pg_get_serial_sequence('case_texts', 'id'), "
            "COALESCE((SELECT max(id) FROM case_texts), 0) + 1, false)"
        )
    if sqlite:
        op.execute(
            "ALTER TABLE case_events ADD COLUMN text_id INTEGER "
            "CONSTRAINT fk_case_events_text_id_case_texts REFERENCES case_texts (id)"
        )
    else:
        op.add_column(
            "case_events",
            sa.Column(
                "text_id",
                sa.Integer(),
                sa.ForeignKey("case_texts.id", name="fk_case_events_text_id_case_texts"),
                nullable=True,
            ),
        )
    op.execute("UPDATE case_events SET text_id = id WHERE id IN (SELECT id FROM case_texts)")
    signature = (
        "(SELECT g.id FROM signatures g WHERE g.document_id = {document} AND g.party = {party})"
    )
    if sqlite:
        found = signature.format(
            document="json_extract(payload, '$.document')", party="json_extract(payload, '$.party')"
        )
        op.execute(
            "UPDATE case_events SET payload = json_remove(payload, '$.text') WHERE trigger = 'note'"
        )
        op.execute(
            "UPDATE case_events SET payload = "
            f"json_set(json_remove(payload, '$.name'), '$.signature', {found}) "
            "WHERE trigger = 'contract_signed'"
        )
    else:
        found = signature.format(
            document="(payload->>'document')::integer", party="payload->>'party'"
        )
        op.execute(
            "UPDATE case_events SET payload = (payload::jsonb - 'text')::json "
            "WHERE trigger = 'note'"
        )
        op.execute(
            "UPDATE case_events SET payload = jsonb_set(payload::jsonb - 'name', "
            f"'{{signature}}', COALESCE(to_jsonb({found}), 'null'::jsonb))::json "
            "WHERE trigger = 'contract_signed'"
        )
    op.drop_column("case_events", "reason")


def _restore_free_texts() -> None:
    sqlite = _sqlite()
    op.add_column("case_events", sa.Column("reason", sa.Text(), nullable=True))
    op.execute(
        "UPDATE case_events SET reason = (SELECT t.text FROM case_texts t "
        "WHERE t.id = case_events.text_id AND t.kind = 'reason') WHERE text_id IS NOT NULL"
    )
    text = "(SELECT t.text FROM case_texts t WHERE t.id = case_events.text_id)"
    name = "(SELECT g.signer_name FROM signatures g WHERE g.id = {signature})"
    if sqlite:
        op.execute(
            f"UPDATE case_events SET payload = json_set(payload, '$.text', {text}) "
            "WHERE trigger = 'note' AND text_id IS NOT NULL"
        )
        found = name.format(signature="json_extract(payload, '$.signature')")
        op.execute(
            "UPDATE case_events SET payload = "
            f"json_set(json_remove(payload, '$.signature'), '$.name', {found}) "
            "WHERE trigger = 'contract_signed'"
        )
    else:
        op.execute(
            "UPDATE case_events SET payload = jsonb_set(payload::jsonb, '{text}', "
            f"COALESCE(to_jsonb({text}), 'null'::jsonb))::json "
            "WHERE trigger = 'note' AND text_id IS NOT NULL"
        )
        found = name.format(signature="(payload->>'signature')::integer")
        op.execute(
            "UPDATE case_events SET payload = jsonb_set(payload::jsonb - 'signature', "
            f"'{{name}}', COALESCE(to_jsonb({found}), 'null'::jsonb))::json "
            "WHERE trigger = 'contract_signed'"
        )
    op.drop_column("case_events", "text_id")


# -- the chain ---------------------------------------------------------------------------------


def _event_hash(row: Any, text: Any, prev_hash: str) -> str:
    """workflow.audit.event_hash as written with this migration; `text` is the ninth field:
    the text's reference from now on, the reason's words before (migration 0012)."""
    recorded = row.recorded_at
    if isinstance(recorded, str):
        recorded = datetime.fromisoformat(recorded)
    if recorded.tzinfo is not None:
        recorded = recorded.astimezone(UTC).replace(tzinfo=None)
    payload = row.payload
    if isinstance(payload, str):
        payload = json.loads(payload)
    effective = row.effective_date
    canonical = json.dumps(
        [row.case_id, row.seq, row.trigger, row.from_state, row.to_state,
         effective if isinstance(effective, str) else effective.isoformat(),
         recorded.isoformat(timespec="microseconds"), row.actor, text, payload or {}, prev_hash],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )  # fmt: skip
    return hashlib.sha256(canonical.encode()).hexdigest()


def _rechain(field: str) -> None:
    """Every event's hash again (its ninth field: `text_id` or `reason`), then every seal."""
    bind = op.get_bind()
    events = sa.table(
        "case_events",
        *(sa.column(c) for c in ("id", "case_id", "seq", "trigger", "from_state", "to_state",
                                 "actor", "prev_hash", "hash", field)),
        sa.column("effective_date", sa.Date), sa.column("recorded_at", sa.DateTime(timezone=True)),
        sa.column("payload", sa.JSON),
    )  # fmt: skip
    rows = bind.execute(sa.select(events).order_by(events.c.case_id, events.c.seq)).all()
    updates, case, prev = [], None, ""
    for r in rows:
        if r.case_id != case:
            case, prev = r.case_id, ""
        digest = _event_hash(r, getattr(r, field), prev)
        updates.append({"i": r.id, "p": prev, "h": digest})
        prev = digest
    if updates:
        bind.execute(
            sa.text("UPDATE case_events SET prev_hash = :p, hash = :h WHERE id = :i"), updates
        )
    _reseal()


def _reseal() -> None:
    """workflow.audit's seals over the new hashes: each digest chained to the one before."""
    bind = op.get_bind()
    seals = bind.execute(
        sa.text("SELECT id, first_event_id, last_event_id FROM event_digests ORDER BY id")
    ).all()
    prev = ""
    for ident, first, last in seals:
        digest = hashlib.sha256(prev.encode())
        for event_id, event_hash in bind.execute(
            sa.text("SELECT id, hash FROM case_events WHERE id > :f AND id <= :l ORDER BY id"),
            {"f": first, "l": last},
        ):
            digest.update(f"{event_id}:{event_hash or ''};".encode())
        bind.execute(
            sa.text("UPDATE event_digests SET digest = :d, prev_digest = :p WHERE id = :i"),
            {"d": digest.hexdigest(), "p": prev, "i": ident},
        )
        prev = digest.hexdigest()


# -- IBANs -------------------------------------------------------------------------------------


def _fernet() -> Any:
    from cryptography.fernet import Fernet

    from workflow.errors import FidelisError

    key = os.environ.get(KEY_VARIABLE, "").strip()
    if not key:
        raise FidelisError(
            f"Des apprenants ont un IBAN : définissez {KEY_VARIABLE} (la clé qui les chiffrera, "
            "la même pour tous les processus) avant « fidelis db upgrade »."
        )
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise FidelisError(f"La clé {KEY_VARIABLE} est invalide (clé Fernet attendue).") from None


def _key_if_needed() -> None:
    if op.get_bind().execute(sa.text("SELECT 1 FROM learners WHERE iban IS NOT NULL")).first():
        _fernet()


def _seal(fernet: Any, clear: str) -> str:
    compact = "".join(clear.split()).upper()
    token = fernet.encrypt(compact.encode("ascii")).decode("ascii")
    return f"v1:{compact[:4]}:{compact[-4:]}:{token}"


def _unseal(fernet: Any, stored: str) -> str:
    from cryptography.fernet import InvalidToken

    from workflow.errors import FidelisError

    try:
        return str(fernet.decrypt(stored.split(":", 3)[3].encode("ascii")).decode("ascii"))
    except (InvalidToken, IndexError):
        raise FidelisError(f"La clé {KEY_VARIABLE} ne déchiffre pas les IBAN.") from None


def _seal_ibans() -> None:
    _replace_iban_column(200, _seal)


def _unseal_ibans() -> None:
    _replace_iban_column(34, _unseal)


def _replace_iban_column(length: int, convert: Callable[[Any, str], str]) -> None:
    """A new column of the other form, filled, in place of the old one (plain ALTER TABLE on
    both databases: SQLite cannot rebuild `learners` while `cases` points to it)."""
    bind = op.get_bind()
    op.add_column("learners", sa.Column("iban_new", sa.String(length=length), nullable=True))
    rows = bind.execute(sa.text("SELECT id, iban FROM learners WHERE iban IS NOT NULL")).all()
    if rows:
        fernet = _fernet()
        new = {ident: convert(fernet, value) for ident, value in rows}
        bind.execute(
            sa.text("UPDATE learners SET iban_new = :v WHERE id = :id"),
            [{"id": ident, "v": value} for ident, value in new.items()],
        )
        _refingerprint(dict(rows), new)
    op.drop_column("learners", "iban")
    op.execute("ALTER TABLE learners RENAME COLUMN iban_new TO iban")


def _fingerprint(
    tier: Any, start: Any, end: Any, iban: Any, names: list[Any], employer: Any
) -> str:
    """workflow.documents.store.contract_fingerprint on a row's values."""
    facts = {
        "tier": tier,
        "training": [str(start), str(end)],
        "iban": iban,
        "learner": names,
        "employer": employer,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def _refingerprint(old: dict[int, str], new: dict[int, str]) -> None:
    """Issued contracts that matched their learner with the old IBAN form match it with the
    new one: without this, every contract awaiting signature would turn stale."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT d.id, d.fingerprint, c.tier, l.id, l.training_start, l.training_end, "
            "l.first_name, l.last_name, l.birth_date, o.employer_id "
            "FROM documents d JOIN cases c ON c.id = d.case_id "
            "JOIN learners l ON l.id = c.learner_id JOIN offers o ON o.id = c.offer_id "
            "WHERE d.kind = 'contract' AND d.status = 'issued' AND d.fingerprint IS NOT NULL"
        )
    ).all()
    updates = []
    for doc, stored, tier, learner, start, end, first, last, born, employer in rows:
        names = [first, last, str(born)]
        before = _fingerprint(tier, start, end, old.get(learner), names, employer)
        if before == stored:
            after = _fingerprint(tier, start, end, new.get(learner), names, employer)
            updates.append({"id": doc, "f": after})
    if updates:
        bind.execute(sa.text("UPDATE documents SET fingerprint = :f WHERE id = :id"), updates)


# -- documents.status --------------------------------------------------------------------------


def _allow_purged_documents() -> None:
    _status_check(STATUSES, f"{STATUSES}, 'purged'")


def _forbid_purged_documents() -> None:
    op.execute(
        "UPDATE documents SET status = 'invalidated', "
        "status_reason = 'Effacé (durée de conservation échue).' WHERE status = 'purged'"
    )
    _status_check(f"{STATUSES}, 'purged'", STATUSES)


def _status_check(before: str, after: str) -> None:
    if not _sqlite():
        op.drop_constraint(op.f("ck_documents_status"), "documents", type_="check")
        op.create_check_constraint(op.f("ck_documents_status"), "documents", f"status IN ({after})")
        return
    # SQLite's procedure for a constraint change the stored rows already satisfy.
    bind = op.get_bind()
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'documents'")
    ).scalar_one()
    old, new = f"status IN ({before})", f"status IN ({after})"
    if sql.count(old) != 1:
        raise RuntimeError(f"documents: CHECK {old!r} not found in {sql!r}")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'documents'"),
        {"sql": sql.replace(old, new)},
    )
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")
    problems = bind.exec_driver_sql("PRAGMA integrity_check").scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"documents: integrity check failed: {problems}")
