"""Reference data and accounts edited on the web (issue 15, item 6), on SQLite and PostgreSQL:
the Région's staff create and edit learners (the missing IBAN fixed from the learner's page, a
training correction regularising a signed case), employers, institutes, campaigns and offers;
an administrator invites, disables, enables and changes an account's role. Hostile input first:
each refusal is French, next to its field, and leaves every table as it was."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import IBAN, World
from tests.integration.test_bounds import checksums
from tests.integration.test_case_service import D, signed_case
from tests.integration.test_web import PASSWORD, csrf_of, login
from tests.integration.test_web import web as web  # the fixture
from workflow import accounts, cases
from workflow.errors import InvalidInput
from workflow.models import (
    Campaign,
    Case,
    Employer,
    Institute,
    Learner,
    Offer,
    OutboxMessage,
    User,
)

Web = tuple[World, TestClient, dict[str, str]]
NEW_SIRET = "35600000000048"  # La Poste's head office: a valid SIRET no test employer has
TOULOUSE = "31555"  # member of Toulouse Métropole: not rural
LEARNER_FORM = {
    "first_name": "Inès", "last_name": "Martin", "birth_date": "2004-03-02",
    "email": "ines.martin@exemple.fr", "address": "3 rue du Pont, 48000 Mende",
    "training_start": "2026-09-07", "training_end": "2027-07-02", "iban": "",
}  # fmt: skip
EMPLOYER_FORM = {
    "name": "EHPAD des Causses", "siret": NEW_SIRET, "commune": "48095", "sector": "elderly",
    "recruitment_difficulty": "1", "email": "direction@causses.fr",
    "signatory": "Jeanne Roux, directrice",
}  # fmt: skip


def admin(w: World, client: TestClient) -> None:
    accounts.add_user(w.uow(), email="admin@exemple.fr", name="Admin", role="admin",
                      password=PASSWORD)  # fmt: skip
    login(client, "admin")


def post(client: TestClient, path: str, data: dict[str, str | list[str]]) -> object:
    csrf = csrf_of(client.get("/").text)
    return client.post(path, data={"csrf": csrf, **data}, follow_redirects=False)


def row(w: World, model: type, *where: sa.ColumnElement[bool]) -> object:
    with w.uow() as uow:
        found = uow.session.scalars(sa.select(model).where(*where)).first()
        assert found is not None
        uow.session.expunge(found)
        return found


# -- hostile input first ---------------------------------------------------------------------


HOSTILE = [
    # (path, fields changed from the valid form, the field refused, what the refusal says)
    ("/apprenants/nouveau", {"iban": "FR7630006000011234567890188"}, "iban",
     "IBAN invalide"),
    ("/apprenants/nouveau", {"last_name": "M" * 101}, "last_name", "Le nom dépasse 100"),
    ("/apprenants/nouveau", {"first_name": "In\x1bès"}, "first_name",
     "caractère de contrôle interdit (U+001B"),
    ("/apprenants/nouveau", {"address": "rue\u202e"}, "address", "caractère de contrôle"),
    ("/apprenants/nouveau", {"training_end": "2026-09-01"}, "training_end",
     "doit être postérieure"),
    ("/apprenants/nouveau", {"birth_date": "31/02/2004"}, "birth_date",
     "Date invalide pour la date de naissance"),
    ("/apprenants/nouveau", {"institute": "99999"}, "institute", "Institut introuvable"),
    ("/apprenants/{learner}", {"iban": "GB00 1234"}, "iban", "IBAN invalide"),
    ("/apprenants/{learner}", {"email": "pas-une-adresse"}, "email", "Adresse e-mail invalide"),
    ("/employeurs/nouveau", {"siret": "12345678901234"}, "siret", "SIRET invalide"),
    ("/employeurs/nouveau", {"commune": TOULOUSE}, "commune",
     "Toulouse (31555) est membre de « Toulouse Métropole »"),
    ("/employeurs/nouveau", {"commune": "00000"}, "commune", "00000"),
    ("/employeurs/nouveau", {"name": "E" * 201}, "name", "dépasse 200 caractères"),
    ("/employeurs/nouveau", {"signatory": "Jeanne\x00Roux"}, "signatory",
     "Le signataire contient un caractère de contrôle"),
    ("/employeurs/{employer}", {"siret": "73282932000074 x"}, "siret", "SIRET invalide"),
    ("/employeurs/{employer}", {"commune": TOULOUSE}, "commune", "non rurale"),
    ("/employeurs/{other_employer}", {"siret": "73282932000074"}, "siret",
     "Un employeur a déjà le SIRET"),
    ("/instituts/nouveau", {"name": "IFAS\x07", "commune": "48095"}, "name",
     "caractère de contrôle"),
    ("/instituts/{institute}", {"name": "IFAS", "commune": "4809"}, "commune", "4809"),
    ("/campagnes/nouvelle", {"scheme": "occitanie-fidelisation-as", "year": "2026"}, "form",
     "existe déjà"),
    ("/campagnes/nouvelle", {"scheme": "occitanie-fidelisation-as", "year": "1999"}, "year",
     "Année de campagne invalide"),
    ("/campagnes/{campaign}/offres", {"employer": "{employer}", "places": "2"}, "form",
     "déjà inscrit"),
    ("/campagnes/{campaign}/offres/{offer}/places", {"places": "0"}, "offer-{offer}",
     "Nombre de places invalide"),
    ("/campagnes/{campaign}/offres/{offer}/places", {"places": "9" * 40}, "offer-{offer}",
     "n'est pas un nombre entier"),
]  # fmt: skip


def _ids(w: World) -> dict[str, str]:
    with w.uow() as uow:
        offers = uow.session.scalars(sa.select(Offer).order_by(Offer.id)).all()
        return {"learner": str(w.learners[0]), "institute": str(w.institute),
                "campaign": str(w.campaign), "offer": str(offers[0].id),
                "employer": str(offers[0].employer_id),
                "other_employer": str(offers[1].employer_id)}  # fmt: skip


@pytest.mark.parametrize(("path", "changed", "field", "said"), HOSTILE)
def test_hostile_input_is_refused_in_french_next_to_its_field_and_writes_nothing(
    web: Web, path: str, changed: dict[str, str], field: str, said: str
) -> None:
    w, client, _ = web
    ids = _ids(w)
    login(client, "region")
    form = {**LEARNER_FORM, "institute": ids["institute"]} if "apprenants" in path else {}
    form |= EMPLOYER_FORM if "employeurs" in path else {}
    form |= {k: v.format(**ids) for k, v in changed.items()}
    before = checksums(w.engine)
    refused = post(client, path.format(**ids), form)
    assert refused.status_code == 400, refused.text  # type: ignore[attr-defined]
    page = html.unescape(refused.text).replace("\u00a0", " ")  # type: ignore[attr-defined]
    assert said in page
    field = field.format(**ids)
    if field == "form":  # about the whole form: the alert above it
        assert re.search(r"fr-alert--error[^>]*>.*?" + re.escape(said), page, re.S)
    else:  # next to its field, which the error describes
        assert f'id="{field}-error" class="fr-error-text">' in page
        assert re.search(f'id="{field}-error"[^>]*>[^<]*' + re.escape(said), page), page
    assert "Rien n'a été enregistré" in page
    assert "\x00" not in page and "\x1b" not in page  # what was typed, shown without them
    assert checksums(w.engine) == before


def test_a_form_without_its_csrf_token_is_refused_and_writes_nothing(web: Web) -> None:
    w, client, _ = web
    login(client, "region")
    before = checksums(w.engine)
    for path, form in (("/employeurs/nouveau", EMPLOYER_FORM),
                       (f"/campagnes/{w.campaign}/cloture", {}),
                       (f"/apprenants/{w.learners[0]}", {"iban": IBAN})):  # fmt: skip
        refused = client.post(path, data=form, follow_redirects=False)
        assert refused.status_code == 403 and "Jeton CSRF" in refused.text, path
    assert checksums(w.engine) == before


def test_only_the_regions_staff_edit_reference_data(web: Web) -> None:
    w, client, _ = web
    accounts.add_user(w.uow(), email="institute@exemple.fr", name="IFAS", role="institute",
                      password=PASSWORD, institute_id=w.institute)  # fmt: skip
    ids = _ids(w)
    for who in ("employer", "institute"):
        client.cookies.clear()
        login(client, who)
        before = checksums(w.engine)
        for path in ("/apprenants/nouveau", f"/apprenants/{ids['learner']}", "/employeurs/nouveau",
                     f"/employeurs/{ids['employer']}", "/instituts/nouveau",
                     f"/instituts/{ids['institute']}", "/campagnes/nouvelle",
                     f"/campagnes/{ids['campaign']}", "/administration/comptes/invitation",
                     f"/administration/comptes/{ids['learner']}"):  # fmt: skip
            assert client.get(path).status_code == 403, (who, path)
        for path in ("/apprenants/nouveau", f"/apprenants/{ids['learner']}", "/employeurs/nouveau",
                     f"/employeurs/{ids['employer']}", "/instituts/nouveau",
                     f"/instituts/{ids['institute']}", "/campagnes/nouvelle",
                     f"/campagnes/{ids['campaign']}/cloture",
                     f"/campagnes/{ids['campaign']}/offres",
                     f"/campagnes/{ids['campaign']}/offres/{ids['offer']}/places",
                     f"/campagnes/{ids['campaign']}/offres/{ids['offer']}/cloture",
                     "/administration/comptes/invitation",
                     f"/administration/comptes/{ids['learner']}/role"):  # fmt: skip
            refused = post(client, path, {**EMPLOYER_FORM, "places": "5", "role": "admin"})
            assert refused.status_code == 403, (who, path)  # type: ignore[attr-defined]
        assert checksums(w.engine) == before
    # A caseworker edits the reference data but administers no account.
    client.cookies.clear()
    login(client, "region")
    assert client.get("/administration/comptes/invitation").status_code == 403
    assert post(client, "/administration/comptes/invitation",
                {"email": "x@exemple.fr", "role": "region"}).status_code == 403  # type: ignore[attr-defined]  # fmt: skip


# -- what each form does ---------------------------------------------------------------------


def test_a_learner_is_created_then_their_missing_iban_is_typed_on_their_page(web: Web) -> None:
    w, client, _ = web
    login(client, "region")
    assert "Nouvel apprenant" in client.get("/apprenants").text
    done = post(client, "/apprenants/nouveau", {**LEARNER_FORM, "institute": str(w.institute)})
    assert done.status_code == 303  # type: ignore[attr-defined]
    where = done.headers["location"]  # type: ignore[attr-defined]
    page = client.get(where).text
    assert "enregistré" in page and "IBAN manquant" in page and "3 rue du Pont" in page
    ident = int(where.rsplit("/", 1)[1])
    assert "Inès Martin" in client.get("/apprenants?q=mar").text
    # The IBAN typed on their page: checked, stored sealed, shown masked.
    fixed = post(client, where, {**LEARNER_FORM, "institute": str(w.institute), "iban": IBAN})
    assert fixed.status_code == 303  # type: ignore[attr-defined]
    page = client.get(where).text
    assert "Apprenant modifié." in page and "IBAN manquant" not in page
    assert IBAN not in page and "FR76" in page and "0189" in page  # masked, never whole
    learner = row(w, Learner, Learner.id == ident)
    assert learner.iban is not None and learner.iban.same_as(IBAN)  # type: ignore[attr-defined]
    assert learner.address == "3 rue du Pont, 48000 Mende"  # type: ignore[attr-defined]


def test_a_training_correction_on_a_signed_case_regularises_it(web: Web) -> None:
    w, client, _ = web
    case = signed_case(w)
    learner = row(w, Learner, Learner.id == w.learners[0])
    login(client, "region")
    page = client.get(f"/apprenants/{w.learners[0]}").text
    assert f"Dossier n° {case}" in page and "Documents des dossiers" in page
    form = {"first_name": "Apprenant0", "last_name": "Test", "birth_date": "2003-01-01",
            "email": "a0@exemple.fr", "address": "", "institute": str(w.institute),
            "training_start": "2026-09-07", "training_end": "2027-06-25", "iban": ""}  # fmt: skip
    assert post(client, f"/apprenants/{w.learners[0]}", form).status_code == 303  # type: ignore[attr-defined]
    after = row(w, Learner, Learner.id == w.learners[0])
    assert after.training_end == D("2027-06-25") != learner.training_end  # type: ignore[attr-defined]
    signed = row(w, Case, Case.id == case)
    # As `fidelis learner update` does: the schedule recomputed from the contract date.
    assert signed.next_payment_due == signed.contract_date  # type: ignore[attr-defined]


def test_employers_and_institutes_are_created_and_edited(web: Web) -> None:
    w, client, _ = web
    login(client, "region")
    done = post(client, "/employeurs/nouveau", EMPLOYER_FORM)
    assert done.status_code == 303  # type: ignore[attr-defined]
    listing = client.get("/employeurs").text
    assert "Employeur n° " in listing and "EHPAD des Causses" in listing
    created = row(w, Employer, Employer.siret == NEW_SIRET)
    assert created.signatory == "Jeanne Roux, directrice"  # type: ignore[attr-defined]
    edited = post(client, f"/employeurs/{created.id}",  # type: ignore[attr-defined]
                  {**EMPLOYER_FORM, "name": "EHPAD des Grands Causses", "commune": "12145",
                   "recruitment_difficulty": ""})  # fmt: skip
    assert edited.status_code == 303  # type: ignore[attr-defined]
    assert "EHPAD des Grands Causses" in client.get("/employeurs").text
    changed = row(w, Employer, Employer.siret == NEW_SIRET)
    assert changed.commune_insee == "12145" and not changed.recruitment_difficulty  # type: ignore[attr-defined]
    # Institutes.
    done = post(client, "/instituts/nouveau", {"name": "IFSI de Rodez", "commune": "12145",
                                               "schemes": ["occitanie-fidelisation-as"]})  # fmt: skip
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert "IFSI de Rodez" in client.get("/instituts").text
    institute = row(w, Institute, Institute.name == "IFSI de Rodez")
    post(client, f"/instituts/{institute.id}", {"name": "IFSI de Rodez-Aveyron",  # type: ignore[attr-defined]
                                                 "commune": "12145", "schemes": []})  # fmt: skip
    page = client.get(f"/instituts/{institute.id}").text  # type: ignore[attr-defined]
    assert 'value="IFSI de Rodez-Aveyron"' in page and "checked" not in page


def test_a_campaign_is_created_closed_reopened_and_its_offers_edited(web: Web) -> None:
    w, client, _ = web
    login(client, "region")
    done = post(client, "/campagnes/nouvelle", {"scheme": "occitanie-fidelisation-as",
                                                "year": "2027"})  # fmt: skip
    assert done.status_code == 303  # type: ignore[attr-defined]
    page = client.get(done.headers["location"]).text  # type: ignore[attr-defined]
    assert "Campagne 2027 créée" in page and "Clore la campagne" in page
    # The 2026 campaign closed: no application any more; reopened: they come again.
    closed = post(client, f"/campagnes/{w.campaign}/cloture", {})
    assert "close" in client.get(closed.headers["location"]).text  # type: ignore[attr-defined]
    assert not row(w, Campaign, Campaign.id == w.campaign).is_open  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match="close"):
        cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    post(client, f"/campagnes/{w.campaign}/ouverture", {})
    assert row(w, Campaign, Campaign.id == w.campaign).is_open  # type: ignore[attr-defined]
    # An offer's places changed, the offer closed (no application), then reopened.
    offer = w.offers[0]
    post(client, f"/campagnes/{w.campaign}/offres/{offer}/places", {"places": "3"})
    assert row(w, Offer, Offer.id == offer).places == 3  # type: ignore[attr-defined]
    post(client, f"/campagnes/{w.campaign}/offres/{offer}/cloture", {})
    page = client.get(f"/campagnes/{w.campaign}").text
    assert "close aux candidatures" in page and "Rouvrir" in page
    with pytest.raises(InvalidInput, match="close aux candidatures"):
        cases.open_case(w.uow(), offer, w.learners[0], on=D("2026-05-30"))
    post(client, f"/campagnes/{w.campaign}/offres/{offer}/reouverture", {})
    assert cases.open_case(w.uow(), offer, w.learners[0], on=D("2026-05-30")) > 0
    # An employer listed in the new campaign.
    new = int(done.headers["location"].rsplit("/", 1)[1])  # type: ignore[attr-defined]
    employer = _ids(w)["employer"]
    listed = post(client, f"/campagnes/{new}/offres", {"employer": employer, "places": "2"})
    assert listed.status_code == 303  # type: ignore[attr-defined]
    assert "Employeur inscrit" in client.get(f"/campagnes/{new}").text


def test_an_administrator_invites_disables_enables_and_changes_a_role(web: Web) -> None:
    w, client, _ = web
    admin(w, client)
    page = client.get(f"/administration/comptes/invitation?apprenant={w.learners[1]}").text
    assert f'value="{w.learners[1]}"' in page
    done = post(client, "/administration/comptes/invitation",
                {"email": "a1.perso@exemple.fr", "role": "learner",
                 "learner": str(w.learners[1])})  # fmt: skip
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert "lien de connexion à usage unique" in client.get("/administration/comptes").text
    user = row(w, User, User.email == "a1.perso@exemple.fr")
    assert user.learner_id == w.learners[1] and user.role == "learner"  # type: ignore[attr-defined]
    mail = row(w, OutboxMessage, OutboxMessage.recipient == "a1.perso@exemple.fr")
    assert mail.kind == "invitation" and "/connexion/lien/" in mail.context["link"]  # type: ignore[attr-defined]
    # A tie that does not match the role: said with the form's own words, nothing written.
    before = checksums(w.engine)
    refused = post(client, "/administration/comptes/invitation",
                   {"email": "x@exemple.fr", "role": "employer", "learner": "1"})  # fmt: skip
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "champ « Employeur rattaché »" in refused.text and "--employer" not in refused.text  # type: ignore[attr-defined]
    assert checksums(w.engine) == before
    # Disabled, enabled, then made an employer's account.
    uid = user.id  # type: ignore[attr-defined]
    post(client, f"/administration/comptes/{uid}/desactivation", {})
    assert row(w, User, User.id == uid).disabled_at is not None  # type: ignore[attr-defined]
    post(client, f"/administration/comptes/{uid}/reactivation", {})
    assert row(w, User, User.id == uid).disabled_at is None  # type: ignore[attr-defined]
    employer = _ids(w)["employer"]
    changed = post(client, f"/administration/comptes/{uid}/role",
                   {"role": "employer", "employer": employer})  # fmt: skip
    assert changed.status_code == 303  # type: ignore[attr-defined]
    after = row(w, User, User.id == uid)
    assert (after.role, after.employer_id, after.learner_id) == ("employer", int(employer), None)  # type: ignore[attr-defined]
    assert "modifié" in client.get("/administration/comptes").text
