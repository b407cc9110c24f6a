"""Reading a CSV or XLSX file row by row, never whole: `open_table(path)` gives its header and
an iterator of (line number, cells as text). Line numbers are those a spreadsheet shows (the
header is line 1); blank lines are skipped but keep their number.

CSV: UTF-8 with or without BOM, UTF-16 with BOM (Excel's « texte Unicode »), else Windows-1252;
the delimiter is the one of `;`, `,` or tab that the header line uses most; the apostrophe
that Fidelis's own exports put before a formula-like text is taken off (workflow.spreadsheet).
XLSX: the first sheet, read with openpyxl in read-only mode (streamed); dates become ISO text."""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from workflow.errors import InvalidInput
from workflow.spreadsheet import restored

SUFFIXES = (".csv", ".xlsx")
_CHUNK = 1 << 16


@dataclass
class Table:
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    estimated_rows: int | None  # data rows, for a progress bar (None when unknown)


def check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(
            f"Format de fichier non pris en charge : « {path.name} » (attendu : .csv ou .xlsx ; "
            "enregistrez le classeur au format .xlsx ou CSV).",
            "file",
        )
    return suffix


@contextmanager
def open_table(path: Path) -> Iterator[Table]:
    """The file's header and rows; raises InvalidInput (in French) when it cannot be read."""
    suffix = check_suffix(path)
    if not path.is_file():
        raise InvalidInput(f"Fichier introuvable : {path}.", "file")
    if suffix == ".csv":
        with _open_csv(path) as table:
            yield table
    else:
        with _open_xlsx(path) as table:
            yield table


# -- CSV -----------------------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """utf-8-sig / utf-16 when a BOM says so; utf-8 when every byte decodes; else cp1252."""
    with path.open("rb") as handle:
        head = handle.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ";"


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(_CHUNK), b""))


@contextmanager
def _open_csv(path: Path) -> Iterator[Table]:
    encoding = detect_encoding(path)
    try:
        handle: IO[str] = path.open(encoding=encoding, newline="")
    except OSError as exc:
        raise InvalidInput(f"Fichier illisible : {path} ({exc.strerror}).", "file") from None
    with handle:
        try:
            first = handle.readline()
            handle.seek(0)
        except UnicodeDecodeError:
            raise InvalidInput(
                f"Encodage du fichier non reconnu : {path.name} (enregistrez-le en UTF-8).", "file"
            ) from None
        reader = csv.reader(handle, delimiter=_delimiter(first))
        header = _first_row(reader, path)
        lines = _count_lines(path)
        yield Table(header, _csv_rows(reader, path, len(header)), max(lines - 1, 0))


def _first_row(reader: Any, path: Path) -> list[str]:
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Fichier CSV illisible : {path.name} ({exc}).", "file") from None
    if not header or not any(cell.strip() for cell in header):
        raise InvalidInput(
            f"Le fichier {path.name} est vide : la première ligne doit porter les en-têtes.",
            "file",
        )
    return [str(cell) for cell in header]


def _padded(cells: list[str], width: int) -> list[str]:
    """Rows as wide as the header (spreadsheets drop trailing empty cells)."""
    return cells + [""] * (width - len(cells))


def _csv_rows(reader: Any, path: Path, width: int) -> Iterator[tuple[int, list[str]]]:
    number = 1
    try:
        for row in reader:
            number += 1
            if any(cell.strip() for cell in row):
                yield number, _padded([restored(cell) for cell in row], width)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"Fichier CSV illisible à la ligne {number + 1} : {path.name} ({exc}).", "file"
        ) from None


# -- XLSX ------------------------------------------------------------------------------------------


def cell_text(value: object) -> str:
    """A spreadsheet cell as the text a person would type: dates in ISO form, whole numbers
    without decimals, booleans as oui/non."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@contextmanager
def _open_xlsx(path: Path) -> Iterator[Table]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError):
        raise InvalidInput(
            f"Classeur XLSX illisible : {path.name} (le fichier est-il bien au format .xlsx ?).",
            "file",
        ) from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        header = [cell_text(v) for v in first] if first else []
        if not any(h.strip() for h in header):
            raise InvalidInput(
                f"Le classeur {path.name} est vide : la première ligne de la première feuille "
                "doit porter les en-têtes.",
                "file",
            )
        total = sheet.max_row - 1 if isinstance(sheet.max_row, int) and sheet.max_row > 1 else None
        yield Table(header, _xlsx_rows(rows, len(header)), total)
    finally:
        book.close()


def _xlsx_rows(rows: Iterator[tuple[Any, ...]], width: int) -> Iterator[tuple[int, list[str]]]:
    for number, values in enumerate(rows, start=2):
        cells = [cell_text(v) for v in values]
        if any(c.strip() for c in cells):
            yield number, _padded(cells, width)


__all__ = [
    "check_suffix",
]
