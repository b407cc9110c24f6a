"""projections for the set-based nightly run: next payment due, commitment end; statement index

`cases.next_payment_due` replaces `cases.allowance_settled`: a case still owed instalments gets
its contract date (a safe lower bound: the nightly payments step computes the schedule from it
and moves it forward). `cases.commitment_ends_on` is computed for the serving cases by the same
rule the case service uses (workflow.ledger), from the schemes configured where the migration
runs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 09:40:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_payment_due", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("commitment_ends_on", sa.Date(), nullable=True))
        batch_op.create_index("ix_cases_next_payment_due", ["next_payment_due"], unique=False)
        batch_op.create_index(
            "ix_cases_state_commitment_end", ["state", "commitment_ends_on"], unique=False
        )
    op.execute(
        "UPDATE cases SET next_payment_due = contract_date "
        "WHERE contract_date IS NOT NULL AND NOT allowance_settled"
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("allowance_settled")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payments_status_funder_due", ["status", "funder", "due_date"], unique=False
        )
        batch_op.create_index(
            "ix_payments_status_funder_changed",
            ["status", "funder", "status_changed_on"],
            unique=False,
        )
    _backfill_commitment_ends()


def _backfill_commitment_ends() -> None:
    from workflow import money
    from workflow.errors import FidelisError
    from workflow.schemes import registry

    bind = op.get_bind()
    serving = bind.execute(
        sa.text(
            "SELECT id, scheme_id, tier, contract_date, service_start, part_time_ratio "
            "FROM cases WHERE state = 'serving' AND service_start IS NOT NULL"
        )
    ).all()
    if not serving:
        return
    try:
        schemes = registry()
    except FidelisError:
        return
    for case_id, scheme_id, tier, contract_date, service_start, ratio in serving:
        if scheme_id not in schemes or tier is None or contract_date is None:
            continue
        scheme = schemes[scheme_id]
        periods = []
        running = False
        for start, end in bind.execute(
            sa.text('SELECT start, "end" FROM suspensions WHERE case_id = :id ORDER BY start'),
            {"id": case_id},
        ):
            if end is None:
                running = True
                break
            periods.append(money.Period(_day(start), _day(end)))
        if running:
            continue
        contract = _day(contract_date)
        part_time = Decimal(str(ratio)) if scheme.part_time_counts_prorata() else Decimal(1)
        end = money.commitment_end(
            _day(service_start), scheme.commitment_months(tier, contract), periods, part_time
        )
        bind.execute(
            sa.text("UPDATE cases SET commitment_ends_on = :end WHERE id = :id"),
            {"end": end, "id": case_id},
        )


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_status_funder_changed")
        batch_op.drop_index("ix_payments_status_funder_due")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("allowance_settled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(
        "UPDATE cases SET allowance_settled = (contract_date IS NOT NULL "
        "AND next_payment_due IS NULL)"
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_state_commitment_end")
        batch_op.drop_index("ix_cases_next_payment_due")
        batch_op.drop_column("commitment_ends_on")
        batch_op.drop_column("next_payment_due")
