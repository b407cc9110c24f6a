"""The electronic signature's e-mails through the outbox (issue 16), on SQLite and PostgreSQL, sent
to a real local SMTP server: each invitation carries its signer's link, in the scheme's order; a
contract invalidated halfway (the learner's IBAN, or a new tier) voids the signatures collected
and tells the signers; a refusal with its reason goes to the Région."""

from __future__ import annotations

import re
from email.message import EmailMessage

import sqlalchemy as sa

from jobs.outbox import send_pending
from tests.conftest import World
from tests.integration.test_esign import (  # noqa: F401 (fixtures)
    esign_env,
    issued_case,
    seal_files,
    sign,
    smtp,
)
from tests.smtpserver import LocalSmtpServer
from workflow import contracts, directory, esign
from workflow.db import session_factory
from workflow.documents.store import current_contract
from workflow.models import EsignRequest, OutboxMessage

REGION = "signature@region.example.fr"


def send(w: World) -> int:
    return send_pending(session_factory(w.engine), w.schemes)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


def received(server: LocalSmtpServer, subject: str) -> list[tuple[str, str]]:
    return [(str(m["To"]), text_of(m)) for m in server.messages
            if str(m["Subject"]).startswith(subject)]  # fmt: skip


def outbox_failures(w: World) -> list[str | None]:
    with w.uow() as uow:
        return list(uow.session.scalars(sa.select(OutboxMessage.last_error).where(
            OutboxMessage.status != "sent")))  # fmt: skip


def statuses(w: World) -> dict[str, str]:
    with w.uow() as uow:
        rows = uow.session.execute(sa.select(EsignRequest.party, EsignRequest.status).where(
            EsignRequest.status != "invalidated")).all()  # fmt: skip
    return dict(rows)  # type: ignore[arg-type]


def test_each_invitation_goes_out_with_its_signers_link_in_turn(
    world: World,
    esign_env: LocalSmtpServer,  # noqa: F811
) -> None:
    w, mails = world, esign_env
    case = issued_case(w)
    esign.start(w.uow(), case, schemes=w.schemes)
    assert send(w) == 1 and outbox_failures(w) == []
    for signer in ("learner", "employer", "region"):
        (to, text), *_ = received(mails, "Contrat de fidélisation à signer")[-1:]
        link = re.search(r"https?://\S+/signature/(\S+)", text)
        assert link is not None, text
        request_id = esign.request_for_token(link[1])
        with w.uow() as uow:
            request = uow.session.get(EsignRequest, request_id)
            assert request is not None
            assert (request.party, request.email) == (signer, to)
            assert request.document_sha256 in text
        sign(w, mails, case, signer)
        send(w)
    assert [to for to, _ in received(mails, "Contrat de fidélisation à signer")] == [
        "a0@exemple.fr",
        "direction0@exemple.fr",
        REGION,
    ]
    assert outbox_failures(w) == []


def test_an_iban_changed_halfway_voids_the_signatures_and_tells_the_signers(
    world: World,
    esign_env: LocalSmtpServer,  # noqa: F811
) -> None:
    w, mails = world, esign_env
    case = issued_case(w)
    esign.start(w.uow(), case, schemes=w.schemes)
    sign(w, mails, case, "learner")
    directory.update_learner(w.uow(), w.learners[0], iban="FR7610107001011234567890129")
    send(w)
    assert outbox_failures(w) == []
    (to, text), *others = received(mails, "Contrat ")
    notices = [(t, x) for t, x in [(to, text), *others] if "signature annulée" in x or
               "ne valent plus" in x]  # fmt: skip
    assert [t for t, _ in notices] == ["a0@exemple.fr"]
    assert "données de l'apprenant modifiées" in notices[0][1]
    assert statuses(w) == {}
    # The sign trigger no longer sees a signature: the contract must be issued again.
    with w.uow() as uow:
        assert current_contract(uow.session, case) is None


def test_a_new_tier_halfway_voids_the_signatures_and_tells_the_signers(
    world: World,
    esign_env: LocalSmtpServer,  # noqa: F811
) -> None:
    w, mails = world, esign_env
    case = issued_case(w)
    esign.start(w.uow(), case, schemes=w.schemes)
    sign(w, mails, case, "learner")
    sign(w, mails, case, "employer")
    contracts.generate_contract(w.uow(), case, tier="2x200", schemes=w.schemes)
    send(w)
    assert outbox_failures(w) == []
    voided = [to for to, text in received(mails, "Contrat ") if "ne valent plus" in text]
    assert sorted(voided) == ["a0@exemple.fr", "direction0@exemple.fr"]
    assert statuses(w) == {}
    with w.uow() as uow:
        rows = uow.session.scalars(sa.select(EsignRequest)).all()
        assert {r.status for r in rows} == {"invalidated"}
        assert {r.reason for r in rows} == {"remplacé par une nouvelle version du contrat"}
    # The new version is signed again from the start, in the scheme's order.
    invited = esign.start(w.uow(), case, schemes=w.schemes)
    assert [i.party for i in invited] == ["learner", "employer", "region"]
    assert statuses(w) == {"learner": "pending", "employer": "pending", "region": "pending"}
    with w.uow() as uow:
        doc = current_contract(uow.session, case)
        assert doc is not None and doc.version == 2 and doc.signatures == []


def test_a_refusal_and_its_reason_reach_the_region(
    world: World,
    esign_env: LocalSmtpServer,  # noqa: F811
) -> None:
    w, mails = world, esign_env
    case = issued_case(w)
    esign.start(w.uow(), case, schemes=w.schemes)
    esign.refuse(w.uow(), case, "learner", "Le montant ne correspond pas.", schemes=w.schemes)
    send(w)
    assert outbox_failures(w) == []
    refusals = [m for m in mails.messages if str(m["Subject"]).endswith("signature refusée")]
    assert [str(m["To"]) for m in refusals] == [REGION]
    text = text_of(refusals[0])
    assert "« Le montant ne correspond pas. »" in text and "l'apprenant" in text
