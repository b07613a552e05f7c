"""Spreadsheet-safe CSV: no cell is ever read as a formula (SPEC §7)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from antoan_shared.spreadsheet import BOM, attachment, neutralised, to_csv


@pytest.mark.parametrize(
    "dangerous",
    ["=1+1", '=HYPERLINK("http://evil","x")', "+84912345678", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1"],
)
def test_a_cell_a_spreadsheet_would_evaluate_is_prefixed_with_a_quote(dangerous: str) -> None:
    # Given a value that starts like a formula, When it becomes a cell, Then it is shown as text
    assert neutralised(dangerous) == "'" + dangerous


@pytest.mark.parametrize("harmless", ["Nguyễn Văn Ánh", "0912345678", "a=b", "x-1", "", "'quoted"])
def test_ordinary_text_is_left_as_it_is(harmless: str) -> None:
    assert neutralised(harmless) == harmless


def test_none_numbers_and_times_become_plain_text() -> None:
    assert neutralised(None) == ""
    assert neutralised(2) == "2"
    assert neutralised(-2) == "'-2"  # a negative number is harmless but indistinguishable from a formula
    assert neutralised(datetime(2021, 9, 1, 8, 30, tzinfo=UTC)) == "2021-09-01T08:30:00+00:00"


def test_a_document_starts_with_a_bom_and_round_trips_through_a_csv_reader() -> None:
    # Given rows with Vietnamese text, a comma, a quote, a newline and a formula
    rows = [["Chợ Điện Biên", 'a, "b"\nc', "=cmd|' /C calc'!A0"]]
    # When they are written
    document = to_csv(["tên", "ghi chú", "công thức"], rows)
    # Then the file opens as UTF-8 in Excel (BOM), and a reader gets the cells back, the formula neutralised
    assert document.startswith(BOM)
    assert document.encode("utf-8").startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(document.removeprefix(BOM))))
    assert parsed == [["tên", "ghi chú", "công thức"], ["Chợ Điện Biên", 'a, "b"\nc', "'=cmd|' /C calc'!A0"]]


def test_an_attachment_name_cannot_break_out_of_its_header() -> None:
    assert attachment("visits-v_1.csv") == 'attachment; filename="visits-v_1.csv"'
    assert attachment('a"b\r\nc.csv') == 'attachment; filename="a_b__c.csv"'


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("x;=1+1", "x;'=1+1"),
        ('Hạc Thành, =HYPERLINK("http://evil")', 'Hạc Thành, \'=HYPERLINK("http://evil")'),
        ("a|@SUM(A1)", "a|'@SUM(A1)"),
        ("a\t+84912345678", "a\t'+84912345678"),
        ("line\n-2+3", "line\n'-2+3"),
        ("=1;=2", "'=1;'=2"),
    ],
)
def test_a_formula_after_a_separator_inside_a_cell_is_neutralised_too(cell: str, safe: str) -> None:
    # Given a cell that a spreadsheet with `;`, `,`, `|` or tab as its list separator would split
    # Then every part that would start a cell starts with a quote
    assert neutralised(cell) == safe


def test_every_cell_is_quoted_so_no_separator_inside_it_splits_it() -> None:
    document = to_csv(["a"], [["x;=1+1", 2]])
    assert document.removeprefix(BOM).splitlines() == ['"a"', '"x;\'=1+1","2"']
    # Read with `;` as the separator (a Vietnamese locale's), the quoted cell stays one cell
    parsed = list(csv.reader(io.StringIO(document.removeprefix(BOM)), delimiter=";"))
    assert parsed[1][0].startswith("x;")
