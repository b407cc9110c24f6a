"""The nightly payments step computes the allowance schedules in SQL (jobs.schedule_sql). Its
reference is `workflow.ledger.allowance_schedule` (over `workflow.money`): on SQLite and on
PostgreSQL, for hundreds of random cases of two schemes (calendar-day proration paid on the 10th,
whole months paid on the 5th), run night after night, the payments written are exactly the
instalments fallen due, cent for cent, and `next_payment_due` ends empty."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from jobs.schedule_sql import insert_due_payments
from tests.conftest import ARS, SCHEME, World
from workflow import ledger
from workflow.models import Campaign, Case, Learner, Offer, Payment
from workflow.states import State


def _random_cases(w: World, n: int, seed: int) -> None:
    """`n` signed cases with random training dates, contract dates, tiers and early ends."""
    rng = random.Random(seed)
    with Session(w.engine) as s:
        offer = s.get(Offer, w.offers[0])
        assert offer is not None
        ars_campaign = Campaign(scheme_id=ARS, year=2026, is_open=True)
        s.add(ars_campaign)
        s.flush()
        for i in range(n):
            start = date(2025, 1, 1) + timedelta(days=rng.randrange(700))
            end = start + timedelta(days=rng.randrange(1, 500))
            learner = Learner(
                first_name=f"P{i}",
                last_name=f"N{i}",
                birth_date=date(2004, 1, 1),
                email=f"l{i}@exemple.fr",
                institute_id=w.institute,
                training_start=start,
                training_end=end,
            )
            s.add(learner)
            s.flush()
            ars = i % 3 == 0
            signed = start + timedelta(days=rng.randrange(-90, 200))
            ended = signed + timedelta(days=rng.randrange(1, 400)) if rng.random() < 0.4 else None
            s.add(
                Case(
                    offer_id=offer.id,
                    learner_id=learner.id,
                    campaign_id=ars_campaign.id if ars else offer.campaign_id,
                    scheme_id=ARS if ars else SCHEME,
                    state=State.IN_TRAINING,
                    tier="cae" if ars else rng.choice(["2x150", "2x200"]),
                    contract_date=signed,
                    contract_number=f"T-{i}",
                    allowance_ended_on=ended,
                    last_effective_date=signed,
                    next_payment_due=signed,
                )
            )
        s.commit()


def _expected(w: World, as_of: date) -> set[tuple[int, date, str, Decimal, date]]:
    with Session(w.engine) as s:
        cases = s.scalars(
            sa.select(Case)
            .where(Case.contract_date.is_not(None))
            .options(selectinload(Case.learner))
        ).all()
        return {
            (c.id, i.period, i.funder, i.amount, i.due_date)
            for c in cases
            for i in ledger.allowance_schedule(ledger.CaseTerms.of(c, w.schemes[c.scheme_id]))
            if i.due_date <= as_of
        }


def _written(w: World) -> set[tuple[int, date, str, Decimal, date]]:
    with Session(w.engine) as s:
        rows = s.execute(
            sa.select(
                Payment.case_id, Payment.period, Payment.funder, Payment.amount, Payment.due_date
            )
        ).all()
        assert len(rows) == len(set(rows))
        return {tuple(r) for r in rows}  # type: ignore[misc]


def _night(w: World, as_of: date) -> int:
    with Session(w.engine) as s:
        created = insert_due_payments(s, w.schemes, as_of)
        s.commit()
        return created


def test_sql_schedules_equal_the_python_reference_night_after_night(world: World) -> None:
    w = world
    _random_cases(w, 240, seed=11)
    total = 0
    for as_of in (date(2025, 3, 4), date(2025, 11, 10), date(2026, 6, 30), date(2027, 2, 5)):
        total += _night(w, as_of)
        expected = _expected(w, as_of)
        assert _written(w) == expected
        assert total == len(expected)
        assert _night(w, as_of) == 0  # the rerun finds nothing to do
    final = date(2030, 1, 1)
    _night(w, final)
    assert _written(w) == _expected(w, final)
    with Session(w.engine) as s:
        pending = s.scalar(sa.select(sa.func.count()).where(Case.next_payment_due.is_not(None)))
        assert pending == 0  # every schedule is complete: no case is selected any more
        amounts = s.scalars(sa.select(Payment.amount).distinct()).all()
        assert any(a != a.to_integral_value() for a in amounts)  # prorated cents exercised


def test_a_training_date_change_recomputes_the_schedule(world: World) -> None:
    """`learner update` of training dates puts the learner's signed cases back in the queue."""
    from workflow import directory

    w = world
    _random_cases(w, 5, seed=3)
    _night(w, date(2030, 1, 1))
    with Session(w.engine) as s:
        case = s.scalars(sa.select(Case).order_by(Case.id)).first()
        assert case is not None and case.next_payment_due is None
        learner_id, start = case.learner_id, case.learner.training_start
    directory.update_learner(w.uow(), learner_id, training_start=start - timedelta(days=62))
    with Session(w.engine) as s:
        assert s.scalar(sa.select(Case.next_payment_due).where(Case.learner_id == learner_id))
    _night(w, date(2030, 1, 1))
    assert _written(w) == _expected(w, date(2030, 1, 1))
