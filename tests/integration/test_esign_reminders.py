"""The reminder of an unsigned contract (SPEC §6, issue 16) on SQLite and PostgreSQL: it names
who has not signed; when the contract is signed electronically it goes to the party whose turn
it is, with the link to their signing page (and to no one else); on paper, to the learner."""

from __future__ import annotations

import re

import sqlalchemy as sa

from jobs.nightly import run_nightly
from jobs.outbox import render
from tests.conftest import World
from tests.integration.test_case_service import D
from tests.integration.test_esign import (  # noqa: F401 (fixtures)
    esign_env,
    issued_case,
    seal_files,
    sign,
    smtp,
)
from tests.smtpserver import LocalSmtpServer
from workflow import esign
from workflow.models import EsignRequest, Learner, OutboxMessage

ISSUED_PLUS_DELAY = "2026-07-01"  # issued on 20 June, reminded 10 days later


def reminder(w: World) -> tuple[str, str]:
    """The reminder's recipient and text, as the outbox would send it."""
    run_nightly(w.engine, D(ISSUED_PLUS_DELAY), schemes=w.schemes, send_mail=False,
                catch_up=False)  # fmt: skip
    with w.uow() as uow:
        s = uow.session
        message = s.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.kind == "contract_unsigned")
        ).one()
        return message.recipient or "", render(s, message, w.schemes).text


def test_an_electronic_reminder_goes_to_whose_turn_it_is_with_their_link(
    world: World,
    esign_env: LocalSmtpServer,  # noqa: F811
) -> None:
    w = world
    case = issued_case(w)
    esign.start(w.uow(), case, schemes=w.schemes)
    sign(w, esign_env, case, "learner")
    with w.uow() as uow:
        employer = uow.session.scalars(
            sa.select(EsignRequest).where(EsignRequest.party == "employer")
        ).one()
        employer_id, employer_email, employer_name = (
            employer.id,
            employer.email,
            employer.signer_name,
        )
        learner = uow.session.get(Learner, w.learners[0])
        assert learner is not None
        learner_name = learner.full_name
    to, text = reminder(w)
    assert to == employer_email
    assert f"- {employer_name} (" in text and "- Claire Élue (" in text
    assert "Il manque encore la signature" in text and f"- {learner_name}" not in text  # signed
    link = re.search(r"https?://\S+/signature/(\S+)", text)
    assert link is not None, text
    assert esign.request_for_token(link[1]) == employer_id  # the employer's own page


def test_a_paper_reminder_goes_to_the_learner_naming_the_three_parties(world: World) -> None:
    w = world
    case = issued_case(w)
    to, text = reminder(w)
    with w.uow() as uow:
        learner = uow.session.get(Learner, w.learners[0])
        assert learner is not None
        email, name = learner.email, learner.full_name
    assert to == email and case
    assert f"- {name} (l'apprenant)" in text
    assert text.count("\n- ") == 3  # learner, employer, funding body
    assert "/signature/" not in text and "retourner signé" in text
