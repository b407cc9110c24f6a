"""A thread per case (issue 15, item 4) through the pages and the JSON API, on SQLite and
PostgreSQL: each party sees its own thread only, another employer's case is a 404, notes are
for the Région's agents only, every message and note is in the history, an e-mail is queued for
the other side, attachments are bounded, and a refusal writes nothing."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from jobs.outbox import render
from tests.conftest import World
from tests.integration.test_case_service import D
from tests.integration.test_query_counts import counting
from tests.integration.test_web import csrf_of, events, login
from tests.integration.test_web import web as web  # the fixture
from tests.integration.test_web_queue import agent_id
from workflow import accounts, cases, queue, threads
from workflow.models import CaseEvent, CaseMessage, CaseText, OutboxMessage, User
from workflow.schemes import registry

Web = tuple[World, TestClient, dict[str, str]]
PDF = b"%PDF-1.4\n% a tiny attachment\n"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def outbox(w: World) -> list[tuple[int, str | None]]:
    """The queued e-mails: (id, recipient)."""
    with w.uow() as uow:
        rows = uow.session.execute(
            sa.select(OutboxMessage.id, OutboxMessage.recipient).order_by(OutboxMessage.id)
        )
        return [(i, r) for i, r in rows]


def test_the_region_and_the_employer_talk_in_the_employers_thread(web: Web) -> None:
    w, client, tokens = web
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    before = events(w)
    sent = client.post(
        f"/api/v1/cases/{case}/messages",
        json={"body": "Merci de confirmer la date d'entretien.", "thread": "employer"},
        headers=bearer(tokens["region"]),
    )
    assert sent.status_code == 201, sent.text
    answer = client.post(
        f"/api/v1/cases/{case}/messages",
        json={"body": "Entretien le 9 juin."},
        headers=bearer(tokens["employer"]),
    )
    assert answer.status_code == 201, answer.text
    assert events(w) == before + 2  # every message is an event of the history
    seen = client.get(f"/api/v1/cases/{case}/messages", headers=bearer(tokens["employer"])).json()
    assert [m["body"] for m in seen] == [
        "Merci de confirmer la date d'entretien.",
        "Entretien le 9 juin.",
    ]
    assert [m["from_region"] for m in seen] == [True, False]
    # The Région's message is e-mailed to the employer, with a link and without its text.
    queued = outbox(w)
    assert [r for _, r in queued] == ["direction0@exemple.fr"]
    with w.uow() as uow:
        message = uow.session.get(OutboxMessage, queued[0][0])
        assert message is not None
        email = render(uow.session, message, registry())
    assert f"/dossiers/{case}#messages" in email.text and "Entretien" not in email.text
    assert email.subject.startswith("Nouveau message")
    # The history keeps no text: it points to case_texts, which the purge can erase.
    with w.uow() as uow:
        last = uow.session.scalars(
            sa.select(CaseEvent).where(CaseEvent.case_id == case).order_by(CaseEvent.seq.desc())
        ).first()
        assert last is not None and last.trigger == "message"
        assert "Entretien" not in str(last.payload) and last.payload["thread"] == "employer"
        assert uow.session.get(CaseText, last.text_id) is not None


def test_each_party_sees_its_own_thread_and_never_another_employers_case(web: Web) -> None:
    w, client, tokens = web
    mine = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    theirs = cases.open_case(w.uow(), w.offers[1], w.learners[1], on=D("2026-05-30"))
    region = bearer(tokens["region"])
    for thread, body in (("learner", "Pour l'apprenant"), ("employer", "Pour l'employeur")):
        done = client.post(
            f"/api/v1/cases/{mine}/messages", json={"body": body, "thread": thread}, headers=region
        )
        assert done.status_code == 201
    employer = bearer(tokens["employer"])
    seen = client.get(f"/api/v1/cases/{mine}/messages", headers=employer).json()
    assert [m["body"] for m in seen] == ["Pour l'employeur"]  # not the learner's thread
    assert len(client.get(f"/api/v1/cases/{mine}/messages", headers=region).json()) == 2
    # The learner's thread is not the employer's to write in either.
    refused = client.post(
        f"/api/v1/cases/{mine}/messages", json={"body": "x", "thread": "learner"}, headers=employer
    )
    assert refused.status_code == 404
    before = events(w)
    for method, url in (("GET", f"/api/v1/cases/{theirs}/messages"),
                        ("POST", f"/api/v1/cases/{theirs}/messages")):  # fmt: skip
        answer = client.request(method, url, json={"body": "Bonjour"}, headers=employer)
        assert answer.status_code == 404, answer.text
    assert events(w) == before
    # The case's history through the API: the learner's thread's text is not the employer's.
    history = client.get(f"/api/v1/cases/{mine}", headers=employer).json()["events"]
    texts = [e["note"] for e in history if e["trigger"] == "message"]
    assert texts == [None, "Pour l'employeur"]


def test_notes_are_for_the_regions_agents_only(web: Web) -> None:
    w, client, tokens = web
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    done = client.post(
        f"/api/v1/cases/{case}/notes",
        json={"body": "Dossier suivi de près."},
        headers=bearer(tokens["region"]),
    )
    assert done.status_code == 201, done.text
    before = events(w)
    refused = client.post(
        f"/api/v1/cases/{case}/notes", json={"body": "x"}, headers=bearer(tokens["employer"])
    )
    assert refused.status_code == 403 and events(w) == before
    employer_view = client.get(f"/api/v1/cases/{case}", headers=bearer(tokens["employer"])).json()
    notes = [e for e in employer_view["events"] if e["trigger"] == "note"]
    assert len(notes) == 1 and notes[0]["note"] is None  # the event, not its text
    region_view = client.get(f"/api/v1/cases/{case}", headers=bearer(tokens["region"])).json()
    assert [e["note"] for e in region_view["events"] if e["trigger"] == "note"] == [
        "Dossier suivi de près."
    ]
    login(client, "employer")
    assert "Dossier suivi de près" not in client.get(f"/dossiers/{case}").text
    assert "Note privée" not in client.get(f"/dossiers/{case}").text


def test_a_message_with_an_attachment_from_the_case_page(web: Web) -> None:
    w, client, _ = web
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    login(client, "employer")
    page = client.get(f"/dossiers/{case}")
    sent = client.post(
        f"/dossiers/{case}/messages",
        data={"csrf": csrf_of(page.text), "body": "Voici l'attestation."},
        files={"file": ("attestation.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    shown = client.get(f"/dossiers/{case}")
    assert "Message envoyé." in shown.text  # the flash, once
    assert "Message envoyé." not in client.get(f"/dossiers/{case}").text
    link = next(line for line in shown.text.splitlines() if "Pièce jointe :" in line)
    href = link.split('href="')[1].split('"')[0]
    assert client.get(href).content == PDF
    # No agent assigned yet: nobody to e-mail on the Région's side.
    assert outbox(w) == []
    # The other employer may not download it.
    client.cookies.clear()
    login(client, "other_employer")
    assert client.get(href).status_code == 404


def test_a_bad_attachment_or_an_empty_message_is_refused_in_french_and_nothing_written(
    web: Web,
) -> None:
    w, client, _ = web
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    login(client, "region")
    csrf = csrf_of(client.get(f"/dossiers/{case}").text)
    before = events(w)
    bad = client.post(
        f"/dossiers/{case}/messages",
        data={"csrf": csrf, "body": "Le fichier", "thread": "learner"},
        files={"file": ("virus.exe", b"MZ\x90\x00", "application/octet-stream")},
    )
    assert bad.status_code == 400 and "ni un PDF ni une image" in bad.text
    empty = client.post(
        f"/dossiers/{case}/messages", data={"csrf": csrf, "body": "  ", "thread": "learner"}
    )
    assert empty.status_code == 400 and "Le message est obligatoire" in empty.text
    no_thread = client.post(f"/dossiers/{case}/messages", data={"csrf": csrf, "body": "Bonjour"})
    assert no_thread.status_code == 400 and "Choisissez le fil" in no_thread.text
    assert events(w) == before
    with w.uow() as uow:
        assert uow.session.scalar(sa.select(sa.func.count(CaseMessage.id))) == 0


def test_an_employers_message_is_e_mailed_to_the_agent_the_case_is_assigned_to(web: Web) -> None:
    w, client, tokens = web
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    with w.uow() as uow:
        agent = accounts.find_user(uow.session, "region@exemple.fr")
        assert agent is not None
        agent_id = agent.id

    queue.assign(w.uow(), [case], agent_id, actor="test")
    client.post(
        f"/api/v1/cases/{case}/messages",
        json={"body": "Question"},
        headers=bearer(tokens["employer"]),
    )
    assert [r for _, r in outbox(w)] == ["region@exemple.fr"]


def test_reading_a_thread_does_not_grow_with_its_messages(web: Web) -> None:
    w, client, tokens = web
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    region = bearer(tokens["region"])
    with w.uow() as uow:
        who = accounts.Principal.of(uow.session.get_one(User, agent_id(w)))

    def queries() -> int:
        with counting(w.engine) as statements, w.uow() as uow:
            found = threads.messages(uow.session, who, case)
        assert found
        return len(statements)

    client.post(f"/api/v1/cases/{case}/messages", json={"body": "1", "thread": "employer"},
                headers=region)  # fmt: skip
    few = queries()
    for i in range(4):
        client.post(f"/api/v1/cases/{case}/messages",
                    json={"body": f"n° {i}", "thread": "learner" if i % 2 else "employer"},
                    headers=region)  # fmt: skip
    assert queries() == few == 1
