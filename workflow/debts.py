"""Debts (SPEC §4b): what a learner owes one funder — a breach reimbursement or an overpayment
(« trop-perçu ») — numbered gapless per scheme and year, with a due date and a life:
open → partially_repaid → settled, or waived / written_off by a decision.

`open_debt` is how the case service records one, inside the event's transaction."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from workflow.models import Case, Debt
from workflow.numbering import next_debt_number
from workflow.schemes import Scheme


def open_debt(
    s: Session,
    case: Case,
    scheme: Scheme,
    *,
    funder: str,
    kind: str,
    amount: Decimal,
    on: date,
    due: date,
    event_seq: int | None = None,
    document_id: int | None = None,
) -> Debt:
    """Record a new debt of `amount` (> 0) owed by the case's learner to `funder`, numbered in
    the year of `on`."""
    if amount <= 0:
        raise ValueError(f"a debt is a positive amount, not {amount}")
    debt = Debt(
        case_id=case.id,
        scheme_id=scheme.id,
        funder=funder,
        kind=kind,
        number=next_debt_number(s, scheme, on.year),
        amount=amount,
        repaid=Decimal(0),
        waived=Decimal(0),
        written_off=Decimal(0),
        status="open",
        opened_on=on,
        due_date=due,
        event_seq=event_seq,
        document_id=document_id,
    )
    s.add(debt)
    return debt


__all__ = ["open_debt"]
