"""The debts on the web (SPEC §4b), on SQLite and PostgreSQL: the case page's « Dettes » section
and its forms (repayment, plan, waiver, write-off — the irreversible ones only once confirmed),
the debts list, the dashboard's figures per funder, and the employer confirming the repayment of
its share. A refusal is the page again with its French message (400), nothing written."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import World
from tests.integration.test_debts import breached, debt_of, snapshot
from tests.integration.test_web import csrf_of, login
from tests.integration.test_web import web as web  # the fixture

NBSP = "\u00a0"
Web = tuple[World, TestClient, dict[str, str]]


def test_a_caseworker_follows_a_debt_on_the_case_page(web: Web) -> None:
    w, client, _ = web
    case = breached(w)
    region = debt_of(w, case, "region")
    login(client, "region")
    page = client.get(f"/dossiers/{case}").text
    assert "<h2>Dettes</h2>" in page and region["number"] in page
    assert f"270,00{NBSP}€" in page and "ouverte" in page and "rupture de l&#39;engagement" in page
    base = f"/dossiers/{case}/dettes/{region['id']}"
    before = snapshot(w)
    too_much = client.post(f"{base}/remboursement", data={"csrf": csrf_of(page),
                           "amount": "270,01", "on": "2026-12-01"})  # fmt: skip
    assert too_much.status_code == 400 and "dépasse le solde" in too_much.text
    unconfirmed = client.post(f"{base}/non-valeur", data={"csrf": csrf_of(page),
                              "decision": "ANV-1", "on": "2026-12-01"})  # fmt: skip
    assert unconfirmed.status_code == 400 and "case de confirmation" in unconfirmed.text
    no_decision = client.post(f"{base}/remise", data={"csrf": csrf_of(page), "decision": "",
                              "on": "2026-12-01", "confirm": "on"})  # fmt: skip
    assert no_decision.status_code == 400 and "décision est obligatoire" in no_decision.text
    assert snapshot(w) == before
    done = client.post(f"{base}/remboursement", data={"csrf": csrf_of(page), "amount": "70",
                       "on": "2026-12-01", "reference": "VIR-9"}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    planned = client.post(f"{base}/echeancier", data={"csrf": csrf_of(page),
                          "instalments": "4", "first": "2027-01-10"}, follow_redirects=False)  # fmt: skip
    assert planned.status_code == 303
    page = client.get(f"/dossiers/{case}").text
    assert "Échéancier du titre" in page and f"50,00{NBSP}€" in page and "à venir" in page
    waived = client.post(f"{base}/remise", data={"csrf": csrf_of(page), "decision": "DEL-1",
                         "on": "2026-12-02", "confirm": "on"}, follow_redirects=False)  # fmt: skip
    assert waived.status_code == 303
    row = debt_of(w, case, "region")
    assert (row["repaid"], row["waived"], row["status"]) == ("70.00", "200.00", "waived")
    listed = client.get("/dettes?statut=waived").text
    assert region["number"] in listed and "remise" in listed
    assert region["number"] not in client.get("/dettes?statut=open").text
    dashboard = client.get("/").text
    assert "Admis en non-valeur" in dashboard
    assert (
        f'<td class="num">0,00{NBSP}€</td><td class="num">70,00{NBSP}€</td>'
        f'<td class="num">200,00{NBSP}€</td><td class="num">0,00{NBSP}€</td>'
    ) in dashboard


def test_an_employer_confirms_the_repayment_of_its_share(web: Web) -> None:
    w, client, _ = web
    case = breached(w)
    employer, region = debt_of(w, case, "employer"), debt_of(w, case, "region")
    login(client, "employer")
    page = client.get("/mes-dettes").text
    assert employer["number"] in page and region["number"] not in page
    assert client.get("/dettes").status_code == 403
    before = snapshot(w)
    other = client.post(f"/mes-dettes/{region['id']}/confirmer", data={"csrf": csrf_of(page),
                        "amount": "10", "on": "2026-12-01"})  # fmt: skip
    assert other.status_code == 400 and "pas due à cet employeur" in other.text
    assert snapshot(w) == before
    ok = client.post(f"/mes-dettes/{employer['id']}/confirmer", data={"csrf": csrf_of(page),
                     "amount": "100,50", "on": "2026-12-01"}, follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303
    assert debt_of(w, case, "employer")["repaid"] == "100.50"
    assert "partiellement remboursée" in client.get("/mes-dettes").text


def test_another_employer_cannot_confirm(web: Web) -> None:
    w, client, _ = web
    case = breached(w)
    employer = debt_of(w, case, "employer")
    login(client, "other_employer")
    page = client.get("/mes-dettes").text
    assert employer["number"] not in page
    refused = client.post(f"/mes-dettes/{employer['id']}/confirmer", data={"csrf": csrf_of(page),
                          "amount": "10", "on": "2026-12-01"})  # fmt: skip
    assert refused.status_code == 400 and "pas due à cet employeur" in refused.text
