"""Payments after the nightly run — SEPA file validated by its XSD, exported once, re-exported
identically, treasury and employer confirmations, corrections — and the outbox sent to a real
local SMTP server."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa

from jobs.nightly import run_nightly
from jobs.outbox import send_pending
from tests.conftest import IBAN, World
from tests.integration.test_case_service import D, signed_case
from tests.smtpserver import LocalSmtpServer
from workflow import cases, payments
from workflow.db import session_factory
from workflow.errors import InvalidInput
from workflow.mailer import SmtpSettings
from workflow.models import OutboxMessage, Payment
from workflow.sepa import validate_pain001

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}


def nightly(w: World, as_of: str) -> None:
    run_nightly(w.engine, D(as_of), schemes=w.schemes, send_mail=False, catch_up=False)


def test_sepa_export_is_valid_once_and_reproducible(world: World) -> None:
    w = world
    signed_case(w)
    nightly(w, "2026-11-10")  # September and October fallen due
    export = payments.export_sepa(w.uow(), D("2026-09-01"), on=D("2026-11-12"), actor="trésor")
    validate_pain001(export.xml)
    root = ElementTree.fromstring(export.xml)
    assert root.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=NS) == "1"
    assert root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS) == "120.00"
    assert root.findtext(".//p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == IBAN
    assert (export.count, export.total, export.reused) == (1, Decimal("120.00"), False)
    with w.uow() as uow:
        statuses = dict(
            uow.session.execute(
                sa.select(Payment.period, Payment.status).where(Payment.funder == "region")
            ).all()
        )
    assert statuses == {D("2026-09-01"): "exported", D("2026-10-01"): "due"}
    again = payments.export_sepa(w.uow(), D("2026-09-01"), on=D("2026-11-20"), actor="trésor")
    assert again.reused and again.xml == export.xml  # nothing exported twice, same bytes


def test_treasury_confirmation_is_all_or_nothing(world: World, tmp_path: Path) -> None:
    w = world
    signed_case(w)
    nightly(w, "2026-11-10")
    export = payments.export_sepa(w.uow(), D("2026-09-01"), on=D("2026-11-12"), actor="trésor")
    ref = ElementTree.fromstring(export.xml).findtext(".//p:EndToEndId", namespaces=NS)
    bad = tmp_path / "bad.csv"
    bad.write_text(f"end_to_end_id;paid_on\n{ref};2026-11-15\nFID-P999999999;2026-11-15\n")
    with pytest.raises(InvalidInput, match="rien n'a été enregistré"):
        payments.import_paid(w.uow(), bad, actor="trésor")
    good = tmp_path / "good.csv"
    good.write_text(f"end_to_end_id;paid_on\n{ref};2026-11-15\n")
    assert payments.import_paid(w.uow(), good, actor="trésor") == 1
    assert payments.import_paid(w.uow(), good, actor="trésor") == 0  # already paid


def test_a_correction_cancels_with_a_reason_and_leaves_the_base(world: World) -> None:
    w = world
    case = signed_case(w)
    nightly(w, "2026-11-10")
    with w.uow() as uow:
        october = uow.session.scalars(
            sa.select(Payment.id).where(
                Payment.period == D("2026-10-01"), Payment.funder == "region"
            )
        ).one()
    with pytest.raises(InvalidInput, match="motif"):
        payments.cancel(w.uow(), october, reason=" ", on=D("2026-11-11"), actor="agent")
    payments.cancel(w.uow(), october, reason="Mois non dû", on=D("2026-11-11"), actor="agent")
    cases.fire(w.uow(), case, "breach", on=D("2026-11-01"), reason="Abandon",
               params={"category": "training_abandoned"}, schemes=w.schemes)  # fmt: skip
    with w.uow() as uow:
        from workflow.models import Reimbursement

        refunds = dict(
            uow.session.execute(sa.select(Reimbursement.funder, Reimbursement.amount)).all()
        )
    assert refunds == {"employer": Decimal("270.00"), "region": Decimal("120.00")}


@pytest.fixture
def smtp() -> Iterator[LocalSmtpServer]:
    server = LocalSmtpServer()
    server.start()
    yield server
    server.stop()


def test_the_outbox_is_sent_over_smtp_once(world: World, smtp: LocalSmtpServer) -> None:
    w = world
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    cases.fire(w.uow(), case, "submit", on=D("2026-06-01"), schemes=w.schemes)
    nightly(w, "2026-06-22")  # the application waits for an interview: a reminder
    settings = SmtpSettings(host="127.0.0.1", port=smtp.port)
    factory = session_factory(w.engine)
    assert send_pending(factory, w.schemes, settings=settings) == 1
    assert send_pending(factory, w.schemes, settings=settings) == 0
    (received,) = smtp.messages
    parsed = email.message_from_bytes(received.as_bytes(), policy=email.policy.default)
    assert parsed["To"] == "direction0@exemple.fr"
    assert parsed["Message-ID"].startswith("<outbox-")
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and "Apprenant0 Test" in body.get_content()
    with w.uow() as uow:
        status = uow.session.scalars(sa.select(OutboxMessage.status)).one()
    assert status == "sent"


def test_a_transient_failure_is_retried_later(world: World) -> None:
    w = world
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    cases.fire(w.uow(), case, "submit", on=D("2026-06-01"), schemes=w.schemes)
    nightly(w, "2026-06-22")
    closed_port = SmtpSettings(host="127.0.0.1", port=1, timeout=2)
    assert send_pending(session_factory(w.engine), w.schemes, settings=closed_port) == 0
    with w.uow() as uow:
        message = uow.session.execute(
            sa.select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.next_attempt_at)
        ).one()
    assert message[0] == "pending" and message[1] == 1 and message[2] is not None
