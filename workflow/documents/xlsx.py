"""The campaign's list of employers as a spreadsheet (for the institutes), from the same context
as the Word list (`workflow.documents.context.campaign_list_context`).

Not byte-for-byte reproducible: openpyxl stamps the modification time of the workbook when it
saves it (`openpyxl/writer/excel.py`), so two runs on the same list differ in that timestamp and
nowhere else. The creation time is set to the campaign's rentrée.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from workflow.spreadsheet import text_cell

__all__ = ["COLUMNS", "campaign_list_xlsx"]

# (header, context key, width in characters)
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("Employeur", "employer", 40),
    ("SIRET", "siret", 16),
    ("Commune", "commune", 24),
    ("Code INSEE", "insee", 11),
    ("Département", "departement", 22),
    ("EPCI", "epci", 40),
    ("Type d'EPCI", "epci_type_label", 28),
    ("Secteur", "sector", 32),
    ("Places", "places", 8),
    ("Courriel", "email", 32),
)


def campaign_list_xlsx(context: Mapping[str, Any]) -> bytes:
    """One sheet: a styled header row, one row per employer, an autofilter, frozen header."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    campaign = context["campaign"]
    rows = context["employers"]
    wb = Workbook()
    sheet = wb.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = f"Employeurs {campaign['year']}"
    sheet.append([header for header, _, _ in COLUMNS])
    for row in rows:
        values = (row[key] for _, key, _ in COLUMNS)
        sheet.append([text_cell(sheet, v) if isinstance(v, str) else v for v in values])

    bold = Font(bold=True, color="FFFFFF")
    fill = PatternFill("solid", fgColor="000091")
    thin = Side(style="thin", color="BFBFBF")
    for index, (_, key, width) in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = width
        cell = sheet.cell(row=1, column=index)
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        cell.border = Border(bottom=thin)
        if key in ("siret", "insee"):
            for (data,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                data.number_format = "@"  # codes, not numbers: keep the leading zeros
    sheet.freeze_panes = "A2"
    last = get_column_letter(len(COLUMNS))
    sheet.auto_filter.ref = f"A1:{last}{max(1, len(rows) + 1)}"
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True  # type: ignore[union-attr]

    stamp = datetime(int(campaign["year"]), 9, 1)
    wb.properties.creator = "Fidelis"
    wb.properties.title = f"Liste des employeurs — {campaign['label']}"
    wb.properties.created = stamp
    wb.properties.language = "fr-FR"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
