"""The participants' spaces (issue 15), on SQLite and PostgreSQL: learner accounts, invitations
and their one-time links, the learner's pages, the API's participants' endpoints — and, first,
what a learner must never reach: another learner's case, the caseworkers' pages (404 or 403,
and nothing written)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import World
from tests.integration.test_case_service import D, fire, signed_case
from workflow import accounts, cases, invitations, spaces
from workflow.errors import InvalidInput, NotFound
from workflow.models import Case, CaseEvent, OutboxMessage, Reimbursement, SignInLink
from workflow.web import create_app

PASSWORD = "correct horse battery"
T0 = datetime(2029, 12, 1, 9, 0, tzinfo=UTC)


@dataclass
class Space:
    w: World
    client: TestClient
    clock: list[datetime]
    tokens: dict[str, str]
    users: dict[str, int]


@pytest.fixture
def space(world: World, db_url: str) -> Iterator[Space]:
    """Two learners with accounts (invited, no password), a caseworker, and the web app whose
    clock the test moves by hand."""
    w = world
    tokens, users = {}, {}
    for who, learner in (("lea", w.learners[0]), ("max", w.learners[1])):
        users[who], tokens[who] = accounts.add_user(
            w.uow(), email=f"{who}@exemple.fr", name=None, role="learner", password=None,
            learner_id=learner,
        )  # fmt: skip
    users["region"], tokens["region"] = accounts.add_user(
        w.uow(), email="region@exemple.fr", name="Agent", role="region", password=PASSWORD
    )
    clock = [T0]
    app = create_app(db_url, secret_key="test", clock=lambda: clock[0])
    with TestClient(app) as client:
        yield Space(w, client, clock, tokens, users)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found[1]


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def use_link(client: TestClient, link: str) -> int:
    """Open the invitation's page, press its button; the answer's status."""
    page = client.get(f"/connexion/lien/{token_of(link)}")
    assert page.status_code == 200 and "Me connecter" in page.text
    done = client.post(
        f"/connexion/lien/{token_of(link)}",
        data={"csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    if done.status_code == 303:
        assert done.headers["location"] == "/mon-espace"
    return done.status_code


def sign_in(sp: Space, who: str) -> None:
    link = invitations.invite(sp.w.uow(), sp.users[who], now=sp.clock[0]).link
    assert use_link(sp.client, link) == 303


def count(w: World, model: type[object]) -> int:
    with w.uow() as uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def apply_on_page(sp: Space, offers: list[int], letter: str) -> tuple[int, str]:
    page = sp.client.get(f"/mon-espace/offres?campagne={sp.w.campaign}")
    assert page.status_code == 200
    done = sp.client.post(
        "/mon-espace/candidatures",
        data={"csrf": csrf_of(page.text), "campaign": str(sp.w.campaign), "offer": offers,
              "letter": letter},
        follow_redirects=False,
    )  # fmt: skip
    return done.status_code, done.text


def bearer(sp: Space, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {sp.tokens[who]}"}


# -- hostile first: what a learner must never reach ------------------------------------------


def test_a_learner_never_sees_another_learners_case_page_api_or_list(space: Space) -> None:
    sp, w = space, space.w
    theirs = cases.open_case(w.uow(), w.offers[0], w.learners[1], on=D("2026-05-30"))
    mine = cases.open_case(w.uow(), w.offers[1], w.learners[0], on=D("2026-05-30"))
    sign_in(sp, "lea")
    assert sp.client.get(f"/mon-espace/dossiers/{mine}").status_code == 200
    assert sp.client.get(f"/mon-espace/dossiers/{theirs}").status_code == 404
    assert sp.client.get("/mon-espace/dossiers/999999").status_code == 404
    home = sp.client.get("/mon-espace").text
    assert f"/mon-espace/dossiers/{mine}" in home and f"/mon-espace/dossiers/{theirs}" not in home
    # The API, with the learner's token.
    assert sp.client.get(f"/api/v1/cases/{theirs}", headers=bearer(sp, "lea")).status_code == 404
    assert sp.client.get(f"/api/v1/cases/{mine}", headers=bearer(sp, "lea")).status_code == 200
    listed = sp.client.get("/api/v1/me/cases", headers=bearer(sp, "lea")).json()
    assert [c["id"] for c in listed] == [mine]
    assert [c["id"] for c in sp.client.get("/api/v1/cases", headers=bearer(sp, "lea")).json()] == [
        mine
    ]
    before = count(w, CaseEvent)
    fired = sp.client.post(
        f"/api/v1/cases/{theirs}/fire", json={"trigger": "submit"}, headers=bearer(sp, "lea")
    )
    assert fired.status_code == 404 and count(w, CaseEvent) == before


def test_a_learner_reaches_none_of_the_caseworkers_pages(space: Space) -> None:
    sp, w = space, space.w
    mine = cases.open_case(w.uow(), w.offers[1], w.learners[0], on=D("2026-05-30"))
    sign_in(sp, "lea")
    for url in ("/", "/dossiers", f"/dossiers/{mine}", "/apprenants", "/paiements", "/courriels"):
        answer = sp.client.get(url, follow_redirects=False)
        assert answer.status_code == 403, url
        assert "Page réservée" in answer.text or "Votre espace est la page" in answer.text


def test_a_learners_case_page_and_api_leave_out_the_caseworkers_notes(space: Space) -> None:
    sp, w = space, space.w
    mine = cases.open_case(w.uow(), w.offers[1], w.learners[0], on=D("2026-05-30"))
    cases.add_note(w.uow(), mine, "Note interne : appeler l'institut", actor="Agent")
    sign_in(sp, "lea")
    assert "appeler l" not in sp.client.get(f"/mon-espace/dossiers/{mine}").text
    assert "appeler l" not in sp.client.get(f"/api/v1/cases/{mine}", headers=bearer(sp, "lea")).text


def test_the_learner_may_not_apply_to_an_offer_outside_their_campaigns(space: Space) -> None:
    sp, w = space, space.w
    sign_in(sp, "lea")
    before = count(w, Case)
    status, _ = apply_on_page(sp, [w.offers[0], 987_654], "Bonjour")
    assert status == 404 and count(w, Case) == before  # the whole form refused
    answer = sp.client.post("/api/v1/cases", json={"offer": 987_654}, headers=bearer(sp, "lea"))
    assert answer.status_code == 404
    region = sp.client.post(
        "/api/v1/cases", json={"offer": w.offers[0]}, headers=bearer(sp, "region")
    )
    assert region.status_code == 403 and count(w, Case) == before
    assert (
        sp.client.get("/api/v1/offers?campaign=987654", headers=bearer(sp, "lea")).status_code
        == 404
    )


# -- accounts and invitations ----------------------------------------------------------------


def test_a_learner_account_is_tied_to_one_learner_and_named_after_them(world: World) -> None:
    w = world
    ident, _ = accounts.add_user(
        w.uow(), email="lea@exemple.fr", name=None, role="learner", password=None,
        learner_id=w.learners[0],
    )  # fmt: skip
    with w.uow() as uow:
        rows = {r["id"]: r for r in accounts.user_rows(uow.session)}
    assert rows[ident]["name"] == "Apprenant0 Test" and rows[ident]["role"] == "learner"
    with pytest.raises(InvalidInput, match="déjà un compte"):
        accounts.add_user(w.uow(), email="autre@exemple.fr", name=None, role="learner",
                          password=None, learner_id=w.learners[0])  # fmt: skip
    with pytest.raises(InvalidInput, match="rattaché à un apprenant"):
        accounts.add_user(w.uow(), email="x@exemple.fr", name="X", role="learner", password=None)
    with pytest.raises(NotFound):
        accounts.add_user(w.uow(), email="y@exemple.fr", name=None, role="learner",
                          password=None, learner_id=987_654)  # fmt: skip
    with pytest.raises(InvalidInput, match="mot de passe"):
        accounts.add_user(w.uow(), email="z@exemple.fr", name="Z", role="region", password=None)
    with w.uow() as uow:
        assert len(accounts.user_rows(uow.session)) == 1


def test_an_invitation_is_queued_with_its_link_and_opens_one_session(space: Space) -> None:
    sp, w = space, space.w
    invitation = invitations.invite(w.uow(), sp.users["lea"], now=T0, base_url="https://f.fr")
    assert invitation.link.startswith("https://f.fr/connexion/lien/")
    with w.uow() as uow:
        recipient, context = uow.session.execute(
            sa.select(OutboxMessage.recipient, OutboxMessage.context).where(
                OutboxMessage.kind == "invitation"
            )
        ).one()
        stored = uow.session.scalars(sa.select(SignInLink.token_hash)).all()
    assert recipient == "lea@exemple.fr" and context["link"] == invitation.link
    assert token_of(invitation.link) not in stored  # only its hash
    assert use_link(sp.client, invitation.link) == 303
    assert "Mon espace" in sp.client.get("/mon-espace").text
    # The same link again, even from a new browser: refused.
    sp.client.cookies.clear()
    page = sp.client.get(f"/connexion/lien/{token_of(invitation.link)}")
    again = sp.client.post(
        f"/connexion/lien/{token_of(invitation.link)}", data={"csrf": csrf_of(page.text)}
    )
    assert again.status_code == 410 and "plus valable" in again.text
    assert sp.client.get("/mon-espace", follow_redirects=False).status_code == 303


def test_the_invitation_email_renders_in_french_with_its_link(space: Space) -> None:
    from jobs.outbox import render

    sp, w = space, space.w
    invitation = invitations.invite(w.uow(), sp.users["lea"], now=T0)
    with w.uow() as uow:
        message = uow.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.kind == "invitation")
        ).one()
        mail = render(uow.session, message, w.schemes)
    assert mail.to == "lea@exemple.fr" and mail.subject == "Votre accès à Fidelis"
    assert invitation.link in mail.text and "Bonjour Apprenant0 Test" in mail.text
    assert "8 décembre 2029" in mail.text  # seven days


def test_an_expired_or_unknown_link_is_refused(space: Space) -> None:
    sp, w = space, space.w
    link = invitations.invite(w.uow(), sp.users["lea"], now=T0, valid_for=timedelta(days=7)).link
    sp.clock[0] = T0 + timedelta(days=7, seconds=1)
    assert use_link(sp.client, link) == 410
    assert use_link(sp.client, link[:-4] + "AAAA") == 410
    with w.uow() as uow:
        assert uow.session.scalars(sa.select(SignInLink.used_at)).all() == [None]


def test_a_disabled_account_cannot_use_its_link(space: Space) -> None:
    sp, w = space, space.w
    link = invitations.invite(w.uow(), sp.users["lea"], now=T0).link
    accounts.disable(w.uow(), "lea@exemple.fr")
    assert use_link(sp.client, link) == 403
    assert sp.client.get("/mon-espace", follow_redirects=False).status_code == 303


# -- the learner's pages ---------------------------------------------------------------------


def test_a_learner_applies_to_two_employers_with_a_letter_and_follows_them(space: Space) -> None:
    sp, w = space, space.w
    sign_in(sp, "lea")
    listing = sp.client.get("/mon-espace/offres").text
    assert "EHPAD 0" in listing and "EHPAD 2" in listing and "Lettre de motivation" in listing
    status, _ = apply_on_page(sp, [w.offers[0], w.offers[2]], "Je souhaite travailler\nchez vous.")
    assert status == 303
    with w.uow() as uow:
        mine = uow.session.scalars(
            sa.select(Case).where(Case.learner_id == w.learners[0]).order_by(Case.id)
        ).all()
        assert [(c.offer_id, c.state.value) for c in mine] == [
            (w.offers[0], "applied"),
            (w.offers[2], "applied"),
        ]
        ids = [c.id for c in mine]
        assert spaces.letter_of(uow.session, ids[0]) == "Je souhaite travailler\nchez vous."
        actors = uow.session.scalars(
            sa.select(CaseEvent.actor).where(CaseEvent.case_id == ids[0])
        ).all()
    # No learner's name in the append-only history: their account's number.
    assert actors == [f"apprenant (compte n° {sp.users['lea']})"] * 2
    home = sp.client.get("/mon-espace?envoye=2").text
    assert "Candidature envoyée (2)" in home and "EHPAD 0" in home and "Candidature envoyée" in home
    page = sp.client.get(f"/mon-espace/dossiers/{ids[0]}").text
    assert "Je souhaite travailler" in page and "Candidature envoyée" in page
    # Applying again to the same employer: refused in French, nothing written.
    before = count(w, Case)
    status, text = apply_on_page(sp, [w.offers[0]], "Encore")
    assert status == 400 and "déjà un dossier sur cette offre" in text and count(w, Case) == before


def test_the_learner_follows_the_interview_and_the_decision(space: Space) -> None:
    sp, w = space, space.w
    (case,) = spaces.apply(w.uow(), w.learners[0], [w.offers[0]], letter="", actor="lea")
    fire(w, case, "interview", "2029-12-01", params={"interview_date": "2029-11-30"})
    fire(w, case, "reject", "2029-12-01", reason="Profil ne correspondant pas")
    sign_in(sp, "lea")
    page = sp.client.get(f"/mon-espace/dossiers/{case}").text
    assert "Entretien le 30/11/2029" in page and "Non retenu" in page


def test_the_retention_purge_closes_and_erases_the_learners_account(space: Space) -> None:
    from workflow import privacy
    from workflow.models import User

    sp, w = space, space.w
    with w.uow() as uow:
        counts = privacy.purge_learner(uow.session, w.learners[0], as_of=D("2035-01-01"))
        uow.commit()
    assert counts["accounts"] == 1
    with w.uow() as uow:
        user = uow.session.get_one(User, sp.users["lea"])
        assert (user.name, user.email) == ("Anonymisé", f"anonyme-{user.id}@invalid")
        assert user.disabled_at is not None and user.api_token_hash is None
        other = uow.session.get_one(User, sp.users["max"])
        assert other.email == "max@exemple.fr" and other.disabled_at is None
    link = invitations.invite(w.uow(), sp.users["lea"], now=T0).link
    assert use_link(sp.client, link) == 403


# -- the commitment: what leaving today would cost -------------------------------------------


def test_the_departure_cost_is_the_breachs_own_amount_in_service(world: World) -> None:
    """SPEC §4's example: a departure on 2028-03-16 costs 1 078,93 € per funder — what the
    breach, fired that day, then records."""
    w = world
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    cases.record_payments(w.uow(), case, D("2027-08-15"), schemes=w.schemes)
    fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    with w.uow() as uow:
        seen = spaces.learner_case(uow.session, w.learners[0], case, today=D("2028-03-16"),
                                   schemes=w.schemes)["commitment"]  # fmt: skip
    assert seen["end"] == D("2029-08-31") and seen["months"] == 24
    assert seen["served_days"] == Decimal(195)
    fire(w, case, "breach", "2028-03-16", reason="Démission", params={"category": "resignation"})
    assert seen["departure_cost"] == breach_amounts(w, case)
    assert set(seen["departure_cost"].values()) == {Decimal("1078.93")}


def test_the_departure_cost_during_training_ends_the_allowance_that_day(world: World) -> None:
    w = world
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    cases.record_payments(w.uow(), case, D("2026-11-10"), schemes=w.schemes)
    with w.uow() as uow:
        cost = spaces.learner_case(uow.session, w.learners[0], case, today=D("2026-11-16"),
                                   schemes=w.schemes)["commitment"]["departure_cost"]  # fmt: skip
    fire(
        w, case, "breach", "2026-11-16", reason="Abandon", params={"category": "training_abandoned"}
    )
    assert cost == breach_amounts(w, case)
    assert set(cost.values()) == {Decimal("345.00")}


def breach_amounts(w: World, case: int) -> dict[str, Decimal]:
    from workflow.documents.labels import funder_label

    with w.uow() as uow:
        rows = uow.session.execute(
            sa.select(Reimbursement.funder, Reimbursement.amount).where(
                Reimbursement.case_id == case
            )
        ).all()
    return {funder_label(f): a for f, a in rows}


# -- the API ---------------------------------------------------------------------------------


def test_the_api_lists_offers_and_a_learner_applies(space: Space) -> None:
    sp, w = space, space.w
    offers = sp.client.get(f"/api/v1/offers?campaign={w.campaign}", headers=bearer(sp, "lea"))
    assert offers.status_code == 200
    assert {o["id"] for o in offers.json()} == set(w.offers)
    assert all(o["case"] is None for o in offers.json())
    done = sp.client.post("/api/v1/cases", json={"offer": w.offers[1]}, headers=bearer(sp, "lea"))
    assert done.status_code == 201 and done.json()["state"] == "applied"
    case = done.json()["id"]
    again = sp.client.get(f"/api/v1/offers?campaign={w.campaign}", headers=bearer(sp, "lea"))
    assert {o["id"]: o["case"] for o in again.json()}[w.offers[1]] == case
    assert [
        c["id"] for c in sp.client.get("/api/v1/me/cases", headers=bearer(sp, "lea")).json()
    ] == [case]
    assert sp.client.get("/api/v1/me/cases", headers=bearer(sp, "max")).json() == []
    staff = sp.client.get("/api/v1/me/cases", headers=bearer(sp, "region")).json()
    assert [c["id"] for c in staff] == [case]
    duplicate = sp.client.post(
        "/api/v1/cases", json={"offer": w.offers[1]}, headers=bearer(sp, "lea")
    )
    assert duplicate.status_code == 400 and "déjà un dossier" in duplicate.json()["detail"]


def test_a_learner_writes_in_their_own_thread_and_no_one_elses(space: Space) -> None:
    """The per-case thread (workflow.threads) seen from a learner's account: their own case's
    learner thread through the API, another learner's case a 404 that writes nothing, and the
    agents' private notes out of reach."""
    sp, w = space, space.w
    theirs = cases.open_case(w.uow(), w.offers[0], w.learners[1], on=D("2026-05-30"))
    mine = cases.open_case(w.uow(), w.offers[1], w.learners[0], on=D("2026-05-30"))
    sent = sp.client.post(
        f"/api/v1/cases/{mine}/messages", json={"body": "Bonjour, voici ma question."},
        headers=bearer(sp, "lea"),
    )  # fmt: skip
    assert sent.status_code in (200, 201), sent.text
    read = sp.client.get(f"/api/v1/cases/{mine}/messages", headers=bearer(sp, "lea"))
    assert read.status_code == 200 and "voici ma question" in read.text
    before = count(w, CaseEvent)
    for path, body in ((f"/api/v1/cases/{theirs}/messages", {"body": "Intrusion"}),
                       (f"/api/v1/cases/{mine}/notes", {"body": "Note d'apprenant"})):  # fmt: skip
        refused = sp.client.post(path, json=body, headers=bearer(sp, "lea"))
        assert refused.status_code in (403, 404), (path, refused.status_code)
    assert (
        sp.client.get(f"/api/v1/cases/{theirs}/messages", headers=bearer(sp, "lea")).status_code
        == 404
    )
    assert count(w, CaseEvent) == before
