"""Payments after the nightly run creates them (SPEC §4): the shares of each `transfer` funder
(the Région, the ARS… as the schemes declare them) go out in SEPA credit-transfer files debited
from that funder's account, the employers confirm theirs (`statement`), the treasury confirms
what it paid, and a caseworker may cancel one with a reason. Statuses: due → exported
(transfer) or notified (statement) → paid; cancelled only by a correction."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import validation
from workflow.csvfiles import read_rows
from workflow.db import UnitOfWork
from workflow.errors import InvalidInput, NotFound
from workflow.models import Case, Employer, Learner, Offer, Payment, SepaBatch, utcnow
from workflow.schemes import SchemeRegistry, registry
from workflow.settings import ACCOUNT_FIELDS, LEGACY_DEBTOR_FUNDER, funder_account, legacy_debtor

if TYPE_CHECKING:
    from workflow.sepa import Debtor


def exported_with(period: date) -> sa.ColumnElement[bool]:
    """The payments a SEPA file of `period` carries: the month's, and the complementary payments
    of earlier months that a regularisation added since (SPEC §4b), so that none waits for a
    file of its own month to be made again."""
    return sa.or_(Payment.period == period, sa.and_(Payment.seq > 0, Payment.period < period))


def parse_period(text: str) -> date:
    try:
        year, month = text.strip().split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise InvalidInput(
            f"Mois invalide : « {validation.shown(text)} » (format attendu AAAA-MM).", "period"
        ) from None


@dataclass(frozen=True)
class Export:
    batch_id: int
    message_id: str
    count: int
    total: Decimal
    xml: bytes
    reused: bool
    funder: str  # the `transfer` funder whose account the file debits


def transfer_funders(schemes: SchemeRegistry | None = None) -> tuple[str, ...]:
    """The codes of the funders paid by SEPA transfer, over every configured scheme, each once
    (a code names one payer across schemes: workflow.schemes.check_funders_agree)."""
    found: dict[str, None] = {}
    for scheme in (schemes if schemes is not None else registry()).values():
        found.update(dict.fromkeys(scheme.funders_paid_by("transfer")))
    return tuple(found)


def statement_funders(schemes: SchemeRegistry | None = None) -> tuple[str, ...]:
    """The codes of the funders paid by the employer on a monthly statement (`statement`)."""
    found: dict[str, None] = {}
    for scheme in (schemes if schemes is not None else registry()).values():
        found.update(dict.fromkeys(scheme.funders_paid_by("statement")))
    return tuple(found)


def debtor_of(funder: str, schemes: SchemeRegistry | None = None) -> Debtor:
    """The account `funder`'s SEPA files debit: FIDELIS_SEPA_<FUNDER>_* first, then the scheme's
    declaration, then (the Région only) the older FIDELIS_DEBTOR_* settings. A missing part is
    a French error naming the variable to set."""
    from workflow.sepa import Debtor

    reg = schemes if schemes is not None else registry()
    declared = next((s.funder(funder) for s in reg.values() if funder in s.declared_funders), None)
    if declared is None or declared.channel != "transfer":
        known = ", ".join(transfer_funders(reg)) or "aucun"
        raise InvalidInput(
            f"« {validation.shown(funder)} » n'est pas un financeur payé par virement "
            f"(financeurs payés par virement : {known}).",
            "funder",
        )
    account: dict[str, str] = {}
    if funder == LEGACY_DEBTOR_FUNDER:
        account.update(legacy_debtor())
    if declared.debtor is not None:
        account.update(declared.debtor.model_dump(exclude_none=True))
    account.update(funder_account(funder))
    missing = [key for key in ACCOUNT_FIELDS if not account.get(key)]
    if missing:
        variables = ", ".join(f"FIDELIS_SEPA_{funder.upper()}_{key.upper()}" for key in missing)
        raise InvalidInput(
            f"Compte à débiter de {declared.label} non configuré : renseignez {variables} "
            "(ou « debtor » dans le fichier du dispositif)."
        )
    return Debtor(account["name"], account["iban"], account["bic"])


def funders_to_export(s: Session, period: date, schemes: SchemeRegistry | None = None) -> list[str]:
    """The transfer funders with a file for `period`: payments due, or a batch to re-export."""
    funders = transfer_funders(schemes)
    due = set(
        s.scalars(
            sa.select(Payment.funder)
            .where(
                Payment.funder.in_(funders),
                exported_with(period),
                Payment.status == "due",
                Payment.batch_id.is_(None),
            )
            .distinct()
        )
    )
    batched = set(
        s.scalars(
            sa.select(SepaBatch.funder)
            .where(SepaBatch.period == period, SepaBatch.funder.in_(funders))
            .distinct()
        )
    )
    return [f for f in funders if f in due | batched]


def _end_to_end(payment_id: int) -> str:
    return f"FID-P{payment_id:09d}"


def _transfers(s: Session, batch_id: int) -> list[Any]:
    from workflow.sepa import Transfer

    rows = s.execute(
        sa.select(Payment, Case.contract_number, Learner)
        .join(Case, Case.id == Payment.case_id)
        .join(Learner, Learner.id == Case.learner_id)
        .where(Payment.batch_id == batch_id)
        .order_by(Payment.id)
    ).all()
    transfers = []
    for payment, number, learner in rows:
        if not learner.iban:
            raise InvalidInput(f"L'apprenant {learner.full_name} n'a pas d'IBAN.")
        transfers.append(
            Transfer(
                end_to_end_id=_end_to_end(payment.id),
                amount=payment.amount,
                creditor_name=learner.full_name,
                creditor_iban=learner.iban.reveal(),  # the one place it is used in clear
                creditor_bic=None,
                remittance=(
                    f"{'Complément allocation' if payment.seq else 'Allocation'} "
                    f"{number or ''} {payment.period:%m/%Y}"
                ).replace("  ", " "),
            )
        )
    return transfers


def _xml(s: Session, batch: SepaBatch, schemes: SchemeRegistry | None) -> bytes:
    from workflow.sepa import pain001, validate_pain001

    xml = pain001(
        _transfers(s, batch.id),
        debtor_of(batch.funder, schemes),
        message_id=batch.message_id,
        created_at=batch.created_at.replace(microsecond=0),
        execution_date=batch.execution_date,
    )
    validate_pain001(xml)
    return xml


def export_sepa(
    uow: UnitOfWork,
    period: date,
    *,
    on: date,
    actor: str,
    batch_id: int | None = None,
    deliver: Callable[[Export], None] | None = None,
    funder: str | None = None,
    schemes: SchemeRegistry | None = None,
) -> Export:
    """Put `funder`'s due payments of `period` in a new batch and return its pain.001 file,
    debited from that funder's account. Without `funder`: the one transfer funder with a file
    for the period (several: a French error asking which). With nothing new to export,
    re-export the funder's last batch of the period: the same bytes again. `deliver` receives
    the export and its validated file before the batch is committed: if it raises (the file
    could not be written), nothing is marked exported."""
    with uow:
        s = uow.session
        if batch_id is not None:
            batch = s.get(SepaBatch, batch_id)
            if batch is None:
                raise NotFound("Lot SEPA", batch_id)
            return _delivered(_export_of(s, batch, schemes, reused=True), deliver)
        if funder is None:
            funder = _only_funder(s, period, schemes)
        else:
            debtor_of(funder, schemes)  # a funder not paid by transfer: said before anything
        due = s.scalars(
            sa.select(Payment)
            .where(
                Payment.funder == funder,
                exported_with(period),
                Payment.status == "due",
                Payment.batch_id.is_(None),
            )
            .order_by(Payment.id)
        ).all()
        if not due:
            last = s.scalars(
                sa.select(SepaBatch)
                .where(SepaBatch.period == period, SepaBatch.funder == funder)
                .order_by(SepaBatch.id.desc())
            ).first()
            if last is None:
                raise InvalidInput(
                    f"Aucun paiement de {_label(funder, schemes)} à virer pour {period:%m/%Y}."
                )
            return _delivered(_export_of(s, last, schemes, reused=True), deliver)
        number = (s.scalar(sa.select(sa.func.count(SepaBatch.id))) or 0) + 1
        batch = SepaBatch(
            funder=funder,
            period=period,
            message_id=f"FIDELIS-{period:%Y%m}-{number:05d}",
            execution_date=on,
            created_at=utcnow().replace(microsecond=0),
            created_by=actor,
            count=len(due),
            total=sum((p.amount for p in due), Decimal(0)),
            sha256="",
        )
        s.add(batch)
        s.flush()
        ids = [p.id for p in due]
        claimed = s.execute(
            sa.update(Payment)
            .where(Payment.id.in_(ids), Payment.status == "due", Payment.batch_id.is_(None))
            .values(
                batch_id=batch.id, status="exported", status_changed_on=on, status_changed_by=actor
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != len(ids):  # type: ignore[attr-defined]
            raise InvalidInput("Des paiements ont été exportés entre-temps : recommencez.")
        export = _delivered(_export_of(s, batch, schemes, reused=False), deliver)
        batch.sha256 = hashlib.sha256(export.xml).hexdigest()
        uow.commit()
        return export


def _delivered(export: Export, deliver: Callable[[Export], None] | None) -> Export:
    if deliver is not None:
        deliver(export)
    return export


def _export_of(
    s: Session, batch: SepaBatch, schemes: SchemeRegistry | None, *, reused: bool
) -> Export:
    xml = _xml(s, batch, schemes)
    if reused and batch.sha256 and hashlib.sha256(xml).hexdigest() != batch.sha256:
        raise InvalidInput(
            f"Le lot {batch.message_id} ne se reproduit plus à l'identique (données modifiées)."
        )
    return Export(batch.id, batch.message_id, batch.count, batch.total, xml, reused, batch.funder)


def _label(funder: str, schemes: SchemeRegistry | None) -> str:
    for scheme in (schemes if schemes is not None else registry()).values():
        if funder in scheme.declared_funders:
            return scheme.funder(funder).label
    return funder


def _only_funder(s: Session, period: date, schemes: SchemeRegistry | None) -> str:
    """The funder of an export that names none: the one transfer funder with a file."""
    funders = funders_to_export(s, period, schemes)
    if len(funders) == 1:
        return funders[0]
    if not funders:
        raise InvalidInput(f"Aucun paiement à virer pour {period:%m/%Y}.")
    raise InvalidInput(
        f"Plusieurs financeurs ont des virements pour {period:%m/%Y} ({', '.join(funders)}) : "
        "choisissez le financeur, ou un dossier où écrire un fichier par financeur."
    )


def confirm_employer(
    uow: UnitOfWork, employer_id: int, period: date, *, on: date, actor: str
) -> int:
    """The employer confirms it paid its shares of `period` to its learners (the shares of the
    `statement` funders: the employer's own)."""
    with uow:
        s = uow.session
        if s.get(Employer, employer_id) is None:
            raise NotFound("Employeur", employer_id)
        cases_of_employer = (
            sa.select(Case.id)
            .join(Offer, Offer.id == Case.offer_id)
            .where(Offer.employer_id == employer_id)
        )
        result = s.execute(
            sa.update(Payment)
            .where(
                Payment.case_id.in_(cases_of_employer),
                Payment.funder.in_(statement_funders()),
                Payment.period == period,
                Payment.status.in_(("due", "notified")),
            )
            .values(status="paid", status_changed_on=on, status_changed_by=actor)
            .execution_options(synchronize_session=False)
        )
        count = int(result.rowcount)  # type: ignore[attr-defined]
        if count == 0:
            raise InvalidInput(
                f"Aucune part employeur à confirmer pour {period:%m/%Y} chez cet employeur."
            )
        uow.commit()
        return count


PAID_FILE_MAX_BYTES = 10 * 1024 * 1024  # a month of transfers is a few hundred lines


def import_paid(uow: UnitOfWork, file: Path, *, actor: str) -> int:
    """The treasury's confirmation, CSV with `end_to_end_id;paid_on` (or `,`): exported Région
    payments become paid. Every row is checked first; one bad row and nothing is written."""
    rows, _ = read_rows(file, "end_to_end_id;paid_on", max_bytes=PAID_FILE_MAX_BYTES)
    errors: list[str] = []
    parsed: list[tuple[int, date]] = []
    for line, row in enumerate(rows, start=2):
        ident = (row.get("end_to_end_id") or "").strip()
        number = ident[5:]
        if (
            not ident.startswith("FID-P")
            or not number.isascii()
            or not number.isdigit()
            or not validation.in_id_range(int(number))
        ):
            errors.append(f"ligne {line} : référence « {validation.shown(ident)} » inconnue")
            continue
        try:
            parsed.append((int(ident[5:]), validation.parse_date(row.get("paid_on") or "")))
        except InvalidInput as exc:
            errors.append(f"ligne {line} : {exc}")
    with uow:
        s = uow.session
        known = {
            p.id: p
            for p in s.scalars(sa.select(Payment).where(Payment.id.in_([i for i, _ in parsed])))
        }
        for payment_id, _ in parsed:
            p = known.get(payment_id)
            if p is None or p.status not in ("exported", "paid"):
                errors.append(f"paiement {_end_to_end(payment_id)} absent ou non exporté")
        if errors:
            more = f" ; et {len(errors) - 20} autre(s)" if len(errors) > 20 else ""
            raise InvalidInput(
                "Import refusé, rien n'a été enregistré : " + " ; ".join(errors[:20]) + more
            )
        changed = 0
        for payment_id, paid_on in parsed:
            p = known[payment_id]
            if p.status == "exported":
                p.status, p.status_changed_on, p.status_changed_by = "paid", paid_on, actor
                changed += 1
        uow.commit()
        return changed


def cancel(uow: UnitOfWork, payment_id: int, *, reason: str, on: date, actor: str) -> None:
    """A caseworker's correction: the payment will not be paid and leaves the reimbursement base."""
    reason = validation.text(reason, "reason", field="reason")
    if not reason:
        raise InvalidInput("Un motif est obligatoire pour annuler un paiement.", "reason")
    with uow:
        p = uow.session.get(Payment, payment_id)
        if p is None:
            raise NotFound("Paiement", payment_id)
        if p.status in ("paid", "cancelled"):
            raise InvalidInput(f"Le paiement {payment_id} est déjà « {p.status} ».")
        p.status, p.status_reason = "cancelled", reason
        p.status_changed_on, p.status_changed_by = on, actor
        uow.commit()


def payment_rows(
    s: Session, period: date | None = None, *, employer_id: int | None = None
) -> list[dict[str, Any]]:
    """Payments with their case and learner, in one query; `employer_id` keeps that employer's
    own shares."""
    query = (
        sa.select(Payment, Case.contract_number, Learner.first_name, Learner.last_name)
        .join(Case, Case.id == Payment.case_id)
        .join(Learner, Learner.id == Case.learner_id)
        .order_by(Payment.period, Payment.case_id, Payment.funder)
    )
    if period is not None:
        query = query.where(Payment.period == period)
    if employer_id is not None:
        query = query.join(Offer, Offer.id == Case.offer_id).where(
            Offer.employer_id == employer_id, Payment.funder.in_(statement_funders())
        )
    return [
        {
            "id": p.id,
            "case": p.case_id,
            "contract_number": number,
            "learner": f"{first} {last}",
            "period": p.period.strftime("%Y-%m"),
            "funder": p.funder,
            "amount": str(p.amount),
            "due_date": p.due_date.isoformat(),
            "status": p.status,
        }
        for p, number, first, last in s.execute(query)
    ]


__all__ = [
    "Export",
    "cancel",
    "confirm_employer",
    "debtor_of",
    "export_sepa",
    "funders_to_export",
    "import_paid",
    "parse_period",
    "payment_rows",
    "statement_funders",
    "transfer_funders",
]
