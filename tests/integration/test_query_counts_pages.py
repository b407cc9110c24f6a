"""No N+1 on the pages of issue 15: « À traiter », « Mes dossiers », the learner's home, offers
and case page, a case page with a long thread and many notes, the debts (`/dettes`,
`/mes-dettes`), an employer's payments and the outbox issue as many statements with five times
the rows as with a few. Each page is requested through the web application, so what its template
reads lazily counts too."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import IBAN, RURAL_OCCITANIE, SCHEME, World
from tests.integration.test_case_service import D, signed_case, to_selected
from tests.integration.test_debts import breached
from tests.integration.test_web import PASSWORD
from workflow import accounts, cases, debts, directory, queue, spaces, threads
from workflow.accounts import Principal
from workflow.models import Case, Debt, Offer, OutboxMessage, Payment, User
from workflow.web import create_app

FEW, MANY = 2, 10  # rows per list before and after growing


@dataclass
class Pages:
    w: World
    client: TestClient
    users: dict[str, int]
    employer: int  # the employer account's employer (w.offers[0]'s)
    offer: int = 0  # an offer with room for every selection of a test

    def sign_in(self, who: str) -> None:
        self.client.cookies.clear()
        page = self.client.get("/connexion")
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        done = self.client.post("/connexion", data={"email": f"{who}@exemple.fr",
                                                    "password": PASSWORD, "csrf": csrf},
                                follow_redirects=False)  # fmt: skip
        assert done.status_code == 303, done.text

    def principal(self, who: str) -> Principal:
        with self.w.uow() as uow:
            return Principal.of(uow.session.get_one(User, self.users[who]))

    def statements(self, path: str) -> int:
        """The statements the request for `path` issues, whatever engine runs them."""
        found: list[str] = []

        def count(conn: object, cursor: object, statement: str, *args: object) -> None:
            found.append(statement)

        sa.event.listen(sa.Engine, "before_cursor_execute", count)
        try:
            page = self.client.get(path)
        finally:
            sa.event.remove(sa.Engine, "before_cursor_execute", count)
        assert page.status_code == 200, (path, page.status_code)
        return len(found)


@pytest.fixture
def pages(world: World, db_url: str) -> Iterator[Pages]:
    w = world
    with w.uow() as uow:
        employer = uow.session.scalar(sa.select(Offer.employer_id).where(Offer.id == w.offers[0]))
    assert employer is not None
    users = {
        who: accounts.add_user(
            w.uow(), email=f"{who}@exemple.fr", name=None if who == "lea" else who.capitalize(),
            role=role, password=PASSWORD, **ids,
        )[0]
        for who, role, ids in (
            ("region", "region", {}),
            ("lea", "learner", {"learner_id": w.learners[0]}),
            ("employer", "employer", {"employer_id": employer}),
        )
    }  # fmt: skip
    with TestClient(create_app(db_url, secret_key="test")) as client:
        yield Pages(w, client, users, employer)


def new_learner(w: World, i: int) -> int:
    return directory.add_learner(
        w.uow(), first_name=f"Élève{i}", last_name="Test", birth_date=date(2003, 1, 1),
        email=f"e{i}@exemple.fr", institute_id=w.institute, training_start=date(2026, 9, 7),
        training_end=date(2027, 7, 2), iban=IBAN, today=date(2026, 6, 1),
    )  # fmt: skip


def new_offer(w: World, i: int, places: int = 5) -> int:
    from bench.synthetic import _siret

    employer = directory.add_employer(
        w.uow(), name=f"EHPAD bis {i}", siret=_siret(900 + i), commune=RURAL_OCCITANIE[i % 3],
        sector="elderly", recruitment_difficulty=True, email=f"bis{i}@exemple.fr",
    )  # fmt: skip
    return directory.list_employer(
        w.uow(),
        campaign_id=w.campaign,
        employer_id=employer,
        places=places,
        scheme_registry=w.schemes,
    )


def party(w: World, learner: int) -> Principal:
    """The learner's own account (created on first use), to write in their thread."""
    with w.uow() as uow:
        user = uow.session.scalar(sa.select(User).where(User.learner_id == learner))
        if user is not None:
            return Principal.of(user)
    ident, _ = accounts.add_user(w.uow(), email=f"compte{learner}@exemple.fr", name=None,
                                 role="learner", password=None, learner_id=learner)  # fmt: skip
    with w.uow() as uow:
        return Principal.of(uow.session.get_one(User, ident))


def cases_of_new_learners(w: World, start: int, stop: int, offer: int) -> list[int]:
    return [
        cases.open_case(w.uow(), offer, new_learner(w, i), on=D("2026-05-30"))
        for i in range(start, stop)
    ]


# -- the queue ---------------------------------------------------------------------------------


def grow_queue(p: Pages, start: int, stop: int) -> None:
    """Selections without contract assigned to the agent, each with a learner's message waiting
    for an answer, and an overdue debt: three of the queue's reasons per case."""
    w = p.w
    ids = cases_of_new_learners(w, start, stop, p.offer)
    for case in ids:
        to_selected(w, case)
        with w.uow() as uow:
            learner = uow.session.get_one(Case, case).learner_id
            uow.session.add(Debt(case_id=case, scheme_id=SCHEME, funder="region", kind="breach",
                                 number=f"T-{case}", amount=Decimal(100), opened_on=D("2026-06-12"),
                                 due_date=D("2026-07-12")))  # fmt: skip
            uow.commit()
        threads.post_message(w.uow(), case, p.principal("region"), "Bonjour", thread="learner")
        threads.post_message(w.uow(), case, party(w, learner), "Une question", thread="learner")
    queue.assign(w.uow(), ids, p.users["region"], actor="test")


def test_the_queue_pages_do_not_grow_with_the_cases(pages: Pages) -> None:
    p = pages
    p.offer = new_offer(p.w, 0, places=MANY)
    grow_queue(p, 0, FEW)
    p.sign_in("region")
    few = {path: p.statements(path) for path in ("/a-traiter", "/mes-dossiers")}
    grow_queue(p, FEW, MANY)
    page = p.client.get("/mes-dossiers").text
    assert page.count("Dette échue impayée") >= MANY  # the rows are there
    assert {path: p.statements(path) for path in few} == few


# -- the learner's pages -----------------------------------------------------------------------


def test_the_learners_home_and_offers_do_not_grow_with_applications(pages: Pages) -> None:
    p = pages
    w = p.w
    offers = [new_offer(w, i) for i in range(MANY)]
    spaces.apply(w.uow(), w.learners[0], offers[:FEW], actor="lea", on=D("2026-06-01"))
    p.sign_in("lea")
    paths = ("/mon-espace", f"/mon-espace/offres?campagne={w.campaign}")
    few = {path: p.statements(path) for path in paths}
    spaces.apply(w.uow(), w.learners[0], offers[FEW:], actor="lea", on=D("2026-06-01"))
    assert p.client.get("/mon-espace").text.count("EHPAD bis") == MANY
    assert {path: p.statements(path) for path in paths} == few


def thread_and_notes(p: Pages, case: int, n: int) -> None:
    """`n` messages each way on the learner's thread, `n` on the employer's, `n` notes."""
    w = p.w
    with w.uow() as uow:
        learner = uow.session.get_one(Case, case).learner_id
    them = party(w, learner)
    for i in range(n):
        threads.post_message(w.uow(), case, p.principal("region"), f"Q{i}", thread="learner")
        threads.post_message(w.uow(), case, them, f"R{i}", thread="learner")
        threads.post_message(w.uow(), case, p.principal("region"), f"E{i}", thread="employer")
        cases.add_note(w.uow(), case, f"Note {i}", actor="test", schemes=w.schemes)


def test_the_case_pages_do_not_grow_with_the_thread_notes_and_payments(pages: Pages) -> None:
    from jobs.nightly import run_nightly

    p = pages
    w = p.w
    case = signed_case(w)  # the learner lea's, on the employer's offer
    thread_and_notes(p, case, FEW)
    run_nightly(w.engine, D("2026-10-10"), schemes=w.schemes, send_mail=False)
    p.sign_in("region")
    region = p.statements(f"/dossiers/{case}")
    p.sign_in("lea")
    learner = p.statements(f"/mon-espace/dossiers/{case}")
    thread_and_notes(p, case, MANY - FEW)
    run_nightly(w.engine, D("2027-06-10"), schemes=w.schemes, send_mail=False)
    assert p.client.get(f"/mon-espace/dossiers/{case}").status_code == 200
    assert p.statements(f"/mon-espace/dossiers/{case}") == learner
    p.sign_in("region")
    page = p.client.get(f"/dossiers/{case}").text
    assert page.count("Note ") >= MANY and page.count(f"R{MANY - FEW - 1}") >= 1
    assert p.statements(f"/dossiers/{case}") == region


def test_a_case_page_does_not_grow_with_its_debts_payment_plans(pages: Pages) -> None:
    p = pages
    w = p.w
    case = breached(w)
    with w.uow() as uow:
        owed = [d["id"] for d in debts.debt_rows(uow.session, case_id=case)]
    assert len(owed) >= 2
    debts.plan(w.uow(), owed[0], instalments=3, first=D("2027-01-05"), actor="test")
    p.sign_in("region")
    one_plan = p.statements(f"/dossiers/{case}")
    debts.plan(w.uow(), owed[1], instalments=12, first=D("2027-01-05"), actor="test")
    assert p.statements(f"/dossiers/{case}") == one_plan


# -- debts, payments, outbox -------------------------------------------------------------------


def grow_money(p: Pages, start: int, stop: int) -> None:
    """Per new case on the employer's offer: a debt to the employer and one to the Région, two
    allowance shares of the employer, an e-mail in the outbox."""
    w = p.w
    for case in cases_of_new_learners(w, start, stop, w.offers[0]):
        with w.uow() as uow:
            s = uow.session
            for funder in ("employer", "region"):
                s.add(Debt(case_id=case, scheme_id=SCHEME, funder=funder, kind="breach",
                           number=f"T-{case}-{funder}", amount=Decimal(100),
                           opened_on=D("2026-11-01"), due_date=D("2026-12-01")))  # fmt: skip
            for month in (9, 10):
                s.add(Payment(case_id=case, period=date(2026, month, 1), funder="employer",
                              amount=Decimal(150), due_date=date(2026, month, 10)))  # fmt: skip
            s.add(OutboxMessage(dedup_key=f"test:{case}", case_id=case, kind="case_message",
                                due_date=D("2026-10-01"), recipient="x@exemple.fr",
                                context={}))  # fmt: skip
            uow.commit()


def test_the_debts_payments_and_outbox_lists_do_not_grow_with_the_rows(pages: Pages) -> None:
    p = pages
    grow_money(p, 0, FEW)
    p.sign_in("region")
    staff = {path: p.statements(path) for path in ("/dettes", "/courriels")}
    p.sign_in("employer")
    employer = {path: p.statements(path) for path in ("/mes-dettes", "/mes-paiements")}
    grow_money(p, FEW, MANY)
    assert p.client.get("/mes-dettes").text.count("T-") >= MANY
    assert {path: p.statements(path) for path in employer} == employer
    p.sign_in("region")
    assert p.client.get("/dettes").text.count("T-") >= 2 * MANY
    assert {path: p.statements(path) for path in staff} == staff
