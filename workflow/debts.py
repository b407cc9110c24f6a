"""Debts (SPEC §4b): what a learner owes one funder — a breach reimbursement or an overpayment
(« trop-perçu ») — numbered gapless per scheme and year, with a due date and a life:
open → partially_repaid → settled, or waived / written_off by a decision.

`open_debt` is how the case service records one, inside the event's transaction. The use cases
below (repay, plan, waive, write_off, confirm_repayment, import_repaid) each run in one
transaction: a refusal is a French message and nothing is written. The arithmetic lives in
`Figures`, a plain value the property tests drive without a database."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import validation
from workflow.clock import Clock, today_paris
from workflow.csvfiles import read_rows
from workflow.db import UnitOfWork
from workflow.errors import InvalidInput, NotFound
from workflow.models import Case, Debt, DebtInstalment, DebtMovement, Offer
from workflow.money import CENT, add_months
from workflow.numbering import next_debt_number
from workflow.reports.labels import DEBT_STATUS_LABELS as STATUS_LABELS
from workflow.schemes import Scheme

KINDS = ("breach", "overpayment")
STATUSES = ("open", "partially_repaid", "settled", "waived", "written_off")
# Statuses in which something is still owed.
ACTIVE = ("open", "partially_repaid")
# The movements that bring money back: a repayment recorded by the staff, or the employer's
# confirmation that it received a repayment of its own share.
REPAYING = ("repayment", "confirmation")
MAX_INSTALMENTS = 120  # ten years of monthly instalments
# SPEC §6-style delays (days) when the scheme's `reminders` do not set them.
DEFAULT_DELAYS = {"debt_overdue": 15, "debt_instalment_missed": 30}


@dataclass(frozen=True)
class Figures:
    """A debt's amounts and status. Every change keeps amount = repaid + waived + written_off
    + balance with a balance never below zero; the status follows: a balance brought to zero
    by a repayment settles the debt, by a waiver waives it, by a write-off writes it off."""

    amount: Decimal
    repaid: Decimal = Decimal(0)
    waived: Decimal = Decimal(0)
    written_off: Decimal = Decimal(0)
    status: str = "open"

    @property
    def balance(self) -> Decimal:
        return self.amount - self.repaid - self.waived - self.written_off

    @property
    def closed(self) -> bool:
        return self.status not in ACTIVE

    def apply(self, kind: str, amount: Decimal) -> Figures:
        """The figures after a movement of `kind` ("repayment", "confirmation", "waiver",
        "write_off") of `amount`; ValueError when the debt is closed or the amount is not in
        (0, balance]."""
        if self.closed:
            raise ValueError(f"debt is {self.status}")
        if not Decimal(0) < amount <= self.balance:
            raise ValueError(f"amount {amount} not in (0, {self.balance}]")
        if kind in REPAYING:
            after = replace(self, repaid=self.repaid + amount)
            closing = "settled"
        elif kind == "waiver":
            after = replace(self, waived=self.waived + amount)
            closing = "waived"
        elif kind == "write_off":
            after = replace(self, written_off=self.written_off + amount)
            closing = "written_off"
        else:
            raise ValueError(f"unknown movement {kind}")
        if after.balance == 0:
            return replace(after, status=closing)
        return replace(after, status="partially_repaid" if after.repaid > 0 else "open")


def figures_of(debt: Debt) -> Figures:
    return Figures(debt.amount, debt.repaid, debt.waived, debt.written_off, debt.status)


def balance_of(debt: Debt) -> Decimal:
    return figures_of(debt).balance


def instalment_amounts(balance: Decimal, count: int) -> list[Decimal]:
    """`count` instalments summing to `balance` to the cent: equal amounts rounded down to the
    cent, the last one takes the remainder."""
    each = (balance / count).quantize(CENT, rounding=ROUND_DOWN)
    return [each] * (count - 1) + [balance - each * (count - 1)]


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


# -- reading what is typed ---------------------------------------------------------------------

_AMOUNT = re.compile(r"^\d{1,9}([.,]\d{1,2})?$")


def parse_amount(value: str, field: str = "montant") -> Decimal:
    """An amount in euros, at most two decimals: « 120,50 », « 120.50 », « 1 200 € »."""
    text = validation.text(value, "number", label="Le montant", field=field)
    compact = re.sub(r"[\s\u00a0\u202f€]", "", text)
    try:
        if _AMOUNT.match(compact):
            amount = Decimal(compact.replace(",", "."))
            if amount > 0:
                return amount
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        pass
    raise InvalidInput(
        f"Montant invalide pour {field} : « {validation.shown(value)} » (un montant positif en "
        "euros, deux décimales au plus, p. ex. 120,50).",
        field,
    )


def _decision(value: str | None) -> str:
    text = validation.optional_text(value, "reference", label="La décision", field="decision")
    if not text:
        raise InvalidInput(
            "La référence de la décision est obligatoire (--decision), p. ex. « DEL-2027-114 ».",
            "decision",
        )
    return text


def _load(s: Session, ref: int | str, *, lock: bool = True) -> Debt:
    """A debt by its id or its number (« OCC-AS-TR-2027-00001 »), locked for the change."""
    query = sa.select(Debt)
    text = str(ref).strip()
    if text.isascii() and text.isdigit():
        if not validation.in_id_range(int(text)):
            raise NotFound("Dette", validation.shown(text))
        query = query.where(Debt.id == int(text))
    else:
        query = query.where(Debt.number == text.upper())
    if lock:
        query = query.with_for_update()
    debt = s.scalars(query).first()
    if debt is None:
        raise NotFound("Dette", validation.shown(text))
    return debt


def _refuse_closed(debt: Debt, what: str) -> None:
    if debt.status not in ACTIVE:
        raise InvalidInput(
            f"La dette {debt.number} est {STATUS_LABELS[debt.status]} : {what} impossible."
        )


def _check_date(debt: Debt, on: date, what: str, today: date) -> None:
    if on < debt.opened_on:
        raise InvalidInput(
            f"{what} du {on:%d/%m/%Y} précède l'ouverture de la dette {debt.number} "
            f"({debt.opened_on:%d/%m/%Y}).",
            "on",
        )
    if on > today:
        raise InvalidInput(f"{what} ne peut pas être daté d'après aujourd'hui ({on:%d/%m/%Y}).")


# -- the use cases -----------------------------------------------------------------------------


# Each movement as a refusal names it: (the subject of a sentence, the noun after « … impossible »).
_MOVEMENT_WORDS = {
    "repayment": ("Le remboursement", "remboursement"),
    "confirmation": ("Le remboursement", "remboursement"),
    "waiver": ("La remise", "remise"),
    "write_off": ("L'admission en non-valeur", "admission en non-valeur"),
}


def _move(
    s: Session,
    debt: Debt,
    kind: str,
    amount: Decimal,
    *,
    on: date,
    actor: str,
    reference: str | None = None,
    decision: str | None = None,
) -> DebtMovement:
    """Apply one movement to `debt` (checked by `Figures.apply`) and record it; the plan's
    instalments follow."""
    label, noun = _MOVEMENT_WORDS[kind]
    _refuse_closed(debt, noun)
    balance = balance_of(debt)
    if amount > balance:
        raise InvalidInput(
            f"{label} de {amount} € dépasse le solde de la dette {debt.number} ({balance} €).",
            "amount",
        )
    after = figures_of(debt).apply(kind, amount)
    debt.repaid, debt.waived, debt.written_off = after.repaid, after.waived, after.written_off
    debt.status = after.status
    movement = DebtMovement(
        debt_id=debt.id,
        kind=kind,
        amount=amount,
        on=on,
        reference=reference,
        decision=decision,
        decided_by=actor if decision else None,
        actor=actor,
    )
    s.add(movement)
    s.flush()
    _follow_plan(s, debt)
    return movement


def _follow_plan(s: Session, debt: Debt) -> None:
    """Repayments are applied to the active plan's instalments in order; a debt no longer owed
    ends its plan (the instalments left are cancelled)."""
    if debt.plan_status != "active":
        return
    current = _current_instalments(s, debt.id)
    if debt.status not in ACTIVE:
        for i in current:
            if i.status in ("pending", "missed"):
                i.status = "cancelled" if debt.status != "settled" else "paid"
        debt.plan_status = "completed"
        return
    plan_id = s.scalar(
        sa.select(sa.func.max(DebtMovement.id)).where(
            DebtMovement.debt_id == debt.id, DebtMovement.kind == "plan"
        )
    )
    covered = s.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(DebtMovement.amount), 0)).where(
            DebtMovement.debt_id == debt.id,
            DebtMovement.kind.in_(REPAYING),
            DebtMovement.id > (plan_id or 0),
        )
    )
    running = Decimal(0)
    for i in current:
        running += i.amount
        if running <= Decimal(covered or 0) and i.status != "paid":
            i.status = "paid"
    if all(i.status == "paid" for i in current):
        debt.plan_status = "completed"


def _current_instalments(s: Session, debt_id: int) -> list[DebtInstalment]:
    """The instalments of the latest plan: those after the last one cancelled (a new plan cancels
    what its predecessor left unpaid, so the earlier plans' instalments all come before)."""
    rows = s.scalars(
        sa.select(DebtInstalment)
        .where(DebtInstalment.debt_id == debt_id)
        .order_by(DebtInstalment.seq)
    ).all()
    return _latest_plan(rows)


def _latest_plan(rows: Sequence[DebtInstalment]) -> list[DebtInstalment]:
    """Of one debt's instalments in `seq` order, those after the last one cancelled."""
    last_cancelled = max((i.seq for i in rows if i.status == "cancelled"), default=0)
    return [i for i in rows if i.seq > last_cancelled]


def repay(
    uow: UnitOfWork,
    debt_ref: int | str,
    amount: Decimal,
    *,
    on: date,
    actor: str,
    reference: str | None = None,
    clock: Clock = today_paris,
) -> dict[str, Any]:
    """Record a repayment of `amount` received on `on`; refused above the balance or on a debt
    no longer owed."""
    ref = validation.optional_text(reference, "reference", label="La référence")
    with uow:
        s = uow.session
        debt = _load(s, debt_ref)
        _check_amount(amount)
        _check_date(debt, on, "Le remboursement", clock())
        _move(s, debt, "repayment", amount, on=on, actor=actor, reference=ref)
        row = debt_row(debt)
        uow.commit()
        return row


def confirm_repayment(
    uow: UnitOfWork,
    debt_ref: int | str,
    amount: Decimal,
    *,
    on: date,
    employer_id: int,
    actor: str,
    clock: Clock = today_paris,
) -> dict[str, Any]:
    """The employer confirms it received `amount` on `on` towards a debt owed to it (SPEC §4b:
    the employer's share is repaid to the employer)."""
    with uow:
        s = uow.session
        debt = _load(s, debt_ref)
        owner = s.scalar(
            sa.select(Offer.employer_id)
            .join(Case, Case.offer_id == Offer.id)
            .where(Case.id == debt.case_id)
        )
        if debt.funder != "employer" or owner != employer_id:
            raise InvalidInput(
                f"La dette {debt.number} n'est pas due à cet employeur : il ne peut en confirmer "
                "le remboursement."
            )
        _check_amount(amount)
        _check_date(debt, on, "Le remboursement", clock())
        _move(s, debt, "confirmation", amount, on=on, actor=actor)
        row = debt_row(debt)
        uow.commit()
        return row


def _check_amount(amount: Decimal) -> None:
    if amount <= 0:
        raise InvalidInput("Le montant doit être positif.", "amount")
    if amount != amount.quantize(CENT):
        raise InvalidInput("Le montant a deux décimales au plus.", "amount")


def waive(
    uow: UnitOfWork,
    debt_ref: int | str,
    *,
    on: date,
    decision: str | None,
    actor: str,
    amount: Decimal | None = None,
    clock: Clock = today_paris,
) -> dict[str, Any]:
    """A remission (« remise gracieuse ») of `amount`, or of the whole balance, by a decision."""
    ref = _decision(decision)
    with uow:
        s = uow.session
        debt = _load(s, debt_ref)
        _refuse_closed(debt, "remise")
        waived = balance_of(debt) if amount is None else amount
        _check_amount(waived)
        _check_date(debt, on, "La remise", clock())
        _move(s, debt, "waiver", waived, on=on, actor=actor, decision=ref)
        row = debt_row(debt)
        uow.commit()
        return row


def write_off(
    uow: UnitOfWork,
    debt_ref: int | str,
    *,
    on: date,
    decision: str | None,
    actor: str,
    clock: Clock = today_paris,
) -> dict[str, Any]:
    """An admission en non-valeur of the whole balance, by a decision."""
    ref = _decision(decision)
    with uow:
        s = uow.session
        debt = _load(s, debt_ref)
        _refuse_closed(debt, "admission en non-valeur")
        _check_date(debt, on, "L'admission en non-valeur", clock())
        _move(s, debt, "write_off", balance_of(debt), on=on, actor=actor, decision=ref)
        row = debt_row(debt)
        uow.commit()
        return row


def plan(
    uow: UnitOfWork,
    debt_ref: int | str,
    *,
    instalments: int,
    first: date,
    actor: str,
    clock: Clock = today_paris,
) -> dict[str, Any]:
    """A payment plan (échéancier): `instalments` monthly instalments from `first`, summing to
    the balance to the cent. Refused on a debt no longer owed or with an active plan; a lapsed
    plan's unpaid instalments are cancelled."""
    if not 1 <= instalments <= MAX_INSTALMENTS:
        raise InvalidInput(
            f"Le nombre d'échéances doit être compris entre 1 et {MAX_INSTALMENTS}.",
            "instalments",
        )
    with uow:
        s = uow.session
        debt = _load(s, debt_ref)
        _refuse_closed(debt, "échéancier")
        if debt.plan_status == "active":
            raise InvalidInput(f"La dette {debt.number} a déjà un échéancier en cours.")
        if first < debt.opened_on:
            raise InvalidInput(
                f"La première échéance ({first:%d/%m/%Y}) précède l'ouverture de la dette "
                f"{debt.number} ({debt.opened_on:%d/%m/%Y}).",
                "first",
            )
        balance = balance_of(debt)
        if balance < CENT * instalments:
            raise InvalidInput(
                f"Le solde de {balance} € ne se répartit pas en {instalments} échéances.",
                "instalments",
            )
        existing = s.scalars(
            sa.select(DebtInstalment).where(DebtInstalment.debt_id == debt.id)
        ).all()
        for old in existing:
            if old.status in ("pending", "missed"):
                old.status = "cancelled"
        start = max((i.seq for i in existing), default=0)
        for n, part in enumerate(instalment_amounts(balance, instalments)):
            s.add(
                DebtInstalment(
                    debt_id=debt.id,
                    seq=start + n + 1,
                    due_date=add_months(first, n),
                    amount=part,
                    status="pending",
                )
            )
        debt.plan_status = "active"
        s.add(
            DebtMovement(
                debt_id=debt.id,
                kind="plan",
                amount=balance,
                on=clock(),
                reference=f"{instalments} échéance(s) à partir du {first:%d/%m/%Y}",
                actor=actor,
            )
        )
        s.flush()
        row = debt_row(debt)
        row["plan"] = plan_rows(s, debt.id)
        uow.commit()
        return row


REPAID_FILE_MAX_BYTES = 10 * 1024 * 1024  # the treasury's statement of a month: a few lines
_COLUMNS = ("debt_number", "amount", "paid_on", "reference")


def import_repaid(uow: UnitOfWork, file: Path, *, actor: str, clock: Clock = today_paris) -> int:
    """The treasury's repayments, CSV `debt_number;amount;paid_on;reference` (or `,`). Every row
    is checked first, against the balances the earlier rows leave; one bad row and nothing is
    written."""
    rows, header = read_rows(file, ";".join(_COLUMNS), max_bytes=REPAID_FILE_MAX_BYTES)
    missing = [c for c in _COLUMNS[:3] if c not in header]
    if missing:
        raise InvalidInput(
            f"Colonne(s) absente(s) du fichier {file.name} : {', '.join(missing)} (attendu : "
            f"{';'.join(_COLUMNS)})."
        )
    errors: list[str] = []
    parsed: list[tuple[int, str, Decimal, date, str | None]] = []
    for line, row in enumerate(rows, start=2):
        try:
            number = validation.text(row.get("debt_number") or "", "reference", field="debt")
            if not number:
                raise InvalidInput("numéro de dette absent")
            amount = parse_amount(row.get("amount") or "", "amount")
            paid_on = validation.parse_date(row.get("paid_on") or "", "paid_on")
            ref = validation.optional_text(row.get("reference"), "reference", field="reference")
        except InvalidInput as exc:
            errors.append(f"ligne {line} : {exc}")
            continue
        parsed.append((line, number.upper(), amount, paid_on, ref))
    if not parsed and not errors:
        raise InvalidInput(f"Le fichier {file.name} ne contient aucun remboursement.")
    today = clock()
    with uow:
        s = uow.session
        known = {
            d.number: d
            for d in s.scalars(
                sa.select(Debt)
                .where(Debt.number.in_({n for _, n, _, _, _ in parsed}))
                .with_for_update()
            )
        }
        # Each row judged against what the rows before it leave.
        simulated = {n: figures_of(d) for n, d in known.items()}
        for line, number, amount, paid_on, _ in parsed:
            debt = known.get(number)
            if debt is None:
                errors.append(f"ligne {line} : dette « {validation.shown(number)} » inconnue")
                continue
            figures = simulated[number]
            if figures.closed:
                errors.append(
                    f"ligne {line} : la dette {number} est {STATUS_LABELS[figures.status]}"
                )
            elif amount > figures.balance:
                errors.append(
                    f"ligne {line} : {amount} € dépasse le solde de la dette {number} "
                    f"({figures.balance} €)"
                )
            elif paid_on < debt.opened_on or paid_on > today:
                errors.append(
                    f"ligne {line} : date {paid_on:%d/%m/%Y} hors de la vie de la dette {number}"
                )
            else:
                simulated[number] = figures.apply("repayment", amount)
        if errors:
            more = f" ; et {len(errors) - 20} autre(s)" if len(errors) > 20 else ""
            raise InvalidInput(
                "Import refusé, rien n'a été enregistré : " + " ; ".join(errors[:20]) + more
            )
        for _, number, amount, paid_on, ref in parsed:
            _move(s, known[number], "repayment", amount, on=paid_on, actor=actor, reference=ref)
        uow.commit()
        return len(parsed)


# -- read models -------------------------------------------------------------------------------


def debt_row(debt: Debt) -> dict[str, Any]:
    """A debt as `case show --json` and `debt list --json` give it (amounts as strings)."""
    return {
        "id": debt.id,
        "number": debt.number,
        "case": debt.case_id,
        "funder": debt.funder,
        "kind": debt.kind,
        "amount": str(debt.amount),
        "repaid": str(debt.repaid),
        "waived": str(debt.waived),
        "written_off": str(debt.written_off),
        "balance": str(balance_of(debt)),
        "status": debt.status,
        "due_date": debt.due_date.isoformat(),
        "opened_on": debt.opened_on.isoformat(),
        "plan": debt.plan_status,
        "document_id": debt.document_id,
    }


def plan_rows(s: Session, debt_id: int) -> list[dict[str, Any]]:
    return [_instalment_row(i) for i in _current_instalments(s, debt_id)]


def plans_of(s: Session, debt_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """`plan_rows` of several debts (a case page's), in one query."""
    wanted = sorted(set(debt_ids))
    if not wanted:
        return {}
    by_debt: dict[int, list[DebtInstalment]] = {d: [] for d in wanted}
    for i in s.scalars(
        sa.select(DebtInstalment)
        .where(DebtInstalment.debt_id.in_(wanted))
        .order_by(DebtInstalment.debt_id, DebtInstalment.seq)
    ):
        by_debt[i.debt_id].append(i)
    return {d: [_instalment_row(i) for i in _latest_plan(rows)] for d, rows in by_debt.items()}


def _instalment_row(i: DebtInstalment) -> dict[str, Any]:
    return {
        "seq": i.seq,
        "due_date": i.due_date.isoformat(),
        "amount": str(i.amount),
        "status": i.status,
    }


def debt_rows(
    s: Session,
    *,
    status: str | None = None,
    funder: str | None = None,
    case_id: int | None = None,
    case_ids: sa.Select[Any] | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Debts, newest first, narrowed by status, funder, case or a query of case ids."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(
            f"État de dette inconnu : « {validation.shown(status)} » (états : "
            f"{', '.join(STATUSES)}).",
            "status",
        )
    query = sa.select(Debt).order_by(Debt.id.desc()).limit(limit)
    if status:
        query = query.where(Debt.status == status)
    if funder:
        query = query.where(Debt.funder == funder)
    if case_id is not None:
        query = query.where(Debt.case_id == case_id)
    if case_ids is not None:
        query = query.where(Debt.case_id.in_(case_ids))
    return [debt_row(d) for d in s.scalars(query)]


def totals_by_funder(
    s: Session, visible: sa.ColumnElement[bool] | None = None
) -> dict[str, dict[str, Decimal]]:
    """Per funder: amount, repaid, waived, written off and balance (à recouvrer) over the debts
    (of the cases `visible` selects), in one query."""
    query = (
        sa.select(
            Debt.funder,
            sa.func.sum(Debt.amount),
            sa.func.sum(Debt.repaid),
            sa.func.sum(Debt.waived),
            sa.func.sum(Debt.written_off),
        )
        .group_by(Debt.funder)
        .order_by(Debt.funder)
    )
    if visible is not None:
        query = query.join(Case, Case.id == Debt.case_id).where(visible)
    rows = s.execute(query).all()
    out: dict[str, dict[str, Decimal]] = {}
    for funder, amount, repaid, waived, written_off in rows:
        figures = Figures(
            Decimal(amount or 0), Decimal(repaid or 0), Decimal(waived or 0),
            Decimal(written_off or 0),
        )  # fmt: skip
        out[funder] = {
            "amount": figures.amount,
            "repaid": figures.repaid,
            "waived": figures.waived,
            "written_off": figures.written_off,
            "balance": figures.balance,
        }
    return out


__all__ = [
    "ACTIVE",
    "DEFAULT_DELAYS",
    "KINDS",
    "STATUSES",
    "Figures",
    "balance_of",
    "confirm_repayment",
    "debt_row",
    "debt_rows",
    "figures_of",
    "import_repaid",
    "instalment_amounts",
    "open_debt",
    "parse_amount",
    "plan",
    "plan_rows",
    "plans_of",
    "repay",
    "totals_by_funder",
    "waive",
    "write_off",
]
