"""The web application and its JSON API through FastAPI's test client, on SQLite and
PostgreSQL: sign-in, CSRF, roles, pages, firing triggers, refusals in French, nothing written."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import World
from tests.integration.test_case_service import D, fire
from workflow import accounts, cases
from workflow.models import Case, CaseEvent, Offer
from workflow.states import State
from workflow.web import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def web(world: World, db_url: str) -> Iterator[tuple[World, TestClient, dict[str, str]]]:
    w = world
    with w.uow() as uow:
        employer_of = {o.id: o.employer_id for o in uow.session.scalars(sa.select(Offer))}
    tokens = {}
    for role, extra in (
        ("region", {}),
        ("employer", {"employer_id": employer_of[w.offers[0]]}),
        ("other_employer", {"employer_id": employer_of[w.offers[1]]}),
    ):
        _, tokens[role] = accounts.add_user(
            w.uow(), email=f"{role}@exemple.fr", name=role.capitalize(),
            role="employer" if "employer" in role else role, password=PASSWORD, **extra,
        )  # fmt: skip
    with TestClient(create_app(db_url, secret_key="test")) as client:
        yield w, client, tokens


def login(client: TestClient, who: str) -> None:
    page = client.get("/connexion")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    done = client.post("/connexion", data={"email": f"{who}@exemple.fr", "password": PASSWORD,
                                           "csrf": csrf[1]}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303, done.text


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found[1]


def events(w: World) -> int:
    with w.uow() as uow:
        return int(uow.session.scalar(sa.select(sa.func.count(CaseEvent.id))) or 0)


def test_sign_in_and_see_the_dashboard(web: tuple[World, TestClient, dict[str, str]]) -> None:
    _, client, _ = web
    assert client.get("/", follow_redirects=False).headers["location"] == "/connexion"
    bad = client.post("/connexion", data={"email": "region@exemple.fr", "password": "nope",
                                          "csrf": csrf_of(client.get("/connexion").text)})  # fmt: skip
    assert bad.status_code == 401 and "incorrect" in bad.text
    login(client, "region")
    page = client.get("/")
    assert page.status_code == 200 and "Tableau de bord" in page.text and 'lang="fr"' in page.text


def test_a_caseworker_fires_a_trigger_and_sees_a_guard_refusal(
    web: tuple[World, TestClient, dict[str, str]],
) -> None:
    w, client, _ = web
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    login(client, "region")
    page = client.get(f"/dossiers/{case}")
    assert "Envoyer la candidature" in page.text
    ok = client.post(f"/dossiers/{case}/actions/submit", data={"csrf": csrf_of(page.text),
                                                               "on": "2026-06-01"},
                     follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303
    page = client.get(f"/dossiers/{case}")
    before = events(w)
    refused = client.post(f"/dossiers/{case}/actions/interview",
                          data={"csrf": csrf_of(page.text), "on": "2026-06-10"})  # fmt: skip
    assert refused.status_code == 400
    assert "la date de l&#39;entretien est obligatoire" in refused.text
    assert "Action « Enregistrer l&#39;entretien » refusée" in refused.text
    # No code on a page (issue 15): neither the trigger nor the parameter's name.
    assert "(interview)" not in refused.text and "(interview_date)" not in refused.text
    assert events(w) == before


def test_a_form_without_csrf_token_is_refused(
    web: tuple[World, TestClient, dict[str, str]],
) -> None:
    w, client, _ = web
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    login(client, "region")
    before = events(w)
    response = client.post(f"/dossiers/{case}/actions/submit", data={"on": "2026-06-01"})
    assert response.status_code == 403 and "CSRF" in response.text
    assert events(w) == before


def test_an_employer_cannot_open_another_employers_case(
    web: tuple[World, TestClient, dict[str, str]],
) -> None:
    w, client, _ = web
    mine = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    theirs = cases.open_case(w.uow(), w.offers[1], w.learners[1], on=D("2026-05-30"))
    login(client, "employer")
    assert client.get(f"/dossiers/{mine}").status_code == 200
    # The 404 of a case that does not exist (issue 14: case numbers cannot be enumerated).
    assert client.get(f"/dossiers/{theirs}").status_code == 404
    listing = client.get("/dossiers").text
    assert f'href="/dossiers/{mine}"' in listing and f'href="/dossiers/{theirs}"' not in listing


def test_api_reads_and_fires_with_a_token(web: tuple[World, TestClient, dict[str, str]]) -> None:
    w, client, tokens = web
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    auth = {"Authorization": f"Bearer {tokens['region']}"}
    assert client.get("/api/v1/cases").status_code == 401
    listed = client.get("/api/v1/cases", headers=auth).json()
    assert [c["id"] for c in listed] == [case]
    fired = client.post(f"/api/v1/cases/{case}/fire", headers=auth,
                        json={"trigger": "submit", "on": "2026-06-01"})  # fmt: skip
    assert fired.json() == {"id": case, "state": "applied"}
    assert client.get(f"/api/v1/cases/{case}", headers=auth).json()["state"] == "applied"
    assert "/api/v1/cases/{case_id}/fire" in client.get("/api/openapi.json").json()["paths"]


@pytest.mark.parametrize(
    ("token", "body", "status", "words"),
    [
        ("region", {"trigger": "fly"}, 400, "Action inconnue"),
        (
            "region",
            {"trigger": "submit", "on": "2026-13-45"},
            422,
            "on : valeur invalide « 2026-13-45 »",
        ),
        ("region", {"trigger": "interview", "on": "2026-06-10"}, 400, "date de l'entretien"),
        ("other_employer", {"trigger": "interview"}, 404, "Dossier introuvable"),
        ("employer", {"trigger": "sign"}, 403, "rôle"),
    ],
)
def test_api_bad_input_is_a_clear_json_error_and_writes_nothing(
    web: tuple[World, TestClient, dict[str, str]],
    token: str,
    body: dict[str, str],
    status: int,
    words: str,
) -> None:
    w, client, tokens = web
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    fire(w, case, "submit", "2026-06-01")
    before = events(w)
    response = client.post(f"/api/v1/cases/{case}/fire", json=body,
                           headers={"Authorization": f"Bearer {tokens[token]}"})  # fmt: skip
    assert response.status_code == status, response.text
    assert words in str(response.json()["detail"])
    if status == 400 and body["trigger"] == "interview":  # the guard by name, for a program
        assert response.json()["guards"][0]["name"] == "interview_date_given"
    assert events(w) == before


def test_staff_pages_and_what_employers_may_not_open(
    web: tuple[World, TestClient, dict[str, str]],
) -> None:
    _, client, _ = web
    login(client, "region")
    for path, words in (("/paiements", "Paiements"), ("/courriels", "Boîte d'envoi"),
                        ("/traitements", "Traitements de nuit"), ("/schema", "Retenir l&#39;apprenant")):  # fmt: skip
        page = client.get(path)
        assert page.status_code == 200 and words in page.text, path
    schema = client.get("/schema").text
    assert "<svg" in schema and "une place encore libre sur l&#39;offre" in schema
    assert ">sélection</text>" in schema and "places_left" not in schema  # French, not codes
    client.cookies.clear()
    login(client, "employer")
    assert client.get("/paiements").status_code == 403
    assert client.get("/schema").status_code == 200


def test_the_sepa_file_is_downloaded_from_the_payments_page(
    web: tuple[World, TestClient, dict[str, str]],
) -> None:
    from jobs.nightly import run_nightly
    from tests.integration.test_case_service import signed_case
    from workflow.sepa import validate_pain001

    w, client, tokens = web
    signed_case(w)
    run_nightly(w.engine, D("2026-10-10"), schemes=w.schemes, send_mail=False)
    login(client, "region")
    page = client.get("/paiements?mois=2026-09")
    # In French: the month, the funder, the amount, the due date and the status.
    assert "Paiements de septembre 2026" in page.text
    assert (
        '<td>septembre 2026</td><td>Région</td><td class="num">120,00\u00a0€</td>'
        "<td>10/10/2026</td><td>dû</td>"
    ) in page.text
    xml = client.post("/paiements/sepa", data={"csrf": csrf_of(page.text), "mois": "2026-09"})
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    validate_pain001(xml.content)
    region = {"Authorization": f"Bearer {tokens['region']}"}
    listed = client.get("/api/v1/payments?period=2026-09", headers=region).json()
    assert {(p["funder"], p["status"]) for p in listed} == {
        ("region", "exported"),
        ("employer", "notified"),
    }
    assert client.get("/api/v1/payments?period=2026-13", headers=region).status_code == 400
    employer = {"Authorization": f"Bearer {tokens['employer']}"}
    assert client.get("/api/v1/payments", headers=employer).status_code == 403


def test_the_case_list_filters_searches_sorts_pages_and_exports(
    web: tuple[World, TestClient, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workflow.web import cases as web_cases

    w, client, _ = web
    ids = [
        cases.open_case(w.uow(), w.offers[i], w.learners[i], on=D(f"2026-05-2{i}"))
        for i in range(3)
    ]
    fire(w, ids[1], "submit", "2026-06-01")
    login(client, "region")
    text = client.get("/dossiers?etat=applied").text
    assert f'href="/dossiers/{ids[1]}"' in text and f'href="/dossiers/{ids[0]}"' not in text
    text = client.get("/dossiers?q=apprenant2").text
    assert f'href="/dossiers/{ids[2]}"' in text and f'href="/dossiers/{ids[1]}"' not in text
    text = client.get("/dossiers?departement=12").text  # Millau's employer
    assert f'href="/dossiers/{ids[1]}"' in text and f'href="/dossiers/{ids[0]}"' not in text
    monkeypatch.setattr(web_cases, "PAGE", 2)
    first = client.get("/dossiers?tri=last_event")
    assert first.text.index(f'/dossiers/{ids[1]}"') < first.text.index(f'/dossiers/{ids[2]}"')
    assert "Page suivante" in first.text
    partial = client.get("/dossiers?tri=last_event&apres=2026-05-22:" + str(ids[2]),
                         headers={"HX-Request": "true"})  # fmt: skip
    assert "<html" not in partial.text and f'href="/dossiers/{ids[0]}"' in partial.text
    csv_text = client.get("/dossiers.csv?etat=applied").content.decode("utf-8-sig")
    assert (
        csv_text.splitlines()[0].startswith("N° de dossier;État")
        and len(csv_text.splitlines()) == 2
    )
    xlsx = client.get("/dossiers.xlsx")
    assert xlsx.content[:2] == b"PK"
    assert client.get("/static/htmx-2.0.11.min.js").status_code == 200


def test_directory_pages(web: tuple[World, TestClient, dict[str, str]]) -> None:
    w, client, _ = web
    cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    login(client, "region")
    employers = client.get("/employeurs").text
    assert "Mende (48095)" in employers and "CC Coeur de Lozère (CC)" in employers
    assert "IFAS de Mende" in client.get("/instituts").text
    assert "Apprenant0 Test" in client.get("/apprenants?q=test").text
    campaigns = client.get("/campagnes")
    assert "2026" in campaigns.text
    listed = client.post(f"/campagnes/{w.campaign}/liste", data={"csrf": csrf_of(campaigns.text)},
                         follow_redirects=False)  # fmt: skip
    assert listed.status_code == 303
    download = client.get(listed.headers["location"])
    assert download.status_code == 200 and download.content[:2] == b"PK"
    client.cookies.clear()
    login(client, "employer")
    for path in ("/employeurs", "/instituts", "/apprenants", "/campagnes"):
        assert client.get(path).status_code == 403, path


def test_the_dashboard_shows_money_per_funder_and_a_chart(
    web: tuple[World, TestClient, dict[str, str]],
) -> None:
    from jobs.nightly import run_nightly
    from tests.integration.test_case_service import signed_case

    w, client, _ = web
    signed_case(w)
    run_nightly(w.engine, D("2026-10-10"), schemes=w.schemes, send_mail=False)
    login(client, "region")
    page = client.get("/").text
    assert "<svg" in page and "Nombre de dossiers par état" in page
    nbsp = "\u00a0"
    assert (
        f'<td>Région</td><td class="num">120,00{nbsp}€</td><td class="num">120,00{nbsp}€</td>'
        f'<td class="num">0,00{nbsp}€</td>'
    ) in page


def test_an_employer_confirms_its_shares_and_attests_service(
    web: tuple[World, TestClient, dict[str, str]],
) -> None:
    from jobs.nightly import run_nightly
    from tests.integration.test_case_service import signed_case

    w, client, _ = web
    case = signed_case(w)
    run_nightly(w.engine, D("2026-10-10"), schemes=w.schemes, send_mail=False)
    login(client, "employer")
    page = client.get("/mes-paiements")
    assert "120,00\u00a0€" in page.text and "notifié à l&#39;employeur" in page.text
    assert "notified" not in page.text
    bad = client.post(
        "/mes-paiements/confirmer", data={"csrf": csrf_of(page.text), "mois": "2025-01"}
    )
    assert bad.status_code == 400 and "Aucune part" in bad.text
    ok = client.post("/mes-paiements/confirmer", data={"csrf": csrf_of(page.text), "mois": "2026-09"},
                     follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303 and "<td>payé</td>" in client.get("/mes-paiements").text
    fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    page = client.get(f"/dossiers/{case}")
    done = client.post(f"/dossiers/{case}/attestation", data={"csrf": csrf_of(page.text),
                                                             "on": "2028-09-05"},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    with w.uow() as uow:
        assert (
            uow.session.scalars(sa.select(CaseEvent.trigger).order_by(CaseEvent.id.desc())).first()
            == "attest_service"
        )


def test_a_suspension_is_recorded_from_the_case_page(
    web: tuple[World, TestClient, dict[str, str]],
) -> None:
    from tests.integration.test_case_service import signed_case

    w, client, _ = web
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    login(client, "region")
    page = client.get(f"/dossiers/{case}")
    bad = client.post(f"/dossiers/{case}/suspension", data={"csrf": csrf_of(page.text),
                      "from": "2028-01-01", "reason": "holidays"})  # fmt: skip
    assert bad.status_code == 400 and "non accepté" in bad.text
    ok = client.post(f"/dossiers/{case}/suspension", data={"csrf": csrf_of(page.text),
                     "from": "2028-01-01", "to": "2028-03-31", "reason": "maternity"},
                     follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303
    page = client.get(f"/dossiers/{case}").text
    assert "du 01/01/2028 au 31/03/2028 — congé de maternité" in page
    assert (
        "<td>Suspension de l&#39;engagement</td>" in page and "<td>congé de maternité</td>" in page
    )


def test_codes_are_read_in_french_on_the_pages(
    web: tuple[World, TestClient, dict[str, str]],
) -> None:
    """Statuses, kinds, funders, amounts and dates: what the database stores as codes and ISO
    text is shown in French on the outbox, nightly-run and case pages."""
    from jobs.nightly import run_nightly
    from tests.integration.test_case_service import signed_case

    w, client, _ = web
    case = signed_case(w)
    run_nightly(w.engine, D("2026-10-10"), schemes=w.schemes, send_mail=False)
    login(client, "region")
    outbox = client.get("/courriels").text
    assert "<td>relevé mensuel employeur</td><td></td><td>10/10/2026</td>" in outbox
    assert "<td>à envoyer</td>" in outbox
    runs = client.get("/traitements").text
    assert "<td>10/10/2026</td>" in runs and "<td>terminé</td>" in runs
    assert "paiements : 2" in runs and "relevés employeurs : 1" in runs
    page = client.get(f"/dossiers/{case}").text
    assert '<td>septembre 2026</td><td>Employeur</td><td class="num">120,00\u00a0€</td>' in page
    assert "<td>Contrat signé par les trois parties</td>" in page
    assert "Palier : Allocation de 2 × 150 € par mois" in page  # the tier's label, not « 2x150 »
    listed = client.get("/dossiers").text
    badge = '<p class="fr-badge fr-badge--sm fr-badge--no-icon fr-badge--info">En formation</p>'
    assert f"<td>{badge}</td>" in listed  # started by the nightly run
    employers = client.get("/employeurs").text
    assert "<td>personnes âgées</td>" in employers or "<td>Personnes âgées</td>" in employers
    learners = client.get("/apprenants").text
    assert re.search(r"<td>du \d\d/\d\d/\d{4} au \d\d/\d\d/\d{4}</td>", learners)
    # No stored code leaks into what the reader sees.
    visible = re.sub(r"<[^>]+>", " ", outbox + runs + page + listed + employers + learners)
    for code in ("employer_statement", "pending", "succeeded", "employer_statements",
                 "notified", "2026-09", "region", "sign ", "in_training", "elderly"):  # fmt: skip
        assert code not in visible, code


def test_errors_are_french_pages_and_write_nothing(
    web: tuple[World, TestClient, dict[str, str]],
) -> None:
    """A bad month, a broken page link, an unknown campaign or address: a French page with the
    right status, never Starlette's English text nor an internal error; JSON under /api."""
    w, client, tokens = web
    login(client, "region")
    before = events(w)
    page = client.get("/paiements?mois=2026-13")
    assert page.status_code == 400 and "Mois invalide : « 2026-13 »" in page.text
    page = client.get("/dossiers?tri=last_event&apres=2026-99-99:7")
    assert page.status_code == 400 and "Lien de page invalide" in page.text
    page = client.post("/campagnes/999/liste", data={"csrf": csrf_of(client.get("/").text)})
    assert page.status_code == 404 and "introuvable" in page.text.lower()
    page = client.get("/nulle-part")
    assert page.status_code == 404 and "Page introuvable." in page.text
    assert "Not Found" not in page.text
    page = client.put("/paiements")
    assert page.status_code == 405 and "Méthode non autorisée" in page.text
    page = client.get("/dossiers/abc")
    assert page.status_code == 422 and "case_id : valeur invalide « abc »" in page.text
    api = client.get("/api/v1/nulle-part", headers={"Authorization": f"Bearer {tokens['region']}"})
    assert api.status_code == 404 and api.json() == {"detail": "Page introuvable."}
    client.cookies.clear()
    assert client.get("/dossiers", follow_redirects=False).headers["location"] == "/connexion"
    assert events(w) == before


def test_a_breach_is_recorded_with_its_category_chosen_from_a_list(
    web: tuple[World, TestClient, dict[str, str]],
) -> None:
    from tests.integration.test_case_service import signed_case

    w, client, _ = web
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    login(client, "region")
    page = client.get(f"/dossiers/{case}").text
    assert '<select id="category-breach" name="category" class="fr-select">' in page
    assert '<option value="resignation">démission</option>' in page
    ok = client.post(f"/dossiers/{case}/actions/breach", data={
        "csrf": csrf_of(page), "on": "2026-12-01", "category": "resignation",
        "reason": "Démission de l'apprenante",
    }, follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303, ok.text
    with w.uow() as uow:
        breached = uow.session.get(Case, case)
        assert breached is not None and breached.state is State.BREACHED
        assert breached.breach_category == "resignation"
