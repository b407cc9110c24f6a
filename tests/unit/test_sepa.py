from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from xml.etree import ElementTree

import pytest

from workflow.sepa import NAMESPACE, Debtor, SepaError, Transfer, pain001, validate_pain001

NS = {"p": NAMESPACE}
DEBTOR = Debtor("REGION OCCITANIE", "FR7630001007941234567890185", "BDFEFRPPCCT")
TRANSFERS = [
    Transfer(
        "FID-P000000001",
        Decimal("120.00"),
        "Zoé <O'Brien> & fils",
        "FR7630006000011234567890189",
        None,
        "Allocation 09/2026",
    ),
    Transfer(
        "FID-P000000002",
        Decimal("150.00"),
        "Léa Fabre",
        "FR7610107001011234567890129",
        None,
        "Allocation 10/2026",
    ),
    Transfer(
        "FID-P000000003",
        Decimal("9.68"),
        "Hugo Bonnet",
        "FR7630004000031234567890143",
        None,
        "Allocation 07/2027",
    ),
]


def build(transfers: list[Transfer] = TRANSFERS) -> bytes:
    return pain001(transfers, DEBTOR, message_id="FIDELIS-202609-00001",
                   created_at=datetime(2026, 11, 12, 9, 30), execution_date=date(2026, 11, 13))  # fmt: skip


def test_a_valid_file_with_the_right_sums() -> None:
    xml = build()
    validate_pain001(xml)
    root = ElementTree.fromstring(xml)
    assert root.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=NS) == "3"
    assert root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS) == "279.68"
    assert root.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == DEBTOR.iban
    txs = root.findall(".//p:CdtTrfTxInf", NS)
    assert [(t.findtext(".//p:EndToEndId", namespaces=NS), t.findtext(".//p:InstdAmt", namespaces=NS),
             t.findtext(".//p:CdtrAcct/p:Id/p:IBAN", namespaces=NS)) for t in txs] == [
        (x.end_to_end_id, f"{x.amount:.2f}", x.creditor_iban) for x in TRANSFERS
    ]  # fmt: skip
    assert "Zoe" in (txs[0].findtext(".//p:Cdtr/p:Nm", namespaces=NS) or "")  # SEPA characters


def test_the_same_batch_gives_the_same_bytes() -> None:
    assert build() == build()


@pytest.mark.parametrize(
    "bad",
    [
        Transfer("FID-P1", Decimal("10.00"), "A", "FR7630006000011234567890188", None, "x"),
        Transfer("FID-P1", Decimal("-10.00"), "A", "FR7630006000011234567890189", None, "x"),
        Transfer("FID-P1", Decimal("10.001"), "A", "FR7630006000011234567890189", None, "x"),
    ],
)
def test_bad_transfers_are_refused(bad: Transfer) -> None:
    with pytest.raises(SepaError):
        build([bad])


def test_empty_and_tampered_files_are_refused() -> None:
    with pytest.raises(SepaError, match="vide"):
        build([])
    with pytest.raises(SepaError, match="non conforme"):
        validate_pain001(
            build().replace(b"<CtrlSum>279.68</CtrlSum>", b"<CtrlSum>lots</CtrlSum>", 1)
        )
