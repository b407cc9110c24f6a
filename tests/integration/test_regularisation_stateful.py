"""SPEC §4b's invariant as a hypothesis stateful test, through the real services: a signed case
lives through random nightly runs, SEPA exports, employer confirmations and period-moving events
(breach, service start, withdrawal, training end corrected) dated at random after the case's last
event — so often *before* payments already created, sent or paid. After every step, per funder
and month: payments not cancelled − overpaid == entitlement (or less while a complementary
payment waits for the next nightly run, and exactly after it), the overpayment debts hold what
was overpaid, no payment beyond the entitlement was ever exported — `fidelis case verify`'s
checks (workflow.history) — and the totals per funder add up to the cent (SQLite and
PostgreSQL)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from jobs.nightly import run_nightly
from tests.conftest import IBAN, World
from tests.integration.test_case_service import contract_signed_by_all, to_selected
from workflow import cases, directory, ledger, payments, regularisation
from workflow.errors import FidelisError
from workflow.history import verify_case
from workflow.models import Case, Debt, Payment

_learners = itertools.count(1)
MONTHS = [date(2026, 9, 1) + timedelta(days=31 * i) for i in range(11)]


def build_money_life(w: World, offer: int) -> type[RuleBasedStateMachine]:
    class MoneyLife(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            n = next(_learners)
            learner = directory.add_learner(
                w.uow(), first_name=f"Prénom{n}", last_name="Argent", birth_date=date(2002, 1, 1),
                email=f"m{n}@exemple.fr", institute_id=w.institute, training_start=date(2026, 9, 7),
                training_end=date(2027, 7, 2), iban=IBAN, today=date(2026, 5, 1),
            )  # fmt: skip
            self.case = cases.open_case(w.uow(), offer, learner, on=date(2026, 5, 30))
            to_selected(w, self.case)
            contract_signed_by_all(w, self.case)
            cases.fire(w.uow(), self.case, "sign", on=date(2026, 7, 6), schemes=w.schemes)
            self.night = date(2026, 9, 1)

        def _try(self, call: Callable[[], object]) -> None:
            with contextlib.suppress(FidelisError):  # a refusal: the invariants check the rest
                call()

        def _last(self) -> date:
            with w.uow() as uow:
                case = uow.session.get(Case, self.case)
                assert case is not None
                return case.last_effective_date

        @rule(days=st.integers(20, 130))
        def nightly(self, days: int) -> None:
            self.night += timedelta(days=days)
            run_nightly(w.engine, self.night, schemes=w.schemes, catch_up=False, send_mail=False)
            with w.uow() as uow:
                case = uow.session.get(Case, self.case)
                assert case is not None and case.complement_due is None

        @rule(month=st.sampled_from(MONTHS))
        def export(self, month: date) -> None:
            period = month.replace(day=1)
            self._try(lambda: payments.export_sepa(w.uow(), period, on=self.night, actor="trésor"))

        @rule(month=st.sampled_from(MONTHS))
        def confirm(self, month: date) -> None:
            with w.uow() as uow:
                case = uow.session.get(Case, self.case)
                assert case is not None
                employer = case.offer.employer_id
            self._try(lambda: payments.confirm_employer(
                w.uow(), employer, month.replace(day=1), on=self.night, actor="employeur"))  # fmt: skip

        @rule(days=st.integers(0, 330), exempted=st.booleans())
        def breach(self, days: int, exempted: bool) -> None:
            params = {"category": "resignation"}
            if exempted:
                params = {"category": "medical_inaptitude", "exemption": "DEC-1"}
            on = self._last() + timedelta(days=days)
            self._try(lambda: cases.fire(
                w.uow(), self.case, "breach", on=on, reason="Départ", params=params,
                schemes=w.schemes,
            ))  # fmt: skip

        @rule(days=st.integers(0, 330))
        def start_service(self, days: int) -> None:
            on = self._last() + timedelta(days=days)
            self._try(lambda: cases.fire(
                w.uow(), self.case, "start_service", on=on,
                params={"diploma_date": on.isoformat()}, schemes=w.schemes,
            ))  # fmt: skip

        @rule(days=st.integers(0, 120))
        def withdraw(self, days: int) -> None:
            on = self._last() + timedelta(days=days)
            self._try(lambda: cases.fire(
                w.uow(), self.case, "withdraw", on=on, reason="Renonce", schemes=w.schemes))  # fmt: skip

        @rule(shift=st.integers(-200, 90), days=st.integers(0, 60))
        def correct_end(self, shift: int, days: int) -> None:
            end = date(2027, 7, 2) + timedelta(days=shift)
            on = self._last() + timedelta(days=days)
            self._try(lambda: cases.correct_training(
                w.uow(), self.case, training_end=end, on=on, schemes=w.schemes))  # fmt: skip

        @invariant()
        def payments_follow_the_entitlement_to_the_cent(self) -> None:
            with w.uow() as uow:
                s = uow.session
                case = s.get(Case, self.case)
                assert case is not None
                assert verify_case(case, w.schemes[case.scheme_id]) == []
                owed = regularisation.entitlement(
                    ledger.CaseTerms.of(case, w.schemes[case.scheme_id])
                )
                rows = s.scalars(sa.select(Payment).where(Payment.case_id == self.case)).all()
                debts = s.scalars(
                    sa.select(Debt).where(Debt.case_id == self.case, Debt.kind == "overpayment")
                ).all()
                for funder in {p.funder for p in rows}:
                    mine = [p for p in rows if p.funder == funder]
                    live = sum((p.amount for p in mine if p.status != "cancelled"), Decimal(0))
                    over = sum((p.overpaid for p in mine), Decimal(0))
                    assert over == sum((d.amount for d in debts if d.funder == funder), Decimal(0))
                    months = {p.period for p in mine}
                    right = sum((a for (m, f), a in owed.items() if f == funder and m in months),
                                Decimal(0))  # fmt: skip
                    if case.complement_due is None:
                        assert live - over == right
                    else:
                        assert live - over <= right
                    # Nothing beyond the entitlement ever left in a SEPA file.
                    for p in mine:
                        if p.batch_id is not None:
                            assert p.amount - p.overpaid <= owed.get((p.period, funder), 0)

    return MoneyLife


def test_payments_minus_overpayments_equal_the_entitlement_whatever_the_events(
    world: World,
) -> None:
    w = world
    employer = directory.add_employer(
        w.uow(), name="EHPAD des régularisations", siret="44306184100054", commune="48095",
        sector="elderly", recruitment_difficulty=True, email="regul@exemple.fr",
    )  # fmt: skip
    offer = directory.list_employer(
        w.uow(), campaign_id=w.campaign, employer_id=employer, places=999, scheme_registry=w.schemes
    )
    run_state_machine_as_test(
        build_money_life(w, offer),
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
