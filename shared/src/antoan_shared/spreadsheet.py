"""CSV that is safe to open in a spreadsheet (SPEC §7: no formula injection).

Excel, LibreOffice and Google Sheets treat a cell starting with `=`, `+`, `-` or `@` as a formula (and a
leading tab or carriage return can hide one), so such a cell is prefixed with `'`, which every one of them
shows as text, as OWASP's CSV-injection advice recommends. A spreadsheet set to another list separator (`;`
in Vietnamese and most European locales, or a tab or `|` when a person chooses it on import) would split an
unquoted `x;=1+1` into two cells, the second a formula: so every cell is quoted, and a formula character after
a separator inside a cell is prefixed with `'` as well. The file is UTF-8 with a byte-order mark so that Excel
reads Vietnamese text as UTF-8 rather than as the local code page.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A formula character after something a spreadsheet may take for a list separator (and any spaces).
_AFTER_SEPARATOR = re.compile(r"([,;|\t\r\n][ ]*)([=+\-@])")
BOM = "\ufeff"
CONTENT_TYPE = "text/csv"


def neutralised(value: object) -> str:
    """The cell's text, prefixed with `'` when a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    text = text[:1] + _AFTER_SEPARATOR.sub(r"\1'\2", text[1:])  # the first character is the cell's start
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A whole CSV document (RFC 4180, CRLF line ends), BOM first, every cell neutralised and quoted."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow([neutralised(cell) for cell in header])
    writer.writerows([neutralised(cell) for cell in row] for row in rows)
    return out.getvalue()


def attachment(filename: str) -> str:
    """A Content-Disposition value offering the document as a download under this (ASCII) name."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in filename)
    return f'attachment; filename="{safe}"'
