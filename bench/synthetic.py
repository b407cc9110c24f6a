"""A synthetic Fidelis database at realistic proportions, written in bulk (not through the
services: a hundred thousand cases in seconds). Employers sit on real rural communes of the
scheme's région; learners, cases and their states are invented but consistent: every contracted
case has a tier, a contract date and a contract number, every serving case a service start.

    python -m bench.synthetic --db /tmp/big.db --cases 100000
"""

from __future__ import annotations

import argparse
import random
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from workflow.db import make_engine, upgrade
from workflow.eligibility import commune_is_rural
from workflow.models import (
    Campaign,
    Case,
    CaseEvent,
    Employer,
    Institute,
    InstituteScheme,
    Learner,
    Offer,
)
from workflow.schemes import registry
from workflow.states import State
from workflow.territory import default_territory

SCHEME = "occitanie-fidelisation-as"
IBAN = "FR7630006000011234567890189"
# How cases spread over the states (sums to 1).
MIX = (
    (State.LISTED, 0.05),
    (State.APPLIED, 0.07),
    (State.INTERVIEWED, 0.05),
    (State.SELECTED, 0.05),
    (State.CONTRACTED, 0.08),
    (State.IN_TRAINING, 0.25),
    (State.SERVING, 0.25),
    (State.COMPLETED, 0.08),
    (State.BREACHED, 0.04),
    (State.REJECTED, 0.05),
    (State.WITHDRAWN, 0.03),
)


def _siret(n: int) -> str:
    """A SIRET with valid Luhn keys (SIREN and SIRET), unique per n."""

    def luhn_key(digits: str) -> str:
        for key in "0123456789":
            total = 0
            for i, ch in enumerate(reversed(digits + key)):
                d = int(ch) * (2 if i % 2 else 1)
                total += d - 9 if d > 9 else d
            if total % 10 == 0:
                return key
        raise AssertionError

    siren = f"{n:08d}"
    siren += luhn_key(siren)
    nic = "0001"
    return siren + nic + luhn_key(siren + nic)


def generate(url: str, cases: int, *, seed: int = 7, year: int = 2026) -> dict[str, int]:
    """Build a fresh database at `url` with `cases` cases; return the counts written."""
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
    n_learners = max(1, int(cases / 1.3))
    training_start = date(year, 9, 7)
    training_end = date(year + 1, 7, 2)
    contract_date = date(year, 7, 6)
    service_start = date(year + 1, 9, 1)
    with engine.begin() as conn:
        campaign_id = conn.execute(
            sa.insert(Campaign)
            .values(scheme_id=SCHEME, year=year, is_open=True)
            .returning(Campaign.id)
        ).scalar_one()
        institute_id = conn.execute(
            sa.insert(Institute)
            .values(name="IFAS synthétique", commune_insee=communes[0])
            .returning(Institute.id)
        ).scalar_one()
        conn.execute(sa.insert(InstituteScheme).values(institute_id=institute_id, scheme_id=SCHEME))
        base_employer = conn.scalar(sa.select(sa.func.coalesce(sa.func.max(Employer.id), 0))) or 0
        conn.execute(
            sa.insert(Employer),
            [
                {
                    "name": f"EHPAD n° {i}",
                    "siret": _siret(base_employer + i),
                    "commune_insee": rng.choice(communes),
                    "sector": "elderly",
                    "recruitment_difficulty": True,
                    "email": f"employeur{i}@exemple.fr",
                }
                for i in range(1, n_employers + 1)
            ],
        )
        employer_ids = list(conn.scalars(sa.select(Employer.id).order_by(Employer.id)))
        conn.execute(
            sa.insert(Offer),
            [
                {"campaign_id": campaign_id, "employer_id": e, "places": 1000, "version": 1}
                for e in employer_ids
            ],
        )
        offer_ids = list(conn.scalars(sa.select(Offer.id).order_by(Offer.id)))
        conn.execute(
            sa.insert(Learner),
            [
                {
                    "first_name": f"Prénom{i}",
                    "last_name": f"Nom{i}",
                    "birth_date": date(2003, 1, 1),
                    "email": f"apprenant{i}@exemple.fr",
                    "institute_id": institute_id,
                    "training_start": training_start,
                    "training_end": training_end,
                    "iban": IBAN,
                }
                for i in range(1, n_learners + 1)
            ],
        )
        learner_ids = list(conn.scalars(sa.select(Learner.id).order_by(Learner.id)))
        states = rng.choices([s for s, _ in MIX], weights=[w for _, w in MIX], k=cases)
        rows: list[dict[str, Any]] = []
        used: set[tuple[int, int]] = set()
        for n, state in enumerate(states, start=1):
            learner = learner_ids[(n - 1) % len(learner_ids)]
            offer = rng.choice(offer_ids)
            while (offer, learner) in used:
                offer = rng.choice(offer_ids)
            used.add((offer, learner))
            rows.append(
                _case_row(n, state, offer, learner, campaign_id, contract_date, service_start, year)
            )
        for i in range(0, len(rows), 5000):
            conn.execute(sa.insert(Case), rows[i : i + 5000])
        conn.execute(
            sa.insert(CaseEvent).from_select(
                [
                    "case_id",
                    "seq",
                    "trigger",
                    "from_state",
                    "to_state",
                    "effective_date",
                    "recorded_at",
                    "actor",
                    "payload",
                ],
                sa.select(
                    Case.id,
                    sa.literal(1),
                    sa.literal("open"),
                    sa.null(),
                    Case.state,
                    Case.last_effective_date,
                    Case.opened_at,
                    sa.literal("synthetic"),
                    sa.literal({}, type_=sa.JSON),
                ),
            )
        )
    engine.dispose()
    return {"employers": n_employers, "learners": n_learners, "cases": cases}


def _case_row(
    n: int,
    state: State,
    offer: int,
    learner: int,
    campaign: int,
    contract_date: date,
    service_start: date,
    year: int,
) -> dict[str, Any]:
    signed = state in (
        State.CONTRACTED,
        State.IN_TRAINING,
        State.SERVING,
        State.COMPLETED,
        State.BREACHED,
    )
    serving = state in (State.SERVING, State.COMPLETED)
    row: dict[str, Any] = {
        "offer_id": offer,
        "learner_id": learner,
        "campaign_id": campaign,
        "scheme_id": SCHEME,
        "state": state,
        "version": 1,
        "tier": ("2x200" if n % 3 == 0 else "2x150") if signed else None,
        "contract_number": f"OCC-AS-{year}-{n:07d}" if signed else None,
        "contract_date": contract_date if signed else None,
        "last_effective_date": contract_date if signed else date(year, 6, 1),
        "part_time_ratio": 1,
        "exempted": False,
        "allowance_settled": False,
        # executemany wants the same keys in every row
        "diploma_date": None,
        "service_start": None,
        "allowance_ended_on": None,
        "breach_date": None,
        "breach_category": None,
    }
    if serving:
        row.update(
            diploma_date=service_start - timedelta(days=50),
            service_start=service_start,
            allowance_ended_on=service_start,
            last_effective_date=service_start,
        )
    if state is State.IN_TRAINING:
        row["last_effective_date"] = date(year, 9, 7)
    if state is State.BREACHED:
        row.update(
            breach_date=date(year, 12, 1),
            breach_category="training_abandoned",
            allowance_ended_on=date(year, 12, 1),
            last_effective_date=date(year, 12, 1),
        )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(generate(args.db, args.cases, seed=args.seed))


if __name__ == "__main__":
    main()
