"""The learner's own case page and forms (issue 15, item 1), on SQLite and PostgreSQL: first
what another learner, an employer or an institute must never reach — another's case forms,
another's pieces (404, nothing written); then an application with attachments the employer
reads, the IBAN with its RIB (sealed, checked as `learner update` does), the learner's thread
with the Région and its e-mail, a declaration decided from the case page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from jobs.outbox import render
from tests.integration.test_case_service import D, fire, signed_case
from tests.integration.test_spaces import (
    PASSWORD,
    Space,
    apply_on_page,
    count,
    csrf_of,
    sign_in,
)
from tests.integration.test_spaces import space as space  # the fixture
from workflow import accounts, cases, declarations, queue
from workflow.models import (
    Case,
    CaseMessage,
    Declaration,
    Document,
    Learner,
    Offer,
    OutboxMessage,
)

PDF = b"%PDF-1.4\n% a tiny piece\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
IBAN = "FR7630006000011234567890189"
OTHER_IBAN = "FR1420041010050500013M02606"


def client_of(sp: Space, email: str) -> TestClient:
    """Another browser, signed in with a password."""
    other = TestClient(sp.client.app)
    page = other.get("/connexion")
    done = other.post(
        "/connexion",
        data={"email": email, "password": PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return other


@pytest.fixture
def employer(space: Space) -> Iterator[TestClient]:
    """The first offer's employer, signed in in its own browser."""
    w = space.w
    with w.uow() as uow:
        employer_id = uow.session.get_one(Offer, w.offers[0]).employer_id
    accounts.add_user(
        w.uow(), email="dir@exemple.fr", name="Directrice", role="employer",
        password=PASSWORD, employer_id=employer_id,
    )  # fmt: skip
    with client_of(space, "dir@exemple.fr") as c:
        yield c


def post_form(
    sp: Space, case: int, path: str, data: dict[str, str], files: object = None
) -> tuple[int, str]:
    page = sp.client.get(f"/mon-espace/dossiers/{case}")
    token = (
        csrf_of(page.text)
        if page.status_code == 200
        else csrf_of(sp.client.get("/mon-espace").text)
    )
    done = sp.client.post(
        f"/mon-espace/dossiers/{case}/{path}",
        data={"csrf": token, **data},
        files=files,  # type: ignore[arg-type]
        follow_redirects=False,
    )
    return done.status_code, done.text


def documents(sp: Space) -> int:
    return count(sp.w, Document)


# -- hostile first -----------------------------------------------------------------------------


def test_another_learners_case_forms_and_pieces_are_not_found(space: Space) -> None:
    sp, w = space, space.w
    theirs = cases.open_case(w.uow(), w.offers[0], w.learners[1], on=D("2026-05-30"))
    sign_in(sp, "lea")
    before = (documents(sp), count(w, CaseMessage), count(w, Declaration))
    for path, data, files in (
        ("pieces", {"kind": "learner_rib"}, {"file": ("rib.pdf", PDF, "application/pdf")}),
        ("rib", {"iban": IBAN}, {"file": ("rib.pdf", PDF, "application/pdf")}),
        ("messages", {"body": "Bonjour"}, None),
        ("declarations", {"kind": "departure", "on": "2029-12-01"}, None),
        ("declarations", {"kind": "nonsense", "on": "x"}, None),  # refused input, still 404
    ):
        status, _ = post_form(sp, theirs, path, data, files)
        assert status == 404, path
    assert (documents(sp), count(w, CaseMessage), count(w, Declaration)) == before


def test_a_learners_pieces_are_theirs_and_the_regions_only(
    space: Space, employer: TestClient
) -> None:
    sp, w = space, space.w
    mine = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    sign_in(sp, "lea")
    status, _ = post_form(
        sp, mine, "pieces", {"kind": "learner_identity"},
        {"file": ("carte.png", PNG, "image/png")},
    )  # fmt: skip
    assert status == 303
    with w.uow() as uow:
        piece = uow.session.scalars(
            sa.select(Document.id).where(Document.kind == "learner_identity")
        ).one()
    assert sp.client.get(f"/mon-espace/documents/{piece}").content == PNG
    assert employer.get(f"/documents/{piece}").status_code == 404  # its case, not its piece
    assert f"/documents/{piece}" not in employer.get(f"/dossiers/{mine}").text
    sp.client.cookies.clear()
    sign_in(sp, "max")
    assert sp.client.get(f"/mon-espace/documents/{piece}").status_code == 404
    agent = client_of(sp, "region@exemple.fr")
    assert agent.get(f"/documents/{piece}").content == PNG
    assert "Pièce d&#39;identité" in agent.get(f"/dossiers/{mine}").text


def test_bad_files_and_ibans_are_refused_in_french_and_write_nothing(space: Space) -> None:
    sp, w = space, space.w
    mine = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    sign_in(sp, "lea")
    before = documents(sp)
    status, text = post_form(
        sp, mine, "pieces", {"kind": "learner_rib"}, {"file": ("x.exe", b"MZ\x90", "x")}
    )
    assert status == 400 and "ni un PDF ni une image" in text
    status, text = post_form(
        sp, mine, "pieces", {"kind": "contract"}, {"file": ("a.pdf", PDF, "application/pdf")}
    )
    assert status == 400 and "Choisissez le type de pièce" in text
    status, text = post_form(
        sp, mine, "rib", {"iban": "FR76 0000 0000"}, {"file": ("a.pdf", PDF, "application/pdf")}
    )
    assert status == 400 and "IBAN" in text
    status, text = post_form(sp, mine, "rib", {"iban": IBAN})
    assert status == 400 and "Joignez le RIB" in text
    big = b"%PDF-" + b"0" * (10 * 1024 * 1024)
    status, text = post_form(
        sp, mine, "messages", {"body": "Voici"}, {"file": ("gros.pdf", big, "application/pdf")}
    )
    assert status == 400 and "dépasse 10 Mo" in text
    assert documents(sp) == before and count(w, CaseMessage) == 0
    status, _ = apply_on_page(sp, [w.offers[1]], "Bonjour")  # sanity: the form still works
    assert status == 303


# -- what the learner does -----------------------------------------------------------------------


def test_an_application_with_attachments_reaches_the_employer(
    space: Space, employer: TestClient
) -> None:
    sp, w = space, space.w
    sign_in(sp, "lea")
    page = sp.client.get(f"/mon-espace/offres?campagne={w.campaign}")
    done = sp.client.post(
        "/mon-espace/candidatures",
        data={"csrf": csrf_of(page.text), "campaign": str(w.campaign),
              "offer": [str(w.offers[0]), str(w.offers[1])], "letter": "Motivée."},
        files=[("file", ("cv.pdf", PDF, "application/pdf")),
               ("file", ("diplome.png", PNG, "image/png"))],
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303, done.text
    with w.uow() as uow:
        rows = uow.session.execute(
            sa.select(Document.id, Document.case_id, Offer.id)
            .join(Case, Case.id == Document.case_id)
            .join(Offer, Offer.id == Case.offer_id)
            .where(Document.kind == "learner_application")
        ).all()
    assert len(rows) == 4  # both files on both cases
    at_employer = [d for d, _, o in rows if o == w.offers[0]]
    elsewhere = [d for d, _, o in rows if o != w.offers[0]]
    for doc in at_employer:
        assert employer.get(f"/documents/{doc}").status_code == 200
    for doc in elsewhere:
        assert employer.get(f"/documents/{doc}").status_code == 404  # another employer's case
    # A file that is no PDF nor image refuses the whole application: nothing written.
    before = (count(w, Case), documents(sp))
    page = sp.client.get(f"/mon-espace/offres?campagne={w.campaign}")
    refused = sp.client.post(
        "/mon-espace/candidatures",
        data={"csrf": csrf_of(page.text), "campaign": str(w.campaign),
              "offer": [str(w.offers[2])], "letter": "x"},
        files=[("file", ("virus.exe", b"MZ\x90", "application/octet-stream"))],
    )  # fmt: skip
    assert refused.status_code == 400 and "ni un PDF ni une image" in refused.text
    assert (count(w, Case), documents(sp)) == before


def test_the_iban_with_its_rib_invalidates_a_contract_not_yet_in_force(space: Space) -> None:
    sp, w = space, space.w
    mine = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    fire(w, mine, "submit", "2026-06-01")
    fire(w, mine, "interview", "2026-06-10", params={"interview_date": "2026-06-09"})
    fire(w, mine, "select", "2026-06-12")
    from workflow import contracts

    contracts.generate_contract(w.uow(), mine, tier="2x150", on=D("2026-06-20"), schemes=w.schemes)
    sign_in(sp, "lea")
    status, _ = post_form(
        sp, mine, "rib", {"iban": OTHER_IBAN}, {"file": ("rib.pdf", PDF, "application/pdf")}
    )
    assert status == 303
    page = sp.client.get(f"/mon-espace/dossiers/{mine}").text
    assert "invalidé" in page and "FR14 **** **** " in page
    with w.uow() as uow:
        learner = uow.session.get_one(Learner, w.learners[0])
        assert learner.iban is not None and learner.iban.reveal() == OTHER_IBAN
        statuses = uow.session.scalars(
            sa.select(Document.status).where(Document.case_id == mine, Document.kind == "contract")
        ).all()
        assert statuses == ["invalidated"]
        assert uow.session.scalars(
            sa.select(Document.kind).where(Document.kind == "learner_rib")
        ).all() == ["learner_rib"]


def test_the_learner_and_the_region_talk_with_an_email_each_way(space: Space) -> None:
    sp, w = space, space.w
    mine = cases.open_case(w.uow(), w.offers[0], w.learners[0], on=D("2026-05-30"))
    agent_id = sp.users["region"]
    queue.assign(w.uow(), [mine], agent_id, actor="test")
    sign_in(sp, "lea")
    status, _ = post_form(
        sp, mine, "messages", {"body": "Voici mon RIB."},
        {"file": ("rib.pdf", PDF, "application/pdf")},
    )  # fmt: skip
    assert status == 303
    agent = client_of(sp, "region@exemple.fr")
    page = agent.get(f"/dossiers/{mine}")
    assert "Voici mon RIB." in page.text
    answer = agent.post(
        f"/dossiers/{mine}/messages",
        data={"csrf": csrf_of(page.text), "thread": "learner", "body": "Bien reçu."},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    mine_page = sp.client.get(f"/mon-espace/dossiers/{mine}").text
    assert "Voici mon RIB." in mine_page and "Bien reçu." in mine_page
    with w.uow() as uow:
        s = uow.session
        mails = s.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.kind == "case_message")
            .order_by(OutboxMessage.id)
        ).all()
        assert [m.recipient for m in mails] == ["region@exemple.fr", "a0@exemple.fr"]
        to_learner = render(s, mails[1], w.schemes)
        assert f"/mon-espace/dossiers/{mine}#messages" in to_learner.text
        assert "Bien reçu" not in to_learner.text  # the text stays on the page
        assert f"/dossiers/{mine}#messages" in render(s, mails[0], w.schemes).text


def test_a_departure_declared_on_the_page_is_accepted_from_the_case_page(space: Space) -> None:
    sp, w = space, space.w
    mine = signed_case(w)
    sign_in(sp, "lea")
    status, _ = post_form(
        sp, mine, "declarations",
        {"kind": "departure", "on": "2029-11-15", "category": "resignation",
         "text": "Je déménage."},
        {"file": ("preuve.pdf", PDF, "application/pdf")},
    )  # fmt: skip
    assert status == 303
    assert "en attente de décision" in sp.client.get(f"/mon-espace/dossiers/{mine}").text
    agent = client_of(sp, "region@exemple.fr")
    todo = agent.get("/a-traiter").text
    assert "Déclaration à décider" in todo
    page = agent.get(f"/dossiers/{mine}").text
    assert "Je déménage." in page
    ident = int(re.findall(r"/declarations/(\d+)/decision", page)[0])
    done = agent.post(
        f"/declarations/{ident}/decision",
        data={"csrf": csrf_of(page), "decision": "accept", "category": "resignation",
              "confirm": "on"},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303, done.text
    with w.uow() as uow:
        case = uow.session.get_one(Case, mine)
        assert case.breach_date == D("2029-11-15")
        assert uow.session.get_one(Declaration, ident).status == "accepted"
    mine_page = sp.client.get(f"/mon-espace/dossiers/{mine}").text
    assert "acceptée" in mine_page and "Rembourser" in mine_page
    # The learner may not decide, even by posting the agents' form.
    assert declarations.KIND_LABELS["departure"] in mine_page
    learner_post = sp.client.post(
        f"/declarations/{ident}/decision", data={"csrf": csrf_of(mine_page), "decision": "reject"}
    )
    assert learner_post.status_code == 403
