"""The row-level error report of an import: one line per problem, with the file's line, the
column as headed in the file, the value found and a French message. CSV or XLSX by the report's
extension; by default beside the imported file (`employeurs.csv` → `employeurs.erreurs.csv`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workflow.imports.writers import TableWriter
from workflow.validation import control_free

REPORT_HEADER = ("Ligne", "Colonne", "Valeur", "Message")
MAX_VALUE = 200


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem of one row (line 1 is the header)."""

    line: int
    column: str
    value: str
    message: str

    def as_json(self) -> dict[str, object]:
        return {
            "line": self.line,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }


def default_report_path(path: Path) -> Path:
    suffix = ".xlsx" if path.suffix.lower() == ".xlsx" else ".csv"
    return path.with_name(f"{path.stem}.erreurs{suffix}")


class Report:
    """Issues written as they come (streamed, whatever their number). The file is created on
    the first issue, or at the end when `always` (a path the user asked for); otherwise a
    clean import writes none, and removes the stale report of an earlier run."""

    def __init__(self, path: Path, *, always: bool = False) -> None:
        self.path = path
        self.always = always
        self.count = 0
        self._writer: TableWriter | None = None

    def add(self, issue: Issue) -> None:
        if self._writer is None:
            self._writer = TableWriter(self.path, REPORT_HEADER, "Erreurs")
        # Control characters replaced: a spreadsheet cell cannot hold them.
        value = control_free(issue.value)
        value = value if len(value) <= MAX_VALUE else value[:MAX_VALUE] + "…"
        self._writer.write((issue.line, issue.column, value, issue.message))
        self.count += 1

    def close(self) -> bool:
        """Finish the file; return whether there is one."""
        if self._writer is None and self.always:
            self._writer = TableWriter(self.path, REPORT_HEADER, "Erreurs")
        if self._writer is None:
            self.path.unlink(missing_ok=True)
            return False
        self._writer.close()
        return True

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.discard()
