"""Payments after the nightly run creates them (SPEC §4): the Région's shares go out in SEPA
credit-transfer files, the employers confirm theirs, the treasury confirms what it paid, and a
caseworker may cancel one with a reason. Statuses: due → exported (Région) or notified
(employer) → paid; cancelled only by a correction."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import validation
from workflow.db import UnitOfWork
from workflow.errors import InvalidInput, NotFound
from workflow.models import Case, Employer, Learner, Offer, Payment, SepaBatch, utcnow
from workflow.settings import settings

PAYABLE_BY_TRANSFER = "region"


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
                remittance=f"Allocation {number or ''} {payment.period:%m/%Y}".strip(),
            )
        )
    return transfers


def _xml(s: Session, batch: SepaBatch) -> bytes:
    from workflow.sepa import Debtor, pain001, validate_pain001

    conf = settings()
    xml = pain001(
        _transfers(s, batch.id),
        Debtor(conf.debtor_name, conf.debtor_iban, conf.debtor_bic),
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
    deliver: Callable[[bytes], None] | None = None,
) -> Export:
    """Put the Région's due payments of `period` in a new batch and return its pain.001 file.
    With nothing new to export, re-export the period's last batch: the same bytes again.
    `deliver` receives the validated file before the batch is committed: if it raises (the
    file could not be written), nothing is marked exported."""
    with uow:
        s = uow.session
        if batch_id is not None:
            batch = s.get(SepaBatch, batch_id)
            if batch is None:
                raise NotFound("Lot SEPA", batch_id)
            return _delivered(_export_of(s, batch, reused=True), deliver)
        due = s.scalars(
            sa.select(Payment)
            .where(
                Payment.funder == PAYABLE_BY_TRANSFER,
                Payment.period == period,
                Payment.status == "due",
                Payment.batch_id.is_(None),
            )
            .order_by(Payment.id)
        ).all()
        if not due:
            last = s.scalars(
                sa.select(SepaBatch).where(SepaBatch.period == period).order_by(SepaBatch.id.desc())
            ).first()
            if last is None:
                raise InvalidInput(f"Aucun paiement de la Région à virer pour {period:%m/%Y}.")
            return _delivered(_export_of(s, last, reused=True), deliver)
        number = (s.scalar(sa.select(sa.func.count(SepaBatch.id))) or 0) + 1
        batch = SepaBatch(
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
        export = _delivered(_export_of(s, batch, reused=False), deliver)
        batch.sha256 = hashlib.sha256(export.xml).hexdigest()
        uow.commit()
        return export


def _delivered(export: Export, deliver: Callable[[bytes], None] | None) -> Export:
    if deliver is not None:
        deliver(export.xml)
    return export


def _export_of(s: Session, batch: SepaBatch, *, reused: bool) -> Export:
    xml = _xml(s, batch)
    if reused and batch.sha256 and hashlib.sha256(xml).hexdigest() != batch.sha256:
        raise InvalidInput(
            f"Le lot {batch.message_id} ne se reproduit plus à l'identique (données modifiées)."
        )
    return Export(batch.id, batch.message_id, batch.count, batch.total, xml, reused)


def confirm_employer(
    uow: UnitOfWork, employer_id: int, period: date, *, on: date, actor: str
) -> int:
    """The employer confirms it paid its shares of `period` to its learners."""
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
                Payment.funder == "employer",
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
    try:
        if file.stat().st_size > PAID_FILE_MAX_BYTES:
            raise InvalidInput(
                f"Le fichier {file.name} dépasse {PAID_FILE_MAX_BYTES // (1024 * 1024)} Mo."
            )
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"Fichier illisible : {file} ({exc.strerror}).") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"Le fichier {file.name} n'est pas un CSV en UTF-8.") from None
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0] if text else ",", delimiters=",;")
        rows = list(csv.DictReader(io.StringIO(text), dialect=dialect))
    except csv.Error:
        raise InvalidInput(
            f"Le fichier {file.name} n'est pas un CSV lisible (end_to_end_id;paid_on)."
        ) from None
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
            Offer.employer_id == employer_id, Payment.funder == "employer"
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
    "cancel",
    "confirm_employer",
    "export_sepa",
    "import_paid",
    "parse_period",
    "payment_rows",
]
