"""What the guards ask about a case (`workflow.states.CaseFacts` and `ActionFacts`), answered
from the database.
Each answer is one small query, made only if a guard asks for it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import cached_property

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import ledger
from workflow.documents.labels import suspension_reason_label
from workflow.documents.store import contract_fingerprint, current_contract
from workflow.models import Case, Document, InstituteScheme, Payment, Suspension, WorkingTime
from workflow.schemes import BREACH_REASONS, Scheme
from workflow.states import ENGAGED_STATES


class DbFacts:
    """What the guards ask about a case, answered from the database on first use."""

    def __init__(self, session: Session, case: Case, scheme: Scheme) -> None:
        self._session = session
        self._case = case
        self._scheme = scheme

    @cached_property
    def campaign_open(self) -> bool:
        return self._case.campaign.is_open

    @cached_property
    def learner_authorised(self) -> bool:
        query = sa.select(InstituteScheme).where(
            InstituteScheme.institute_id == self._case.learner.institute_id,
            InstituteScheme.scheme_id == self._case.scheme_id,
        )
        return self._session.scalars(query).first() is not None

    @cached_property
    def places_left(self) -> int:
        taken = self._session.scalar(
            sa.select(sa.func.count(Case.id)).where(
                Case.offer_id == self._case.offer_id,
                Case.id != self._case.id,
                Case.state.in_(ENGAGED_STATES),
            )
        )
        return self._case.offer.places - (taken or 0)

    @cached_property
    def engaged_elsewhere(self) -> bool:
        query = sa.select(Case.id).where(
            Case.learner_id == self._case.learner_id,
            Case.campaign_id == self._case.campaign_id,
            Case.id != self._case.id,
            Case.state.in_(ENGAGED_STATES),
        )
        return self._session.scalars(query).first() is not None

    @cached_property
    def has_payments(self) -> bool:
        query = sa.select(Payment.id).where(
            Payment.case_id == self._case.id, Payment.status != "cancelled"
        )
        return self._session.scalars(query).first() is not None

    @property
    def tiers(self) -> frozenset[str]:
        return frozenset(self._scheme.tiers)

    @property
    def tier(self) -> str | None:
        return self._case.tier

    @cached_property
    def iban_valid(self) -> bool:
        # An IBAN is checked (schwifty) before it is sealed (workflow.iban): stored means valid.
        return self._case.learner.iban is not None

    @property
    def training_start(self) -> date | None:
        return self._case.learner.training_start

    @property
    def training_end(self) -> date | None:
        return self._case.learner.training_end

    @property
    def contract_date(self) -> date | None:
        return self._case.contract_date

    @cached_property
    def commitment_end(self) -> date | None:
        return ledger.commitment_end(ledger.CaseTerms.of(self._case, self._scheme))

    @cached_property
    def _contract(self) -> Document | None:
        """The current contract, if it still matches the case (else it must be regenerated)."""
        doc = self._issued
        if doc is None or doc.fingerprint != contract_fingerprint(self._case, doc.terms):
            return None
        return doc

    @property
    def contract_issued(self) -> bool:
        return self._contract is not None

    @property
    def contract_tier(self) -> str | None:
        return self._case.tier if self._contract is not None else None

    @cached_property
    def contract_signed_by(self) -> frozenset[str]:
        doc = self._contract
        return frozenset(sig.party for sig in doc.signatures) if doc is not None else frozenset()

    @cached_property
    def signing_parties(self) -> Mapping[str, str]:
        return {p: self._scheme.party_label(p) for p in self._scheme.signing_parties()}

    def terms_changed(self, on: date) -> tuple[str, ...]:
        doc = self._contract
        if doc is None or doc.terms is None or self._case.tier is None:
            return ()
        in_force = ledger.ContractTerms.of(self._scheme, self._case.tier, on).record()
        return tuple(ledger.terms_differences(doc.terms, in_force))

    @property
    def breach_reasons(self) -> frozenset[str]:
        return frozenset(BREACH_REASONS)

    @property
    def exempting_reasons(self) -> frozenset[str]:
        return frozenset(self._scheme.breach.exempting_reasons)

    # -- what the actions that keep the state ask (workflow.states.ActionFacts) --

    @property
    def service_start(self) -> date | None:
        return self._case.service_start

    @cached_property
    def suspensions(self) -> tuple[tuple[date, date | None], ...]:
        rows = self._session.execute(
            sa.select(Suspension.start, Suspension.end)
            .where(Suspension.case_id == self._case.id)
            .order_by(Suspension.start)
        ).all()
        return tuple((start, end) for start, end in rows)

    @property
    def suspension_reasons(self) -> Mapping[str, str]:
        return {
            code: suspension_reason_label(code)
            for code in self._scheme.commitment.suspension_reasons
        }

    @property
    def suspension_min_days(self) -> Mapping[str, int]:
        minimums = self._scheme.commitment.suspension_min_days
        return {str(code): days for code, days in minimums.items()}

    @cached_property
    def working_times(self) -> tuple[tuple[date, Decimal], ...]:
        rows = self._session.execute(
            sa.select(WorkingTime.start, WorkingTime.ratio)
            .where(WorkingTime.case_id == self._case.id)
            .order_by(WorkingTime.start)
        ).all()
        return tuple((start, ratio) for start, ratio in rows)

    @cached_property
    def _issued(self) -> Document | None:
        return current_contract(self._session, self._case.id)

    @property
    def contract_exists(self) -> bool:
        return self._issued is not None

    @property
    def contract_issued_on(self) -> date | None:
        return self._issued.issued_on if self._issued is not None else None

    @cached_property
    def signatures(self) -> Mapping[str, tuple[str, date]]:
        doc = self._contract
        if doc is None:
            return {}
        return {sig.party: (sig.signer_name, sig.signed_on) for sig in doc.signatures}
