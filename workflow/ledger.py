"""The money rules of SPEC §4 applied to one case: its allowance schedule, its commitment end, the
days it served and its breach reimbursement. The arithmetic lives in `workflow.money`; this module
states which of a case's facts each rule reads, as plain values.

A case's facts are a `CaseTerms`: dates, the scheme's values for its tier in force on its contract
date (`ContractTerms`), its suspensions as periods, its part-time ratio as counted. Two adapters
build one: `CaseTerms.of(case, scheme)` from loaded ORM rows (the case service, documents, the
case page), `CaseTerms.from_values(scheme, ...)` from selected columns (exports, forecast: they
stay set-based and load no case). Payments are `Paid(period, funder, amount, status)` tuples.

Every rule is one function of those values, so the contract, the letters, the case page, the
exports and the forecast print the same schedule and commitment end, which
`tests/integration/test_ledger_agreement.py` checks on random cases. Its SQL twin, for the nightly
payments, is `jobs.schedule_sql` (proven equal in `tests/integration/test_schedule_sql.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from workflow import money
from workflow.schemes import Scheme

if TYPE_CHECKING:
    from workflow.models import Case

__all__ = [
    "CaseTerms",
    "ContractTerms",
    "Paid",
    "allowance_period",
    "allowance_schedule",
    "commitment_end",
    "payments_of",
    "reimbursement",
    "reimbursement_base",
    "served_days",
    "suspension_periods",
    "terms_differences",
]


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """The scheme's values for one tier in force on a contract date: a new rate applies from its
    date and never rewrites a signed contract (SPEC §4)."""

    signed_on: date
    tier: str
    monthly: Mapping[str, Decimal]  # per funder, in the scheme's order of funders
    proration: money.Proration
    payment_day: int
    commitment_months: int
    breach_rule: money.BreachRule
    recovery_days: int = 30
    part_time_prorata: bool = True

    def __post_init__(self) -> None:
        # Frozen all the way down: nobody changes a contract's amounts through a shared mapping.
        object.__setattr__(self, "monthly", MappingProxyType(dict(self.monthly)))

    @classmethod
    def of(cls, scheme: Scheme, tier: str, signed_on: date) -> ContractTerms:
        return cls(
            signed_on=signed_on,
            tier=tier,
            monthly=scheme.monthly(tier, signed_on),
            proration=scheme.allowance.proration,
            payment_day=scheme.payment_day(signed_on),
            commitment_months=scheme.commitment_months(tier, signed_on),
            breach_rule=scheme.breach_rule(signed_on),
            recovery_days=scheme.recovery_days(signed_on),
            part_time_prorata=scheme.part_time_counts_prorata(),
        )

    def record(self) -> dict[str, Any]:
        """The terms as the contract stores them (JSON): what was issued is what is paid."""
        return {
            "tier": self.tier,
            "monthly": {funder: str(amount) for funder, amount in self.monthly.items()},
            "proration": self.proration,
            "payment_day": self.payment_day,
            "commitment_months": self.commitment_months,
            "breach_rule": _rule_record(self.breach_rule),
            "recovery_days": self.recovery_days,
            "part_time": "prorata" if self.part_time_prorata else "full",
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any], signed_on: date) -> ContractTerms:
        return cls(
            signed_on=signed_on,
            tier=record["tier"],
            monthly={funder: Decimal(amount) for funder, amount in record["monthly"].items()},
            proration=record["proration"],
            payment_day=int(record["payment_day"]),
            commitment_months=int(record["commitment_months"]),
            breach_rule=_rule_of(record["breach_rule"]),
            recovery_days=int(record["recovery_days"]),
            part_time_prorata=record["part_time"] == "prorata",
        )


TERM_LABELS = {
    "tier": "palier",
    "monthly": "montants mensuels",
    "proration": "proratisation",
    "payment_day": "jour de paiement",
    "commitment_months": "durée d'engagement (mois)",
    "breach_rule": "règle de remboursement",
    "recovery_days": "délai de reversement (jours)",
    "part_time": "règle du temps partiel",
}


def terms_differences(issued: Mapping[str, Any], in_force: Mapping[str, Any]) -> list[str]:
    """In French, each term of a contract as issued that differs from the values in force."""
    out = []
    for key, label in TERM_LABELS.items():
        if issued.get(key) != in_force.get(key):
            out.append(
                f"{label} : {_shown_term(issued.get(key))} au contrat, "
                f"{_shown_term(in_force.get(key))} en vigueur"
            )
    return out


def _shown_term(value: Any) -> str:
    if isinstance(value, Mapping) and "kind" not in value:
        return ", ".join(f"{k} {v} €" for k, v in value.items())
    if isinstance(value, Mapping):
        return str(value.get("kind"))
    return str(value)


def _rule_record(rule: money.BreachRule) -> dict[str, Any]:
    match rule:
        case money.SlidingScale(steps=steps, after=after):
            return {
                "kind": rule.kind,
                "steps": [
                    {"within_months": st.within_months, "rate": str(st.rate)} for st in steps
                ],
                "after": str(after),
            }
        case money.CespStyle(penalty_per_month=per_month, penalty_cap=cap):
            return {"kind": rule.kind, "penalty_per_month": str(per_month), "penalty_cap": str(cap)}
    return {"kind": rule.kind}


def _rule_of(record: Mapping[str, Any]) -> money.BreachRule:
    match record["kind"]:
        case "prorata_unserved":
            return money.ProrataUnserved()
        case "full_refund":
            return money.FullRefund()
        case "sliding_scale":
            return money.SlidingScale(
                steps=tuple(
                    money.SlidingStep(int(st["within_months"]), Decimal(st["rate"]))
                    for st in record["steps"]
                ),
                after=Decimal(record["after"]),
            )
        case "cesp":
            return money.CespStyle(
                penalty_per_month=Decimal(record["penalty_per_month"]),
                penalty_cap=Decimal(record["penalty_cap"]),
            )
    raise ValueError(f"unknown breach rule {record['kind']!r}")


# A report over many cases meets few distinct (scheme, tier, contract date): each is looked up
# once. An entry holds its scheme, so the scheme's id() cannot be reused while the entry lives.
_CONTRACTS: dict[tuple[int, str, date], tuple[Scheme, ContractTerms]] = {}
_CONTRACTS_MAX = 4096


def _contract_terms(scheme: Scheme, tier: str, signed_on: date) -> ContractTerms:
    key = (id(scheme), tier, signed_on)
    hit = _CONTRACTS.get(key)
    if hit is not None and hit[0] is scheme:
        return hit[1]
    terms = ContractTerms.of(scheme, tier, signed_on)
    if len(_CONTRACTS) >= _CONTRACTS_MAX:
        _CONTRACTS.clear()
    _CONTRACTS[key] = (scheme, terms)
    return terms


@dataclass(frozen=True, slots=True)
class CaseTerms:
    """What SPEC §4's rules read of one case, as plain values (no database, no scheme)."""

    training_start: date
    training_end: date  # planned, inclusive
    # None until the case has a tier and a contract date (or a date it would be signed on).
    contract: ContractTerms | None
    funders: tuple[str, ...]  # the scheme's: a reimbursement names each one, even at 0
    allowance_ended_on: date | None = None  # effective date of start_service, breach or withdraw
    service_start: date | None = None
    # As counted (SPEC §4): the recorded ratio where the scheme counts part time pro rata, else 1.
    part_time_ratio: Decimal = Decimal(1)
    suspensions: tuple[money.Period, ...] = ()  # closed ones
    suspended_since: date | None = None  # start of the one still running
    exempted: bool = False

    @property
    def contract_date(self) -> date | None:
        return self.contract.signed_on if self.contract is not None else None

    @property
    def commitment_months(self) -> int | None:
        return self.contract.commitment_months if self.contract is not None else None

    @classmethod
    def from_values(
        cls,
        scheme: Scheme,
        *,
        tier: str | None,
        contract_date: date | None,
        training_start: date,
        training_end: date,
        allowance_ended_on: date | None = None,
        service_start: date | None = None,
        part_time_ratio: Decimal = Decimal(1),
        suspensions: Iterable[tuple[date, date | None]] = (),
        exempted: bool = False,
        contract_terms: Mapping[str, Any] | None = None,
    ) -> CaseTerms:
        """From a row's values: `suspensions` as (start, end or None while it runs);
        `contract_terms`, the signed contract's record (SPEC §4b), when the caller has it — else
        the scheme's values in force on the contract date, which `sign` checked are the same."""
        contract = None
        if contract_terms is not None and contract_date is not None:
            contract = ContractTerms.from_record(contract_terms, contract_date)
        elif tier is not None and contract_date is not None:
            contract = _contract_terms(scheme, tier, contract_date)
        closed = []
        running: date | None = None
        for start, end in suspensions:
            if end is None:
                running = start if running is None else min(running, start)
            else:
                closed.append(money.Period(start, end))
        return cls(
            training_start=training_start,
            training_end=training_end,
            contract=contract,
            funders=scheme.funders,
            allowance_ended_on=allowance_ended_on,
            service_start=service_start,
            part_time_ratio=part_time_ratio if _prorata(scheme, contract) else Decimal(1),
            suspensions=tuple(closed),
            suspended_since=running,
            exempted=exempted,
        )

    @classmethod
    def of(cls, case: Case, scheme: Scheme, *, if_signed_on: date | None = None) -> CaseTerms:
        """From a loaded case. Before signature, `if_signed_on` stands for the contract date (a
        contract issued before it is signed shows the terms of one signed on its issue date)."""
        contract_date = case.contract_date or if_signed_on
        # Suspensions stop the commitment clock, which only runs from service start: before it
        # there are none, and their relationship is not loaded for nothing.
        suspensions = (
            [(s.start, s.end) for s in case.suspensions] if case.service_start is not None else []
        )
        return cls.from_values(
            scheme,
            tier=case.tier,
            contract_date=contract_date,
            training_start=case.learner.training_start,
            training_end=case.learner.training_end,
            allowance_ended_on=case.allowance_ended_on,
            service_start=case.service_start,
            part_time_ratio=case.part_time_ratio,
            suspensions=suspensions,
            exempted=case.exempted,
            contract_terms=case.contract_terms if case.contract_date is not None else None,
        )


def _prorata(scheme: Scheme, contract: ContractTerms | None) -> bool:
    return contract.part_time_prorata if contract is not None else scheme.part_time_counts_prorata()


class Paid(NamedTuple):
    """A payment already created for a case (whatever its status since)."""

    period: date
    funder: str
    amount: Decimal
    status: str
    overpaid: Decimal = Decimal(0)  # the part beyond the entitlement, owed back (SPEC §4b)


def payments_of(case: Case) -> list[Paid]:
    return [Paid(p.period, p.funder, p.amount, p.status, p.overpaid) for p in case.payments]


# -- the rules -------------------------------------------------------------------------------


def allowance_period(terms: CaseTerms) -> tuple[date, date] | None:
    """The days the allowance is owed for (inclusive), or None (no contract, or empty)."""
    if terms.contract is None:
        return None
    return money.allowance_period(
        terms.training_start,
        terms.training_end,
        terms.contract.signed_on,
        terms.allowance_ended_on,
    )


def allowance_schedule(terms: CaseTerms) -> list[money.Instalment]:
    """Every instalment the case's contract gives rise to, past and future (empty before `sign`)."""
    period = allowance_period(terms)
    if period is None or terms.contract is None:
        return []
    return money.allowance_schedule(
        period[0],
        period[1],
        terms.contract.monthly,
        terms.contract.proration,
        terms.contract.payment_day,
    )


def suspension_periods(terms: CaseTerms, until: date | None = None) -> list[money.Period] | None:
    """Closed suspensions as periods; a running one is clipped at the day before `until`, or makes
    the answer unknowable (None) when no `until` is given."""
    periods = list(terms.suspensions)
    if terms.suspended_since is not None:
        if until is None:
            return None
        end = until - timedelta(days=1)
        if end >= terms.suspended_since:
            periods.append(money.Period(terms.suspended_since, end))
    return periods


def commitment_end(terms: CaseTerms) -> date | None:
    """None before service starts, or while a suspension is running (its length is not known)."""
    if terms.service_start is None or terms.contract is None:
        return None
    periods = suspension_periods(terms)
    if periods is None:
        return None
    return money.commitment_end(
        terms.service_start, terms.contract.commitment_months, periods, terms.part_time_ratio
    )


def served_days(terms: CaseTerms, breach_date: date) -> Decimal | None:
    """The 30E/360 days served before `breach_date`, suspensions out, part time counted (SPEC
    §4); None when the breach is not during service."""
    start = terms.service_start
    if start is None or breach_date < start:
        return None
    return money.served_days(
        start,
        breach_date,
        suspension_periods(terms, until=breach_date) or [],
        terms.part_time_ratio,
    )


def reimbursement_base(
    schedule: Iterable[money.Instalment], payments: Iterable[Paid]
) -> dict[str, Decimal]:
    """Per funder: payments already created (cancelled ones excluded, overpayments out: they are
    owed back on their own) plus the instalments still to fall due for days before the breach
    (SPEC §4, §4b)."""
    base: dict[str, Decimal] = {}
    created = set()
    for p in payments:
        created.add((p.period, p.funder))
        if p.status != "cancelled":
            base[p.funder] = base.get(p.funder, Decimal(0)) + p.amount - p.overpaid
    for i in schedule:
        base.setdefault(i.funder, Decimal(0))
        if (i.period, i.funder) not in created:
            base[i.funder] += i.amount
    return base


def reimbursement(
    terms: CaseTerms, payments: Iterable[Paid], breach_date: date
) -> dict[str, Decimal]:
    """Per funder, what the breach on `breach_date` costs the learner. The terms must already
    carry the breach (allowance ended, exemption decided)."""
    contract = terms.contract
    if contract is None:
        raise ValueError("a reimbursement needs a signed contract (tier and contract date)")
    base = reimbursement_base(allowance_schedule(terms), payments)
    for funder in terms.funders:
        base.setdefault(funder, Decimal(0))
    return money.breach_reimbursement(
        contract.breach_rule,
        money.BreachInput(
            base=base,
            breach_date=breach_date,
            service_start=terms.service_start,
            commitment_months=contract.commitment_months,
            suspensions=suspension_periods(terms, until=breach_date) or [],
            part_time_ratio=terms.part_time_ratio,
            last_monthly=contract.monthly,
            exempted=terms.exempted,
        ),
    )
