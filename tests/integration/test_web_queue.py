"""The caseworkers' queue (issue 15, item 5) on SQLite and PostgreSQL: « À traiter » lists what
waits for the Région by due date, cases are assigned by hand, in bulk and by the scheme's rule,
« Mes dossiers » shows one's own, bulk actions report what they did (a flash), the irreversible
actions ask for a confirmation, the effective date defaults to the case's last event when later
than today, and the queue's query count stays flat as the cases grow."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from fastapi.testclient import TestClient

from tests.conftest import SCHEME, World
from tests.integration.test_case_service import D, fire, signed_case, to_selected
from tests.integration.test_debts import breached
from tests.integration.test_query_counts import counting
from tests.integration.test_web import csrf_of, login
from tests.integration.test_web import web as web  # the fixture
from workflow import accounts, cases, queue
from workflow.clock import today_paris
from workflow.errors import InvalidInput
from workflow.models import CaseAssignment, OutboxMessage
from workflow.paths import config_dir
from workflow.schemes import Assignment, SchemeError, SchemeRegistry, load_scheme

Web = tuple[World, TestClient, dict[str, str]]


def agent_id(w: World, email: str = "region@exemple.fr") -> int:
    with w.uow() as uow:
        user = accounts.find_user(uow.session, email)
        assert user is not None
        return user.id


def assigned(w: World) -> dict[int, int]:
    with w.uow() as uow:
        rows = uow.session.execute(sa.select(CaseAssignment.case_id, CaseAssignment.user_id))
        return {c: u for c, u in rows}


def test_a_selection_waits_for_its_contract_then_its_signatures(web: Web) -> None:
    w, client, _ = web
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    to_selected(w, case)
    other = cases.open_case(w.uow(), w.offers[1], w.learners[1], on=D("2026-05-30"))
    login(client, "region")
    page = client.get("/a-traiter")
    assert page.status_code == 200 and "Contrat à émettre" in page.text
    assert f'value="{case}"' in page.text and f'value="{other}"' not in page.text
    done = client.post(
        "/a-traiter/lot",
        data={
            "csrf": csrf_of(page.text),
            "action": "contracts",
            "tier": "2x150",
            "dossiers": [str(case)],
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/a-traiter"
    page = client.get("/a-traiter")  # the page the action came from, with its flash
    assert "Contrats émis : 1 dossier(s)." in page.text  # the flash
    assert "Signatures en attente" in page.text and "Contrat à émettre" not in page.text


def test_assign_in_bulk_then_see_my_cases(web: Web) -> None:
    w, client, _ = web
    ids = [cases.open_case(w.uow(), w.offers[i], w.learners[i], on=D("2026-05-30")) for i in (0, 1)]
    for case in ids:
        to_selected(w, case)
    login(client, "region")
    csrf = csrf_of(client.get("/a-traiter").text)
    me = agent_id(w)
    done = client.post("/a-traiter/lot", data={"csrf": csrf, "action": "assign",
                                               "agent": str(me), "depuis": "mes-dossiers",
                                               "dossiers": [str(ids[0])]})  # fmt: skip
    assert assigned(w) == {ids[0]: me}
    assert "1 dossier(s) attribué(s)." in done.text  # on « Mes dossiers », where it came from
    mine = client.get("/mes-dossiers").text
    assert f'value="{ids[0]}"' in mine and f'value="{ids[1]}"' not in mine
    # An employer's account is no agent: refused, said in French, nothing written.
    employer = agent_id(w, "employer@exemple.fr")
    refused = client.post("/a-traiter/lot", data={"csrf": csrf, "action": "assign",
                                                  "agent": str(employer),
                                                  "dossiers": [str(ids[1])]})  # fmt: skip
    assert "agent actif du service instructeur" in refused.text
    assert assigned(w) == {ids[0]: me}
    # No case ticked: said, nothing done.
    none = client.post("/a-traiter/lot", data={"csrf": csrf, "action": "assign", "agent": str(me)})
    assert "Cochez au moins un dossier" in none.text


def test_the_queue_is_for_the_regions_agents(web: Web) -> None:
    _, client, _ = web
    login(client, "employer")
    assert client.get("/a-traiter").status_code == 403
    assert client.get("/mes-dossiers").status_code == 403


def test_a_bulk_message_reaches_each_case_thread(web: Web) -> None:
    w, client, tokens = web
    ids = [cases.open_case(w.uow(), w.offers[i], w.learners[i], on=D("2026-05-30")) for i in (0, 1)]
    login(client, "region")
    csrf = csrf_of(client.get("/a-traiter").text)
    sent = client.post("/a-traiter/lot", data={"csrf": csrf, "action": "message",
                                               "thread": "employer",
                                               "body": "Rappel : entretiens avant le 15.",
                                               "dossiers": [str(i) for i in ids]})  # fmt: skip
    assert "Messages envoyés : 2 dossier(s)." in sent.text
    seen = client.get(f"/api/v1/cases/{ids[0]}/messages",
                      headers={"Authorization": f"Bearer {tokens['employer']}"}).json()  # fmt: skip
    assert [m["body"] for m in seen] == ["Rappel : entretiens avant le 15."]


def test_overdue_debts_and_waiting_messages_are_in_the_queue(web: Web) -> None:
    w, client, tokens = web
    case = breached(w)  # its debts fell due in 2027; "today" is 2029-12-01 in the tests
    other = cases.open_case(w.uow(), w.offers[1], w.learners[1], on=D("2026-05-30"))
    client.post(f"/api/v1/cases/{other}/messages", json={"body": "Une question"},
                headers={"Authorization": f"Bearer {tokens['other_employer']}"})  # fmt: skip
    with w.uow() as uow:
        found = queue.to_do(uow.session, today=today_paris(), schemes=w.schemes)
    reasons = {(r["case_id"], r["reason"]) for r in found["rows"]}
    assert (case, "debt_overdue") in reasons and (other, "message_waiting") in reasons
    dues = [r["due"] for r in found["rows"]]
    assert dues == sorted(dues)
    # Answered by the Région: no longer waiting.
    client.post(f"/api/v1/cases/{other}/messages", json={"body": "Réponse", "thread": "employer"},
                headers={"Authorization": f"Bearer {tokens['region']}"})  # fmt: skip
    with w.uow() as uow:
        found = queue.to_do(uow.session, today=today_paris(), schemes=w.schemes)
    assert (other, "message_waiting") not in {(r["case_id"], r["reason"]) for r in found["rows"]}


def test_the_schemes_rule_assigns_by_the_employers_departement(web: Web) -> None:
    w, _, _ = web
    ids = [cases.open_case(w.uow(), w.offers[i], w.learners[i], on=D("2026-05-30")) for i in (0, 1)]
    scheme = w.schemes[SCHEME]
    # The first employer is in Lozère (48), the second in Aveyron (12).
    ruled = scheme.model_copy(
        update={"assignment": Assignment(by_departement={"48": "region@exemple.fr"})}
    )
    registry = SchemeRegistry({**{k: w.schemes[k] for k in w.schemes}, scheme.id: ruled})
    assert queue.assign_by_rule(w.uow(), actor="test", schemes=registry) == 1
    assert assigned(w) == {ids[0]: agent_id(w)}
    assert queue.assign_by_rule(w.uow(), actor="test", schemes=registry) == 0  # done once
    unknown = scheme.model_copy(
        update={"assignment": Assignment(by_departement={"12": "personne@exemple.fr"})}
    )
    with pytest.raises(InvalidInput, match=r"aucun agent actif pour personne@exemple\.fr"):
        queue.assign_by_rule(
            w.uow(),
            actor="test",
            schemes=SchemeRegistry({**{k: w.schemes[k] for k in w.schemes}, scheme.id: unknown}),
        )
    assert len(assigned(w)) == 1


def test_a_bad_assignment_rule_is_said_in_french_with_its_key(tmp_path: Path) -> None:
    source = next((config_dir() / "schemes").glob("occitanie*.yaml"))
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["assignment"] = {"by_departement": {"Lozère": "agent@exemple.fr"}}
    bad = tmp_path / source.name
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SchemeError, match=r"assignment\.by_departement.*format invalide"):
        load_scheme(bad)
    data["assignment"] = {"by_departement": {"48": "agent@exemple.fr"}}
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert load_scheme(bad).assignment is not None


def test_irreversible_actions_ask_for_a_confirmation_and_dates_default_to_the_last_event(
    web: Web,
) -> None:
    w, client, _ = web
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    fire(w, case, "submit", "2026-06-01")
    login(client, "region")
    page = client.get(f"/dossiers/{case}").text
    assert 'id="confirm-reject" name="confirm" type="checkbox" required' in page
    assert 'id="confirm-withdraw" name="confirm" type="checkbox" required' in page
    assert 'id="confirm-interview"' not in page
    # "Today" (2029-12-01) is later than the last event: the default.
    assert f'id="on-interview" name="on" type="date" value="{today_paris().isoformat()}"' in page
    # A confirmed rejection goes through, with a success message.
    done = client.post(f"/dossiers/{case}/actions/reject", data={
        "csrf": csrf_of(page), "on": "2029-12-01", "reason": "Profil", "confirm": "on",
    }, follow_redirects=True)  # fmt: skip
    assert done.status_code == 200 and "« Ne pas retenir » : enregistré." in done.text


def test_the_date_defaults_to_the_last_event_when_it_is_later_than_today(web: Web) -> None:
    w, client, _ = web
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2030-06-01"))
    login(client, "region")
    page = client.get(f"/dossiers/{case}").text
    assert 'id="on-submit" name="on" type="date" value="2030-06-01"' in page


def test_signatures_are_shown_on_the_case_page(web: Web) -> None:
    w, client, _ = web
    case = signed_case(w)
    login(client, "region")
    page = client.get(f"/dossiers/{case}").text
    assert "Signatures du contrat" in page and "Aucune signature enregistrée" not in page


def queries_for_queue(w: World) -> int:
    with counting(w.engine) as statements, w.uow() as uow:
        queue.to_do(uow.session, today=today_paris(), schemes=w.schemes)
    return len(statements)


def test_the_queue_does_not_grow_with_the_cases(world: World) -> None:
    w = world
    first = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    to_selected(w, first)
    few = queries_for_queue(w)
    for i in (1, 2):
        case = cases.open_case(w.uow(), w.offers[i], w.learners[i], on=D("2026-05-30"))
        to_selected(w, case)
    assert queries_for_queue(w) == few <= 4


def test_the_signed_scan_is_attached_from_the_case_page(web: Web) -> None:
    w, client, _ = web
    case = signed_case(w)
    login(client, "region")
    page = client.get(f"/dossiers/{case}").text
    bad = client.post(f"/dossiers/{case}/contrat-signe", data={"csrf": csrf_of(page)},
                      files={"file": ("scan.txt", b"hello", "text/plain")})  # fmt: skip
    assert bad.status_code == 400 and "ni un PDF ni une image" in bad.text
    done = client.post(f"/dossiers/{case}/contrat-signe", data={"csrf": csrf_of(page)},
                       files={"file": ("scan.pdf", b"%PDF-1.4 scan", "application/pdf")})  # fmt: skip
    assert done.status_code == 200 and "Contrat signé numérisé joint au dossier." in done.text
    assert "-signe-v1.pdf" in done.text


def test_an_outbox_message_shows_its_text_and_can_be_sent_again(web: Web) -> None:
    w, client, tokens = web
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    client.post(f"/api/v1/cases/{case}/messages", json={"body": "Bonjour", "thread": "employer"},
                headers={"Authorization": f"Bearer {tokens['region']}"})  # fmt: skip
    login(client, "region")
    listing = client.get("/courriels").text
    assert 'href="/courriels/1"' in listing
    shown = client.get("/courriels/1").text
    assert "Un nouveau message vous attend" in shown and "Renvoyer" not in shown  # pending
    with w.uow() as uow:
        uow.session.execute(sa.update(OutboxMessage).values(status="failed", attempts=8))
        uow.commit()
    again = client.post(
        "/courriels/1/renvoi", data={"csrf": csrf_of(client.get("/courriels/1").text)}
    )
    assert "Courriel remis en file d&#39;envoi" in again.text
    with w.uow() as uow:
        message = uow.session.get(OutboxMessage, 1)
        assert message is not None and (message.status, message.attempts) == ("pending", 0)


def test_the_error_page_keeps_the_menu_and_the_runs_page_is_paginated(web: Web) -> None:
    _, client, _ = web
    login(client, "employer")
    refused = client.get("/a-traiter")
    assert refused.status_code == 403 and 'aria-label="Navigation principale"' in refused.text
    login(client, "region")
    runs = client.get("/traitements?page=1")
    assert runs.status_code == 200 and "page 1" in runs.text
    assert client.get("/traitements?page=0").status_code == 422


def test_filters_offer_names_and_refuse_what_they_cannot_read_in_french(web: Web) -> None:
    w, client, _ = web
    cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    login(client, "region")
    page = client.get("/dossiers").text
    assert (
        '<select id="employeur" name="employeur" class="fr-select">' in page
        and ">EHPAD 0</option>" in page
    )
    assert '<select id="dispositif" name="dispositif" class="fr-select">' in page
    assert ">IFAS de Mende</option>" in page
    for query, said in (("employeur=abc", "Filtre « employeur » invalide"),
                        ("dispositif=inconnu", "Dispositif inconnu"),
                        ("etat=volant", "État inconnu"),
                        ("departement=999", "Département invalide")):  # fmt: skip
        refused = client.get(f"/dossiers?{query}")
        assert refused.status_code == 400 and said in refused.text, query
    login(client, "employer")
    mine = client.get("/dossiers").text
    assert 'name="employeur"' not in mine  # an employer sees its own cases: no employer filter
