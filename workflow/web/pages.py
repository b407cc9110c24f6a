"""What the pages show, read from the database: one function per page (or page part), taking a
session and plain values and returning what the template needs. The routers parse the request,
call one of these and render; the case list and case page themselves are `workflow.views`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import accounts, attachments, debts, declarations, queue, threads
from workflow.accounts import Principal
from workflow.anomalies import open_anomaly_count
from workflow.clock import today_paris
from workflow.eligibility import commune_is_rural
from workflow.errors import NotFound
from workflow.models import (
    Campaign,
    Case,
    Document,
    Employer,
    Institute,
    JobRun,
    Learner,
    Offer,
    OutboxMessage,
    Payment,
)
from workflow.schemes import registry
from workflow.sqltext import starts_with_ci
from workflow.states import State
from workflow.territory import default_territory
from workflow.views import case_detail

ZERO = Decimal("0.00")
IRREVERSIBLE = frozenset({"breach", "withdraw", "reject"})
OUTBOX_ROWS = 500
RUN_ROWS = 50
LEARNER_ROWS = 500


def dashboard(s: Session, who: Principal) -> dict[str, Any]:
    """Cases per state, money per funder (committed, due, paid, to recover) of the cases `who`
    may see, and the reminders waiting to be sent."""
    visible = accounts.visible_cases(who)
    counts = dict(
        s.execute(sa.select(Case.state, sa.func.count()).where(visible).group_by(Case.state)).all()
    )
    states = [(st, counts.get(st, 0)) for st in State]
    money = s.execute(
        sa.select(Payment.funder, Payment.status, sa.func.sum(Payment.amount))
        .join(Case, Case.id == Payment.case_id)
        .where(visible, Payment.status != "cancelled")
        .group_by(Payment.funder, Payment.status)
    ).all()
    funders: dict[str, dict[str, Decimal]] = {}
    for funder, status, total in money:
        row = funders.setdefault(funder, {"committed": ZERO, "due": ZERO, "paid": ZERO})
        row["committed"] += total
        row["paid" if status == "paid" else "due"] += total
    # The debts (SPEC §4b): to recover (their balance), recovered, waived, written off.
    for funder, totals in debts.totals_by_funder(s, visible).items():
        row = funders.setdefault(funder, {"committed": ZERO, "due": ZERO, "paid": ZERO})
        row["recover"], row["recovered"] = totals["balance"], totals["repaid"]
        row["waived"], row["written_off"] = totals["waived"], totals["written_off"]
    staff = accounts.is_staff(who)
    # The caseworkers see the whole outbox; anyone else only the reminders of their own cases.
    pending = sa.select(sa.func.count(OutboxMessage.id)).where(OutboxMessage.status == "pending")
    if not staff:
        pending = pending.where(OutboxMessage.case_id.in_(sa.select(Case.id).where(visible)))
    reminders = s.scalar(pending)
    return {
        "counts": states,
        "funders": funders,
        "widest": max([n for _, n in states] + [1]),
        "reminders": reminders or 0,
        # What the nightly run could not do: the caseworkers' to-do, not the other roles'.
        "anomalies": open_anomaly_count(s) if staff else 0,
    }


def case_page(s: Session, who: Principal, case_id: int) -> dict[str, Any]:
    """The case (workflow.views.case_detail) with the actions `who` may fire, its documents and
    reminders, and the scheme's suspension reasons and tiers for the forms."""
    detail = case_detail(s, case_id)
    detail["available"] = [a for a in detail["available"] if accounts.may_fire(who, a["trigger"])]
    detail["actions"] = [a for a in detail["actions"] if accounts.may_fire(who, a["trigger"])]
    # A message's attachments are shown in its thread, to its readers only (workflow.threads).
    documents = s.scalars(
        sa.select(Document)
        .where(
            Document.case_id == case_id,
            Document.kind.not_in([threads.ATTACHMENT_KIND, *sorted(attachments.KINDS)]),
        )
        .order_by(Document.id)
    ).all()
    detail["events"] = threads.visible_history(who, detail["events"])
    # The messages and notes have their own forms: not in the list of other actions.
    detail["actions"] = [a for a in detail["actions"] if a["trigger"] not in threads.PRIVATE_EVENTS]
    last = max(date.fromisoformat(e["effective_date"]) for e in detail["events"])
    reminders = s.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.case_id == case_id).order_by(OutboxMessage.id)
    ).all()
    scheme = registry()[detail["scheme"]]
    return {
        "case": detail,
        # Each debt's payment plan (its current instalments), for the « Dettes » section.
        "plans": debts.plans_of(s, [d["id"] for d in detail["debts"] if d["plan"]]),
        "documents": documents,
        "reminders": reminders,
        "suspension_reasons": scheme.commitment.suspension_reasons,
        # The forms' date by default: today, or the case's last event if later (its dates
        # never go backwards, workflow.events).
        "today": max(today_paris(), last).isoformat(),
        # Actions that cannot be undone: the form asks to confirm first.
        "irreversible": IRREVERSIBLE,
        "signatures": queue.signatures(s, case_id),
        "threads": threads.readable_threads(who),
        "thread_labels": threads.THREAD_LABELS,
        "messages": threads.messages(s, who, case_id),
        "tiers": {code: t.label for code, t in scheme.tiers.items()},
        # The parties' pieces and declarations, each to whom may read it (issue 15).
        "pieces": attachments.case_attachments(s, who, case_id),
        "declarations": declarations.of_case(s, who, case_id),
        "breach_reasons": declarations.choices(s, case_id)["breach_reasons"],
        # Who signs this scheme's contracts: the learner and its signing funders.
        "signing_parties": {p: scheme.party_label(p) for p in scheme.signing_parties()},
    }


def payment_totals(rows: list[dict[str, Any]]) -> dict[str, Decimal]:
    """The payments' total per funder, the cancelled ones left out (the payments page's foot)."""
    totals: dict[str, Decimal] = {}
    for r in rows:
        if r["status"] != "cancelled":
            totals[r["funder"]] = totals.get(r["funder"], ZERO) + Decimal(r["amount"])
    return totals


def debts_list(s: Session, status: str, funder: str) -> dict[str, Any]:
    """The debts, narrowed by status and funder (an unknown status is ignored), and the
    figures per funder."""
    chosen = status if status in debts.STATUSES else None
    return {
        "rows": debts.debt_rows(s, status=chosen, funder=funder.strip() or None),
        "totals": debts.totals_by_funder(s),
        "statut": chosen or "",
        "financeur": funder.strip(),
        "statuses": debts.STATUSES,
    }


def employer_debts(s: Session, employer_id: int) -> list[dict[str, Any]]:
    """The debts owed to `employer_id` (its share of its learners' breaches)."""
    mine = sa.select(Case.id).join(Offer, Offer.id == Case.offer_id)
    return debts.debt_rows(
        s, funder="employer", case_ids=mine.where(Offer.employer_id == employer_id)
    )


# Past this many employers or institutes, the case list's filter takes a number, not a list.
CHOICES_MAX = 1000


def case_filter_choices(s: Session, who: Principal) -> dict[str, Any]:
    """What the case list's filters offer by name: the schemes (by label), the campaigns'
    years, and — for the caseworkers — the employers and institutes (None: too many to list)."""
    staff = accounts.is_staff(who)

    def named(model: type[Employer] | type[Institute]) -> list[tuple[int, str]] | None:
        if not staff:
            return None
        rows = s.execute(
            sa.select(model.id, model.name).order_by(model.name, model.id).limit(CHOICES_MAX + 1)
        ).all()
        return None if len(rows) > CHOICES_MAX else [(i, n) for i, n in rows]

    return {
        "schemes": {sid: sc.label for sid, sc in registry().items()},
        "years": sorted(set(s.scalars(sa.select(Campaign.year))), reverse=True),
        "employers": named(Employer),
        "institutes": named(Institute),
    }


def document(s: Session, who: Principal, document_id: int) -> Document:
    """The document, if `who` may download it: otherwise the same NotFound as a missing one."""
    doc = s.get(Document, document_id)
    if (
        doc is None
        or not accounts.can_see_document(s, who, doc.case_id)
        or not threads.may_download(s, who, doc)  # an attachment goes with its thread
        or not attachments.may_download(who, doc)  # a party's own pieces, its own
    ):
        raise NotFound("Document", document_id)
    return doc


def outbox(s: Session) -> list[OutboxMessage]:
    """The latest messages, newest first."""
    query = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(OUTBOX_ROWS)
    return list(s.scalars(query))


def runs(s: Session, page: int = 1) -> tuple[list[JobRun], bool]:
    """One page of the nightly runs, newest first, and whether an older page exists."""
    found = list(
        s.scalars(
            sa.select(JobRun)
            .order_by(JobRun.id.desc())
            .limit(RUN_ROWS + 1)
            .offset((max(page, 1) - 1) * RUN_ROWS)
        )
    )
    return found[:RUN_ROWS], len(found) > RUN_ROWS


def employers(s: Session) -> list[dict[str, Any]]:
    """Employers by name, with their commune and whether it is rural (SPEC eligibility)."""
    territory = default_territory()
    rows = []
    for e in s.scalars(sa.select(Employer).order_by(Employer.name)):
        commune = territory.get(e.commune_insee)
        rows.append(
            {
                "employer": e,
                "commune": commune,
                "rural": commune_is_rural(commune) if commune else None,
            }
        )
    return rows


def institutes(s: Session) -> dict[str, Any]:
    """Institutes by name, and how many learners each has."""
    learners = dict(
        s.execute(
            sa.select(Learner.institute_id, sa.func.count()).group_by(Learner.institute_id)
        ).all()
    )
    found = s.scalars(sa.select(Institute).order_by(Institute.name)).all()
    return {"institutes": found, "learners": learners}


def learners(s: Session, who: Principal, last_name: str) -> list[Learner]:
    """The learners `who` may see, by name, whose last name begins with `last_name`."""
    query = (
        sa.select(Learner)
        .where(accounts.visible_learners(who))
        .order_by(Learner.last_name, Learner.first_name)
        .limit(LEARNER_ROWS)
    )
    if last_name.strip():
        query = query.where(starts_with_ci(Learner.last_name, last_name.strip().lower()))
    return list(s.scalars(query))


def campaigns(s: Session) -> list[tuple[Campaign, int, int]]:
    """Campaigns, latest year first, with their number of offers and of places."""
    rows = s.execute(
        sa.select(Campaign, sa.func.count(Offer.id), sa.func.coalesce(sa.func.sum(Offer.places), 0))
        .outerjoin(Offer, Offer.campaign_id == Campaign.id)
        .group_by(Campaign.id)
        .order_by(Campaign.year.desc())
    )
    return [(campaign, offers, places) for campaign, offers, places in rows]
