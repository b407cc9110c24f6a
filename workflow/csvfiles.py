"""CSV files a treasury sends back (paid transfers, repaid debts): read whole, bounded in size,
UTF-8 (with or without a BOM), `;` or `,` as the separator; anything else is a French error
naming the file and the columns expected."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from workflow.errors import InvalidInput

MAX_BYTES = 10 * 1024 * 1024  # a month of a treasury's statements is a few hundred lines


def read_rows(
    file: Path, columns: str, *, max_bytes: int = MAX_BYTES
) -> tuple[list[dict[str, str]], list[str]]:
    """The rows (as dicts) and the header of `file`; `columns` says what is expected, as
    « end_to_end_id;paid_on », in the error messages."""
    try:
        if file.stat().st_size > max_bytes:
            raise InvalidInput(f"Le fichier {file.name} dépasse {max_bytes // (1024 * 1024)} Mo.")
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"Fichier illisible : {file} ({exc.strerror}).") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"Le fichier {file.name} n'est pas un CSV en UTF-8.") from None
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0] if text else ";", delimiters=",;")
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
        rows = list(reader)
    except csv.Error:
        raise InvalidInput(
            f"Le fichier {file.name} n'est pas un CSV lisible ({columns})."
        ) from None
    return rows, list(reader.fieldnames or [])


__all__ = ["MAX_BYTES", "read_rows"]
