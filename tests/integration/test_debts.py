"""Debts followed to the last cent (SPEC §4b), on SQLite and PostgreSQL: a breach opens one
numbered debt per funder, linked to the recovery order that states its number; repayments, plans,
waivers, write-offs and the treasury's CSV each in one transaction; every refusal a French
message and nothing written."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from jobs.nightly import run_nightly
from jobs.outbox import render
from tests.conftest import World
from tests.integration.test_case_service import D, signed_case
from workflow import cases, debts
from workflow.archive import DocumentStore
from workflow.documents.store import default_store, read_document
from workflow.errors import InvalidInput, NotFound
from workflow.models import Debt, DebtInstalment, DebtMovement, Document, Offer, OutboxMessage
from workflow.reports.exports import EXPORTS
from workflow.reports.forecast import expected_recoveries
from workflow.reports.observatory import observatory
from workflow.reports.selection import Selection
from workflow.views import case_detail


def breached(w: World) -> int:
    """A case breached on 2026-11-01 after two months paid: 270,00 € to the employer and as
    much to the Région."""
    case = signed_case(w)
    run_nightly(w.engine, D("2026-11-10"), schemes=w.schemes, send_mail=False, catch_up=False)
    cases.fire(w.uow(), case, "breach", on=D("2026-11-01"), reason="Abandon",
               params={"category": "training_abandoned"}, schemes=w.schemes)  # fmt: skip
    return case


def debt_of(w: World, case: int, funder: str) -> dict[str, Any]:
    with w.uow() as uow:
        found = debts.debt_rows(uow.session, case_id=case, funder=funder)
    assert len(found) == 1
    return found[0]


def snapshot(w: World) -> tuple[Any, ...]:
    """Everything the debt use cases may write: a refusal must leave it as it was."""
    with w.uow() as uow:
        s = uow.session
        return (
            s.execute(sa.select(Debt).order_by(Debt.id)).scalars().all().__len__(),
            [tuple(r) for r in s.execute(
                sa.select(Debt.id, Debt.repaid, Debt.waived, Debt.written_off, Debt.status,
                          Debt.plan_status).order_by(Debt.id))],
            s.scalar(sa.select(sa.func.count(DebtMovement.id))),
            [tuple(r) for r in s.execute(
                sa.select(DebtInstalment.id, DebtInstalment.status).order_by(DebtInstalment.id))],
        )  # fmt: skip


def test_a_breach_opens_one_numbered_debt_per_funder_stated_by_the_recovery_order(
    world: World,
) -> None:
    w = world
    case = breached(w)
    with w.uow() as uow:
        shown = case_detail(uow.session, case, w.schemes)
        order = uow.session.scalars(
            sa.select(Document).where(Document.case_id == case, Document.kind == "recovery_order")
        ).one()
        text = _docx_text(read_document(default_store(), order))
        order_id = order.id
    owed = {d["funder"]: d for d in shown["debts"]}
    assert set(owed) == {"employer", "region"}
    assert shown["reimbursement"] == {"employer": "270.00", "region": "270.00"}
    for funder, amount in (("employer", "270.00"), ("region", "270.00")):
        d = owed[funder]
        assert (d["kind"], d["amount"], d["balance"], d["repaid"], d["status"]) == (
            "breach",
            amount,
            amount,
            "0.00",
            "open",
        )
        assert d["due_date"] > "2026-11-01"
        assert d["document_id"] == order_id
        assert d["number"] in text
    numbers = sorted(d["number"] for d in owed.values())
    assert numbers[0].endswith("-TR-2026-00001") and numbers[1].endswith("-TR-2026-00002")


def _docx_text(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return z.read("word/document.xml").decode()


def test_repayments_settle_a_debt_and_refusals_write_nothing(world: World) -> None:
    w = world
    case = breached(w)
    region = debt_of(w, case, "region")
    before = snapshot(w)
    refusals: list[tuple[Any, str]] = [
        (lambda: debts.repay(w.uow(), region["id"], Decimal("270.01"), on=D("2026-12-01"),
                             actor="agent"), "dépasse le solde"),
        (lambda: debts.repay(w.uow(), region["id"], Decimal("0"), on=D("2026-12-01"),
                             actor="agent"), "positif"),
        (lambda: debts.repay(w.uow(), region["id"], Decimal("10"), on=D("2026-10-01"),
                             actor="agent"), "précède l'ouverture"),
        (lambda: debts.repay(w.uow(), 999999, Decimal("10"), on=D("2026-12-01"),
                             actor="agent"), "Dette introuvable"),
        (lambda: debts.repay(w.uow(), "XX-TR-2026-00009", Decimal("10"), on=D("2026-12-01"),
                             actor="agent"), "Dette introuvable"),
    ]  # fmt: skip
    for attempt, message in refusals:
        with pytest.raises((InvalidInput, NotFound), match=message):
            attempt()
        assert snapshot(w) == before
    row = debts.repay(w.uow(), region["number"], Decimal("20.00"), on=D("2026-12-01"),
                      actor="agent", reference="VIR-1")  # fmt: skip
    assert (row["repaid"], row["balance"], row["status"]) == ("20.00", "250.00", "partially_repaid")
    row = debts.repay(w.uow(), region["id"], Decimal("250"), on=D("2026-12-15"), actor="agent")
    assert (row["balance"], row["status"]) == ("0.00", "settled")
    settled = snapshot(w)
    with pytest.raises(InvalidInput, match="soldée"):
        debts.repay(w.uow(), region["id"], Decimal("1"), on=D("2026-12-16"), actor="agent")
    with pytest.raises(InvalidInput, match="soldée"):
        debts.plan(w.uow(), region["id"], instalments=3, first=D("2027-01-05"), actor="agent")
    assert snapshot(w) == settled


def test_waivers_and_write_offs_need_a_decision(world: World) -> None:
    w = world
    case = breached(w)
    employer, region = debt_of(w, case, "employer"), debt_of(w, case, "region")
    before = snapshot(w)
    with pytest.raises(InvalidInput, match="décision est obligatoire"):
        debts.waive(w.uow(), employer["id"], on=D("2026-12-01"), decision=" ", actor="élu")
    with pytest.raises(InvalidInput, match="décision est obligatoire"):
        debts.write_off(w.uow(), employer["id"], on=D("2026-12-01"), decision=None, actor="élu")
    with pytest.raises(InvalidInput, match="dépasse le solde"):
        debts.waive(w.uow(), employer["id"], on=D("2026-12-01"), decision="D-1", actor="élu",
                    amount=Decimal("270.01"))  # fmt: skip
    assert snapshot(w) == before
    row = debts.waive(w.uow(), employer["id"], on=D("2026-12-01"), decision="DEL-2026-7",
                      actor="élu", amount=Decimal("70"))  # fmt: skip
    assert (row["waived"], row["balance"], row["status"]) == ("70.00", "200.00", "open")
    row = debts.write_off(w.uow(), employer["id"], on=D("2027-06-01"), decision="ANV-2027-1",
                          actor="comptable")  # fmt: skip
    assert (row["written_off"], row["balance"], row["status"]) == ("200.00", "0.00", "written_off")
    row = debts.waive(w.uow(), region["id"], on=D("2026-12-01"), decision="DEL-2026-8", actor="élu")
    assert (row["waived"], row["balance"], row["status"]) == ("270.00", "0.00", "waived")
    with w.uow() as uow:
        moves = uow.session.execute(
            sa.select(DebtMovement.kind, DebtMovement.decision, DebtMovement.decided_by)
            .where(DebtMovement.debt_id == employer["id"])
            .order_by(DebtMovement.id)
        ).all()
    assert [tuple(m) for m in moves] == [
        ("waiver", "DEL-2026-7", "élu"),
        ("write_off", "ANV-2027-1", "comptable"),
    ]


def test_a_plan_spreads_the_balance_to_the_cent_and_repayments_pay_it_in_order(
    world: World,
) -> None:
    w = world
    case = breached(w)
    employer = debt_of(w, case, "employer")
    debts.repay(w.uow(), employer["id"], Decimal("0.01"), on=D("2026-11-20"), actor="agent")
    row = debts.plan(w.uow(), employer["id"], instalments=7, first=D("2027-01-31"), actor="agent")
    amounts = [Decimal(i["amount"]) for i in row["plan"]]
    assert sum(amounts) == Decimal("269.99") and len(set(amounts[:-1])) == 1
    assert amounts[-1] >= amounts[0]
    assert [i["due_date"] for i in row["plan"][:3]] == ["2027-01-31", "2027-03-01", "2027-03-31"]
    assert row["plan"] and debt_of(w, case, "employer")["plan"] == "active"
    before = snapshot(w)
    with pytest.raises(InvalidInput, match="déjà un échéancier"):
        debts.plan(w.uow(), employer["id"], instalments=2, first=D("2027-01-31"), actor="agent")
    with pytest.raises(InvalidInput, match="entre 1 et"):
        debts.plan(w.uow(), employer["id"], instalments=0, first=D("2027-01-31"), actor="agent")
    assert snapshot(w) == before
    # One instalment and a bit: the first is paid, the second not yet.
    debts.repay(w.uow(), employer["id"], amounts[0] + Decimal("10"), on=D("2027-02-01"),
                actor="agent")  # fmt: skip
    with w.uow() as uow:
        statuses = [i["status"] for i in debts.plan_rows(uow.session, employer["id"])]
    assert statuses == ["paid"] + ["pending"] * 6
    debts.repay(w.uow(), employer["id"], Decimal(debt_of(w, case, "employer")["balance"]),
                on=D("2027-03-01"), actor="agent")  # fmt: skip
    with w.uow() as uow:
        statuses = [i["status"] for i in debts.plan_rows(uow.session, employer["id"])]
    assert statuses == ["paid"] * 7
    final = debt_of(w, case, "employer")
    assert (final["status"], final["plan"], final["balance"]) == ("settled", "completed", "0.00")


def test_the_employer_confirms_the_repayment_of_its_own_share(world: World) -> None:
    w = world
    case = breached(w)
    employer, region = debt_of(w, case, "employer"), debt_of(w, case, "region")
    with w.uow() as uow:
        owner = uow.session.scalar(
            sa.select(Offer.employer_id).where(Offer.id == case_detail(
                uow.session, case, w.schemes)["offer_id"])
        )  # fmt: skip
    assert owner is not None
    before = snapshot(w)
    with pytest.raises(InvalidInput, match="pas due à cet employeur"):
        debts.confirm_repayment(w.uow(), region["id"], Decimal("10"), on=D("2026-12-01"),
                                employer_id=owner, actor="rh")  # fmt: skip
    with pytest.raises(InvalidInput, match="pas due à cet employeur"):
        debts.confirm_repayment(w.uow(), employer["id"], Decimal("10"), on=D("2026-12-01"),
                                employer_id=owner + 1000, actor="rh")  # fmt: skip
    assert snapshot(w) == before
    row = debts.confirm_repayment(w.uow(), employer["id"], Decimal("270"), on=D("2026-12-01"),
                                  employer_id=owner, actor="rh")  # fmt: skip
    assert (row["repaid"], row["status"]) == ("270.00", "settled")
    with w.uow() as uow:
        kinds = uow.session.scalars(
            sa.select(DebtMovement.kind).where(DebtMovement.debt_id == employer["id"])
        ).all()
    assert kinds == ["confirmation"]


def test_the_treasury_file_is_all_or_nothing(world: World, tmp_path: Path) -> None:
    w = world
    case = breached(w)
    employer, region = debt_of(w, case, "employer"), debt_of(w, case, "region")
    before = snapshot(w)
    bad = tmp_path / "bad.csv"
    # The two rows together exceed the Région's balance: the second is refused, and the first
    # (valid alone) is not written either.
    bad.write_text(
        "debt_number;amount;paid_on;reference\n"
        f"{employer['number']};100,00;2026-12-01;VIR-1\n"
        f"{region['number']};100.00;2026-12-01;VIR-2\n"
        f"{region['number']};170.01;2026-12-02;VIR-3\n"
        "XX-TR-2026-99999;1;2026-12-01;\n"
        f"{region['number']};abc;2026-12-01;\n"
    )
    with pytest.raises(InvalidInput, match="rien n'a été enregistré") as refused:
        debts.import_repaid(w.uow(), bad, actor="trésor")
    message = str(refused.value)
    assert "ligne 4" in message and "ligne 5" in message and "ligne 6" in message
    assert "ligne 2" not in message and "ligne 3" not in message
    assert snapshot(w) == before
    columns = tmp_path / "columns.csv"
    columns.write_text("numero;montant\nA;1\n")
    with pytest.raises(InvalidInput, match="Colonne"):
        debts.import_repaid(w.uow(), columns, actor="trésor")
    good = tmp_path / "good.csv"
    good.write_text(
        "debt_number;amount;paid_on;reference\n"
        f"{employer['number']};100,00;2026-12-01;VIR-1\n"
        f"{region['number']};100.00;2026-12-01;VIR-2\n"
        f"{region['number']};170.00;2026-12-02;VIR-3\n"
    )
    assert debts.import_repaid(w.uow(), good, actor="trésor") == 3
    assert debt_of(w, case, "region")["status"] == "settled"
    assert debt_of(w, case, "employer")["balance"] == "170.00"


def test_an_exempted_breach_opens_no_debt(world: World, tmp_path: Path) -> None:
    w = world
    case = signed_case(w)
    run_nightly(w.engine, D("2026-11-10"), schemes=w.schemes, send_mail=False, catch_up=False)
    cases.fire(w.uow(), case, "breach", on=D("2026-11-01"), reason="Santé",
               params={"category": "medical_inaptitude", "exemption": "DEC-1"}, schemes=w.schemes,
               store=DocumentStore(tmp_path / "docs"))  # fmt: skip
    with w.uow() as uow:
        assert case_detail(uow.session, case, w.schemes)["debts"] == []


def debt_step(w: World, as_of: str) -> int:
    report = run_nightly(w.engine, D(as_of), schemes=w.schemes, send_mail=False,
                         catch_up=False, only_steps=("debts",))  # fmt: skip
    return int(report.totals["debts"])


def test_the_nightly_run_reminds_missed_instalments_lapses_plans_and_reminds_overdue_debts(
    world: World,
) -> None:
    w = world
    case = breached(w)  # due on 2026-12-01 (30 days after the breach)
    employer, region = debt_of(w, case, "employer"), debt_of(w, case, "region")
    assert employer["due_date"] == "2026-12-01"
    debts.plan(w.uow(), employer["id"], instalments=3, first=D("2027-01-05"), actor="agent")
    debts.repay(w.uow(), employer["id"], Decimal("90"), on=D("2027-01-05"), actor="agent")
    # 15 days after the due date, the Région's debt (no plan) is reminded, once.
    assert debt_step(w, "2026-12-15") == 0
    assert debt_step(w, "2026-12-16") == 1
    assert debt_step(w, "2026-12-17") == 0
    # The second instalment (5 February) unpaid: reminded, the plan still runs.
    assert debt_step(w, "2027-02-06") == 1
    assert debt_step(w, "2027-02-07") == 0
    with w.uow() as uow:
        s = uow.session
        statuses = [i["status"] for i in debts.plan_rows(s, employer["id"])]
        messages = s.execute(
            sa.select(OutboxMessage.kind, OutboxMessage.dedup_key, OutboxMessage.recipient)
            .where(OutboxMessage.kind.like("debt%"))
            .order_by(OutboxMessage.id)
        ).all()
        mails = [
            render(s, m, w.schemes)
            for m in s.scalars(
                sa.select(OutboxMessage)
                .where(OutboxMessage.kind.like("debt%"))
                .order_by(OutboxMessage.id)
            )
        ]
    assert statuses == ["paid", "missed", "pending"]
    assert [(k, key) for k, key, _ in messages] == [
        ("debt_overdue", f"debt:{region['id']}:debt_overdue:2026-12-01"),
        ("debt_instalment_missed", f"debt:{employer['id']}:debt_instalment_missed:2027-02-05"),
    ]
    assert all(recipient for _, _, recipient in messages)
    assert region["number"] in mails[0].subject and "270,00" in mails[0].text
    assert "5 février 2027" in mails[1].text and "180,00" in mails[1].text
    assert debt_of(w, case, "employer")["plan"] == "active"
    # 30 days after the missed instalment, the plan lapses; the debt is then reminded as overdue.
    assert debt_step(w, "2027-03-06") == 1  # the 5 March instalment missed
    assert debt_step(w, "2027-03-07") == 1 + 1  # the plan lapsed, the debt reminded
    assert debt_of(w, case, "employer")["plan"] == "lapsed"
    # A new plan replaces the lapsed one; its instalments are the current ones.
    row = debts.plan(w.uow(), employer["id"], instalments=2, first=D("2027-04-05"), actor="agent")
    assert [i["amount"] for i in row["plan"]] == ["90.00", "90.00"]
    assert [i["seq"] for i in row["plan"]] == [4, 5]


def test_the_observatory_and_the_export_follow_the_debts(world: World) -> None:
    w = world
    case = breached(w)
    region = debt_of(w, case, "region")
    debts.repay(w.uow(), region["id"], Decimal("70"), on=D("2026-12-01"), actor="agent")
    debts.waive(w.uow(), region["id"], on=D("2026-12-02"), decision="D-1", actor="élu",
                amount=Decimal("50"))  # fmt: skip
    with w.uow() as uow:
        s = uow.session
        total = observatory(s, "campagne").total.money
        rows = list(EXPORTS["debts"].rows(s, Selection(), w.schemes))
        sheets = EXPORTS["debts"].extra_sheets
        assert sheets is not None
        by_funder = {r[0]: r[1:] for r in sheets(s, Selection())[0].rows}
    assert total["region"].to_json() | {"allocated": "", "paid": ""} == {
        "allocated": "", "paid": "", "debts": "270.00", "to_recover": "150.00",
        "recovered": "70.00", "waived": "50.00", "written_off": "0.00",
    }  # fmt: skip
    assert total["employer"].to_recover == Decimal("270.00")
    exported = {r[7]: r for r in rows}
    assert exported["Région"][6] == region["number"]
    assert exported["Région"][9:14] == (
        Decimal("270.00"),
        Decimal("70.00"),
        Decimal("50.00"),
        Decimal("0.00"),
        Decimal("150.00"),
    )
    assert exported["Région"][16] == "partiellement remboursée"
    assert by_funder["Région"] == (
        Decimal("270"),
        Decimal("70"),
        Decimal("50"),
        Decimal("0"),
        Decimal("150"),
    )


def test_the_forecast_expects_the_plan_instalments_or_the_balance_at_the_due_date(
    world: World,
) -> None:
    w = world
    case = breached(w)
    employer = debt_of(w, case, "employer")
    debts.plan(w.uow(), employer["id"], instalments=3, first=D("2027-01-05"), actor="agent")
    debts.repay(w.uow(), employer["id"], Decimal("90"), on=D("2027-01-05"), actor="agent")
    with w.uow() as uow:
        later = expected_recoveries(uow.session, D("2026-11-15"))
        late = expected_recoveries(uow.session, D("2027-04-20"))
    # The Région's whole balance in December (its due date), the employer's two instalments left.
    assert [(m.label, {f: str(a) for f, a in m.amounts.items()}, m.cases) for m in later] == [
        ("2026-12", {"region": "270.00"}, 1),
        ("2027-01", {}, 0),
        ("2027-02", {"employer": "90.00"}, 1),
        ("2027-03", {"employer": "90.00"}, 1),
    ]
    # Anything late counts in the month of the situation's date.
    assert [(m.label, m.total) for m in late] == [("2027-04", Decimal("450.00"))]
