"""« À traiter »'s threads waiting for the Région (workflow.queue), on SQLite and PostgreSQL:
`case_messages.waiting_since` is kept by each message written, and migration 0023 fills it
from the threads as they stand — so the queue reads an index range instead of every message."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic import command

from tests.conftest import World
from tests.integration.test_case_service import D
from tests.integration.test_query_counts_pages import party
from workflow import accounts, cases, queue, threads
from workflow.accounts import Principal
from workflow.db import alembic_config, upgrade
from workflow.models import CaseMessage, User


def waiting(w: World) -> dict[int, date | None]:
    with w.uow() as uow:
        rows = uow.session.execute(sa.select(CaseMessage.id, CaseMessage.waiting_since))
        return {m: since for m, since in rows}


def queued(w: World) -> set[tuple[int, str]]:
    with w.uow() as uow:
        found = queue.to_do(uow.session, today=D("2030-01-01"), schemes=w.schemes)
    return {(r["case_id"], r["reason"]) for r in found["rows"]}


def test_a_partys_message_waits_until_answered_and_the_migration_finds_it(world: World) -> None:
    w = world
    ident, _ = accounts.add_user(w.uow(), email="agent@exemple.fr", name="Agent", role="region",
        password="correct horse battery",
    )  # fmt: skip
    with w.uow() as uow:
        agent = Principal.of(uow.session.get_one(User, ident))
    answered, open_ = (
        cases.open_case(w.uow(), w.offers[i], w.learners[i], on=D("2026-05-30")) for i in (0, 1)
    )
    asked = threads.post_message(w.uow(), answered, party(w, w.learners[0]), "Question ?")
    still = threads.post_message(w.uow(), open_, party(w, w.learners[1]), "Et moi ?")
    assert waiting(w)[asked] is not None and waiting(w)[still] is not None
    assert {(answered, "message_waiting"), (open_, "message_waiting")} <= queued(w)
    reply = threads.post_message(w.uow(), answered, agent, "Réponse.", thread="learner")
    before = waiting(w)
    assert before[asked] is None and before[reply] is None and before[still] is not None
    assert (answered, "message_waiting") not in queued(w)
    assert (open_, "message_waiting") in queued(w)

    # Back to 0022 (no column), then up again: the migration finds the same waiting thread.
    command.downgrade(alembic_config(w.engine), "0022")
    upgrade(w.engine)
    assert waiting(w) == before
