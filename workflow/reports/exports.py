"""Exports of the case tables (issue 7, point 2): cases with their state and key dates, payments
by month and funder, reimbursements, and the event history — filtered like the case list
(`workflow.views.CaseFilter`) and limited to what the reader may see.

Two formats, chosen by the file's extension:

- CSV for spreadsheets set to French: `;`-separated, UTF-8 with a BOM (so Excel reads the
  accents), decimal comma (« 1479,68 »), dates « 07/09/2026 », booleans « oui »/« non »;
- XLSX: French headers, euros as numbers formatted `#,##0.00 "€"` (Excel shows « 1 479,68 € »
  in a French locale), dates as dates formatted `dd/mm/yyyy`, frozen header, autofilter.

Rows are streamed from the database (`yield_per`) into the CSV writer or a write-only openpyxl
workbook, so a table of a million events never sits in memory. A file is written to a
temporary name and renamed at the end: a failed export leaves nothing behind.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from workflow import ledger, money
from workflow.clock import PARIS
from workflow.documents.labels import breach_reason_label
from workflow.errors import InvalidInput
from workflow.files import atomic_path
from workflow.models import (
    ERASED_TEXT,
    Campaign,
    Case,
    CaseEvent,
    CaseText,
    Debt,
    Employer,
    Institute,
    Learner,
    Offer,
    Payment,
    Reimbursement,
    Suspension,
    WorkingTime,
)
from workflow.reports.labels import (
    DEBT_KIND_LABELS,
    DEBT_STATUS_LABELS,
    PAYMENT_STATUS_LABELS,
    PLAN_STATUS_LABELS,
    departement_of,
    event_label,
    funder_title,
    state_label,
)
from workflow.reports.selection import Selection
from workflow.schemes import SchemeRegistry
from workflow.spreadsheet import neutralised, text_cell

__all__ = [
    "DATETIME_FORMAT",
    "DATE_FORMAT",
    "EURO_FORMAT",
    "EXPORTS",
    "MONTH_FORMAT",
    "PERCENT_FORMAT",
    "Column",
    "Export",
    "Sheet",
    "csv_chunks",
    "csv_value",
    "export_format",
    "streamed_csv",
    "write_csv",
    "write_export",
    "write_xlsx",
    "xlsx_bytes",
]

Kind = Literal["text", "int", "money", "date", "month", "datetime", "bool", "percent"]

EURO_FORMAT = '#,##0.00 "€"'
DATE_FORMAT = "dd/mm/yyyy"
MONTH_FORMAT = "mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
PERCENT_FORMAT = "0.0 %"
BOM = "\ufeff"
BATCH = 2_000
_Q = TypeVar("_Q", bound=sa.Select[*tuple[Any, ...]])
FORMATS = {".csv": "csv", ".xlsx": "xlsx"}


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = "text"
    width: int = 14


@dataclass(frozen=True)
class Sheet:
    """One table to write: a title, its columns, its rows (an iterator may be read only once)."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]


Rows = Callable[[Session, Selection, SchemeRegistry], Iterator[tuple[Any, ...]]]
Extra = Callable[[Session, Selection], list[Sheet]]


@dataclass(frozen=True)
class Export:
    """One exportable table: its name on the command line, its sheet title, its default file
    name, its columns and the query that streams its rows."""

    name: str
    title: str
    filename: str
    columns: tuple[Column, ...]
    rows: Rows
    # More sheets in the XLSX form (a CSV holds one table).
    extra_sheets: Extra | None = None

    def sheet(self, session: Session, selection: Selection, schemes: SchemeRegistry) -> Sheet:
        return Sheet(self.title, self.columns, self.rows(session, selection, schemes))


# -- formatting ----------------------------------------------------------------------------------


def _paris(value: datetime) -> datetime:
    """A stored UTC timestamp as the wall-clock time in Paris, naive (what a spreadsheet shows)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(PARIS).replace(tzinfo=None)


def _decimal_comma(value: Decimal) -> str:
    return format(value, "f").replace(".", ",")


def csv_value(kind: Kind, value: Any) -> str:
    """A value as French spreadsheets read it: decimal comma, dates dd/mm/yyyy, oui/non; a text
    never read as a formula (workflow.spreadsheet)."""
    if value is None:
        return ""
    match kind:
        case "money":
            return _decimal_comma(Decimal(value).quantize(money.CENT))
        case "percent":
            return _decimal_comma((Decimal(value) * 100).quantize(Decimal("0.1"))) + " %"
        case "date":
            return f"{value:%d/%m/%Y}"
        case "month":
            return f"{value:%m/%Y}"
        case "datetime":
            return f"{_paris(value):%d/%m/%Y %H:%M}"
        case "bool":
            return "oui" if value else "non"
        case "int":
            return str(int(value))
    return neutralised(str(value))


def _xlsx_value(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    match kind:
        case "datetime":
            return _paris(value)
        case "bool":
            return "oui" if value else "non"
        case "int":
            return int(value)
        case "money" | "percent":
            return Decimal(value)
    return value


_NUMBER_FORMATS: dict[Kind, str] = {
    "money": EURO_FORMAT,
    "percent": PERCENT_FORMAT,
    "date": DATE_FORMAT,
    "month": MONTH_FORMAT,
    "datetime": DATETIME_FORMAT,
}


# -- writers -------------------------------------------------------------------------------------


def csv_chunks(columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text in pieces (BOM and header first), for a file or a streamed response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    yield BOM + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for n, row in enumerate(rows, start=1):
        writer.writerow([csv_value(c.kind, v) for c, v in zip(columns, row, strict=True)])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_csv(sheet: Sheet, stream: IO[str]) -> int:
    """Write `sheet` as CSV; return the number of data rows."""
    counted = _Counter(sheet.rows)
    for chunk in csv_chunks(sheet.columns, counted):
        stream.write(chunk)
    return counted.count


class _Counter:
    def __init__(self, rows: Iterable[Sequence[Any]]) -> None:
        self._rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[Sequence[Any]]:
        for row in self._rows:
            self.count += 1
            yield row


def write_xlsx(sheets: Iterable[Sheet], target: IO[bytes] | Path) -> list[int]:
    """A write-only workbook (rows go to disk as they come): one worksheet per sheet, French
    headers in bold on the frozen first row, an autofilter, number formats per column kind.
    Returns the number of data rows of each sheet."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    book.properties.creator = "Fidelis"
    book.properties.language = "fr-FR"
    bold = Font(bold=True, color="FFFFFF")
    fill = PatternFill("solid", fgColor="000091")
    wrap = Alignment(vertical="center", wrap_text=True)
    counts = []
    try:
        for sheet in sheets:
            ws = book.create_sheet(sheet.title[:31])  # Excel's limit on a sheet's name
            for index, column in enumerate(sheet.columns, start=1):
                ws.column_dimensions[get_column_letter(index)].width = column.width
            ws.freeze_panes = "A2"
            header = []
            for column in sheet.columns:
                cell = WriteOnlyCell(ws, value=column.header)
                cell.font = bold
                cell.fill = fill
                cell.alignment = wrap
                header.append(cell)
            ws.append(header)
            kinds = [c.kind for c in sheet.columns]
            formats = [_NUMBER_FORMATS.get(k) for k in kinds]
            n = 0
            for row in sheet.rows:
                values: list[Any] = []
                for kind, fmt, value in zip(kinds, formats, row, strict=True):
                    converted = _xlsx_value(kind, value)
                    if isinstance(converted, str):
                        values.append(text_cell(ws, converted))
                    elif fmt is None or converted is None:
                        values.append(converted)
                    else:
                        cell = WriteOnlyCell(ws, value=converted)
                        cell.number_format = fmt
                        values.append(cell)
                ws.append(values)
                n += 1
            last = get_column_letter(max(1, len(sheet.columns)))
            ws.auto_filter.ref = f"A1:{last}{n + 1}"
            counts.append(n)
    except BaseException:
        _abandon(book)
        raise
    book.save(target)
    return counts


def _abandon(book: Any) -> None:
    """After a failure: close every write-only sheet (its XML stream is a generator that would
    complain when collected) and remove its temporary file."""
    for ws in book.worksheets:
        # The original error is the one worth reporting: a failure here is only cleanup.
        with suppress(Exception):
            if not ws.closed:
                ws.close()
            if ws._writer is not None:
                ws._writer.cleanup()


def export_format(path: Path) -> str:
    """`csv` or `xlsx` from the file's extension; anything else is a French error."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"Format de fichier non reconnu : « {path.name} » "
            f"(extensions acceptées : {', '.join(FORMATS)}).",
            "file",
        )
    return fmt


def write_export(
    session: Session,
    export: Export,
    path: Path,
    selection: Selection,
    schemes: SchemeRegistry,
) -> int:
    """Write `export` to `path` (CSV or XLSX by extension); returns the number of rows."""
    fmt = export_format(path)
    with atomic_path(path) as temp:
        if fmt == "csv":
            with temp.open("w", encoding="utf-8", newline="") as stream:
                return write_csv(export.sheet(session, selection, schemes), stream)
        sheets = [export.sheet(session, selection, schemes)]
        if export.extra_sheets is not None:
            sheets += export.extra_sheets(session, selection)
        return write_xlsx(sheets, temp)[0]


def xlsx_bytes(
    session: Session, export: Export, selection: Selection, schemes: SchemeRegistry
) -> bytes:
    sheets = [export.sheet(session, selection, schemes)]
    if export.extra_sheets is not None:
        sheets += export.extra_sheets(session, selection)
    buffer = io.BytesIO()
    write_xlsx(sheets, buffer)
    return buffer.getvalue()


def streamed_csv(
    factory: sessionmaker[Session],
    export: Export,
    selection: Selection,
    schemes: SchemeRegistry,
) -> Iterator[bytes]:
    """The CSV as UTF-8 pieces, read with a session of its own (a web response streams after
    the request's session is gone)."""
    with factory() as session:
        sheet = export.sheet(session, selection, schemes)
        for chunk in csv_chunks(sheet.columns, sheet.rows):
            yield chunk.encode("utf-8")


# -- the tables ----------------------------------------------------------------------------------


def _joined(query: _Q, selection: Selection, *, limit: bool = True) -> _Q:
    """`query` (whose FROM holds Case) joined to what the case list filters on, filtered."""
    query = (
        query.join(Campaign, Campaign.id == Case.campaign_id)
        .join(Learner, Learner.id == Case.learner_id)
        .join(Offer, Offer.id == Case.offer_id)
        .join(Employer, Employer.id == Offer.employer_id)
        .where(*selection.conditions())
    )
    if limit and selection.limit is not None:
        query = query.limit(selection.limit)
    return query


def _stream(session: Session, query: sa.Select[*tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    for row in session.execute(query, execution_options={"yield_per": BATCH}):
        yield tuple(row)


CASE_COLUMNS = (
    Column("N° de dossier", "int", 12),
    Column("État", "text", 26),
    Column("Code de l'état", "text", 14),
    Column("Dispositif", "text", 26),
    Column("Campagne", "int", 11),
    Column("Apprenant", "text", 26),
    Column("Institut", "text", 26),
    Column("Employeur", "text", 30),
    Column("SIRET", "text", 16),
    Column("Département", "text", 12),
    Column("Palier", "text", 10),
    Column("N° de contrat", "text", 20),
    Column("Ouvert le", "date", 12),
    Column("Date de l'entretien", "date", 12),
    Column("Contrat signé le", "date", 12),
    Column("Début de formation", "date", 12),
    Column("Fin de formation prévue", "date", 12),
    Column("Diplôme obtenu le", "date", 12),
    Column("Prise de poste", "date", 12),
    Column("Fin d'engagement prévue", "date", 12),
    Column("Date de rupture", "date", 12),
    Column("Motif de rupture", "text", 24),
    Column("Exonération", "bool", 12),
    Column("Dernier événement", "date", 12),
)


def _suspensions(
    session: Session, selection: Selection
) -> dict[int, list[tuple[date, date | None, str]]]:
    """Per case with suspensions: (start, end or None while it runs, reason), in one query."""
    query = _joined(
        sa.select(Suspension.case_id, Suspension.start, Suspension.end, Suspension.reason)
        .select_from(Case)
        .join(Suspension, Suspension.case_id == Case.id),
        selection,
        limit=False,
    )
    out: dict[int, list[tuple[date, date | None, str]]] = {}
    for case_id, start, end, reason in session.execute(query):
        out.setdefault(case_id, []).append((start, end, reason))
    return out


def _working_times(session: Session, selection: Selection) -> dict[int, list[tuple[date, Decimal]]]:
    """Per case with changes of working time: (from, ratio), in one query."""
    query = _joined(
        sa.select(WorkingTime.case_id, WorkingTime.start, WorkingTime.ratio)
        .select_from(Case)
        .join(WorkingTime, WorkingTime.case_id == Case.id),
        selection,
        limit=False,
    )
    out: dict[int, list[tuple[date, Decimal]]] = {}
    for case_id, start, ratio in session.execute(query):
        out.setdefault(case_id, []).append((start, ratio))
    return out


def _case_rows(
    session: Session, selection: Selection, schemes: SchemeRegistry
) -> Iterator[tuple[Any, ...]]:
    suspended = _suspensions(session, selection)
    working = _working_times(session, selection)
    query = _joined(
        sa.select(
            Case.id,
            Case.state,
            Case.scheme_id,
            Campaign.year,
            Learner.first_name,
            Learner.last_name,
            Institute.name,
            Employer.name,
            Employer.siret,
            Employer.commune_insee,
            Case.tier,
            Case.contract_number,
            CaseEvent.effective_date,
            Case.interview_date,
            Case.contract_date,
            Learner.training_start,
            Learner.training_end,
            Case.diploma_date,
            Case.allowance_ended_on,
            Case.service_start,
            Case.part_time_ratio,
            Case.breach_date,
            Case.breach_category,
            Case.exempted,
            Case.last_effective_date,
        ).select_from(Case),
        selection,
    ).join(Institute, Institute.id == Learner.institute_id)
    # The opening's effective date is that of the case's first event (`open`), not the time the
    # row was written (a history may be recorded afterwards).
    query = query.outerjoin(
        CaseEvent, sa.and_(CaseEvent.case_id == Case.id, CaseEvent.seq == 1)
    ).order_by(Case.id)
    for (
        case_id,
        state,
        scheme_id,
        year,
        first,
        last,
        institute,
        employer,
        siret,
        insee,
        tier,
        number,
        opened_on,
        interview,
        contract_date,
        training_start,
        training_end,
        diploma,
        allowance_ended_on,
        service_start,
        part_time,
        breach_date,
        category,
        exempted,
        last_event,
    ) in _stream(session, query):
        scheme = schemes.get(scheme_id)
        # The commitment end is the ledger's, from the row's values (no case is loaded); none
        # for a scheme no longer configured.
        end = (
            ledger.commitment_end(
                ledger.CaseTerms.from_values(
                    scheme,
                    tier=tier,
                    contract_date=contract_date,
                    training_start=training_start,
                    training_end=training_end,
                    allowance_ended_on=allowance_ended_on,
                    service_start=service_start,
                    part_time_ratio=part_time,
                    suspensions=ledger.counted_suspensions(scheme, suspended.get(case_id, ())),
                    working_times=working.get(case_id, ()),
                    exempted=exempted,
                )
            )
            if scheme is not None
            else None
        )
        yield (
            case_id,
            state_label(state),
            state.value,
            scheme_id,
            year,
            f"{first} {last}",
            institute,
            employer,
            siret,
            departement_of(insee),
            tier,
            number,
            opened_on,
            interview,
            contract_date,
            training_start,
            training_end,
            diploma,
            service_start,
            end,
            breach_date,
            breach_reason_label(category) if category else None,
            exempted,
            last_event,
        )


PAYMENT_COLUMNS = (
    Column("N° de paiement", "int", 12),
    Column("N° de dossier", "int", 12),
    Column("N° de contrat", "text", 20),
    Column("Apprenant", "text", 26),
    Column("Employeur", "text", 30),
    Column("Dispositif", "text", 26),
    Column("Campagne", "int", 11),
    Column("Mois", "month", 10),
    Column("Financeur", "text", 12),
    Column("Montant", "money", 14),
    Column("Échéance", "date", 12),
    Column("État du paiement", "text", 22),
    Column("Changement d'état le", "date", 12),
    Column("Motif", "text", 30),
)


def _payment_rows(
    session: Session, selection: Selection, schemes: SchemeRegistry
) -> Iterator[tuple[Any, ...]]:
    query = _joined(
        sa.select(
            Payment.id,
            Case.id,
            Case.contract_number,
            Learner.first_name,
            Learner.last_name,
            Employer.name,
            Case.scheme_id,
            Campaign.year,
            Payment.period,
            Payment.funder,
            Payment.amount,
            Payment.due_date,
            Payment.status,
            Payment.status_changed_on,
            Payment.status_reason,
        )
        .select_from(Case)
        .join(Payment, Payment.case_id == Case.id),
        selection,
    ).order_by(Payment.period, Payment.funder, Case.id)
    for row in _stream(session, query):
        (pid, cid, number, first, last, employer, scheme, year, period, funder) = row[:10]
        amount, due, status, changed, reason = row[10:]
        yield (
            pid,
            cid,
            number,
            f"{first} {last}",
            employer,
            scheme,
            year,
            period,
            funder_title(funder),
            amount,
            due,
            PAYMENT_STATUS_LABELS.get(status, status),
            changed,
            reason,
        )


def _payment_totals(session: Session, selection: Selection) -> list[Sheet]:
    """The payments (cancelled ones excluded) summed per month and funder: one GROUP BY."""
    cents = sa.func.sum(sa.type_coerce(Payment.amount, sa.BigInteger))
    query = (
        _joined(
            sa.select(Payment.period, Payment.funder, cents)
            .select_from(Case)
            .join(Payment, Payment.case_id == Case.id),
            selection,
            limit=False,
        )
        .where(Payment.status != "cancelled")
        .group_by(Payment.period, Payment.funder)
        .order_by(Payment.period, Payment.funder)
    )
    table: dict[date, dict[str, Decimal]] = {}
    funders: set[str] = set()
    for period, funder, total in session.execute(query):
        table.setdefault(period, {})[funder] = Decimal(int(total)) / 100
        funders.add(funder)
    order = sorted(funders)
    columns = [
        Column("Mois", "month", 10),
        *(Column(funder_title(f), "money", 16) for f in order),
        Column("Total", "money", 16),
    ]
    rows = [
        (
            period,
            *(amounts.get(f, Decimal("0.00")) for f in order),
            sum(amounts.values(), Decimal("0.00")),
        )
        for period, amounts in sorted(table.items())
    ]
    return [Sheet("Totaux par mois", columns, rows)]


REIMBURSEMENT_COLUMNS = (
    Column("N° de dossier", "int", 12),
    Column("N° de contrat", "text", 20),
    Column("Apprenant", "text", 26),
    Column("Employeur", "text", 30),
    Column("Dispositif", "text", 26),
    Column("Campagne", "int", 11),
    Column("Date de rupture", "date", 12),
    Column("Motif de rupture", "text", 28),
    Column("Exonération", "bool", 12),
    Column("Référence de l'exonération", "text", 24),
    Column("Financeur", "text", 12),
    Column("Allocation versée (base)", "money", 16),
    Column("Montant à rembourser", "money", 16),
    Column("Échéance du reversement", "date", 12),
)


def _reimbursement_rows(
    session: Session, selection: Selection, schemes: SchemeRegistry
) -> Iterator[tuple[Any, ...]]:
    query = _joined(
        sa.select(
            Case.id,
            Case.contract_number,
            Learner.first_name,
            Learner.last_name,
            Employer.name,
            Case.scheme_id,
            Campaign.year,
            Case.breach_date,
            Case.breach_category,
            Case.exempted,
            Case.exemption_ref,
            Reimbursement.funder,
            Reimbursement.base,
            Reimbursement.amount,
            Reimbursement.due_date,
        )
        .select_from(Case)
        .join(Reimbursement, Reimbursement.case_id == Case.id),
        selection,
    ).order_by(Case.id, Reimbursement.funder)
    for row in _stream(session, query):
        cid, number, first, last, employer, scheme, year, breach, category = row[:9]
        exempted, ref, funder, base, amount, due = row[9:]
        yield (
            cid,
            number,
            f"{first} {last}",
            employer,
            scheme,
            year,
            breach,
            breach_reason_label(category),
            exempted,
            ref,
            funder_title(funder),
            base,
            amount,
            due,
        )


DEBT_COLUMNS = (
    Column("N° de dossier", "int", 12),
    Column("N° de contrat", "text", 20),
    Column("Apprenant", "text", 26),
    Column("Employeur", "text", 30),
    Column("Dispositif", "text", 26),
    Column("Campagne", "int", 11),
    Column("N° de titre", "text", 24),
    Column("Financeur", "text", 12),
    Column("Origine", "text", 22),
    Column("Montant", "money", 14),
    Column("Remboursé", "money", 14),
    Column("Remis", "money", 14),
    Column("Admis en non-valeur", "money", 14),
    Column("Solde", "money", 14),
    Column("Ouverte le", "date", 12),
    Column("Échéance", "date", 12),
    Column("État", "text", 24),
    Column("Échéancier", "text", 12),
)


def _debt_rows(
    session: Session, selection: Selection, schemes: SchemeRegistry
) -> Iterator[tuple[Any, ...]]:
    """The learners' debts (SPEC §4b), one row each, with what is left to recover."""
    query = _joined(
        sa.select(
            Case.id,
            Case.contract_number,
            Learner.first_name,
            Learner.last_name,
            Employer.name,
            Case.scheme_id,
            Campaign.year,
            Debt.number,
            Debt.funder,
            Debt.kind,
            Debt.amount,
            Debt.repaid,
            Debt.waived,
            Debt.written_off,
            Debt.opened_on,
            Debt.due_date,
            Debt.status,
            Debt.plan_status,
        )
        .select_from(Case)
        .join(Debt, Debt.case_id == Case.id),
        selection,
    ).order_by(Case.id, Debt.id)
    for row in _stream(session, query):
        cid, contract, first, last, employer, scheme, year, number, funder, kind = row[:10]
        amount, repaid, waived, written_off, opened, due, status, plan = row[10:]
        yield (
            cid, contract, f"{first} {last}", employer, scheme, year, number,
            funder_title(funder), DEBT_KIND_LABELS.get(kind, kind), amount, repaid, waived,
            written_off, amount - repaid - waived - written_off, opened, due,
            DEBT_STATUS_LABELS.get(status, status), PLAN_STATUS_LABELS.get(plan or "", ""),
        )  # fmt: skip


def _debt_totals(session: Session, selection: Selection) -> list[Sheet]:
    """The debts summed per funder: one GROUP BY."""

    def cents(column: Any) -> Any:
        return sa.func.sum(sa.type_coerce(column, sa.BigInteger))

    query = (
        _joined(
            sa.select(
                Debt.funder,
                cents(Debt.amount),
                cents(Debt.repaid),
                cents(Debt.waived),
                cents(Debt.written_off),
            )
            .select_from(Case)
            .join(Debt, Debt.case_id == Case.id),
            selection,
            limit=False,
        )
        .group_by(Debt.funder)
        .order_by(Debt.funder)
    )
    rows = []
    for funder, *sums in session.execute(query):
        amount, repaid, waived, written_off = (Decimal(int(v or 0)) / 100 for v in sums)
        rows.append(
            (funder_title(funder), amount, repaid, waived, written_off,
             amount - repaid - waived - written_off)
        )  # fmt: skip
    columns = [
        Column("Financeur", "text", 14),
        *(Column(h, "money", 16) for h in
          ("Montant", "Recouvré", "Remis", "Admis en non-valeur", "À recouvrer")),
    ]  # fmt: skip
    return [Sheet("Totaux par financeur", columns, rows)]


EVENT_COLUMNS = (
    Column("N° de dossier", "int", 12),
    Column("N° d'ordre", "int", 9),
    Column("Apprenant", "text", 26),
    Column("Événement", "text", 30),
    Column("Code", "text", 16),
    Column("État avant", "text", 24),
    Column("État après", "text", 24),
    Column("Date d'effet", "date", 12),
    Column("Enregistré le", "datetime", 17),
    Column("Auteur", "text", 24),
    Column("Motif", "text", 40),
)


def _event_rows(
    session: Session, selection: Selection, schemes: SchemeRegistry
) -> Iterator[tuple[Any, ...]]:
    query = _joined(
        sa.select(
            Case.id,
            CaseEvent.seq,
            Learner.first_name,
            Learner.last_name,
            CaseEvent.trigger,
            CaseEvent.from_state,
            CaseEvent.to_state,
            CaseEvent.effective_date,
            CaseEvent.recorded_at,
            CaseEvent.actor,
            CaseText.id,
            CaseText.text,
        )
        .select_from(Case)
        .join(CaseEvent, CaseEvent.case_id == Case.id)
        # The reason lives in case_texts, where the retention purge can erase it.
        .outerjoin(CaseText, sa.and_(CaseText.id == CaseEvent.text_id, CaseText.kind == "reason")),
        selection,
    ).order_by(Case.id, CaseEvent.seq)
    for (
        cid,
        seq,
        first,
        last,
        trigger,
        before,
        after,
        on,
        recorded,
        actor,
        text_id,
        text,
    ) in _stream(session, query):
        reason = ERASED_TEXT if text_id is not None and text is None else text
        yield (
            cid,
            seq,
            f"{first} {last}",
            event_label(trigger),
            trigger,
            state_label(before),
            state_label(after),
            on,
            recorded,
            actor,
            reason,
        )


EXPORTS: dict[str, Export] = {
    "cases": Export("cases", "Dossiers", "dossiers", CASE_COLUMNS, _case_rows),
    "payments": Export(
        "payments", "Paiements", "paiements", PAYMENT_COLUMNS, _payment_rows, _payment_totals
    ),
    "reimbursements": Export(
        "reimbursements",
        "Remboursements",
        "remboursements",
        REIMBURSEMENT_COLUMNS,
        _reimbursement_rows,
    ),
    "debts": Export("debts", "Dettes", "dettes", DEBT_COLUMNS, _debt_rows, _debt_totals),
    "events": Export("events", "Historique", "historique", EVENT_COLUMNS, _event_rows),
}
