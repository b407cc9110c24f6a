"""Migration 0011 on a database that already holds a case's life, its history chained by 0012:
the reason, the note and the signer's name leave the append-only events, the IBAN is sealed, the
contract awaiting signature still matches its learner, the chain and its seals are computed again
(`audit verify` finds nothing), the triggers are back — and a downgrade gives the old rows, hashes
and seals back."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import date, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from tests.conftest import IBAN_KEY
from workflow import audit
from workflow.db import alembic_config, make_engine, upgrade
from workflow.documents.store import contract_fingerprint
from workflow.errors import FidelisError
from workflow.models import Case, CaseEvent, Document, EventDigest

CLEAR = "FR7630006000011234567890189"
NAME = "Zéphyrine Quillebeuf"
REASON = "Mme Zéphyrine Quillebeuf a déménagé à Lyon"
NOTE = "Appel de Zéphyrine Quillebeuf : elle confirme."
NOW = datetime(2026, 6, 1, 10, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_engine(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[sa.Engine]:
    """A database at revision 0012 holding one case — selected, a reason, a note, a contract
    issued and signed by the learner — written before 0012, which chained and sealed it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/old.db"
    else:
        url = request.getfixturevalue("pg_server").create_database(f"m_{uuid.uuid4().hex[:10]}")
    engine = make_engine(url)
    upgrade(engine, "0008")
    with engine.begin() as conn:
        _life_before_0011(conn)
    upgrade(engine, "0012")
    yield engine
    engine.dispose()


def _insert(conn: sa.Connection, table: str, **values: object) -> int:
    columns = ", ".join(values)
    marks = ", ".join(f":{k}" for k in values)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id"
    return int(conn.execute(sa.text(sql), values).scalar_one())


def _old_fingerprint(iban: str) -> str:
    facts = {
        "tier": "2x150",
        "training": ["2026-09-07", "2027-07-02"],
        "iban": iban,
        "learner": ["Zéphyrine", "Quillebeuf", "2003-04-05"],
        "employer": 1,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def _life_before_0011(conn: sa.Connection) -> None:
    institute = _insert(conn, "institutes", name="IFAS de Mende", commune_insee="48095",
                        created_at=NOW)  # fmt: skip
    employer = _insert(conn, "employers", name="EHPAD", siret="73282932000074",
                       commune_insee="48095", sector="elderly", recruitment_difficulty=True,
                       created_at=NOW)  # fmt: skip
    assert employer == 1
    campaign = _insert(conn, "campaigns", scheme_id="occitanie-fidelisation-as", year=2026,
                       is_open=True, opened_at=NOW)  # fmt: skip
    offer = _insert(conn, "offers", campaign_id=campaign, employer_id=employer, places=1,
                    version=1)  # fmt: skip
    learner = _insert(conn, "learners", first_name="Zéphyrine", last_name="Quillebeuf",
                      birth_date=date(2003, 4, 5), email="zq@exemple.fr",
                      institute_id=institute, training_start=date(2026, 9, 7),
                      training_end=date(2027, 7, 2), iban=CLEAR, created_at=NOW)  # fmt: skip
    case = _insert(conn, "cases", offer_id=offer, learner_id=learner, campaign_id=campaign,
                   scheme_id="occitanie-fidelisation-as", state="selected", version=5,
                   tier="2x150", contract_number="OCC-AS-2026-00001",
                   interview_date=date(2026, 6, 2), part_time_ratio=1, exempted=False,
                   last_effective_date=date(2026, 6, 20), opened_at=NOW,
                   updated_at=NOW)  # fmt: skip
    document = _insert(conn, "documents", case_id=case, kind="contract", version=1,
                       number="OCC-AS-2026-00001", filename="c-v1.docx", media_type="x",
                       sha256="0" * 64, size=1, fingerprint=_old_fingerprint(CLEAR),
                       status="issued", issued_on=date(2026, 6, 20), issued_by="agent",
                       created_at=NOW)  # fmt: skip
    _insert(conn, "signatures", document_id=document, party="learner", signer_name=NAME,
            signed_on=date(2026, 6, 20), recorded_by="agent", recorded_at=NOW)  # fmt: skip
    events = [
        ("open", None, "listed", date(2026, 6, 1), None, {}),
        ("submit", "listed", "applied", date(2026, 6, 1), None, {}),
        ("interview", "applied", "interviewed", date(2026, 6, 2), None,
         {"interview_date": "2026-06-02"}),
        ("select", "interviewed", "selected", date(2026, 6, 3), REASON, {}),
        ("note", "selected", "selected", date(2026, 6, 4), None, {"text": NOTE}),
        ("contract_issued", "selected", "selected", date(2026, 6, 20), None,
         {"document": document, "number": "OCC-AS-2026-00001", "tier": "2x150"}),
        ("contract_signed", "selected", "selected", date(2026, 6, 20), None,
         {"document": document, "party": "learner", "name": NAME}),
    ]  # fmt: skip
    for seq, (trigger, before, after, on, reason, payload) in enumerate(events, start=1):
        _insert(conn, "case_events", case_id=case, seq=seq, trigger=trigger,
                from_state=before, to_state=after, effective_date=on, recorded_at=NOW,
                actor="agent", reason=reason, payload=json.dumps(payload))  # fmt: skip


def _shown(value: object) -> str:
    """A cell as text, JSON decoded (the JSON type stores "é" as "\\u00e9")."""
    if isinstance(value, str) and value.startswith(("{", "[")):
        value = json.loads(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _dump(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        rows = [
            " | ".join(_shown(v) for v in row)
            for table in ("case_events", "learners", "documents")
            for row in conn.execute(sa.text(f"SELECT * FROM {table}"))
        ]
    return "\n".join(rows)


def test_the_upgrade_moves_personal_data_out_of_the_log_and_seals_the_iban(
    old_engine: sa.Engine,
) -> None:
    before = _dump(old_engine)
    assert NAME in before and REASON in before and NOTE in before and CLEAR in before
    upgrade(old_engine)
    after = _dump(old_engine)
    assert NAME not in after and CLEAR not in after
    with Session(old_engine) as s:
        events = {e.trigger: e for e in s.scalars(sa.select(CaseEvent))}
        assert events["select"].reason == REASON and events["note"].note == NOTE
        assert events["note"].payload == {} and "name" not in events["contract_signed"].payload
        signature = events["contract_signed"].payload["signature"]
        assert isinstance(signature, int)
        case = s.scalars(sa.select(Case)).one()
        assert case.learner.iban is not None and case.learner.iban.reveal() == CLEAR
        assert case.learner.iban.masked == "FR76 **** **** 0189"
        # The contract awaiting signature still matches its learner (not turned stale).
        doc = s.scalars(sa.select(Document)).one()
        assert doc.fingerprint == contract_fingerprint(case)
        # The chain now covers the texts by reference, and still holds, seals included.
        assert list(audit.verify(s)) == []
        assert s.scalar(sa.select(sa.func.count()).select_from(EventDigest)) == 1
    # The append-only and immutable-content triggers are back.
    for statement in (
        "UPDATE case_events SET actor = 'mallory'",
        "DELETE FROM case_events",
        "UPDATE documents SET sha256 = 'x'",
        "UPDATE documents SET fingerprint = NULL",
    ):
        with pytest.raises(sa.exc.DBAPIError), old_engine.begin() as conn:
            conn.execute(sa.text(statement))


def test_the_downgrade_gives_the_old_rows_back(old_engine: sa.Engine) -> None:
    def rows(conn: sa.Connection) -> list[tuple[object, ...]]:
        query = "SELECT seq, reason, payload, prev_hash, hash FROM case_events ORDER BY seq"
        events = [(seq, reason, json.loads(p) if isinstance(p, str) else p, prev, h)
                  for seq, reason, p, prev, h in conn.execute(sa.text(query))]  # fmt: skip
        seals = conn.execute(sa.text("SELECT digest, prev_digest FROM event_digests")).all()
        return [*events, *(tuple(seal) for seal in seals)]

    with old_engine.connect() as conn:
        events = rows(conn)
        fingerprint = conn.execute(sa.text("SELECT fingerprint FROM documents")).scalar_one()
    upgrade(old_engine)
    command.downgrade(alembic_config(old_engine), "0012")
    with old_engine.connect() as conn:
        assert rows(conn) == events
        assert conn.execute(sa.text("SELECT iban FROM learners")).scalar_one() == CLEAR
        assert conn.execute(sa.text("SELECT fingerprint FROM documents")).scalar_one() == (
            fingerprint
        )
    with pytest.raises(sa.exc.DBAPIError), old_engine.begin() as conn:
        conn.execute(sa.text("UPDATE case_events SET actor = 'mallory'"))


def test_without_the_key_the_upgrade_says_so_and_changes_nothing(
    old_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FIDELIS_IBAN_KEY")
    before = _dump(old_engine)
    with pytest.raises(FidelisError, match="FIDELIS_IBAN_KEY"):
        upgrade(old_engine)
    assert _dump(old_engine) == before
    with old_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0012"
    monkeypatch.setenv("FIDELIS_IBAN_KEY", IBAN_KEY)
    upgrade(old_engine)  # nothing was left half-done
    assert CLEAR not in _dump(old_engine)
