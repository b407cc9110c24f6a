"""What a learner completes for their contract from their space (issue 15, item 1): the IBAN the
allowance is paid to, with its RIB, and their identity document (workflow.attachments).

The IBAN goes through the very use case of `fidelis learner update` (directory.update_learner):
checked by schwifty, sealed (workflow.iban), and a contract issued but not yet in force that no
longer matches is invalidated (SPEC §5) — in the same transaction as the RIB stored beside it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from workflow import accounts, validation
from workflow.accounts import Principal
from workflow.archive import DocumentStore
from workflow.attachments import checked, store_attachment
from workflow.clock import Clock, today_paris
from workflow.db import Joined, UnitOfWork
from workflow.directory import update_learner
from workflow.errors import InvalidInput, NotFound
from workflow.iban import masked
from workflow.models import Case, Learner
from workflow.threads import Attachment


def identity(s: Session, learner_id: int) -> dict[str, Any]:
    """What the contract states of the learner, as they may read it (the IBAN masked)."""
    learner = s.get(Learner, learner_id)
    if learner is None:
        raise NotFound("Apprenant", learner_id)
    return {
        "first_name": learner.first_name,
        "last_name": learner.last_name,
        "birth_date": learner.birth_date,
        "email": learner.email,
        "iban": masked(learner.iban),
    }


def set_bank_details(
    uow: UnitOfWork,
    who: Principal,
    case_id: int,
    iban: str,
    rib: Attachment | None,
    *,
    store: DocumentStore | None = None,
    clock: Clock = today_paris,
) -> list[str]:
    """The learner gives the IBAN their allowance is paid to, with its RIB, from one of their
    cases (where the RIB is filed). Returns the French messages of the contracts the change
    invalidated. A bad IBAN or file, or no RIB: InvalidInput, nothing written."""
    if who.role != "learner" or who.learner_id is None:
        raise NotFound("Dossier", case_id)
    clean = iban.strip()
    if not clean:
        raise InvalidInput("L'IBAN est obligatoire.", "iban")
    validation.iban(clean)  # refused before anything is read, as `learner update` does
    if rib is None:
        raise InvalidInput("Joignez le RIB de ce compte (PDF ou image).", "file")
    ((file, suffix),) = checked([rib])
    with uow:
        s = uow.session
        accounts.ensure_visible(s, who, case_id)
        case = s.get_one(Case, case_id)
        messages = update_learner(Joined(s), who.learner_id, iban=clean)
        store_attachment(
            s,
            case,
            "learner_rib",
            file,
            suffix,
            on=max(clock(), case.last_effective_date),
            actor=who.actor,
            store=store,
        )
        uow.commit()
        return messages


__all__ = ["identity", "set_bank_details"]
