"""What a party declares on its own case (issue 15, items 1-2) for the Région to decide: the
learner a suspension (reason, dates), a change of working time, a departure or a request for a
payment plan of a debt; the employer a departure or a change of working time. Each comes with
its date, an optional explanation and an optional proof (workflow.attachments), and waits in
« À traiter » (workflow.queue) until an agent:

- accepts it, which fires the matching existing action with the declared date, in the same
  transaction — `cases.suspend`, `cases.change_working_time`, the `breach` trigger
  (`cases.fire`), `debts.plan` — so its guards judge it as they would the agent's own form, and
  a refusal leaves the declaration pending with nothing written;
- or rejects it with a reason.

The declarant is told of the decision by e-mail (the outbox, kind `declaration_decided`, with a
link to their page, never the reason's text). The free texts (explanation, reason) live in
`case_texts`, which the retention purge erases; `details` keeps codes, dates and figures only.

API for the parties' pages: `declare(uow, who, case_id, kind, on, details=…, text=…, proof=…)`
→ id, `decide(uow, who, declaration_id, accept=…, reason=…, params=…)` → a French summary,
`of_case(s, who, case_id)` → rows, `kinds_for(who)`, `choices(s, case_id)`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import accounts, cases, debts, validation
from workflow.accounts import Principal
from workflow.archive import DocumentStore
from workflow.attachments import checked, store_attachment
from workflow.clock import Clock, today_paris
from workflow.db import Joined, UnitOfWork
from workflow.documents.labels import breach_reason_label, suspension_reason_label
from workflow.errors import InvalidInput, NotFound
from workflow.models import Case, CaseText, Debt, Declaration, OutboxMessage, User
from workflow.schemes import BREACH_REASONS, registry
from workflow.settings import settings
from workflow.states import STATE_LABELS, CaseAction, State, Trigger
from workflow.threads import Attachment

KIND_LABELS: Mapping[str, str] = {
    "suspension": "Suspension de l'engagement",
    "departure": "Départ",
    "working_time": "Changement de temps de travail",
    "payment_plan": "Demande d'échéancier de remboursement",
}
# What each party may declare.
KINDS_OF_PARTY: Mapping[str, tuple[str, ...]] = {
    "learner": ("suspension", "working_time", "departure", "payment_plan"),
    "employer": ("departure", "working_time"),
    # The institute: a training interrupted or a diploma failed (workflow.partner_spaces).
    "institute": ("departure",),
}
PARTY_LABELS: Mapping[str, str] = {
    "learner": "Apprenant",
    "employer": "Employeur",
    "institute": "Institut de formation",
}
# The states a declaration of each kind can be accepted in (the guards decide at acceptance).
STATES_OF_KIND: Mapping[str, frozenset[State]] = {
    "suspension": frozenset({State.SERVING}),
    "working_time": frozenset({State.SERVING}),
    "departure": frozenset({State.CONTRACTED, State.IN_TRAINING, State.SERVING}),
    "payment_plan": frozenset(State),
}
STATUS_LABELS: Mapping[str, str] = {
    "pending": "en attente de décision",
    "accepted": "acceptée",
    "rejected": "refusée",
}
NOTIFICATION = "declaration_decided"
HORIZON = timedelta(days=366)  # a date further than a year from today is a typing error
MAX_INSTALMENTS = 36  # what a learner may ask for; the agent may grant up to debts' bound


def case_of(s: Session, declaration_id: int) -> int:
    """The case a declaration is about (NotFound for none)."""
    found = s.scalar(sa.select(Declaration.case_id).where(Declaration.id == declaration_id))
    if found is None:
        raise NotFound("Déclaration", declaration_id)
    return found


def kinds_for(who: Principal) -> tuple[str, ...]:
    """What `who` may declare (nothing for the Région's agents)."""
    return KINDS_OF_PARTY.get(who.role, ())


def _party(who: Principal, kind: str) -> str:
    allowed = kinds_for(who)
    if not allowed:
        raise InvalidInput(
            "Seuls l'apprenant et l'employeur (l'institut, pour la formation) déclarent.",
            "kind",
        )
    if kind not in allowed:
        labels = ", ".join(f"« {KIND_LABELS[k]} »" for k in allowed)
        raise InvalidInput(f"Choisissez ce que vous déclarez : {labels}.", "kind")
    return who.role


def _date(value: date | str, field: str, label: str) -> date:
    if isinstance(value, date):
        return value
    text = value.strip()
    if not text:
        raise InvalidInput(f"{label} est obligatoire.", field)
    return validation.parse_date(text, field)


def _details(s: Session, case: Case, kind: str, on: date, raw: Mapping[str, str]) -> dict[str, Any]:
    """The declaration's details, checked and typed: codes, dates and figures only."""
    scheme = registry()[case.scheme_id]
    if kind == "suspension":
        reason = (raw.get("reason") or "").strip()
        accepted = scheme.commitment.suspension_reasons
        if reason not in accepted:
            labels = ", ".join(f"« {suspension_reason_label(r)} »" for r in accepted)
            raise InvalidInput(f"Choisissez le motif de la suspension : {labels}.", "reason")
        end_text = (raw.get("end") or "").strip()
        end = _date(end_text, "end", "La fin") if end_text else None
        if end is not None and end < on:
            raise InvalidInput(
                f"La fin de la suspension ({end:%d/%m/%Y}) précède son début ({on:%d/%m/%Y}).",
                "end",
            )
        return {"reason": reason, "end": end.isoformat() if end else None}
    if kind == "working_time":
        typed = cases.parse_params(
            CaseAction.CHANGE_WORKING_TIME, {"part_time": raw.get("part_time") or ""}
        )
        return {"part_time": str(typed["part_time"])}
    if kind == "departure":
        category = (raw.get("category") or "").strip()
        if category and category not in BREACH_REASONS:
            labels = ", ".join(f"« {breach_reason_label(r)} »" for r in BREACH_REASONS)
            raise InvalidInput(f"Choisissez le motif du départ : {labels}.", "category")
        return {"category": category or None}
    # payment_plan: which debt, in how many monthly instalments
    debt_id = _int(raw.get("debt") or "", "debt", "La dette")
    debt = s.get(Debt, debt_id)
    if debt is None or debt.case_id != case.id:
        raise NotFound("Dette", debt_id)
    if debt.status not in debts.ACTIVE or debt.plan_status == "active":
        raise InvalidInput(
            f"La dette {debt.number} n'est plus due ou a déjà un échéancier en cours.", "debt"
        )
    count = _int(raw.get("instalments") or "", "instalments", "Le nombre d'échéances")
    if not 2 <= count <= MAX_INSTALMENTS:
        raise InvalidInput(
            f"Le nombre d'échéances doit être compris entre 2 et {MAX_INSTALMENTS}.",
            "instalments",
        )
    return {"debt": debt.id, "instalments": count}


def _int(value: str, field: str, label: str) -> int:
    typed = value.strip()
    if not typed.isdigit() or len(typed) > 6:
        raise InvalidInput(f"{label} : un nombre entier est attendu.", field)
    return int(typed)


def declare(
    uow: UnitOfWork,
    who: Principal,
    case_id: int,
    kind: str,
    on: date | str,
    *,
    details: Mapping[str, str] | None = None,
    text: str = "",
    proof: Attachment | None = None,
    store: DocumentStore | None = None,
    clock: Clock = today_paris,
) -> int:
    """`who` (the learner or the employer) declares `kind` on its own case from `on`; returns
    the declaration's id. Another's case is NotFound; a bad input InvalidInput (French) —
    nothing written either way."""
    party = _party(who, kind)
    today = clock()
    effective = _date(on, "on", "La date")
    if abs(effective - today) > HORIZON:
        raise InvalidInput(
            f"La date {effective:%d/%m/%Y} est à plus d'un an d'aujourd'hui : vérifiez-la.", "on"
        )
    explanation = validation.text(text, "note", label="L'explication", field="text")
    files = checked([proof]) if proof is not None else []
    with uow:
        s = uow.session
        accounts.ensure_visible(s, who, case_id)
        case = s.get_one(Case, case_id)
        if case.state not in STATES_OF_KIND[kind]:
            raise InvalidInput(
                f"« {KIND_LABELS[kind]} » ne se déclare pas sur un dossier à l'état « "
                f"{STATE_LABELS[case.state]} ».",
                "kind",
            )
        typed = _details(s, case, kind, effective, details or {})
        pending = s.scalar(
            sa.select(Declaration.id).where(
                Declaration.case_id == case.id,
                Declaration.kind == kind,
                Declaration.status == "pending",
            )
        )
        if pending is not None:
            raise InvalidInput(
                f"Une déclaration « {KIND_LABELS[kind]} » attend déjà la décision de la Région "
                f"(n° {pending}).",
                "kind",
            )
        note = CaseText(case_id=case.id, kind="note", text=explanation) if explanation else None
        if note is not None:
            s.add(note)
            s.flush()
        doc = (
            store_attachment(
                s,
                case,
                f"{party}_proof",
                files[0][0],
                files[0][1],
                on=max(today, case.last_effective_date),
                actor=who.actor,
                store=store,
            )
            if files
            else None
        )
        declaration = Declaration(
            case_id=case.id,
            kind=kind,
            party=party,
            declared_by=who.id,
            effective_on=effective,
            details=typed,
            text_id=note.id if note else None,
            document_id=doc.id if doc else None,
            status="pending",
            declared_on=today,
        )
        s.add(declaration)
        s.flush()
        uow.commit()
        return declaration.id


def decide(
    uow: UnitOfWork,
    who: Principal,
    declaration_id: int,
    *,
    accept: bool,
    reason: str = "",
    params: Mapping[str, str] | None = None,
    clock: Clock = today_paris,
) -> str:
    """An agent's decision; returns what was done, in French. Accepting fires the matching
    action with the declared date (`params` completes or corrects the declaration: a departure's
    `category` and `exemption`, a suspension's `reason` or `end`, a plan's `instalments` and
    `first` instalment date) in the same transaction; rejecting needs a reason. A refusal of
    the action's guards leaves the declaration pending, nothing written."""
    if not accounts.is_staff(who):
        raise NotFound("Déclaration", declaration_id)
    why = validation.text(reason, "reason", label="Le motif du refus", field="reason")
    if not accept and not why:
        raise InvalidInput("Le motif du refus est obligatoire.", "reason")
    extra = dict(params or {})
    today = clock()
    with uow:
        s = uow.session
        found = s.get(Declaration, declaration_id)
        if found is None:
            raise NotFound("Déclaration", declaration_id)
        if found.status != "pending":
            raise InvalidInput(
                f"La déclaration n° {found.id} est déjà {STATUS_LABELS[found.status]}.", "status"
            )
        # Claimed first: a second decision racing this one updates nothing and is refused.
        claimed = s.execute(
            sa.update(Declaration)
            .where(Declaration.id == found.id, Declaration.status == "pending")
            .values(
                status="accepted" if accept else "rejected",
                decided_on=today,
                decided_by=who.actor,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 1) != 1:
            raise InvalidInput(f"La déclaration n° {found.id} vient d'être décidée.", "status")
        if accept:
            said = _fire(s, found, extra, who.actor, today)
        else:
            text = CaseText(case_id=found.case_id, kind="reason", text=why)
            s.add(text)
            s.flush()
            s.execute(
                sa.update(Declaration)
                .where(Declaration.id == found.id)
                .values(decision_text_id=text.id)
                .execution_options(synchronize_session=False)
            )
            said = f"Déclaration n° {found.id} refusée."
        _notify(s, found, today)
        uow.commit()
        return said


def _fire(s: Session, d: Declaration, extra: Mapping[str, str], actor: str, today: date) -> str:
    joined = Joined(s)
    details = dict(d.details)
    what = KIND_LABELS[d.kind]
    if d.kind == "suspension":
        end_text = extra.get("end") or details.get("end") or ""
        cases.suspend(
            joined,
            d.case_id,
            start=d.effective_on,
            end=_date(end_text, "end", "La fin") if end_text else None,
            reason=extra.get("reason") or details["reason"],
            actor=actor,
        )
    elif d.kind == "working_time":
        cases.change_working_time(
            joined,
            d.case_id,
            start=d.effective_on,
            ratio=extra.get("part_time") or details["part_time"],
            actor=actor,
        )
    elif d.kind == "departure":
        category = extra.get("category") or details.get("category")
        if not category:
            raise InvalidInput(
                "Choisissez le motif de la rupture pour accepter le départ.", "category"
            )
        params = {"category": category} | {
            k: v
            for k, v in extra.items()
            if k in ("exemption", "exemption_on", "exemption_by") and v
        }
        cases.fire(joined, d.case_id, Trigger.BREACH, on=d.effective_on, actor=actor, params=params)
    else:
        count = extra.get("instalments") or str(details["instalments"])
        first_text = extra.get("first") or ""
        debts.plan(
            joined,
            int(details["debt"]),
            instalments=_int(count, "instalments", "Le nombre d'échéances"),
            first=_date(first_text, "first", "La première échéance")
            if first_text
            else d.effective_on,
            actor=actor,
        )
    return f"Déclaration n° {d.id} acceptée : « {what} » enregistrée."


def _notify(s: Session, d: Declaration, today: date) -> None:
    """Queue the e-mail telling the declarant of the decision (their account's address)."""
    recipient = s.scalar(
        sa.select(User.email).where(User.id == d.declared_by, User.disabled_at.is_(None))
    )
    if not recipient:
        return
    case = s.get_one(Case, d.case_id)
    s.add(
        OutboxMessage(
            dedup_key=f"declaration:{d.id}",
            case_id=d.case_id,
            employer_id=case.offer.employer_id if d.party == "employer" else None,
            kind=NOTIFICATION,
            due_date=today,
            recipient=recipient,
            context={"declaration_id": d.id},
        )
    )


def link_for(party: str, case_id: int) -> str:
    """The declarant's page of the case (the e-mail's link)."""
    base = settings().public_url.rstrip("/")
    if party == "learner":
        return f"{base}/mon-espace/dossiers/{case_id}#declarations"
    if party == "institute":
        return f"{base}/espace-institut/dossiers/{case_id}#declarations"
    return f"{base}/dossiers/{case_id}#declarations"


def mail_context(s: Session, declaration_id: int) -> dict[str, Any]:
    """The `declaration_decided` e-mail's `declaration` {kind_label, accepted, effective_on,
    link} (jobs.outbox): the decision, never the reason's text."""
    d = s.get_one(Declaration, declaration_id)
    return {
        "kind_label": KIND_LABELS[d.kind],
        "accepted": d.status == "accepted",
        "effective_on": d.effective_on,
        "link": link_for(d.party, d.case_id),
    }


def of_case(s: Session, who: Principal, case_id: int) -> list[dict[str, Any]]:
    """The case's declarations `who` may read, newest first: the agents every one, a party its
    own. The caller has checked that `who` sees the case. One query."""
    query = (
        sa.select(Declaration)
        .where(Declaration.case_id == case_id)
        .order_by(Declaration.id.desc())
        .options(
            sa.orm.joinedload(Declaration.text),
            sa.orm.joinedload(Declaration.decision_text),
            sa.orm.joinedload(Declaration.document),
        )
    )
    if not accounts.is_staff(who):
        query = query.where(Declaration.party == who.role)
    return [_row(d) for d in s.scalars(query).unique()]


def _row(d: Declaration) -> dict[str, Any]:
    return {
        "id": d.id,
        "kind": d.kind,
        "kind_label": KIND_LABELS[d.kind],
        "party": d.party,
        "party_label": PARTY_LABELS[d.party],
        "effective_on": d.effective_on,
        "details": describe(d.kind, d.details),
        "text": d.text.shown if d.text else None,
        "proof": {"id": d.document.id, "filename": d.document.filename} if d.document else None,
        "status": d.status,
        "status_label": STATUS_LABELS[d.status],
        "declared_on": d.declared_on,
        "decided_on": d.decided_on,
        "decision_reason": d.decision_text.shown if d.decision_text else None,
    }


def describe(kind: str, details: Mapping[str, Any]) -> str:
    """The details as a sentence in French."""
    if kind == "suspension":
        end = details.get("end")
        until = f", jusqu'au {date.fromisoformat(end):%d/%m/%Y}" if end else ""
        return f"Motif : {suspension_reason_label(details['reason'])}{until}"
    if kind == "working_time":
        return f"Nouvelle quotité : {str(details['part_time']).replace('.', ',')}"
    if kind == "departure":
        category = details.get("category")
        return f"Motif : {breach_reason_label(category)}" if category else "Motif non précisé"
    return f"Dette n° {details['debt']} en {details['instalments']} échéances mensuelles"


def choices(s: Session, case_id: int) -> dict[str, Any]:
    """What a declaration form offers on the case: suspension and departure reasons by label,
    the debts a plan may be asked for."""
    case = s.get_one(Case, case_id)
    scheme = registry()[case.scheme_id]
    owed = s.scalars(
        sa.select(Debt).where(Debt.case_id == case_id, Debt.status.in_(sorted(debts.ACTIVE)))
    ).all()
    return {
        "suspension_reasons": {
            r: suspension_reason_label(r) for r in scheme.commitment.suspension_reasons
        },
        "breach_reasons": {r: breach_reason_label(r) for r in BREACH_REASONS},
        "debts": [
            {"id": d.id, "number": d.number, "balance": debts.balance_of(d)}
            for d in owed
            if d.plan_status != "active"
        ],
    }


def pending_source() -> sa.Select[int, str, date]:
    """« À traiter »'s source of the declarations waiting (workflow.queue): due the day they
    were declared."""
    return (
        sa.select(
            Declaration.case_id.label("case_id"),
            sa.literal("declaration").label("reason"),
            Declaration.declared_on.label("due"),
        )
        .where(Declaration.status == "pending")
        .order_by(
            Declaration.declared_on, Declaration.case_id
        )  # read first-rows-first (queue.to_do)
    )


__all__ = [
    "KINDS_OF_PARTY",
    "KIND_LABELS",
    "NOTIFICATION",
    "STATUS_LABELS",
    "case_of",
    "choices",
    "decide",
    "declare",
    "describe",
    "kinds_for",
    "link_for",
    "mail_context",
    "of_case",
    "pending_source",
]
