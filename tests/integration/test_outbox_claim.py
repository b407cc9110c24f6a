"""Concurrent senders of the outbox (two `fidelis outbox send` at once, or the nightly run's
sending step and a manual one) against a real SMTP server, on SQLite and PostgreSQL: each
message is claimed before it is sent, so each is delivered exactly once; a claim left by a sender
that died is taken again once it has expired, and the message keeps its Message-ID."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from jobs.outbox import CLAIM_TTL, send_pending
from tests.conftest import World
from tests.integration.test_case_service import D
from tests.smtpserver import LocalSmtpServer
from workflow import cases
from workflow.db import make_engine, session_factory
from workflow.mailer import SmtpSettings
from workflow.models import OutboxMessage, utcnow

MESSAGES = 320
ROUNDS = 3


@pytest.fixture
def smtp() -> Iterator[LocalSmtpServer]:
    server = LocalSmtpServer().start()
    yield server
    server.stop()


def submitted_case(w: World) -> int:
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    cases.fire(w.uow(), case, "submit", on=D("2026-06-01"), schemes=w.schemes)
    return case


def add_pending(w: World, case: int, count: int, tag: str, **values: object) -> list[int]:
    """`count` pending reminders of `case`, each to its own address."""
    now = utcnow()
    rows = [
        {
            "dedup_key": f"test:{tag}:{n}",
            "case_id": case,
            "kind": "application_without_interview",
            "due_date": D("2026-06-22"),
            "recipient": f"{tag}-{n}@exemple.fr",
            "context": {},
            "status": "pending",
            "attempts": 0,
            "created_at": now,
            **values,
        }
        for n in range(count)
    ]
    with w.engine.begin() as conn:
        conn.execute(sa.insert(OutboxMessage), rows)
        return list(
            conn.scalars(
                sa.select(OutboxMessage.id).where(OutboxMessage.dedup_key.like(f"test:{tag}:%"))
            )
        )


def in_parallel(senders: list[Callable[[], int]]) -> list[int]:
    """Run the senders in threads started together; re-raise the first error."""
    start = threading.Barrier(len(senders))
    results: list[int] = []
    errors: list[BaseException] = []

    def run(send: Callable[[], int]) -> None:
        start.wait()
        try:
            results.append(send())
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    return results


def sender(w: World, settings: SmtpSettings) -> Callable[[], int]:
    """A sender with its own engine, as another process would have."""

    def send() -> int:
        engine = make_engine(w.engine.url.render_as_string(hide_password=False))
        try:
            return send_pending(session_factory(engine), w.schemes, settings=settings)
        finally:
            engine.dispose()

    return send


def received_ids(smtp: LocalSmtpServer) -> Counter[int]:
    return Counter(int(m["X-Fidelis-Outbox-Id"]) for m in smtp.messages)


def test_two_senders_at_once_deliver_each_message_exactly_once(
    world: World, smtp: LocalSmtpServer
) -> None:
    w = world
    case = submitted_case(w)
    settings = SmtpSettings(host="127.0.0.1", port=smtp.port)
    for round_ in range(ROUNDS):
        ids = add_pending(w, case, MESSAGES, f"r{round_}")
        sent = in_parallel([sender(w, settings), sender(w, settings)])
        received = received_ids(smtp)
        assert {i: n for i, n in received.items() if n > 1} == {}, f"round {round_}"
        assert set(ids) <= set(received)
        assert sum(sent) == MESSAGES
        with w.engine.connect() as conn:
            statuses = Counter(
                conn.scalars(sa.select(OutboxMessage.status).where(OutboxMessage.id.in_(ids))).all()
            )
        assert statuses == {"sent": MESSAGES}
    assert len(smtp.messages) == MESSAGES * ROUNDS


def test_a_claim_blocks_other_senders_until_it_expires(world: World, smtp: LocalSmtpServer) -> None:
    """A sender that died mid-send leaves its claim: nobody sends the message while the claim
    runs; once it has expired the next sender sends it, with the same Message-ID."""
    w = world
    case = submitted_case(w)
    settings = SmtpSettings(host="127.0.0.1", port=smtp.port)
    factory = session_factory(w.engine)
    (held,) = add_pending(
        w, case, 1, "held", claimed_by="crashed:1", claimed_until=utcnow() + CLAIM_TTL
    )
    (stale,) = add_pending(
        w, case, 1, "stale", claimed_by="crashed:2", claimed_until=utcnow() - timedelta(seconds=1)
    )
    assert send_pending(factory, w.schemes, settings=settings) == 1
    assert received_ids(smtp) == {stale: 1}
    later = utcnow() + CLAIM_TTL + timedelta(seconds=1)
    assert send_pending(factory, w.schemes, settings=settings, now=later) == 1
    assert received_ids(smtp) == {stale: 1, held: 1}
    assert [m["Message-ID"] for m in smtp.messages] == [
        f"<outbox-{stale}@fidelis>",
        f"<outbox-{held}@fidelis>",
    ]
    with w.engine.connect() as conn:
        rows = conn.execute(
            sa.select(OutboxMessage.status, OutboxMessage.claimed_by, OutboxMessage.claimed_until)
        ).all()
    assert [tuple(r) for r in rows] == [("sent", None, None), ("sent", None, None)]
