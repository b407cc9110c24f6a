"""The retention purge erases the electronic signatures' evidence with the learner's other data
(issue 16, RGPD art. 5-1-e), on SQLite and PostgreSQL: names, e-mails, IP address, user-agent,
refusal reason; what proves nothing about a person stays (party, times, SHA-256, consent)."""

from __future__ import annotations

import sqlalchemy as sa

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
from workflow import esign, privacy
from workflow.models import EsignRequest, Learner


def test_the_purge_erases_the_evidence_of_her_signatures(
    world: World,
    esign_env: LocalSmtpServer,  # noqa: F811
) -> None:
    w = world
    case = issued_case(w)
    esign.start(w.uow(), case, schemes=w.schemes)
    sign(w, esign_env, case, "learner")  # from 192.0.2.7, « Navigateur de test »
    esign.refuse(w.uow(), case, "employer", "Mme Martin ne travaille plus ici.", schemes=w.schemes)
    with w.uow() as uow:
        learner = uow.session.get(Learner, w.learners[0])
        assert learner is not None
        traces = {learner.full_name, learner.email, "192.0.2.7", "Navigateur de test", "Martin"}
        counts = privacy.purge_learner(uow.session, w.learners[0], as_of=D("2040-01-01"))
        uow.commit()
    with w.uow() as uow:
        rows = uow.session.scalars(sa.select(EsignRequest).order_by(EsignRequest.position)).all()
        names = {r.signer_name for r in rows}
        kept = [(r.party, r.status, r.document_sha256, r.consent_text, r.signed_at) for r in rows]
        text = " ".join(
            str(v)
            for r in rows
            for v in (r.signer_name, r.email, r.ip, r.user_agent, r.reason, r.code_hash)
        )
    assert counts["esign"] == 3
    assert [trace for trace in traces if trace in text] == []
    assert names == {privacy.ANONYMOUS}
    assert [k[:2] for k in kept] == [("learner", "signed"), ("employer", "refused"),
                                     ("region", "pending")]  # fmt: skip
    assert kept[0][3] == esign.CONSENT and kept[0][4] is not None and len(kept[0][2]) == 64
