"""Writing a table as CSV or XLSX, by the file's extension, one row at a time (the error
reports and the reference-data exports). CSV: UTF-8 with BOM and `;`, what a French Excel
opens as is; dates as JJ/MM/AAAA. XLSX: openpyxl's write-only mode, dates as date cells. Texts
are never formulas, in either format (workflow.spreadsheet).

The file appears complete or not at all: it is written beside its target, then renamed."""

from __future__ import annotations

import csv
import errno
import os
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from workflow.errors import InvalidInput
from workflow.imports.readers import check_suffix
from workflow.spreadsheet import neutralised, text_cell

DATE_FORMAT = "%d/%m/%Y"
# The system's reasons, in French (its own text is English).
_REASONS = {
    errno.ENOENT: "dossier inexistant",
    errno.ENOTDIR: "dossier inexistant",
    errno.EACCES: "accès refusé",
    errno.EPERM: "accès refusé",
    errno.EISDIR: "c'est un dossier",
    errno.EEXIST: "un fichier porte le nom du dossier",
    errno.ENOSPC: "disque plein",
    errno.EROFS: "disque en lecture seule",
}


def cannot_write(path: Path, exc: OSError) -> InvalidInput:
    """A file that cannot be written, as a French error (nothing is left of it)."""
    reason = _REASONS.get(exc.errno or 0, "erreur d'écriture")
    return InvalidInput(f"Impossible d'écrire « {path} » ({reason}).", "file")


def csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, date):
        return value.strftime(DATE_FORMAT)
    return neutralised(value) if isinstance(value, str) else str(value)


class TableWriter:
    """`with TableWriter(path, header, title) as w: w.write(row)`; nothing is left behind when
    the block raises."""

    def __init__(self, path: Path, header: Sequence[str], title: str) -> None:
        self.path = path
        self.count = 0
        self._xlsx = check_suffix(path) == ".xlsx"
        self._partial = path.with_name(f".{path.name}.partiel")
        self._handle: IO[str] | None = None
        self._csv: Any = None
        self._book: Any = None
        self._sheet: Any = None
        if self._xlsx:
            from openpyxl import Workbook

            self._book = Workbook(write_only=True)
            self._sheet = self._book.create_sheet(title[:31])
        else:
            try:
                self._handle = self._partial.open("w", encoding="utf-8-sig", newline="")
            except OSError as exc:
                raise cannot_write(path, exc) from None
            self._csv = csv.writer(self._handle, delimiter=";")
        self._append(header)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()

    def write(self, row: Sequence[object]) -> None:
        self._append(row)
        self.count += 1

    def _append(self, row: Sequence[object]) -> None:
        if self._xlsx:
            self._sheet.append([self._cell(v) for v in row])
        else:
            self._csv.writerow([csv_text(v) for v in row])

    def _cell(self, value: object) -> Any:
        from openpyxl.cell import WriteOnlyCell

        if isinstance(value, str):
            return text_cell(self._sheet, value)
        if isinstance(value, date):
            moment = value if isinstance(value, datetime) else datetime.combine(value, time())
            cell = WriteOnlyCell(self._sheet, value=moment)
            cell.number_format = "DD/MM/YYYY"
            return cell
        if isinstance(value, bool):
            return "oui" if value else "non"
        return value

    def close(self) -> None:
        try:
            if self._xlsx:
                self._book.save(self._partial)
            elif self._handle is not None:
                self._handle.close()
            os.replace(self._partial, self.path)
        except OSError as exc:
            self._partial.unlink(missing_ok=True)
            raise cannot_write(self.path, exc) from None

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._partial.unlink(missing_ok=True)


__all__ = ["TableWriter", "cannot_write", "csv_text"]
