"""SEPA credit-transfer files, pain.001.001.03 (SPEC §4: the Région's shares), with `sepaxml`.

Files are reproducible: the message id, creation time and payment-information id come from the
batch, not from the clock or a random generator, so re-exporting a batch gives the same bytes.
Every file is validated against the official XSD shipped in `config/xsd/`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from xml.etree import ElementTree

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sepaxml import SepaTransfer

from workflow.errors import FidelisError
from workflow.paths import config_dir

SCHEMA = "pain.001.001.03"
NAMESPACE = f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"


class SepaError(FidelisError):
    pass


@dataclass(frozen=True)
class Debtor:
    name: str
    iban: str
    bic: str


@dataclass(frozen=True)
class Transfer:
    end_to_end_id: str  # unique, at most 35 characters
    amount: Decimal
    creditor_name: str
    creditor_iban: str
    creditor_bic: str | None
    remittance: str  # at most 140 characters


def _iban(value: str, who: str) -> str:
    try:
        return str(IBAN(value).compact)
    except SchwiftyException as exc:
        raise SepaError(f"IBAN invalide pour {who} : « {value} » ({exc}).") from None


def _cents(amount: Decimal, who: str) -> int:
    cents = amount * 100
    if amount <= 0 or cents != cents.to_integral_value():
        raise SepaError(f"Montant invalide pour {who} : {amount} (positif, au centime).")
    return int(cents)


def pain001(
    transfers: Sequence[Transfer],
    debtor: Debtor,
    *,
    message_id: str,
    created_at: datetime,
    execution_date: date,
) -> bytes:
    """The pain.001.001.03 document of `transfers` (one payment-information block)."""
    if not transfers:
        raise SepaError("Aucun virement : le fichier SEPA serait vide.")
    if len({t.end_to_end_id for t in transfers}) != len(transfers):
        raise SepaError("Deux virements portent la même référence de bout en bout.")
    sepa = SepaTransfer(
        {
            "name": debtor.name,
            "IBAN": _iban(debtor.iban, "le compte débité"),
            "BIC": debtor.bic,
            "batch": True,
            "currency": "EUR",
        },
        schema=SCHEMA,
        clean=True,  # names and texts transliterated to the SEPA character set
    )
    for t in transfers:
        payment: dict[str, object] = {
            "name": t.creditor_name,
            "IBAN": _iban(t.creditor_iban, t.creditor_name),
            "amount": _cents(t.amount, t.creditor_name),
            "execution_date": execution_date,
            "description": t.remittance[:140],
            "endtoend_id": t.end_to_end_id[:35],
        }
        bic = t.creditor_bic or _bic_of(t.creditor_iban)
        if bic:
            payment["BIC"] = bic
        sepa.add_payment(payment)
    raw: bytes = sepa.export(validate=False)
    return _reproducible(raw, message_id, created_at)


def _bic_of(iban: str) -> str | None:
    try:
        bic = IBAN(iban).bic
    except SchwiftyException:
        return None
    return str(bic) if bic else None


def _reproducible(raw: bytes, message_id: str, created_at: datetime) -> bytes:
    """Replace what sepaxml takes from the clock and from random numbers."""
    ElementTree.register_namespace("", NAMESPACE)
    root = ElementTree.fromstring(raw)
    ns = {"p": NAMESPACE}
    header = root.find(".//p:GrpHdr", ns)
    assert header is not None
    created = header.find("p:CreDtTm", ns)
    assert created is not None
    created.text = created_at.strftime("%Y-%m-%dT%H:%M:%S")
    msg_id = header.find("p:MsgId", ns)
    assert msg_id is not None
    msg_id.text = message_id[:35]
    for n, info in enumerate(root.iterfind(".//p:PmtInf/p:PmtInfId", ns), start=1):
        info.text = f"{message_id}-{n}"[:35]
    body = ElementTree.tostring(root, encoding="unicode")
    return b'<?xml version="1.0" encoding="UTF-8"?>' + body.encode("utf-8")


@cache
def _schema() -> object:
    import xmlschema

    return xmlschema.XMLSchema(str(config_dir() / "xsd" / f"{SCHEMA}.xsd"))


def validate_pain001(xml: bytes) -> None:
    """Raise SepaError naming the problem when `xml` does not follow the pain.001.001.03 XSD."""
    import xmlschema

    schema = _schema()
    assert isinstance(schema, xmlschema.XMLSchema)
    try:
        schema.validate(xml.decode("utf-8"))
    except (xmlschema.XMLSchemaValidationError, ElementTree.ParseError) as exc:
        reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
        raise SepaError(f"Fichier SEPA non conforme au schéma {SCHEMA} : {reason}") from None
