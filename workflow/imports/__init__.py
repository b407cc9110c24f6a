"""Imports and exports of reference data — institutes, employers, learners — as CSV or XLSX.

readers.py   the file, row by row (CSV encodings and delimiters, XLSX streamed)
columns.py   which column is which field (French and English headers)
rows.py      one row checked into a clean record, or its problems in French
store.py     the database side: upsert keys, lookups, batched writes
service.py   import_file: check everything, then write all (or the valid rows) at once
report.py    the error report (Ligne, Colonne, Valeur, Message)
writers.py   CSV / XLSX tables, written whole or not at all
exports.py   export_file: the same format, for a round trip
"""

from __future__ import annotations

from workflow.imports.columns import Kind
from workflow.imports.exports import export_file
from workflow.imports.report import Issue, Report, default_report_path
from workflow.imports.service import ImportProgress, ImportResult, import_file

__all__ = [
    "ImportProgress",
    "ImportResult",
    "Issue",
    "Kind",
    "Report",
    "default_report_path",
    "export_file",
    "import_file",
]
