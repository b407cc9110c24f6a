"""The caseworkers' queue (issue 15): cases assigned to an agent — by hand, in bulk, or by the
scheme's rule (`assignment.by_departement`: the employer's département → an agent's address) —
and « À traiter », what waits for the Région, sorted by due date:

- a selection without contract (due: the selection's date + the scheme's
  `selection_without_contract` reminder delay);
- a contract issued, signatures pending (due: its issue + `contract_unsigned`);
- an anomaly of the nightly run (workflow.anomalies) still open (due: the transition's date);
- a debt overdue: open or partly repaid, its due date past (workflow.debts);
- a thread whose last message is the learner's or the employer's (due: its date; a row per
  thread waiting);
- a declaration of a party waiting for the Région's decision — a suspension, a departure, a
  change of working time, a payment plan asked for (workflow.declarations; due: the day it was
  declared);
- a party's refusal to sign the current contract electronically (workflow.esign; due: the
  refusal's day).
 Each source is one SELECT; they are read as one UNION ALL sorted and
paginated in SQL, then the page's cases are read in one more query: the query count stays flat
however many cases there are (tests/integration/test_query_counts.py).

An assignment is work distribution, not a fact of the case: it is no event of its history."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import accounts, declarations
from workflow.accounts import Principal
from workflow.db import UnitOfWork
from workflow.errors import FidelisError, InvalidInput, NotFound
from workflow.models import (
    Case,
    CaseAssignment,
    CaseMessage,
    Debt,
    Document,
    Employer,
    EsignRequest,
    Learner,
    Offer,
    RunAnomaly,
    Signature,
    User,
    utcnow,
)
from workflow.schemes import SchemeRegistry, registry
from workflow.sqldates import add_days
from workflow.states import STATE_LABELS, State

PAGE = 50
# What waits for the Région, by its code, as the queue says it.
REASONS = {
    "contract_to_issue": "Contrat à émettre",
    "signatures_pending": "Signatures en attente",
    "anomaly": "Anomalie du traitement de nuit",
    "debt_overdue": "Dette échue impayée",
    "message_waiting": "Message en attente de réponse",
    "declaration": "Déclaration à décider",
    "esign_refused": "Signature refusée",
}
FINAL = (State.COMPLETED, State.BREACHED, State.REJECTED, State.WITHDRAWN)


def agents(s: Session) -> list[dict[str, Any]]:
    """The active accounts a case may be assigned to (the caseworkers' service), by name."""
    rows = s.execute(
        sa.select(User.id, User.name, User.email)
        .where(User.role.in_(sorted(accounts.STAFF)), User.disabled_at.is_(None))
        .order_by(User.name, User.id)
    )
    return [{"id": i, "name": n, "email": e} for i, n, e in rows]


def tier_labels(schemes: SchemeRegistry | None = None) -> dict[str, str]:
    """Every scheme's tiers by code, with their labels (the bulk issue of contracts)."""
    return {
        code: tier.label
        for scheme in (schemes or registry()).values()
        for code, tier in scheme.tiers.items()
    }


def _agent(s: Session, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None or user.role not in accounts.STAFF or user.disabled_at is not None:
        raise InvalidInput(
            "Un dossier s'attribue à un agent actif du service instructeur.", "agent"
        )
    return user


def assign(uow: UnitOfWork, case_ids: Iterable[int], user_id: int | None, *, actor: str) -> int:
    """Assign the cases to the agent `user_id` (None: to nobody); returns how many. An unknown
    case refuses the whole batch, nothing written."""
    wanted = sorted(set(case_ids))
    if not wanted:
        raise InvalidInput("Cochez au moins un dossier.", "dossiers")
    with uow:
        s = uow.session
        if user_id is not None:
            _agent(s, user_id)
        found = set(s.scalars(sa.select(Case.id).where(Case.id.in_(wanted))))
        missing = [c for c in wanted if c not in found]
        if missing:
            raise NotFound("Dossier", missing[0])
        s.execute(sa.delete(CaseAssignment).where(CaseAssignment.case_id.in_(wanted)))
        if user_id is not None:
            s.add_all(
                CaseAssignment(case_id=c, user_id=user_id, assigned_at=utcnow(), assigned_by=actor)
                for c in wanted
            )
        uow.commit()
        return len(wanted)


def assign_by_rule(uow: UnitOfWork, *, actor: str, schemes: SchemeRegistry | None = None) -> int:
    """Assign every unassigned case still running by its scheme's rule (the employer's
    département → an agent's address); returns how many. An address of no active agent is
    said, in French, and nothing is written."""
    schemes = schemes or registry()
    done = 0
    with uow:
        s = uow.session
        for scheme in schemes.values():
            rule = scheme.assignment.by_departement if scheme.assignment else {}
            for departement, email in sorted(rule.items()):
                user = accounts.find_user(s, email)
                if user is None or user.role not in accounts.STAFF or user.disabled_at:
                    raise InvalidInput(
                        f"Règle d'attribution du dispositif « {scheme.label} » : aucun agent "
                        f"actif pour {email} (département {departement}).",
                        "assignment",
                    )
                ids = list(
                    s.scalars(
                        sa.select(Case.id)
                        .join(Offer, Offer.id == Case.offer_id)
                        .join(Employer, Employer.id == Offer.employer_id)
                        .where(
                            Case.scheme_id == scheme.id,
                            Case.state.not_in(FINAL),
                            sa.func.substr(Employer.commune_insee, 1, 2) == departement,
                            Case.id.not_in(sa.select(CaseAssignment.case_id)),
                        )
                    )
                )
                s.add_all(
                    CaseAssignment(case_id=c, user_id=user.id, assigned_by=actor) for c in ids
                )
                done += len(ids)
        uow.commit()
    return done


def mine(who: Principal) -> sa.ColumnElement[bool]:
    """The SQL condition on `Case` for « Mes dossiers »: the cases assigned to `who`."""
    return Case.id.in_(sa.select(CaseAssignment.case_id).where(CaseAssignment.user_id == who.id))


# -- « À traiter » -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delays:
    """The reminder delays the due dates are computed with (the first scheme's: one SQL)."""

    selection: int
    signature: int


def _delays(schemes: SchemeRegistry) -> Delays:
    first = next(iter(schemes.values()))
    return Delays(
        first.reminders.get("selection_without_contract", 0),
        first.reminders.get("contract_unsigned", 0),
    )


def _sources(today: date, delays: Delays) -> list[sa.Select[Any]]:
    """One SELECT (case_id, reason, due) per reason, each able to walk an index in due order
    (migration 0023): `to_do` takes the first rows of each, so a page costs the same at
    10 000 cases as at 1 000 000."""
    issued = sa.select(Document.case_id).where(
        Document.kind == "contract", Document.status == "issued", Document.case_id.is_not(None)
    )
    contract_to_issue = (
        sa.select(
            Case.id.label("case_id"),
            sa.literal("contract_to_issue").label("reason"),
            add_days(Case.last_effective_date, delays.selection).label("due"),
        )
        .where(Case.state == State.SELECTED, Case.id.not_in(issued))
        .order_by(Case.last_effective_date, Case.id)  # ix_cases_state_last_event
    )
    signatures = (
        sa.select(
            Case.id.label("case_id"),
            sa.literal("signatures_pending").label("reason"),
            add_days(sa.func.max(Document.issued_on), delays.signature).label("due"),
        )
        .join(Document, Document.case_id == Case.id)
        .where(
            Case.state == State.SELECTED,
            Document.kind == "contract",
            Document.status == "issued",
        )
        .group_by(Case.id)
        .order_by(sa.func.max(Document.issued_on), Case.id)
    )
    anomalies = (
        sa.select(
            RunAnomaly.case_id.label("case_id"),
            sa.literal("anomaly").label("reason"),
            RunAnomaly.effective_date.label("due"),
        )
        .where(RunAnomaly.resolved_at.is_(None))
        .order_by(RunAnomaly.effective_date, RunAnomaly.case_id)
    )
    # One SELECT per status: each walks ix_debts_status_due in due order.
    overdue = [
        sa.select(
            Debt.case_id.label("case_id"),
            sa.literal("debt_overdue").label("reason"),
            Debt.due_date.label("due"),
        )
        .where(Debt.status == status, Debt.due_date < today)
        .order_by(Debt.due_date, Debt.case_id)
        for status in ("open", "partially_repaid")
    ]
    # A party's message no later message of its thread answers (workflow.threads keeps it).
    waiting = (
        sa.select(
            CaseMessage.case_id.label("case_id"),
            sa.literal("message_waiting").label("reason"),
            CaseMessage.waiting_since.label("due"),
        )
        .where(CaseMessage.waiting_since.is_not(None))
        .order_by(CaseMessage.waiting_since, CaseMessage.case_id)  # ix_case_messages_waiting
    )
    # A party refused to sign the current contract (issue 16): the Région decides what follows
    # (a new version, a withdrawal); due the refusal's day, the case's last event.
    refused = (
        sa.select(
            EsignRequest.case_id.label("case_id"),
            sa.literal("esign_refused").label("reason"),
            Case.last_effective_date.label("due"),
        )
        .join(Case, Case.id == EsignRequest.case_id)
        .join(Document, Document.id == EsignRequest.contract_id)
        .where(
            EsignRequest.status == "refused",
            Case.state == State.SELECTED,
            Document.status == "issued",
        )
        .order_by(Case.last_effective_date, EsignRequest.case_id)
    )
    # What a party declared (workflow.declarations), due the day it was declared.
    return [
        contract_to_issue,
        signatures,
        anomalies,
        *overdue,
        waiting,
        declarations.pending_source(),
        refused,
    ]


def to_do(
    s: Session,
    *,
    today: date,
    page: int = 1,
    only: Principal | None = None,
    schemes: SchemeRegistry | None = None,
) -> dict[str, Any]:
    """One page of « À traiter » (of `only`'s cases when given: « Mes dossiers »), sorted by
    due date then case: rows {case_id, reason, reason_label, due, learner, employer, state,
    agent}, whether a next page exists and the total. Three queries whatever the size: the
    page is the merge of each reason's first `page × PAGE + 1` rows in due order (no reason
    can place a row on this page from further down its own order), then its cases, then the
    total."""
    if page < 1:
        raise InvalidInput("Numéro de page invalide.", "page")
    first = page * PAGE + 1
    parts = []
    for source in _sources(today, _delays(schemes or registry())):
        if only is not None:
            source = source.where(_assigned_to(only, source))
        parts.append(source.limit(first).subquery().select())
    items = sa.union_all(*parts).subquery("items")
    rows = s.execute(
        sa.select(items.c.case_id, items.c.reason, items.c.due)
        .order_by(items.c.due, items.c.case_id, items.c.reason)
        .limit(PAGE + 1)
        .offset((page - 1) * PAGE)
    ).all()
    shown = rows[:PAGE]
    about = _cases(s, {r.case_id for r in shown})
    total = s.scalar(_total(today, schemes, only))
    return {
        "rows": [
            {
                "case_id": r.case_id,
                "reason": r.reason,
                "reason_label": REASONS[r.reason],
                "due": _date(r.due),
                "late": _date(r.due) < today,
                **about[r.case_id],
            }
            for r in shown
        ],
        "page": page,
        "has_next": len(rows) > PAGE,
        "total": total or 0,
    }


def _date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _assigned_to(who: Principal, source: sa.Select[Any]) -> sa.ColumnElement[bool]:
    """The condition keeping `source`'s rows of the cases assigned to `who`."""
    case_id = source.selected_columns["case_id"]
    return case_id.in_(sa.select(CaseAssignment.case_id).where(CaseAssignment.user_id == who.id))


def _total(today: date, schemes: SchemeRegistry | None, only: Principal | None) -> sa.Select[Any]:
    """How many items the queue holds: each reason counted on its own index, its due date left
    uncomputed, the counts added in one statement."""
    counts = []
    for source in _sources(today, _delays(schemes or registry())):
        if only is not None:
            source = source.where(_assigned_to(only, source))
        bare = source.with_only_columns(source.selected_columns["case_id"]).order_by(None)
        counts.append(sa.select(sa.func.count()).select_from(bare.subquery()).scalar_subquery())
    return sa.select(sum(counts[1:], counts[0]))


def _cases(s: Session, ids: set[int]) -> dict[int, dict[str, Any]]:
    """What the queue shows of each case, in one query."""
    if not ids:
        return {}
    rows = s.execute(
        sa.select(
            Case.id,
            Case.state,
            Learner.first_name,
            Learner.last_name,
            Employer.name,
            User.name.label("agent"),
        )
        .join(Learner, Learner.id == Case.learner_id)
        .join(Offer, Offer.id == Case.offer_id)
        .join(Employer, Employer.id == Offer.employer_id)
        .outerjoin(CaseAssignment, CaseAssignment.case_id == Case.id)
        .outerjoin(User, User.id == CaseAssignment.user_id)
        .where(Case.id.in_(sorted(ids)))
    )
    return {
        r.id: {
            "state": r.state.value,
            "state_label": STATE_LABELS[r.state],
            "learner": f"{r.first_name} {r.last_name}",
            "employer": r.name,
            "agent": r.agent or "",
        }
        for r in rows
    }


@dataclass(frozen=True)
class BulkResult:
    """What a bulk action did: how many cases it changed, and each refusal, in French."""

    done: int
    refused: list[str]

    def summary(self, what: str) -> str:
        said = f"{what} : {self.done} dossier(s)."
        if self.refused:
            said += " Refusé pour " + " ; ".join(self.refused) + "."
        return said


def each_case(case_ids: Iterable[int], act: Callable[[int], object]) -> BulkResult:
    """`act` on each case in its own transaction: one refusal stops none of the others."""
    wanted = sorted(set(case_ids))
    if not wanted:
        raise InvalidInput("Cochez au moins un dossier.", "dossiers")
    done, refused = 0, []
    for case_id in wanted:
        try:
            act(case_id)
        except FidelisError as exc:
            refused.append(f"le dossier n° {case_id} ({exc})")
        else:
            done += 1
    return BulkResult(done, refused)


def signatures(s: Session, case_id: int) -> list[dict[str, Any]]:
    """Who signed the case's contracts, when, and who recorded it (the case page)."""
    rows = s.execute(
        sa.select(Document.number, Document.version, Signature)
        .join(Signature, Signature.document_id == Document.id)
        .where(Document.case_id == case_id, Document.kind == "contract")
        .order_by(Document.id, Signature.id)
    ).all()
    return [
        {
            "contract": number,
            "version": version,
            "party": sig.party,
            "name": sig.signer_name,
            "signed_on": sig.signed_on,
        }
        for number, version, sig in rows
    ]


__all__ = [
    "PAGE",
    "REASONS",
    "BulkResult",
    "agents",
    "assign",
    "assign_by_rule",
    "each_case",
    "mine",
    "signatures",
    "tier_labels",
    "to_do",
]
