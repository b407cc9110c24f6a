"""The signing page of the invitations' link (`/signature/<token>`, issue 16) through FastAPI's
test client, on SQLite and PostgreSQL, with a real SMTP server for the codes and a test CA for
the seal: the three parties sign through the page (IP and user-agent in the evidence), a wrong
code, consent missing, an expired or forged token, another party's link, a refusal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import World
from tests.integration.test_esign import (  # noqa: F401 (fixtures)
    esign_env,
    issued_case,
    last_code,
    seal_files,
    smtp,
)
from tests.integration.test_web import PASSWORD, csrf_of, login
from tests.smtpserver import LocalSmtpServer
from workflow import accounts, contracts, esign
from workflow.clock import today_paris
from workflow.models import Case, Document, EsignRequest, OutboxMessage, Signature, utcnow
from workflow.web import create_app

UA = "Navigateur de test du portail"
Web = tuple[World, TestClient, LocalSmtpServer]


@pytest.fixture
def signing(
    world: World,
    db_url: str,
    esign_env: LocalSmtpServer,  # noqa: F811
) -> Iterator[Web]:
    with TestClient(create_app(db_url, secret_key="test"), headers={"User-Agent": UA}) as client:
        yield world, client, esign_env


def started(w: World) -> tuple[int, dict[str, str]]:
    """An issued contract sent to signature; each party's link's path."""
    case = issued_case(w)
    esign.start(w.uow(), case, schemes=w.schemes)
    with w.uow() as uow:
        rows = uow.session.execute(sa.select(EsignRequest.party, EsignRequest.id)).all()
    return case, {party: path(esign.signing_link(rid)) for party, rid in rows}


def path(link: str) -> str:
    found = re.search(r"/signature/[^/]+$", link)
    assert found is not None, link
    return found[0]


def ask_code(client: TestClient, page: str) -> str:
    html = client.get(page).text
    sent = client.post(f"{page}/code", data={"csrf": csrf_of(html)}, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    return client.get(page).text


def sign_on_page(client: TestClient, mails: LocalSmtpServer, page: str, email: str) -> None:
    html = ask_code(client, page)
    assert "Un code a été envoyé" in html
    done = client.post(f"{page}/signer", data={"csrf": csrf_of(html), "consentement": "oui",
                                               "code": last_code(mails, email)},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303, done.text


def requests(w: World) -> dict[str, EsignRequest]:
    with w.uow() as uow:
        rows = uow.session.scalars(sa.select(EsignRequest)).all()
        uow.session.expunge_all()
    return {r.party: r for r in rows}


def test_the_three_parties_sign_through_the_page(signing: Web) -> None:
    w, client, mails = signing
    case, links = started(w)
    page = client.get(links["learner"])
    assert page.status_code == 200
    text = page.text
    assert (
        "Signature du contrat de fidélisation" in text
        and esign.CONSENT.replace("'", "&#39;") in text
    )
    assert 'lang="fr"' in text and "contrat.pdf" in text
    # No address in full, no file path, no internal code on the page.
    assert "a0@exemple.fr" not in text and "•••@exemple.fr" in text
    assert "/tmp" not in text and "learner" not in text and "contract_pdf" not in text
    pdf = client.get(f"{links['learner']}/contrat.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"].startswith("inline")
    download = client.get(f"{links['learner']}/contrat.pdf?telecharger=1")
    assert download.headers["content-disposition"].startswith("attachment")
    # The employer's turn comes after the learner's.
    assert "pas encore votre tour" in client.get(links["employer"]).text
    emails = {party: r.email for party, r in requests(w).items()}
    for party in ("learner", "employer", "region"):
        sign_on_page(client, mails, links[party], emails[party])
    rows = requests(w)
    assert {r.status for r in rows.values()} == {"signed"}
    assert {r.user_agent for r in rows.values()} == {UA}
    assert {r.ip for r in rows.values()} == {"testclient"}  # the client's address as seen
    assert {r.consent_text for r in rows.values()} == {esign.CONSENT}
    with w.uow() as uow:
        s = uow.session
        sealed = s.scalars(sa.select(Document.id).where(Document.kind == "contract_sealed")).all()
        methods = s.scalars(sa.select(Signature.method)).all()
        state = s.get(Case, case).state  # type: ignore[union-attr]
    assert len(sealed) == 1 and methods == ["electronic"] * 3
    assert state in ("contracted", "selected")
    assert "Vous avez signé ce contrat" in client.get(links["learner"]).text
    # The case page offers the sealed contract for download.
    accounts.add_user(w.uow(), email="region@exemple.fr", name="Région", role="region",
                      password=PASSWORD)  # fmt: skip
    login(client, "region")
    case_page = client.get(f"/dossiers/{case}").text
    assert f'href="/documents/{sealed[0]}">télécharger le contrat scellé' in case_page
    download = client.get(f"/documents/{sealed[0]}")
    assert download.status_code == 200 and download.content.startswith(b"%PDF")


def test_a_wrong_code_is_refused_next_to_its_field(signing: Web) -> None:
    w, client, mails = signing
    _, links = started(w)
    html = ask_code(client, links["learner"])
    good = last_code(mails, "a0@exemple.fr")
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    refused = client.post(f"{links['learner']}/signer",
                          data={"csrf": csrf_of(html), "consentement": "oui", "code": wrong})  # fmt: skip
    assert refused.status_code == 400
    assert re.search(r'id="code-error" role="alert">Code erroné \(4 essai', refused.text)
    no_consent = client.post(f"{links['learner']}/signer",
                             data={"csrf": csrf_of(html), "code": good})  # fmt: skip
    assert no_consent.status_code == 400 and 'id="consent-error"' in no_consent.text
    not_digits = client.post(f"{links['learner']}/signer",
                             data={"csrf": csrf_of(html), "consentement": "oui", "code": "12a"})  # fmt: skip
    assert not_digits.status_code == 400 and "six chiffres" in not_digits.text
    no_csrf = client.post(f"{links['learner']}/signer", data={"consentement": "oui", "code": good})
    assert no_csrf.status_code == 403
    row = requests(w)["learner"]
    assert row.status == "pending" and row.code_attempts == 1 and row.signature_id is None
    # The right code still signs.
    ok = client.post(f"{links['learner']}/signer",
                     data={"csrf": csrf_of(html), "consentement": "oui", "code": good},
                     follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303 and requests(w)["learner"].status == "signed"


def test_an_expired_or_forged_token_opens_nothing(signing: Web) -> None:
    w, client, _ = signing
    _, links = started(w)
    rid = requests(w)["learner"].id
    old = path(esign.signing_link(rid, at=utcnow() - esign.LINK_TTL - timedelta(hours=1)))
    expired = client.get(old)
    assert expired.status_code == 410 and "a expiré" in expired.text
    assert client.get(f"{old}/contrat.pdf").status_code == 410
    html = client.get(links["learner"]).text
    assert client.post(f"{old}/code", data={"csrf": csrf_of(html)}).status_code == 410
    forged = links["learner"][:-3] + ("abc" if not links["learner"].endswith("abc") else "xyz")
    for bad in (forged, "/signature/nimportequoi", "/signature/" + "x" * 300):
        assert client.get(bad).status_code == 404
    assert "n&#39;existe pas" in client.get(forged).text
    assert requests(w)["learner"].code_hash is None  # no code was sent


def test_an_expired_code_is_refused_on_the_page(
    world: World,
    db_url: str,
    esign_env: LocalSmtpServer,  # noqa: F811
) -> None:
    w, mails = world, esign_env
    _, links = started(w)
    later: list[datetime] = []

    def clock() -> datetime:
        return utcnow() + (timedelta(minutes=11) if later else timedelta())

    with TestClient(create_app(db_url, secret_key="test", clock=clock)) as client:
        html = ask_code(client, links["learner"])
        later.append(utcnow())
        refused = client.post(f"{links['learner']}/signer", data={
            "csrf": csrf_of(html), "consentement": "oui", "code": last_code(mails, "a0@exemple.fr")
        })  # fmt: skip
    assert refused.status_code == 400 and "expiré" in refused.text
    assert requests(w)["learner"].status == "pending"


def test_another_partys_link_cannot_sign_for_them(signing: Web) -> None:
    w, client, mails = signing
    _, links = started(w)
    sign_on_page(client, mails, links["learner"], "a0@exemple.fr")
    employer = requests(w)["employer"]
    html = ask_code(client, links["employer"])
    code = last_code(mails, employer.email)
    # The learner's link, with the employer's code and a party in the form: refused.
    stolen = client.post(f"{links['learner']}/signer", data={
        "csrf": csrf_of(html), "consentement": "oui", "code": code, "party": "employer"})  # fmt: skip
    assert stolen.status_code == 400 and "déjà signé" in stolen.text
    # The region's link, out of turn, with the employer's code: refused too.
    early = client.post(f"{links['region']}/signer", data={
        "csrf": csrf_of(html), "consentement": "oui", "code": code})  # fmt: skip
    assert early.status_code == 400 and "pas encore le tour" in early.text
    rows = requests(w)
    assert rows["employer"].status == "pending" and rows["region"].status == "pending"
    assert rows["employer"].code_hash is not None  # the employer's code still stands


def test_a_party_refuses_with_a_reason(signing: Web) -> None:
    w, client, _ = signing
    _, links = started(w)
    html = client.get(links["learner"]).text
    empty = client.post(f"{links['learner']}/refus", data={"csrf": csrf_of(html), "motif": " "})
    assert empty.status_code == 400 and 'id="motif-error"' in empty.text
    assert requests(w)["learner"].status == "pending"
    done = client.post(f"{links['learner']}/refus", data={
        "csrf": csrf_of(html), "motif": "La date de début est fausse."}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    row = requests(w)["learner"]
    assert (row.status, row.reason) == ("refused", "La date de début est fausse.")
    assert "Vous avez refusé de signer" in client.get(links["learner"]).text


def test_the_next_invitation_and_a_refusal_leave_at_once(signing: Web) -> None:
    """No wait for the night: the page sends the signature's e-mails as soon as it records."""
    w, client, mails = signing
    _, links = started(w)
    emails = {party: r.email for party, r in requests(w).items()}

    def invited() -> list[str]:
        return [str(m["To"]) for m in mails.messages
                if str(m["Subject"]).startswith("Contrat de fidélisation à signer")]  # fmt: skip

    assert invited() == []  # esign.start queues the first one: the CLI or the outbox sends it
    sign_on_page(client, mails, links["learner"], emails["learner"])
    # The case's signature e-mails still pending went with the next one, in order.
    assert invited() == [emails["learner"], emails["employer"]]
    html = client.get(links["employer"]).text
    done = client.post(f"{links['employer']}/refus", data={
        "csrf": csrf_of(html), "motif": "Le poste n'est pas celui convenu."},
        follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    refused = [m for m in mails.messages if str(m["Subject"]).endswith("signature refusée")]
    assert [str(m["To"]) for m in refused] == [emails["region"]]
    assert "Le poste n'est pas celui convenu." in refused[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with w.uow() as uow:
        pending = uow.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status != "sent", OutboxMessage.kind.like("esign%")))  # fmt: skip
    assert pending == 0


def test_the_agent_starts_the_signature_from_the_case_page_and_a_refusal_joins_the_queue(
    signing: Web,
) -> None:
    """No command line (issue 15's walk): the case page sends the contract to signature, the
    first signer's invitation leaves at once; a refusal waits in « À traiter » until a new
    version of the contract replaces the refused one."""
    w, client, mails = signing
    case = issued_case(w)
    accounts.add_user(w.uow(), email="agent@exemple.fr", name="Agent", role="region",
                      password=PASSWORD)  # fmt: skip
    anonymous = client.post(
        f"/dossiers/{case}/signature-electronique", data={"csrf": "x"}, follow_redirects=False
    )
    assert "/connexion" in anonymous.headers.get("location", "")  # not signed in: nothing sent
    assert requests(w) == {}
    login(client, "agent")
    page = client.get(f"/dossiers/{case}").text
    assert "Envoyer le contrat à la signature électronique" in page
    sent = client.post(f"/dossiers/{case}/signature-electronique",
                       data={"csrf": csrf_of(page)}, follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303, sent.text
    shown = client.get(f"/dossiers/{case}").text
    assert (
        "Contrat envoyé à la signature électronique" in shown and "Ordre des signataires" in shown
    )
    rows = requests(w)
    assert {p: r.status for p, r in rows.items()} == {
        "learner": "pending", "employer": "pending", "region": "pending"}  # fmt: skip
    assert any(rows["learner"].email in m["To"] for m in mails.messages)  # left at once

    esign.refuse(w.uow(), case, "learner", "Le montant n'est pas celui convenu.",
                 schemes=w.schemes)  # fmt: skip
    queue_page = client.get("/a-traiter").text
    assert "Signature refusée" in queue_page and f"/dossiers/{case}" in queue_page
    # A new version of the contract: the refusal no longer waits.
    with w.uow() as uow:
        tier = uow.session.get(Case, case).tier  # type: ignore[union-attr]
    contracts.generate_contract(w.uow(), case, tier=tier, on=today_paris(), actor="agent")
    assert "Signature refusée" not in client.get("/a-traiter").text
