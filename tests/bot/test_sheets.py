"""Reading customer lists: the encodings and shapes Excel users produce, the number column, and
one text per row from ``{column}`` placeholders."""

from __future__ import annotations

import pytest

from bot import sheets
from bot.sending import UserError
from sandbox import files


def test_an_xlsx_list_reads_numbers_excel_stored_as_numbers_and_in_persian_digits() -> None:
    table = sheets.read_table("list.xlsx", files.xlsx(files.customers(3)))
    assert table.header == ("mobile", "name", "order") and table.first_row == 2
    assert [r[0] for r in table.rows] == ["09120000000", "9120000001", "۰۹۱۲۰۰۰۰۰۰۲"]
    plan = sheets.plan(table, 0, "Hi {Name} ({ORDER})")  # header names compared loosely
    assert plan.numbers == ["989120000000", "989120000001", "989120000002"]
    assert plan.texts == ["Hi علی رضایی (A-1000)", "Hi Sara (A-1001)", "Hi مریم احمدی (A-1002)"]


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8-sig", ","), ("utf-8", ";"), ("cp1256", "\t"), ("utf-16", ",")],
)
def test_a_csv_in_any_encoding_excel_writes_reads_the_same(encoding: str, delimiter: str) -> None:
    # Windows-1256 has the Arabic forms of ی and ک only, as Excel on a Persian Windows writes them
    rows = [("09121234567", "مشتري عزيز"), ("09351234567", "كاربر")]
    data = files.csv_bytes(rows, ("شماره موبايل", "نام"), encoding, delimiter)
    table = sheets.read_table("list.csv", data)
    assert table.header == ("شماره موبايل", "نام")
    assert table.rows == rows
    assert sheets.number_columns(table) == [0]


def test_a_list_without_a_header_is_named_by_column_letters() -> None:
    data = files.csv_bytes([("09121234567", "x"), ("09121234568", "y")], header=None)
    table = sheets.read_table("list.csv", data)
    assert table.header == ("A", "B") and table.first_row == 1 and len(table.rows) == 2
    assert sheets.plan(table, 0, "code {b}").texts == ["code x", "code y"]


def test_the_named_number_column_comes_first_among_columns_of_numbers() -> None:
    rows = [("09121234567", "09351234567")]
    table = sheets.read_table("l.csv", files.csv_bytes(rows, ("referrer", "Mobile")))
    assert sheets.number_columns(table) == [1, 0]


def test_invalid_rows_are_named_by_sheet_row_and_repeats_counted() -> None:
    rows = [
        ("09121234567", "Ali"),
        ("02188776655", "Office"),
        ("", "Nobody"),
        ("09121234567", "Ali again"),
        ("", ""),  # a blank line is no row at all
        ("09351234567", ""),
    ]
    table = sheets.read_table("l.csv", files.csv_bytes(rows, ("mobile", "name")))
    plan = sheets.plan(table, 0, "Dear {name}")
    assert plan.rows == 5 and plan.numbers == ["989121234567"] and plan.duplicates == 1
    assert [(i.row, i.value, i.reason) for i in plan.invalid] == [
        (3, "02188776655", "not_mobile"),
        (4, "", "empty"),
        (7, "09351234567", "missing:name"),
    ]
    assert sheets.plan(table, 0, "Same for all").texts is None


def test_a_placeholder_that_names_no_column_is_refused_with_the_columns() -> None:
    table = sheets.read_table("l.csv", files.csv_bytes([("09121234567", "x")], ("m", "name")))
    with pytest.raises(UserError) as refused:
        sheets.plan(table, 0, "Hi {nmae}")
    assert refused.value.key == "file.unknown_column"
    assert refused.value.values == {"name": "nmae", "columns": "m, name"}


@pytest.mark.parametrize(
    ("name", "data", "key"),
    [
        ("a.pdf", b"%PDF-1.4", "file.kind"),
        ("a.xlsx", b"PK\x03\x04not a zip", "file.unreadable"),
        ("a.csv", b"", "file.empty"),
        ("a.csv", b"0" * (sheets.MAX_BYTES + 1), "file.too_big"),
    ],
)
def test_files_that_cannot_be_read_say_why(name: str, data: bytes, key: str) -> None:
    with pytest.raises(UserError) as refused:
        sheets.read_table(name, data)
    assert refused.value.key == key


def test_a_file_past_the_row_limit_is_refused() -> None:
    data = files.csv_bytes(files.customers(sheets.MAX_ROWS + 2), header=None)
    with pytest.raises(UserError) as refused:
        sheets.read_table("big.csv", data)
    assert refused.value.key == "file.too_many_rows"


def test_a_bad_cell_is_quoted_short_so_the_preview_fits_a_message() -> None:
    rows = [("x" * 500, "a"), ("09121234567", "b")]
    table = sheets.read_table("l.csv", files.csv_bytes(rows, ("mobile", "name")))
    plan = sheets.plan(table, 0, "hi")
    assert len(plan.invalid[0].value) == sheets.SHOWN_VALUE
