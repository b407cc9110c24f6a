"""A debt's arithmetic (SPEC §4b) without a database: any sequence of repayments, waivers and
write-offs keeps amount = repaid + waived + written off + balance, a balance never below zero, and
a status that says how the balance stands; plans split a balance to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.debts import ACTIVE, Figures, instalment_amounts, parse_amount
from workflow.errors import InvalidInput

cents = st.integers(min_value=1, max_value=10_000_000).map(lambda n: Decimal(n) / 100)
movements = st.lists(
    st.tuples(st.sampled_from(["repayment", "confirmation", "waiver", "write_off"]), cents),
    max_size=30,
)
CLOSING = {"repayment": "settled", "confirmation": "settled", "waiver": "waived",
           "write_off": "written_off"}  # fmt: skip


@given(cents, movements)
def test_any_sequence_keeps_the_books_balanced(
    amount: Decimal, moves: list[tuple[str, Decimal]]
) -> None:
    figures = Figures(amount)
    for kind, value in moves:
        before = figures
        if figures.closed or value > figures.balance:
            with pytest.raises(ValueError):
                figures.apply(kind, value)
            continue
        figures = figures.apply(kind, value)
        assert (
            figures.amount
            == figures.repaid + figures.waived + figures.written_off + figures.balance
        )
        assert Decimal(0) <= figures.balance < before.balance
        if figures.balance == 0:
            assert figures.status == CLOSING[kind]
        else:
            assert figures.status in ACTIVE
            assert (figures.status == "partially_repaid") == (figures.repaid > 0)
    assert figures.closed == (figures.balance == 0)


@given(cents, st.integers(min_value=1, max_value=120))
def test_a_plan_sums_to_the_balance_the_last_instalment_taking_the_remainder(
    balance: Decimal, count: int
) -> None:
    if balance < Decimal("0.01") * count:
        return
    parts = instalment_amounts(balance, count)
    assert len(parts) == count and sum(parts) == balance
    assert all(p == parts[0] for p in parts[:-1])
    assert Decimal(0) <= parts[-1] - parts[0] < Decimal("0.01") * count
    assert all(p == p.quantize(Decimal("0.01")) and p > 0 for p in parts)


@pytest.mark.parametrize(
    ("typed", "amount"),
    [("120,50", "120.50"), ("120.5", "120.50"), ("1 200 €", "1200"), (" 7 ", "7")],
)
def test_amounts_are_read_the_french_way(typed: str, amount: str) -> None:
    assert parse_amount(typed) == Decimal(amount)


@pytest.mark.parametrize("typed", ["0", "-3", "1,234", "abc", "", "1e3", "12.3.4"])
def test_a_bad_amount_is_a_french_error(typed: str) -> None:
    with pytest.raises(InvalidInput, match=r"Montant invalide|Le montant"):
        parse_amount(typed)
