"""The documents of SPEC §5, in French: the tripartite contract, the recovery order, the
completion certificate, the amendment and the campaign's list of employers.

- `workflow.documents.context` turns loaded ORM objects, a scheme and the territory into the
  plain dictionaries the templates print (pure functions);
- `render_docx` fills a Word template of `templates/` (docxtpl, escaped, strict: a missing
  variable raises `MissingVariable`);
- `to_pdf` converts a .docx with LibreOffice headless (`LibreOfficeMissing` when absent);
- `workflow.documents.xlsx.campaign_list_xlsx` writes the list of employers as a spreadsheet;
- `workflow.documents.french` formats amounts, amounts in words and dates.

Nothing here reads a file or starts a process at import time.
"""

from __future__ import annotations

from workflow.documents.pdf import LibreOfficeMissing, to_pdf
from workflow.documents.render import DocumentError, MissingVariable, render_docx

__all__ = ["DocumentError", "LibreOfficeMissing", "MissingVariable", "render_docx", "to_pdf"]
