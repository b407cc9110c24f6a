"""The employer's and the institute's spaces (issue 15, items 2 and 3), on SQLite and
PostgreSQL — first what neither may reach (another employer's application, another institute's
learner, another role's pages: 404 or 403, nothing written; a cohort's diplomas with one bad
line: nothing written), then each action through its page, written as an event of the case."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import SCHEME, World
from tests.integration.test_case_service import D, fire, signed_case, snapshot, to_selected
from tests.integration.test_query_counts import counting
from tests.integration.test_spaces import csrf_of, token_of
from workflow import (
    accounts,
    attachments,
    cases,
    contracts,
    declarations,
    directory,
    invitations,
    partner_spaces,
    spaces,
)
from workflow.models import Case, CaseEvent, Declaration, Document, EsignRequest, Offer
from workflow.states import State
from workflow.threads import Attachment
from workflow.web import create_app

T0 = datetime(2029, 12, 1, 9, 0, tzinfo=UTC)


@dataclass
class Partners:
    w: World
    client: TestClient
    users: dict[str, int]
    tokens: dict[str, str]
    employers: list[int]
    other_institute: int
    outsider: int  # a learner of the other institute


@pytest.fixture
def partners(world: World, db_url: str) -> Iterator[Partners]:
    """The world's first two employers and its institute with accounts, a second institute
    (authorised for the same scheme) with a learner of its own and an account, and a learner's
    account."""
    w = world
    with w.uow() as uow:
        employers = [uow.session.get_one(Offer, o).employer_id for o in w.offers]
    other = directory.add_institute(
        w.uow(), name="IFSI de Rodez", commune="12145", schemes=[SCHEME], scheme_registry=w.schemes
    )
    outsider = directory.add_learner(
        w.uow(), first_name="Autre", last_name="Institut", birth_date=date(2003, 1, 1),
        email="autre@exemple.fr", institute_id=other, training_start=date(2026, 9, 7),
        training_end=date(2027, 7, 2), iban="FR7630006000011234567890189", today=date(2026, 6, 1),
    )  # fmt: skip
    users, tokens = {}, {}
    for who, kw in (
        ("emp0", {"role": "employer", "employer_id": employers[0]}),
        ("emp1", {"role": "employer", "employer_id": employers[1]}),
        ("ifas", {"role": "institute", "institute_id": w.institute}),
        ("ifsi", {"role": "institute", "institute_id": other}),
        ("lea", {"role": "learner", "learner_id": w.learners[0]}),
    ):
        users[who], tokens[who] = accounts.add_user(
            w.uow(), email=f"{who}@exemple.fr", name=None, password=None, **kw
        )
    app = create_app(db_url, secret_key="test", clock=lambda: T0)
    with TestClient(app) as client:
        yield Partners(w, client, users, tokens, employers, other, outsider)


def sign_in(p: Partners, who: str) -> None:
    """A fresh session for `who`, through its invitation's one-time link."""
    p.client.cookies.clear()
    link = invitations.invite(p.w.uow(), p.users[who], now=T0).link
    page = p.client.get(f"/connexion/lien/{token_of(link)}")
    done = p.client.post(
        f"/connexion/lien/{token_of(link)}", data={"csrf": csrf_of(page.text)},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303


def post(p: Partners, page: str, url: str, data: dict[str, object]) -> tuple[int, str]:
    form = p.client.get(page)
    assert form.status_code == 200, form.text
    done = p.client.post(url, data={"csrf": csrf_of(form.text), **data}, follow_redirects=False)
    return done.status_code, done.text


def events(w: World, case: int) -> list[tuple[str, str]]:
    with w.uow() as uow:
        return [
            (e.trigger, e.actor)
            for e in uow.session.scalars(
                sa.select(CaseEvent).where(CaseEvent.case_id == case).order_by(CaseEvent.seq)
            )
        ]


def state(w: World, case: int) -> State:
    with w.uow() as uow:
        return uow.session.get_one(Case, case).state


def applied(p: Partners, offer: int, learner: int = 0, letter: str = "Bonjour") -> int:
    """A learner's application through the learner's own use case (opened and submitted)."""
    return spaces.apply(p.w.uow(), p.w.learners[learner], [p.w.offers[offer]], letter=letter,
                        actor="apprenant (compte n° 1)")[0]  # fmt: skip


def in_training(p: Partners, learner: int, offer: int) -> int:
    case = signed_case(p.w, learner=learner, offer=offer)
    fire(p.w, case, "start_training", "2026-09-07")
    return case


# -- hostile first ---------------------------------------------------------------------------


def test_an_employer_never_reaches_another_employers_application(partners: Partners) -> None:
    p, w = partners, partners.w
    theirs = applied(p, offer=1, letter="Lettre pour l'EHPAD 1")
    mine = applied(p, offer=0, learner=1)
    sign_in(p, "emp0")
    assert p.client.get(f"/espace-employeur/candidatures/{mine}").status_code == 200
    page = p.client.get(f"/espace-employeur/candidatures/{theirs}")
    assert page.status_code == 404 and "Lettre pour" not in page.text
    home = p.client.get("/espace-employeur").text
    assert f"/candidatures/{mine}" in home and f"/candidatures/{theirs}" not in home
    before = snapshot(w)
    csrf = csrf_of(p.client.get("/espace-employeur").text)
    for url, data in (
        (f"/espace-employeur/candidatures/{theirs}/entretien", {"interview_date": "2029-11-30"}),
        (f"/espace-employeur/candidatures/{theirs}/decision", {"decision": "reject",
                                                              "reason": "Non"}),
        (f"/espace-employeur/candidatures/{theirs}/attestation", {}),
    ):  # fmt: skip
        answer = p.client.post(url, data={"csrf": csrf, **data})
        assert answer.status_code == 404, url
    assert snapshot(w) == before
    # The API with the employer's token: the same 404.
    api = p.client.get(
        f"/api/v1/cases/{theirs}", headers={"Authorization": f"Bearer {p.tokens['emp0']}"}
    )
    assert api.status_code == 404


def test_an_institute_never_reaches_another_institutes_learner(partners: Partners) -> None:
    p, w = partners, partners.w
    theirs = cases.open_case(w.uow(), w.offers[2], p.outsider, on=D("2026-05-30"))
    mine = cases.open_case(w.uow(), w.offers[1], w.learners[0], on=D("2026-05-30"))
    sign_in(p, "ifas")
    assert p.client.get(f"/espace-institut/dossiers/{mine}").status_code == 200
    assert p.client.get(f"/espace-institut/dossiers/{theirs}").status_code == 404
    home = p.client.get("/espace-institut").text
    assert "Apprenant0 Test" in home and "Autre Institut" not in home
    before = snapshot(w)
    csrf = csrf_of(home)
    answer = p.client.post(f"/espace-institut/dossiers/{theirs}/debut-formation",
                           data={"csrf": csrf, "on": "2026-09-07"})  # fmt: skip
    assert answer.status_code == 404 and snapshot(w) == before
    # The API with the institute's token: the same 404; its own learner's case is there.
    token = {"Authorization": f"Bearer {p.tokens['ifas']}"}
    assert p.client.get(f"/api/v1/cases/{theirs}", headers=token).status_code == 404
    assert p.client.get(f"/api/v1/cases/{mine}", headers=token).status_code == 200


def test_a_cohorts_diplomas_never_reach_another_institutes_case(partners: Partners) -> None:
    p, w = partners, partners.w
    mine = in_training(p, learner=0, offer=0)
    with w.uow() as uow:
        campaign = uow.session.get_one(Case, mine).campaign_id
    outsider_case = cases.open_case(w.uow(), w.offers[2], p.outsider, on=D("2026-05-30"))
    sign_in(p, "ifas")
    before = snapshot(w)
    status, _ = post(p, f"/espace-institut/diplomes/{campaign}", f"/espace-institut/diplomes/{campaign}",
                     {"case": [str(mine), str(outsider_case)],
                      f"result-{mine}": "obtained", f"diploma-{mine}": "2027-07-09",
                      f"start-{mine}": "2027-09-01",
                      f"result-{outsider_case}": "obtained",
                      f"diploma-{outsider_case}": "2027-07-09",
                      f"start-{outsider_case}": "2027-09-01"})  # fmt: skip
    assert status == 404 and snapshot(w) == before


def test_a_bulk_diploma_with_one_bad_line_writes_nothing(partners: Partners) -> None:
    p, w = partners, partners.w
    first, second = in_training(p, 0, 0), in_training(p, 1, 1)
    with w.uow() as uow:
        campaign = uow.session.get_one(Case, first).campaign_id
    sign_in(p, "ifas")
    url = f"/espace-institut/diplomes/{campaign}"
    before = snapshot(w)
    status, text = post(p, url, url, {
        "case": [str(first), str(second)],
        f"result-{first}": "obtained", f"diploma-{first}": "2027-07-09",
        f"start-{first}": "2027-09-01",
        # The service cannot start before the diploma: the second line is refused.
        f"result-{second}": "obtained", f"diploma-{second}": "2027-07-09",
        f"start-{second}": "2027-07-01",
    })  # fmt: skip
    assert status == 400
    assert "Ligne 2 (Apprenant1 Test)" in text and "Rien n'a été enregistré" in text
    assert snapshot(w) == before
    assert state(w, first) == state(w, second) == State.IN_TRAINING
    # A line without its dates is refused the same way, in French.
    status, text = post(p, url, url, {"case": [str(first)], f"result-{first}": "obtained"})
    assert (
        status == 400
        and "Ligne 1 (Apprenant0 Test)" in text
        and "date invalide pour date du diplôme" in text
    )
    assert snapshot(w) == before


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("lea", "/espace-employeur"),
        ("lea", "/espace-institut"),
        ("emp0", "/espace-institut"),
        ("ifas", "/espace-employeur"),
    ],
)
def test_each_space_is_its_roles_only(partners: Partners, who: str, url: str) -> None:
    sign_in(partners, who)
    assert partners.client.get(url, follow_redirects=False).status_code == 403


def test_a_campaign_list_outside_the_institutes_schemes_is_not_found(partners: Partners) -> None:
    p = partners
    sign_in(p, "ifas")
    assert p.client.get("/espace-institut/campagnes/987654/liste.docx").status_code == 404
    assert p.client.get(f"/espace-institut/campagnes/{p.w.campaign}/liste.pdf").status_code == 422


# -- each action through its page --------------------------------------------------------------


def test_the_employer_lands_on_its_space_and_reads_the_letter(partners: Partners) -> None:
    p = partners
    case = applied(p, offer=0, letter="Je souhaite travailler en Lozère.")
    link = invitations.invite(p.w.uow(), p.users["emp0"], now=T0).link
    page = p.client.get(f"/connexion/lien/{token_of(link)}")
    done = p.client.post(f"/connexion/lien/{token_of(link)}", data={"csrf": csrf_of(page.text)},
                         follow_redirects=False)  # fmt: skip
    assert done.headers["location"] == "/espace-employeur"
    home = p.client.get("/espace-employeur").text
    assert "Apprenant0 Test" in home and "/mes-paiements" in home
    detail = p.client.get(f"/espace-employeur/candidatures/{case}").text
    assert "Je souhaite travailler en Lozère." in detail


def test_the_employer_interviews_selects_and_rejects_from_its_space(partners: Partners) -> None:
    p, w = partners, partners.w
    chosen, other = applied(p, offer=0, learner=0), applied(p, offer=0, learner=1)
    sign_in(p, "emp0")
    page = f"/espace-employeur/candidatures/{chosen}"
    status, _ = post(p, page, f"{page}/entretien", {"interview_date": "2029-12-03"})
    assert status == 303 and state(w, chosen) == State.INTERVIEWED
    status, _ = post(p, page, f"{page}/decision", {"decision": "select", "on": "2029-12-04"})
    assert status == 303 and state(w, chosen) == State.SELECTED
    assert [t for t, _ in events(w, chosen)] == ["open", "submit", "interview", "select"]
    assert events(w, chosen)[-1][1].endswith("(employeur)")
    # A rejection needs its reason: refused in French, nothing written.
    page = f"/espace-employeur/candidatures/{other}"
    before = snapshot(w)
    status, text = post(p, page, f"{page}/decision", {"decision": "reject", "reason": ""})
    assert status == 400 and "motif" in text.lower() and snapshot(w) == before
    status, _ = post(p, page, f"{page}/decision", {"decision": "reject", "reason": "Poste pourvu"})
    assert status == 303 and state(w, other) == State.REJECTED
    assert events(w, other)[-1][0] == "reject"


def test_an_interview_without_its_date_is_refused_in_french(partners: Partners) -> None:
    p, w = partners, partners.w
    case = applied(p, offer=0)
    sign_in(p, "emp0")
    page = f"/espace-employeur/candidatures/{case}"
    before = snapshot(w)
    status, text = post(p, page, f"{page}/entretien", {"interview_date": ""})
    assert status == 400 and "Indiquez la date de l&#39;entretien" in text
    assert "interview_date" not in text.split("<form")[0] and snapshot(w) == before


def test_the_employer_attests_service_from_its_space(partners: Partners) -> None:
    p, w = partners, partners.w
    case = in_training(p, 0, 0)
    fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    sign_in(p, "emp0")
    page = f"/espace-employeur/candidatures/{case}"
    assert "Attestation annuelle de service" in p.client.get(page).text
    status, _ = post(p, page, f"{page}/attestation", {"on": "2028-09-02"})
    assert status == 303 and events(w, case)[-1][0] == "attest_service"


def test_the_institute_starts_training_and_downloads_the_list(partners: Partners) -> None:
    p, w = partners, partners.w
    case = signed_case(w, learner=0, offer=0)
    sign_in(p, "ifas")
    page = f"/espace-institut/dossiers/{case}"
    status, _ = post(p, page, f"{page}/debut-formation", {"on": "2026-09-07"})
    assert status == 303 and state(w, case) == State.IN_TRAINING
    assert events(w, case)[-1] == ("start_training", "IFAS de Mende (institut de formation)")
    for fmt, magic in (("docx", b"PK"), ("xlsx", b"PK")):
        got = p.client.get(f"/espace-institut/campagnes/{w.campaign}/liste.{fmt}")
        assert got.status_code == 200 and got.content.startswith(magic)
        assert f".{fmt}" in got.headers["content-disposition"]


def test_the_institute_enters_a_cohorts_diplomas_in_one_form(partners: Partners) -> None:
    p, w = partners, partners.w
    first, second = in_training(p, 0, 0), in_training(p, 1, 1)
    with w.uow() as uow:
        campaign = uow.session.get_one(Case, first).campaign_id
    sign_in(p, "ifas")
    assert f"/espace-institut/diplomes/{campaign}" in p.client.get("/espace-institut").text
    url = f"/espace-institut/diplomes/{campaign}"
    status, _ = post(p, url, url, {
        "case": [str(first), str(second)],
        f"result-{first}": "obtained", f"diploma-{first}": "09/07/2027",
        f"start-{first}": "01/09/2027", f"part_time-{first}": "0,8",
        f"result-{second}": "",  # not known yet: left as it is
    })  # fmt: skip
    assert status == 303
    assert state(w, first) == State.SERVING and state(w, second) == State.IN_TRAINING
    assert events(w, first)[-1][0] == "start_service"
    with w.uow() as uow:
        moved = uow.session.get_one(Case, first)
        assert moved.diploma_date == D("2027-07-09") and moved.service_start == D("2027-09-01")
        assert str(moved.part_time_ratio) in ("0.8", "0.80", "0.800")


# -- the lists cost the same whatever their length ---------------------------------------------


def test_the_partners_lists_do_not_grow_with_the_rows(partners: Partners) -> None:
    p, w = partners, partners.w
    employer = p.employers[0]

    def queries() -> tuple[int, int, int]:
        with w.uow() as uow, counting(w.engine) as a:
            partner_spaces.employer_cases(uow.session, employer)
        with w.uow() as uow, counting(w.engine) as b:
            partner_spaces.institute_learners(uow.session, w.institute)
        with w.uow() as uow, counting(w.engine) as c:
            partner_spaces.cohort(uow.session, w.institute, w.campaign)
        return len(a), len(b), len(c)

    in_training(p, 0, 0)
    few = queries()
    in_training(p, 1, 1)
    applied(p, offer=0, learner=2)
    applied(p, offer=2, learner=2)
    assert queries() == few == (1, 1, 1)


# -- the employer's declarations and the application's attachments ----------------------------

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_the_employer_reads_and_downloads_the_applications_attachment(partners: Partners) -> None:
    p, w = partners, partners.w
    case = applied(p, offer=0)
    with w.uow() as uow:
        found = uow.session.get_one(Case, case)
        doc = attachments.store_attachment(
            uow.session, found, "learner_application", Attachment("cv.pdf", PDF), ".pdf",
            on=D("2029-12-01"), actor="apprenant (compte n° 1)",
        )  # fmt: skip
        uow.commit()
        doc_id = doc.id
    sign_in(p, "emp0")
    page = p.client.get(f"/espace-employeur/candidatures/{case}").text
    assert f"/documents/{doc_id}" in page
    assert p.client.get(f"/documents/{doc_id}").content == PDF
    sign_in(p, "emp1")  # another employer: the document does not exist
    assert p.client.get(f"/documents/{doc_id}").status_code == 404


def test_the_employer_declares_a_departure_and_the_region_decides(partners: Partners) -> None:
    p, w = partners, partners.w
    case = in_training(p, 0, 0)
    sign_in(p, "emp1")  # another employer first: the 404 of a missing case, nothing written
    csrf = csrf_of(p.client.get("/espace-employeur").text)
    answer = p.client.post(
        f"/espace-employeur/candidatures/{case}/declaration",
        data={"csrf": csrf, "kind": "departure", "on": "2029-11-30"},
    )
    assert answer.status_code == 404 and count(w, Declaration) == 0
    sign_in(p, "emp0")
    page = f"/espace-employeur/candidatures/{case}"
    form = p.client.get(page)
    assert "Déclarer un départ" in form.text
    # The form is in the page's body, once, and the page's title is a title.
    assert form.text.count("Déclarer un départ") == 1
    assert f"<title>Dossier {case} — Fidelis</title>" in form.text
    done = p.client.post(
        f"{page}/declaration",
        data={"csrf": csrf_of(form.text), "kind": "departure", "on": "2029-11-30",
              "category": "training_abandoned", "text": "Arrêt de la formation"},
        files={"proof": ("courrier.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303 and state(w, case) == State.IN_TRAINING  # the Région decides
    with w.uow() as uow:
        declared = uow.session.scalars(sa.select(Declaration)).one()
        assert (declared.kind, declared.party, declared.status) == ("departure", "employer",
                                                                    "pending")  # fmt: skip
        assert declared.document_id is not None
        ident = declared.id
    assert "en attente de décision" in p.client.get(page).text
    agent = accounts.Principal(p.users["ifas"], "Agent", "region", None, None)
    declarations.decide(w.uow(), agent, ident, accept=True)
    assert state(w, case) == State.BREACHED


def count(w: World, model: type[object]) -> int:
    with w.uow() as uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_a_contract_waiting_for_the_employers_e_signature_links_to_its_page(
    partners: Partners, monkeypatch: pytest.MonkeyPatch
) -> None:
    p, w = partners, partners.w
    monkeypatch.setenv("FIDELIS_SECRET_KEY", "clé-de-test-des-signatures")  # signs the links
    case = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    to_selected(w, case)
    contracts.generate_contract(w.uow(), case, tier="2x150", on=D("2026-06-20"), schemes=w.schemes)
    sign_in(p, "emp0")
    page = f"/espace-employeur/candidatures/{case}"
    assert "Signer le contrat en ligne" not in p.client.get(page).text
    with w.uow() as uow:  # the request esign.start makes for the employer (its PDF aside)
        doc = uow.session.scalars(sa.select(Document).where(Document.case_id == case)).first()
        assert doc is not None
        uow.session.add(
            EsignRequest(case_id=case, contract_id=doc.id, pdf_id=doc.id, party="employer",
                         document_sha256="0" * 64, position=2, signer_name="EHPAD 0",
                         email="direction0@exemple.fr")
        )  # fmt: skip
        uow.commit()
    assert "À signer en ligne" in p.client.get("/espace-employeur").text
    text = p.client.get(page).text
    found = re.search(r'href="[^"]*/signature/([^"]+)"', text)
    assert "Signer le contrat en ligne" in text and found is not None
    assert p.client.get(f"/signature/{found[1]}").status_code == 200


# -- the institute's declarations: an interruption, a diploma failed ---------------------------


def test_the_institute_declares_an_interruption_and_the_region_decides(
    partners: Partners,
) -> None:
    p, w = partners, partners.w
    case = in_training(p, 0, 0)
    sign_in(p, "ifsi")  # another institute: the 404 of a missing case, nothing written
    csrf = csrf_of(p.client.get("/espace-institut").text)
    answer = p.client.post(f"/espace-institut/dossiers/{case}/interruption",
                           data={"csrf": csrf, "on": "2029-11-30"})  # fmt: skip
    assert answer.status_code == 404 and count(w, Declaration) == 0
    sign_in(p, "ifas")
    page = f"/espace-institut/dossiers/{case}"
    form = p.client.get(page)
    assert "Déclarer une interruption de la formation" in form.text
    done = p.client.post(
        f"{page}/interruption",
        data={"csrf": csrf_of(form.text), "on": "2029-11-30", "text": "Abandon en novembre"},
        files={"proof": ("courrier.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert done.status_code == 303 and state(w, case) == State.IN_TRAINING  # the Région decides
    with w.uow() as uow:
        declared = uow.session.scalars(sa.select(Declaration)).one()
        assert (declared.party, declared.details["category"]) == ("institute", "training_abandoned")
        ident = declared.id
    assert "en attente de décision" in p.client.get(page).text
    agent = accounts.Principal(p.users["ifas"], "Agent", "region", None, None)
    declarations.decide(w.uow(), agent, ident, accept=True)
    assert state(w, case) == State.BREACHED


def test_a_diploma_failed_is_declared_in_the_same_all_or_nothing_form(partners: Partners) -> None:
    p, w = partners, partners.w
    first, second = in_training(p, 0, 0), in_training(p, 1, 1)
    with w.uow() as uow:
        campaign = uow.session.get_one(Case, first).campaign_id
    sign_in(p, "ifas")
    url = f"/espace-institut/diplomes/{campaign}"
    before = snapshot(w)
    # The failed line is fine, the obtained one is refused: neither is written.
    status, text = post(p, url, url, {
        "case": [str(first), str(second)],
        f"result-{first}": "failed", f"diploma-{first}": "2029-07-09",
        f"result-{second}": "obtained", f"diploma-{second}": "2029-07-09",
        f"start-{second}": "2029-07-01",
    })  # fmt: skip
    assert status == 400 and "Ligne 2 (Apprenant1 Test)" in text
    assert snapshot(w) == before and count(w, Declaration) == 0
    status, _ = post(p, url, url, {
        "case": [str(first), str(second)],
        f"result-{first}": "failed", f"diploma-{first}": "2029-07-09",
        f"result-{second}": "obtained", f"diploma-{second}": "2029-07-09",
        f"start-{second}": "2029-09-01",
    })  # fmt: skip
    assert status == 303
    assert state(w, first) == State.IN_TRAINING and state(w, second) == State.SERVING
    with w.uow() as uow:
        declared = uow.session.scalars(sa.select(Declaration)).one()
        assert (declared.case_id, declared.party, declared.details["category"]) == (
            first, "institute", "diploma_failed",
        )  # fmt: skip
