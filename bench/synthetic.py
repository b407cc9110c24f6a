"""A synthetic Fidelis database at realistic proportions, written in bulk (not through the
services: a million cases in minutes).

The picture on `AS_OF` (15 March 2027), for `cases` cases spread evenly over five campaigns:

- 2027, just opened: applications listed, applied, interviewed, selected (some rejected or
  withdrawn), no contract yet;
- 2026: about a third signed, in training since 7 September 2026;
- 2025 and 2024: their learners serve their employer since September of the following year;
- 2023: the 2-year commitments completed in August 2026, the 3-year ones still serve;
- in every signed campaign a few breaches, during training or during service, each with a debt
  per funder still open (SPEC §4b: the nightly run reminds the overdue ones);
- one case in a hundred in training has a complementary payment check pending (`complement_due`,
  as a regularisation leaves it), so that the nightly run's regularisation step has its work;
- the caseworkers' queue (issue 15): one Région agent per 5 000 cases (`agent1@exemple.fr`, …,
  no password: the benchmark gives one), every running case assigned to one of them in turn
  (about 1 800 each, at every size), and one running case in twenty (from the interview on)
  with a message of its agent on the learner's thread, every other one of them answered by the
  learner (a message waiting in « À traiter »).

About a fifth of all cases are active (in training or serving). Employers sit on real rural
communes of the scheme's région (the scheme's own rule). Every signed case has a tier, a contract
date and a unique contract number; every serving case a service start. The allowances of the
finished trainings (campaigns 2023 to 2025) are already paid: they are written by the nightly
run's own payments step as of 31 August 2026 and marked paid, so a "first run" on `AS_OF` has
the current campaign's six months to create, as a real deployment would after a missed month.

    python -m bench.synthetic --db /tmp/big.db --cases 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow import audit, money
from workflow.db import make_engine, upgrade
from workflow.eligibility import commune_is_rural
from workflow.iban import Iban, new_key
from workflow.models import (
    Campaign,
    Case,
    CaseAssignment,
    CaseEvent,
    CaseMessage,
    CaseText,
    Debt,
    Employer,
    Institute,
    InstituteScheme,
    Learner,
    Offer,
    Payment,
    User,
)
from workflow.schemes import registry
from workflow.sqldates import add_days
from workflow.states import ACTIONS, State
from workflow.territory import default_territory

SCHEME = "occitanie-fidelisation-as"
IBAN = "FR7630006000011234567890189"
AS_OF = date(2027, 3, 15)
YEARS = (2023, 2024, 2025, 2026, 2027)
HISTORY_PAID_UNTIL = date(2026, 8, 31)
CHUNK = 20_000

SIGNED = (State.CONTRACTED, State.IN_TRAINING, State.SERVING, State.COMPLETED, State.BREACHED)
# How a campaign's cases end up, by campaign, before the signed ones are split by what happened
# after signing (see _signed_outcome). Each mix sums to 1.
DECIDED_MIX = ((State.REJECTED, 0.45), (State.WITHDRAWN, 0.225), ("signed", 0.325))
OPEN_MIX = (
    (State.LISTED, 0.40),
    (State.APPLIED, 0.30),
    (State.INTERVIEWED, 0.15),
    (State.SELECTED, 0.05),
    (State.REJECTED, 0.07),
    (State.WITHDRAWN, 0.03),
)


def _siret(n: int) -> str:
    """A SIRET with valid Luhn keys (SIREN and SIRET), unique per n."""
    from stdnum import luhn

    siren = f"{n:08d}"
    siren += luhn.calc_check_digit(siren)
    nic = "0001"
    return siren + nic + luhn.calc_check_digit(siren + nic)


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i : i + CHUNK]


def generate(
    url: str,
    cases: int,
    *,
    seed: int = 7,
    progress: Callable[[str], None] = lambda stage: None,
) -> dict[str, int]:
    """Build a fresh database at `url` with `cases` cases; return the counts written."""
    from jobs.schedule_sql import insert_due_payments

    rng = random.Random(seed)
    engine = make_engine(url)
    upgrade(engine)
    scheme = registry()[SCHEME]
    communes = [
        c.insee
        for c in default_territory().communes_in_region(scheme.region_code)
        if commune_is_rural(c, scheme)
    ]
    n_employers = max(3, cases // 40)
    per_campaign = max(1, cases // len(YEARS))
    counts: dict[str, int] = {"cases": 0, "learners": 0, "employers": n_employers}
    with engine.begin() as conn:
        institute_id = conn.execute(
            sa.insert(Institute)
            .values(name="IFAS synthétique", commune_insee=communes[0])
            .returning(Institute.id)
        ).scalar_one()
        conn.execute(sa.insert(InstituteScheme).values(institute_id=institute_id, scheme_id=SCHEME))
        conn.execute(
            sa.insert(Employer),
            [
                {
                    "name": f"EHPAD n° {i}",
                    "siret": _siret(i),
                    "commune_insee": rng.choice(communes),
                    "sector": rng.choice(("elderly", "elderly", "home_care", "disability")),
                    "recruitment_difficulty": True,
                    "email": f"employeur{i}@exemple.fr",
                }
                for i in range(1, n_employers + 1)
            ],
        )
        employer_ids = list(conn.scalars(sa.select(Employer.id).order_by(Employer.id)))
    progress("employeurs")
    for index, year in enumerate(YEARS):
        n_cases = per_campaign + (cases - per_campaign * len(YEARS) if index == 0 else 0)
        with engine.begin() as conn:
            written = _campaign(conn, rng, year, n_cases, institute_id, employer_ids)
        counts["cases"] += written["cases"]
        counts["learners"] += written["learners"]
        progress(f"campagne {year}")
    with engine.begin() as conn:
        counts |= _agents_and_threads(conn, cases)
    with engine.begin() as conn:
        # As in a database the nightly runs have sealed so far (workflow.audit): the benchmarked
        # run seals only its own day's events, as in production.
        audit.seal(conn)
    progress("historiques")
    # The finished trainings' allowances, computed as the nightly payments step does, and paid.
    with Session(engine) as s:
        insert_due_payments(s, registry(), HISTORY_PAID_UNTIL)
        s.commit()
    with engine.begin() as conn:
        counts["payments_paid"] = conn.execute(
            sa.update(Payment)
            .where(Payment.status == "due")
            .values(
                status="paid", status_changed_on=HISTORY_PAID_UNTIL, status_changed_by="synthetic"
            )
        ).rowcount
    with engine.begin() as conn:
        counts["debts"] = _debts_and_pending_complements(conn)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    progress("paiements")
    engine.dispose()
    return counts


def _debts_and_pending_complements(conn: sa.Connection) -> int:
    """A debt per funder of every breached case, open, due 30 days after the breach (its
    amount stands for the breach rule's), and `complement_due` on one case in a hundred in
    training; set-based. Returns the number of debts written."""
    written = 0
    for funder in registry()[SCHEME].funders:
        number = sa.literal("SYN-TR-") + sa.cast(Case.id, sa.String) + sa.literal(f"-{funder}")
        rows = sa.select(
            Case.id,
            Case.scheme_id,
            sa.literal(funder),
            sa.literal("breach"),
            number,
            sa.literal(100_000),  # cents: 1 000.00
            sa.literal(0),
            sa.literal(0),
            sa.literal(0),
            sa.literal("open"),
            Case.breach_date,
            add_days(Case.breach_date, 30),
            sa.literal(datetime.now(UTC), Debt.__table__.c.created_at.type),
        ).where(Case.state == State.BREACHED, Case.breach_date.is_not(None))
        columns = [
            "case_id", "scheme_id", "funder", "kind", "number", "amount", "repaid", "waived",
            "written_off", "status", "opened_on", "due_date", "created_at",
        ]  # fmt: skip
        written += conn.execute(sa.insert(Debt).from_select(columns, rows)).rowcount
    conn.execute(
        sa.update(Case)
        .where(Case.state == State.IN_TRAINING, Case.id % 100 == 0)
        .values(complement_due=AS_OF - timedelta(days=1))
    )
    return written


# An agent's own caseload, the same at every size: « Mes dossiers » reads the agent's cases.
CASES_PER_AGENT = 5_000
RUNNING = (State.LISTED, State.APPLIED, State.INTERVIEWED, State.SELECTED, State.CONTRACTED,
           State.IN_TRAINING, State.SERVING)  # fmt: skip


def agent_email(n: int) -> str:
    """The address of the synthetic Région agent n° n (from 1)."""
    return f"agent{n}@exemple.fr"


def _agents_and_threads(conn: sa.Connection, cases: int) -> dict[str, int]:
    """The Région's agents, the running cases assigned to them in turn (set-based), and the
    messages of one running case in twenty (chunked, like the cases): the agent's, then for
    every other one the learner's answer. Their events come after the case's history and
    before the seal, as the gate would have written them."""
    n_agents = max(2, cases // CASES_PER_AGENT)
    conn.execute(
        sa.insert(User),
        [
            {"email": agent_email(i), "name": f"Agent n° {i}", "role": "region",
             "password_hash": "!"}  # no password matches: the benchmark sets one
            for i in range(1, n_agents + 1)
        ],
    )  # fmt: skip
    first = conn.scalar(sa.select(sa.func.min(User.id)).where(User.role == "region"))
    assert first is not None
    assigned = conn.execute(
        sa.insert(CaseAssignment).from_select(
            ["case_id", "user_id", "assigned_at", "assigned_by"],
            sa.select(
                Case.id,
                first + Case.id % n_agents,
                sa.literal(RECORDED, CaseAssignment.__table__.c.assigned_at.type),
                sa.literal("synthetic"),
            ).where(Case.state.in_(RUNNING)),
        )
    ).rowcount
    chosen = conn.execute(
        sa.select(Case.id, Case.state, Case.last_effective_date, sa.func.max(CaseEvent.seq))
        .join(CaseEvent, CaseEvent.case_id == Case.id)
        # Not on the applied cases: bench.transitions fires `interview` on them as their third
        # event.
        .where(Case.state.in_(RUNNING[2:]), Case.id % 20 == 0)
        .group_by(Case.id, Case.state, Case.last_effective_date)
        .order_by(Case.id)
    ).all()
    written = 0
    for i in range(0, len(chosen), CHUNK):
        part = chosen[i : i + CHUNK]
        # (case, seq, from the Région?, text): the agent's message, the learner's answer.
        plan = [
            (row, seq, seq == row[3] + 1, text)
            for row in part
            for seq, text in (
                (row[3] + 1, "Bonjour, pouvez-vous nous transmettre votre attestation ?"),
                (row[3] + 2, "Bonjour, la voici. Merci."),
            )
            if seq == row[3] + 1 or row[0] % 40 == 0
        ]
        texts = conn.scalars(
            sa.insert(CaseText).returning(CaseText.id, sort_by_parameter_order=True),
            [{"case_id": row[0], "kind": "note", "text": text} for row, _, _, text in plan],
        ).all()
        events = conn.scalars(
            sa.insert(CaseEvent).returning(CaseEvent.id, sort_by_parameter_order=True),
            [
                {"case_id": row[0], "seq": seq, "trigger": "message", "from_state": row[1],
                 "to_state": row[1], "effective_date": row[2], "recorded_at": RECORDED,
                 "actor": "synthetic" if region else "learner", "text_id": text_id,
                 "payload": {"thread": "learner"}}
                for (row, seq, region, _), text_id in zip(plan, texts, strict=True)
            ],
        ).all()  # fmt: skip
        conn.execute(
            sa.insert(CaseMessage),
            [
                {"case_id": row[0], "thread": "learner", "from_region": region,
                 "author_id": first + row[0] % n_agents if region else None, "event_id": event,
                 "text_id": text_id, "written_at": RECORDED,
                 # the learner's answer waits for the Région (workflow.threads)
                 "waiting_since": None if region else row[2]}
                for (row, _, region, _), text_id, event in zip(plan, texts, events, strict=True)
            ],
        )  # fmt: skip
        written += len(plan)
    return {"agents": n_agents, "assigned": assigned, "messages": written}


def _campaign(
    conn: sa.Connection,
    rng: random.Random,
    year: int,
    n_cases: int,
    institute_id: int,
    employer_ids: list[int],
) -> dict[str, int]:
    campaign_id = conn.execute(
        sa.insert(Campaign)
        .values(scheme_id=SCHEME, year=year, is_open=year == YEARS[-1])
        .returning(Campaign.id)
    ).scalar_one()
    conn.execute(
        sa.insert(Offer),
        [
            {"campaign_id": campaign_id, "employer_id": e, "places": 1000, "version": 1}
            for e in employer_ids
        ],
    )
    offer_ids = list(
        conn.scalars(sa.select(Offer.id).where(Offer.campaign_id == campaign_id).order_by(Offer.id))
    )
    n_learners = max(1, int(n_cases / 1.3))
    first_learner = (conn.scalar(sa.select(sa.func.max(Learner.id))) or 0) + 1
    training_start = date(year, 9, 7)
    training_end = date(year + 1, 7, 2)
    sealed = Iban.seal(IBAN)  # once: every synthetic learner has the same account
    for chunk in _chunks(
        [
            {
                "first_name": f"Prénom{i}",
                "last_name": f"Nom{i}",
                "birth_date": date(year - 20, 1 + i % 12, 1 + i % 28),
                "email": f"apprenant{i}@exemple.fr",
                "institute_id": institute_id,
                "training_start": training_start,
                "training_end": training_end,
                "iban": sealed,
            }
            for i in range(first_learner, first_learner + n_learners)
        ]
    ):
        conn.execute(sa.insert(Learner), chunk)
    mix = OPEN_MIX if year == YEARS[-1] else DECIDED_MIX
    outcomes = rng.choices([s for s, _ in mix], weights=[w for _, w in mix], k=n_cases)
    signed_learners: set[int] = set()
    used: set[tuple[int, int]] = set()
    rows: list[dict[str, Any]] = []
    for n, outcome in enumerate(outcomes):
        learner = first_learner + n % n_learners
        offer = rng.choice(offer_ids)
        while (offer, learner) in used:
            offer = rng.choice(offer_ids)
        used.add((offer, learner))
        if outcome == "signed":
            if learner in signed_learners:  # signing withdrew the learner's other cases
                outcome = State.WITHDRAWN
            else:
                signed_learners.add(learner)
        row = _case_row(rng, year, outcome, offer, learner, campaign_id)
        if row["contract_date"] is not None:
            row["contract_number"] = f"OCC-AS-{year}-{n + 1:07d}"
        rows.append(row)
    for chunk in _chunks(rows):
        ids = conn.scalars(
            sa.insert(Case).returning(Case.id, sort_by_parameter_order=True), chunk
        ).all()
        events = [
            e for case_id, row in zip(ids, chunk, strict=True) for e in _history(case_id, row)
        ]
        for part in _chunks(events):
            conn.execute(sa.insert(CaseEvent), part)
    return {"cases": n_cases, "learners": n_learners}


RECORDED = datetime(2027, 3, 15, 2, 0, tzinfo=UTC)


def _history(case_id: int, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The events that led the case to its row, as the case service would have written them,
    so that `fidelis case verify --all` finds every synthetic case consistent."""
    state: State = row["state"]
    steps: list[tuple[str, State, date, dict[str, Any], str | None]] = []
    at = row["contract_date"] or row["last_effective_date"]
    path = {
        State.LISTED: [],
        State.APPLIED: ["submit"],
        State.INTERVIEWED: ["submit", "interview"],
        State.SELECTED: ["submit", "interview", "select"],
        State.REJECTED: ["submit", "reject"],
        State.WITHDRAWN: ["withdraw"],
    }.get(state, ["submit", "interview", "select"])
    for trigger in path:
        dest = ACTIONS[trigger].dest
        assert dest is not None
        reason = {"reject": "Profil", "withdraw": "Renonce"}.get(trigger)
        steps.append((trigger, dest, at, {}, reason))
    if row["contract_date"] is not None:
        payload = {"tier": row["tier"], "contract_number": row["contract_number"]}
        steps.append(("sign", State.CONTRACTED, at, payload, None))
        start = max(row["contract_date"], date(row["contract_date"].year, 9, 7))
        steps.append(("start_training", State.IN_TRAINING, start, {}, None))
        if row["service_start"] is not None:
            diploma = {"diploma_date": row["diploma_date"].isoformat()}
            steps.append(("start_service", State.SERVING, row["service_start"], diploma, None))
        if row["attested_on"] is not None:
            steps.append(("attest_service", State.SERVING, row["attested_on"], {}, None))
        if state is State.BREACHED:
            category = {"category": row["breach_category"]}
            steps.append(("breach", State.BREACHED, row["breach_date"], category, "Rupture"))
        elif state is State.COMPLETED:
            steps.append(("complete", State.COMPLETED, row["last_effective_date"], {}, None))
    first = steps[0][2] if steps else row["last_effective_date"]
    events = [("open", State.LISTED, first, {}, None), *steps]
    out = []
    previous: State | None = None
    # The reasons would go to case_texts (workflow.events); no benchmark reads them.
    for seq, (trigger, to_state, on, payload, _reason) in enumerate(events, start=1):
        out.append({
            "case_id": case_id, "seq": seq, "trigger": trigger, "from_state": previous,
            "to_state": to_state, "effective_date": on, "recorded_at": RECORDED,
            "actor": "synthetic", "payload": payload,
        })  # fmt: skip
        previous = to_state
    return out


def _signed_outcome(rng: random.Random, year: int, tier: str) -> tuple[State, str | None]:
    """What became of a contract signed in `year`'s campaign by AS_OF, and when a breach was."""
    draw = rng.random()
    if draw < 0.03:
        return State.BREACHED, "training"
    if year == 2026:
        return State.IN_TRAINING, None
    if draw < 0.08:
        return State.BREACHED, "service"
    ends = year + (3 if tier == "2x150" else 4)  # service from September year + 1, 2 or 3 years
    return (State.COMPLETED if date(ends, 9, 1) <= AS_OF else State.SERVING), None


def _case_row(
    rng: random.Random, year: int, outcome: Any, offer: int, learner: int, campaign: int
) -> dict[str, Any]:
    n = rng.randrange(10**6)
    row: dict[str, Any] = {
        "offer_id": offer,
        "learner_id": learner,
        "campaign_id": campaign,
        "scheme_id": SCHEME,
        "version": 1,
        "part_time_ratio": 1,
        "exempted": False,
        "next_payment_due": None,
        "commitment_ends_on": None,
        "attested_on": None,
        # executemany wants the same keys in every row
        "tier": None,
        "contract_number": None,
        "contract_date": None,
        "interview_date": None,
        "diploma_date": None,
        "service_start": None,
        "allowance_ended_on": None,
        "breach_date": None,
        "breach_category": None,
        "last_effective_date": date(year, 1, 15) + timedelta(days=n % 55),
    }
    if outcome != "signed":
        row["state"] = outcome
        return row
    tier = "2x200" if n % 3 == 0 else "2x150"
    contract_date = date(year, 6, 15) + timedelta(days=n % 40)
    state, breach = _signed_outcome(rng, year, tier)
    row.update(
        state=state,
        tier=tier,
        contract_date=contract_date,
        next_payment_due=contract_date,
        last_effective_date=date(year, 9, 7),
    )
    if breach == "training":
        ended = date(year, 12, 1) + timedelta(days=n % 60)
        row.update(
            breach_date=ended,
            breach_category="training_abandoned",
            allowance_ended_on=ended,
            last_effective_date=ended,
        )
        return row
    if state is State.IN_TRAINING:
        return row
    service_start = date(year + 1, 9, 1) + timedelta(days=n % 20)
    row.update(
        diploma_date=date(year + 1, 7, 10),
        service_start=service_start,
        allowance_ended_on=service_start,
        last_effective_date=service_start,
    )
    months = 24 if tier == "2x150" else 36
    row["commitment_ends_on"] = money.commitment_end(service_start, months, [], Decimal(1))
    if breach == "service":
        ended = service_start + timedelta(days=200 + n % 300)
        row.update(breach_date=ended, breach_category="resignation", last_effective_date=ended)
    elif state is State.COMPLETED:
        row["last_effective_date"] = row["commitment_ends_on"] + timedelta(days=1)
    else:
        # Nine employers in ten have sent their last annual attestation.
        anniversary = service_start
        while money.add_months(anniversary, 12) <= AS_OF:
            anniversary = money.add_months(anniversary, 12)
        if anniversary > service_start and n % 10:
            row["attested_on"] = anniversary + timedelta(days=n % 25)
            row["last_effective_date"] = row["attested_on"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True, help="SQLite file or SQLAlchemy URL")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    url = args.db if "://" in args.db else f"sqlite:///{args.db}"
    # The learners' IBANs are sealed (workflow.iban): a key of the run's own unless one is set.
    os.environ.setdefault("FIDELIS_IBAN_KEY", new_key())
    start = time.perf_counter()

    def show(stage: str) -> None:
        print(f"{time.perf_counter() - start:7.1f} s  {stage}", flush=True)

    counts = generate(url, args.cases, seed=args.seed, progress=show)
    print(json.dumps({**counts, "seconds": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
