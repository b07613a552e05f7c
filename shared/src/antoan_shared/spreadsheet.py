"""CSV that is safe to open in a spreadsheet (SPEC §7: no formula injection).

Excel, LibreOffice and Google Sheets treat a cell starting with `=`, `+`, `-` or `@` as a formula (and a
leading tab or carriage return can hide one), so such a cell is prefixed with `'`, which every one of them
shows as text, as OWASP's CSV-injection advice recommends. The file is UTF-8 with a byte-order mark so that
Excel reads Vietnamese text as UTF-8 rather than as the local code page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
CONTENT_TYPE = "text/csv"


def neutralised(value: object) -> str:
    """The cell's text, prefixed with `'` when a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A whole CSV document (RFC 4180, CRLF line ends), BOM first, every cell neutralised."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralised(cell) for cell in header])
    writer.writerows([neutralised(cell) for cell in row] for row in rows)
    return out.getvalue()


def attachment(filename: str) -> str:
    """A Content-Disposition value offering the document as a download under this (ASCII) name."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in filename)
    return f'attachment; filename="{safe}"'
