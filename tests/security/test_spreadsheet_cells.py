"""CSV exports: a formula hidden after a separator inside a cell is neither split off nor evaluated.

Issue 12's finding: only a cell's first character was neutralised, so `x;=1+1` went out bare, and a
spreadsheet using `;` as its list separator (as Vietnamese locales do) read `=1+1` as a cell of its own.
"""

from __future__ import annotations

import csv
import io

from antoan_shared.spreadsheet import BOM, to_csv

SEPARATORS = (",", ";", "\t", "|")


def test_no_cell_of_an_export_starts_a_formula_whatever_separator_a_spreadsheet_uses() -> None:
    hostile = ["x;=1+1", "x,=1+1", "x\t@SUM(A1)", "x|+1", "Nguyễn; -2+3", "=cmd|' /C calc'!A0"]
    document = to_csv(["ghi chú"], [[cell] for cell in hostile]).removeprefix(BOM)
    for separator in SEPARATORS:
        for row in list(csv.reader(io.StringIO(document), delimiter=separator))[1:]:
            for cell in row:
                assert not cell.lstrip(" ").startswith(("=", "+", "-", "@")), (separator, cell)
