"""The allowance schedules of SPEC §4 computed inside the database, for the nightly payments step:
one `INSERT … SELECT` writes every instalment fallen due, one `UPDATE` moves each case's
`next_payment_due` forward. `workflow.ledger.allowance_schedule` is the reference; the tests check
that both give the same rows, cent for cent, on SQLite and on PostgreSQL.

Two small temporary tables carry what lives in the scheme files and the calendar:

- `fidelis_rates`: per scheme, tier and funder, the monthly amount in cents, the payment day and
  the proration rule in force for contracts signed in [valid_from, valid_until);
- `fidelis_calendar`: per month and payment day, the month's first day, the next month's first
  day, its length in days and the instalment's due date (the payment day of the next month).

For a case, the allowance runs from `start = max(training_start, contract_date)` to the day before
`end = min(training_end + 1 day, allowance_ended_on)`; month M is paid when it overlaps
[start, end), for `covered = min(end, next_first) - max(start, first)` days:
`round_half_up(monthly × covered / days_in_month)` in cents, computed in integers as
`(2 × monthly × covered + days) / (2 × days)`, or `monthly` for `whole_months`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from jobs import temptables
from jobs.outbox_sql import insert_ignoring_conflicts
from workflow import money
from workflow.models import Case, Learner, Payment, utcnow
from workflow.schemes import Scheme, SchemeRegistry
from workflow.sqldates import add_days, days_between, greatest, least

FOREVER = date(9999, 12, 31)

_temp = sa.MetaData()
RATES = sa.Table(
    "fidelis_rates",
    _temp,
    sa.Column("scheme_id", sa.String(80)),
    sa.Column("tier", sa.String(40)),
    sa.Column("valid_from", sa.Date),
    sa.Column("valid_until", sa.Date),
    sa.Column("funder", sa.String(20)),
    sa.Column("monthly", sa.Integer),  # cents
    sa.Column("payment_day", sa.Integer),
    sa.Column("whole_months", sa.Boolean),
    prefixes=["TEMPORARY"],
)
CALENDAR = sa.Table(
    "fidelis_calendar",
    _temp,
    sa.Column("first", sa.Date),
    sa.Column("next_first", sa.Date),
    sa.Column("days", sa.Integer),
    sa.Column("payment_day", sa.Integer),
    sa.Column("due_date", sa.Date),
    prefixes=["TEMPORARY"],
)


def _breakpoints(scheme: Scheme, tier: str) -> list[date]:
    t = scheme.tier(tier)
    starts: set[date] = set(scheme.allowance.payment_day.values)
    for funder in scheme.funders:
        starts |= set(t.monthly[funder].values)
    return sorted(starts)


def rate_rows(schemes: SchemeRegistry) -> list[dict[str, Any]]:
    """One row per scheme, tier, funder and interval over which its amounts and payment day hold."""
    rows: list[dict[str, Any]] = []
    for scheme_id, scheme in schemes.items():
        for tier in scheme.tiers:
            starts = _breakpoints(scheme, tier)
            for valid_from, valid_until in zip(starts, [*starts[1:], FOREVER], strict=True):
                monthly = scheme.monthly(tier, valid_from)
                for funder in scheme.funders:
                    rows.append(
                        {
                            "scheme_id": scheme_id,
                            "tier": tier,
                            "valid_from": valid_from,
                            "valid_until": valid_until,
                            "funder": funder,
                            "monthly": int(monthly[funder] * 100),
                            "payment_day": scheme.payment_day(valid_from),
                            "whole_months": scheme.allowance.proration == "whole_months",
                        }
                    )
    return rows


def calendar_rows(first: date, last: date, payment_days: set[int]) -> list[dict[str, Any]]:
    """Every month from `first`'s to `last`'s, once per payment day (at most 28: schemes.py)."""
    rows: list[dict[str, Any]] = []
    month = date(first.year, first.month, 1)
    while month <= last:
        following = money.add_months(month, 1)
        for day in sorted(payment_days):
            rows.append(
                {
                    "first": month,
                    "next_first": following,
                    "days": (following - month).days,
                    "payment_day": day,
                    "due_date": following + timedelta(days=day - 1),
                }
            )
        month = following
    return rows


def _load_temp_tables(
    s: Session, schemes: SchemeRegistry, as_of: date, selected: sa.ColumnElement[bool]
) -> bool:
    """Fill the temporary tables for the `selected` cases; False when there is none."""
    span = s.execute(
        sa.select(sa.func.min(Learner.training_start), sa.func.max(Learner.training_end))
        .join(Case, Case.learner_id == Learner.id)
        .where(selected)
    ).one()
    if span[0] is None:
        return False
    rates = rate_rows(schemes)
    last = max(span[1], as_of) + timedelta(days=31)
    temptables.fill(s, RATES, rates)
    temptables.fill(s, CALENDAR, calendar_rows(span[0], last, {r["payment_day"] for r in rates}))
    return bool(rates)


def _overlapping_months(case: Any, learner: Any, cal: Any = CALENDAR.c) -> sa.ColumnElement[bool]:
    """The calendar months that overlap the allowance period [start, end) of SPEC §4, written
    with plain comparisons: start = max(training_start, contract_date) and end = min(training_end
    + 1 day, allowance_ended_on) expand into their terms, so that the database evaluates no date
    function for each (case, month) pair it considers — only for the months it keeps."""
    ended = case.allowance_ended_on
    return sa.and_(
        # The period is not empty: start < end.
        learner.training_start <= learner.training_end,
        case.contract_date <= learner.training_end,
        sa.or_(
            ended.is_(None),
            sa.and_(learner.training_start < ended, case.contract_date < ended),
        ),
        # The month begins before the end …
        cal.first <= learner.training_end,
        sa.or_(ended.is_(None), cal.first < ended),
        # … and ends after the start.
        cal.next_first > learner.training_start,
        cal.next_first > case.contract_date,
    )


def _rates_in_force(case: Any, r: Any = RATES.c) -> sa.ColumnElement[bool]:
    """The rates of the case's scheme and tier in force on its contract date."""
    return sa.and_(
        r.scheme_id == case.scheme_id,
        r.tier == case.tier,
        r.valid_from <= case.contract_date,
        case.contract_date < r.valid_until,
    )


def _instalments(selected: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """Every instalment (case id, month, funder, cents, due date) of the `selected` cases, past
    and future: the caller bounds the due date."""
    r, cal = RATES.c, CALENDAR.c
    cases, learners = Case.__table__.c, Learner.__table__.c
    training_end_excl = add_days(Learner.training_end, 1)
    start = greatest(Learner.training_start, Case.contract_date)
    end = least(training_end_excl, sa.func.coalesce(Case.allowance_ended_on, training_end_excl))
    covered = days_between(greatest(start, cal.first), least(end, cal.next_first))
    amount = sa.case(
        (r.whole_months, r.monthly),
        else_=(2 * r.monthly * covered + cal.days) // (2 * cal.days),
    )
    return (
        sa.select(Case.id, cal.first, r.funder, amount, cal.due_date)
        .select_from(Case)
        .join(Learner, Learner.id == Case.learner_id)
        .join(RATES, _rates_in_force(cases))
        .join(
            CALENDAR,
            sa.and_(cal.payment_day == r.payment_day, _overlapping_months(cases, learners)),
        )
        .where(selected, Case.contract_date.is_not(None))
    )


def insert_due_payments(
    s: Session, schemes: SchemeRegistry, as_of: date, *, notified_by: str | None = None
) -> int:
    """Write every instalment fallen due by `as_of` of every case whose `next_payment_due` has
    come, once (ON CONFLICT DO NOTHING on case, month and funder); then move `next_payment_due`
    to the next instalment's due date, or None when the schedule has no more. Returns the number
    of payments created.

    With `notified_by`, the employer's shares (its scheme's `statement` funders) are written
    `notified` on `as_of` by that actor, for
    a caller that writes their statements in the same transaction (jobs.steps.payments_due):
    the statement is sent the night the share falls due, so the share is never seen `due`, and
    writing it once spares an UPDATE of every employer share of the night."""
    if not _load_temp_tables(s, schemes, as_of, Case.next_payment_due <= as_of):
        return 0
    due_date = CALENDAR.c.due_date
    due_now = _instalments(Case.next_payment_due <= as_of).where(
        due_date <= as_of, due_date >= Case.next_payment_due
    )
    columns = ["case_id", "period", "funder", "amount", "due_date", "status", "created_at"]
    stamp = sa.literal(utcnow(), Payment.__table__.c.created_at.type)
    if notified_by is None:
        rows = due_now.add_columns(sa.literal("due"), stamp)
    else:
        # The shares the employer pays on a statement (the `statement` funders).
        statement = sorted({f for sc in schemes.values() for f in sc.funders_paid_by("statement")})
        employer = RATES.c.funder.in_(statement)
        rows = due_now.add_columns(
            sa.case((employer, sa.literal("notified")), else_=sa.literal("due")),
            stamp,
            sa.case((employer, sa.literal(as_of, sa.Date)), else_=sa.null()),
            sa.case((employer, sa.literal(notified_by)), else_=sa.null()),
        )
        columns += ["status_changed_on", "status_changed_by"]
    table: sa.Table = Payment.__table__  # type: ignore[assignment]
    created = insert_ignoring_conflicts(s, table, columns, rows)
    s.execute(
        sa.update(Case)
        .where(Case.next_payment_due <= as_of)
        .values(next_payment_due=_next_due_subquery(as_of))
        .execution_options(synchronize_session=False)
    )
    temptables.drop(s, RATES, CALENDAR)
    return created


def insert_complements(s: Session, schemes: SchemeRegistry, as_of: date) -> int:
    """The complementary payments of SPEC §4b: for every case whose `complement_due` has come,
    each month with payments whose entitlement (the schedule above) exceeds what its payments
    not cancelled, less what was overpaid, hold gets one more payment (`seq` + 1, `due`) of the
    difference — except a month a caseworker cancelled (workflow.regularisation). One
    `INSERT … SELECT`, then `complement_due` cleared. Returns the number of payments created."""
    selected = Case.complement_due <= as_of
    if not _load_temp_tables(s, schemes, as_of, selected):
        return 0
    p = Payment.__table__.c
    live = p.status != "cancelled"
    decided = sa.and_(
        p.status == "cancelled", ~sa.func.coalesce(p.status_reason, "").like("Régularisation%")
    )
    held = (
        sa.select(
            p.case_id,
            p.period,
            p.funder,
            sa.func.sum(sa.case((live, p.amount - p.overpaid), else_=0)).label("net"),
            sa.func.max(p.seq).label("last_seq"),
            sa.func.max(sa.case((decided, 1), else_=0)).label("decided"),
        )
        .join(Case, Case.id == p.case_id)
        .where(selected)
        .group_by(p.case_id, p.period, p.funder)
        .subquery()
    )
    owed = _instalments(selected).subquery()
    case_id, period, funder, cents, due = owed.c
    rows = (
        sa.select(
            case_id,
            period,
            funder,
            held.c.last_seq + 1,
            cents - held.c.net,
            greatest(due, sa.literal(as_of, sa.Date)),
            sa.literal("due"),
            sa.literal(utcnow(), Payment.__table__.c.created_at.type),
        )
        .join(
            held,
            sa.and_(held.c.case_id == case_id, held.c.period == period, held.c.funder == funder),
        )
        .where(cents > held.c.net, held.c.decided == 0)
    )
    columns = ["case_id", "period", "funder", "seq", "amount", "due_date", "status", "created_at"]
    table: sa.Table = Payment.__table__  # type: ignore[assignment]
    created = insert_ignoring_conflicts(s, table, columns, rows)
    s.execute(
        sa.update(Case)
        .where(selected)
        .values(complement_due=None)
        .execution_options(synchronize_session=False)
    )
    temptables.drop(s, RATES, CALENDAR)
    return created


def _next_due_subquery(as_of: date) -> Any:
    """For the case being updated: the earliest due date after `as_of` of its schedule."""
    r, cal = RATES.c, CALENDAR.c
    outer = Case.__table__
    return (
        sa.select(sa.func.min(cal.due_date))
        .select_from(Learner)
        .join(RATES, _rates_in_force(outer.c))
        .join(
            CALENDAR,
            sa.and_(
                cal.payment_day == r.payment_day,
                _overlapping_months(outer.c, Learner.__table__.c),
            ),
        )
        .where(Learner.id == outer.c.learner_id, cal.due_date > as_of)
        .correlate(outer)
        .scalar_subquery()
    )
