"""Cells a spreadsheet must not read as a formula (OWASP « CSV injection »): a text starting with
= + - @, a tab or a carriage return. Every CSV and XLSX Fidelis writes — the case exports, the
reference data, import error reports, the web's downloads, the campaign's list of employers —
writes its texts through here:

- in CSV such a text gets an apostrophe in front (`neutralised`), which Excel and LibreOffice
  show as text; reading a CSV back, `restored` takes it off again, so an export re-imports as
  it was;
- in XLSX every text is a text cell (`text_cell`), never a formula nor an error code, and one
  that looks like a formula also carries Excel's « quote prefix », so that editing the cell
  keeps it text. Its value is unchanged.

Only texts: numbers, dates and amounts are written as such (a negative amount is no formula)."""

from __future__ import annotations

from typing import Any

__all__ = ["FORMULA_STARTS", "formula_like", "neutralised", "restored", "text_cell"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_like(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def neutralised(text: str) -> str:
    """`text` as a CSV cell: an apostrophe before what a spreadsheet would compute."""
    return "'" + text if formula_like(text) else text


def restored(text: str) -> str:
    """A CSV cell read back: the apostrophe `neutralised` added, taken off."""
    return text[1:] if text.startswith("'") and formula_like(text[1:]) else text


def text_cell(sheet: Any, text: str) -> Any:
    """`text` as an openpyxl cell of `sheet` (write-only or not) that stays text."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    clean = ILLEGAL_CHARACTERS_RE.sub("", text)
    cell = WriteOnlyCell(sheet, value=clean)
    cell.data_type = "s"  # openpyxl would make « =… » a formula and « #N/A » an error
    if formula_like(clean):
        cell.quotePrefix = True
    return cell
