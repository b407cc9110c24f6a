"""A party's declarations (workflow.declarations, issue 15), on SQLite and PostgreSQL: first what
must be refused — another learner's case, a kind that is not the party's, bad dates and ratios,
an agent's second decision, a refusal of the action's guards — with nothing written; then a
suspension, a working-time change, a departure and a payment plan declared, queued in « À
traiter », accepted (the matching action fired with the declared date) or rejected with a
reason, and the declarant told by e-mail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from jobs.outbox import render
from tests.conftest import World
from tests.integration.test_case_service import D, fire, signed_case
from workflow import accounts, declarations, queue
from workflow.accounts import Principal
from workflow.errors import FidelisError, GuardFailed, InvalidInput, NotFound
from workflow.models import (
    Case,
    CaseEvent,
    Debt,
    Declaration,
    Document,
    Offer,
    OutboxMessage,
    Suspension,
    User,
    WorkingTime,
)
from workflow.states import State
from workflow.threads import Attachment

PDF = b"%PDF-1.4\n% a tiny proof\n"
TODAY = date(2027, 10, 1)


def clock() -> date:
    return TODAY


@dataclass
class Parties:
    w: World
    case: int
    lea: Principal
    max: Principal
    employer: Principal
    other_employer: Principal
    agent: Principal


def principal(w: World, **kw: Any) -> Principal:
    password = "correct horse battery" if kw["role"] == "region" else None
    ident, _ = accounts.add_user(w.uow(), password=password, name=kw.pop("name", None), **kw)
    with w.uow() as uow:
        return Principal.of(uow.session.get_one(User, ident))


@pytest.fixture
def parties(world: World) -> Parties:
    """A serving case of learner 0 at the first employer; accounts for both learners, both
    employers and an agent."""
    w = world
    case = signed_case(w)
    fire(w, case, "start_training", "2026-09-07")
    fire(w, case, "start_service", "2027-09-01", params={"diploma_date": "2027-07-09"})
    with w.uow() as uow:
        employers = [uow.session.get_one(Offer, o).employer_id for o in w.offers[:2]]
    return Parties(
        w,
        case,
        principal(w, email="lea@exemple.fr", role="learner", learner_id=w.learners[0]),
        principal(w, email="max@exemple.fr", role="learner", learner_id=w.learners[1]),
        principal(w, email="dir@exemple.fr", role="employer", employer_id=employers[0]),
        principal(w, email="autre@exemple.fr", role="employer", employer_id=employers[1]),
        principal(w, email="agent@exemple.fr", name="Agent", role="region"),
    )


def rows(w: World) -> dict[str, int]:
    """How many rows of what a declaration may write: to prove a refusal wrote nothing."""
    with w.uow() as uow:
        s = uow.session
        return {
            m.__tablename__: int(s.scalar(sa.select(sa.func.count()).select_from(m)) or 0)
            for m in (Declaration, Document, CaseEvent, Suspension, WorkingTime, OutboxMessage)
        }


def refused(p: Parties, error: type[FidelisError], call: Callable[[], object]) -> str:
    before = rows(p.w)
    with pytest.raises(error) as caught:
        call()
    assert rows(p.w) == before
    return str(caught.value)


def declare(p: Parties, who: Principal, kind: str, on: str = "2027-10-01", **kw: Any) -> int:
    return declarations.declare(p.w.uow(), who, p.case, kind, D(on), clock=clock, **kw)


# -- hostile first -----------------------------------------------------------------------------


def test_another_learners_or_employers_case_is_not_found(parties: Parties) -> None:
    p = parties
    details = {"reason": "maternity"}
    refused(p, NotFound, lambda: declare(p, p.max, "suspension", details=details))
    refused(p, NotFound, lambda: declare(p, p.other_employer, "departure"))
    ident = declare(p, p.lea, "suspension", details=details)
    with p.w.uow() as uow:  # neither sees the other's declarations
        assert declarations.of_case(uow.session, p.employer, p.case) == []
        assert [d["id"] for d in declarations.of_case(uow.session, p.lea, p.case)] == [ident]
    # Only the Région decides; anyone else gets the 404 of a missing declaration.
    for who in (p.lea, p.employer):
        refused(
            p,
            NotFound,
            lambda who=who: declarations.decide(p.w.uow(), who, ident, accept=True, clock=clock),
        )


def test_bad_inputs_are_refused_in_french_and_write_nothing(parties: Parties) -> None:
    p = parties
    said = refused(p, InvalidInput, lambda: declare(p, p.employer, "payment_plan"))
    assert "Choisissez ce que vous déclarez" in said
    said = refused(p, InvalidInput, lambda: declare(p, p.agent, "suspension"))
    assert "Seuls l'apprenant et l'employeur" in said
    said = refused(
        p, InvalidInput, lambda: declare(p, p.lea, "suspension", details={"reason": "vacances"})
    )
    assert "motif de la suspension" in said
    said = refused(
        p,
        InvalidInput,
        lambda: declare(
            p, p.lea, "suspension", details={"reason": "maternity", "end": "2027-09-01"}
        ),
    )
    assert "précède son début" in said
    said = refused(
        p, InvalidInput, lambda: declare(p, p.employer, "working_time", details={"part_time": "3"})
    )
    assert "quotité" in said.lower() or "entre" in said
    said = refused(p, InvalidInput, lambda: declare(p, p.lea, "departure", on="2030-01-01"))
    assert "plus d'un an" in said
    said = refused(
        p,
        InvalidInput,
        lambda: declare(p, p.lea, "departure", proof=Attachment("a.exe", b"MZ\x90\x00")),
    )
    assert "ni un PDF ni une image" in said
    said = refused(p, InvalidInput, lambda: declare(p, p.lea, "departure", text="x" * 30_000))
    assert "L'explication dépasse" in said
    refused(
        p,
        NotFound,
        lambda: declare(p, p.lea, "payment_plan", details={"debt": "999", "instalments": "3"}),
    )


def test_a_second_decision_and_a_guard_refusal_change_nothing(parties: Parties) -> None:
    p = parties
    # A suspension declared before service started: the guards refuse it at acceptance.
    early = declare(p, p.lea, "suspension", on="2027-08-01", details={"reason": "maternity"})
    refused(
        p,
        GuardFailed,
        lambda: declarations.decide(p.w.uow(), p.agent, early, accept=True, clock=clock),
    )
    with p.w.uow() as uow:
        assert uow.session.get_one(Declaration, early).status == "pending"
    said = refused(
        p, InvalidInput, lambda: declarations.decide(p.w.uow(), p.agent, early, accept=False)
    )
    assert "motif du refus est obligatoire" in said
    declarations.decide(p.w.uow(), p.agent, early, accept=False, reason="Avant le service.")
    said = refused(
        p,
        InvalidInput,
        lambda: declarations.decide(p.w.uow(), p.agent, early, accept=True, clock=clock),
    )
    assert "déjà refusée" in said
    # One pending declaration of a kind at a time.
    declare(p, p.lea, "departure")
    said = refused(p, InvalidInput, lambda: declare(p, p.lea, "departure"))
    assert "attend déjà" in said


# -- the declarations decided --------------------------------------------------------------------


def test_a_suspension_declared_with_a_proof_is_queued_then_accepted(parties: Parties) -> None:
    p = parties
    ident = declare(
        p,
        p.lea,
        "suspension",
        details={"reason": "maternity", "end": "2028-01-31"},
        text="Congé maternité.",
        proof=Attachment("certificat.pdf", PDF),
    )
    with p.w.uow() as uow:
        s = uow.session
        todo = queue.to_do(s, today=TODAY)
        assert ("declaration", p.case) in {(r["reason"], r["case_id"]) for r in todo["rows"]}
        shown = declarations.of_case(s, p.agent, p.case)[0]
        assert shown["text"] == "Congé maternité." and shown["proof"] is not None
        assert shown["status"] == "pending"
        assert s.get_one(Document, shown["proof"]["id"]).kind == "learner_proof"
    said = declarations.decide(p.w.uow(), p.agent, ident, accept=True, clock=clock)
    assert "acceptée" in said
    with p.w.uow() as uow:
        s = uow.session
        suspension = s.scalars(sa.select(Suspension).where(Suspension.case_id == p.case)).one()
        assert (suspension.start, suspension.end, suspension.reason) == (
            D("2027-10-01"),
            D("2028-01-31"),
            "maternity",
        )
        assert s.get_one(Declaration, ident).status == "accepted"
        todo = queue.to_do(s, today=TODAY)
        assert "declaration" not in {r["reason"] for r in todo["rows"]}
        mail = s.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.kind == declarations.NOTIFICATION)
        ).one()
        assert mail.recipient == "lea@exemple.fr"
        email = render(s, mail, p.w.schemes)
        assert "accepté" in email.text and "/mon-espace/dossiers/" in email.text


def test_an_employers_working_time_change_and_departure(parties: Parties) -> None:
    p = parties
    change = declare(p, p.employer, "working_time", details={"part_time": "0,8"})
    declarations.decide(p.w.uow(), p.agent, change, accept=True, clock=clock)
    with p.w.uow() as uow:
        times = uow.session.scalars(sa.select(WorkingTime).where(WorkingTime.case_id == p.case))
        assert [(t.start, str(t.ratio)) for t in times] == [(D("2027-10-01"), "0.800")]
    gone = declare(p, p.employer, "departure", on="2027-11-15")
    said = refused(
        p,
        InvalidInput,
        lambda: declarations.decide(p.w.uow(), p.agent, gone, accept=True, clock=clock),
    )
    assert "motif de la rupture" in said
    declarations.decide(
        p.w.uow(), p.agent, gone, accept=True, params={"category": "resignation"}, clock=clock
    )
    with p.w.uow() as uow:
        case = uow.session.get_one(Case, p.case)
        assert case.state == State.BREACHED and case.breach_date == D("2027-11-15")
        mail = uow.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.kind == declarations.NOTIFICATION)
        ).all()
        assert [m.recipient for m in mail] == ["dir@exemple.fr", "dir@exemple.fr"]
        debt_id = uow.session.scalar(sa.select(sa.func.min(Debt.id)).where(Debt.case_id == p.case))
        assert debt_id is not None
    # The learner asks for a payment plan of the breach's debt; the Région rejects it.
    plan = declare(
        p,
        p.lea,
        "payment_plan",
        on="2027-12-01",
        details={"debt": str(debt_id), "instalments": "6"},
    )
    declarations.decide(p.w.uow(), p.agent, plan, accept=False, reason="Montant trop faible.")
    with p.w.uow() as uow:
        row = declarations.of_case(uow.session, p.lea, p.case)[0]
        assert row["status"] == "rejected" and row["decision_reason"] == "Montant trop faible."
        mail = uow.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.kind == declarations.NOTIFICATION)
            .order_by(OutboxMessage.id.desc())
        ).first()
        assert mail is not None and "refusé" in render(uow.session, mail, p.w.schemes).text
    again = declare(
        p,
        p.lea,
        "payment_plan",
        on="2027-12-01",
        details={"debt": str(debt_id), "instalments": "6"},
    )
    declarations.decide(p.w.uow(), p.agent, again, accept=True, clock=clock)
    with p.w.uow() as uow:
        assert uow.session.get_one(Debt, debt_id).plan_status == "active"
