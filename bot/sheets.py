"""A list people send the bot as a file (CSV or XLSX): its table, the column that holds the numbers,
and one text per row from a text with ``{column}`` placeholders (docs/spec.md §8, bulk sends).

Nothing here talks to Telegram or a provider: a file's bytes in, a plan of who gets which text out.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from providers import numbers

from .optouts import normalize as loose
from .sending import UserError

MAX_BYTES = 10 * 1024 * 1024  # Telegram lets a bot download 20 MB; a list of numbers is far less
MAX_ROWS = 50_000
MAX_COLUMNS = 50
# Header words that name a number column, compared loosely (Persian letter forms, case, spaces).
NUMBER_WORDS = ("mobile", "phone", "number", "tel", "cell", "شماره", "موبایل", "تلفن", "همراه")
_PLACEHOLDER = re.compile(r"\{([^{}\n]{1,60})\}")


@dataclass(frozen=True, slots=True)
class Table:
    """The first sheet of a file: ``header`` names the columns (the file's first row when it is
    a header, else the spreadsheet letters A, B, …); ``rows[i]`` is spreadsheet row
    ``first_row + i``, padded to the header's width."""

    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    first_row: int


SHOWN_VALUE = 40  # characters of a bad cell the preview quotes (a cell may hold a paragraph)


@dataclass(frozen=True, slots=True)
class Invalid:
    row: int  # as the spreadsheet numbers it
    value: str
    reason: str  # "not_mobile", "empty", or "missing:<column>"


@dataclass(slots=True)
class Plan:
    """Who gets which text: ``texts`` is None when every row gets the same text."""

    rows: int
    numbers: list[str] = field(default_factory=list)
    texts: list[str] | None = None
    invalid: list[Invalid] = field(default_factory=list)
    duplicates: int = 0


def read_table(name: str, data: bytes) -> Table:
    """The table in a CSV or XLSX file; ``UserError`` (``file.*``) says why one cannot be read."""
    if len(data) > MAX_BYTES:
        raise UserError("file.too_big", most=MAX_BYTES // (1024 * 1024))
    kind = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    if kind == "xlsx" or data[:4] == b"PK\x03\x04":
        cells = _xlsx_cells(data)
    elif kind in ("csv", "txt", "tsv", ""):
        cells = _csv_cells(data)
    else:
        raise UserError("file.kind", name=name)
    while cells and not any(cells[-1]):
        cells.pop()
    if not cells:
        raise UserError("file.empty", name=name)
    width = min(MAX_COLUMNS, max(len(r) for r in cells))
    cells = [(list(r) + [""] * width)[:width] for r in cells]
    if any(numbers.is_valid(c) for c in cells[0] if c):
        header = tuple(_letters(i) for i in range(width))
        return Table(header, [tuple(r) for r in cells], 1)
    header = tuple(c or _letters(i) for i, c in enumerate(cells[0]))
    return Table(header, [tuple(r) for r in cells[1:]], 2)


def _letters(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: the spreadsheet's own column names."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell(value: object) -> str:
    """A cell as text: a number Excel stored as 9121234567.0 reads 9121234567."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value).strip()


def _xlsx_cells(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook  # only when an XLSX arrives: it costs 20 MB and 0.2 s

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise UserError("file.unreadable", why="XLSX") from exc
    try:
        sheet = book.worksheets[0]
        cells: list[list[str]] = []
        for row in sheet.iter_rows(values_only=True):
            if len(cells) > MAX_ROWS:
                raise UserError("file.too_many_rows", most=f"{MAX_ROWS:,}")
            cells.append([_cell(v) for v in row[:MAX_COLUMNS]])
        return cells
    finally:
        book.close()


def _csv_cells(data: bytes) -> list[list[str]]:
    text = _decode(data)
    sample = text[:8192]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t|")
    except csv.Error:
        dialect = csv.excel
    cells: list[list[str]] = []
    for row in csv.reader(io.StringIO(text), dialect):
        if len(cells) > MAX_ROWS:
            raise UserError("file.too_many_rows", most=f"{MAX_ROWS:,}")
        cells.append([c.strip() for c in row[:MAX_COLUMNS]])
    return cells


def _decode(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes), UTF-16 with its BOM, else Windows-1256:
    what Excel on a Persian Windows saves a CSV in."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1256", errors="replace")


def number_columns(table: Table) -> list[int]:
    """The columns that hold phone numbers: most of their first hundred filled cells are
    numbers; a column whose header says so comes first."""
    sample = table.rows[:100]
    found: list[int] = []
    for index in range(len(table.header)):
        filled = [r[index] for r in sample if r[index]]
        if filled and sum(numbers.is_valid(v) for v in filled) * 10 >= len(filled) * 6:
            found.append(index)
    named = [i for i in found if any(w in loose(table.header[i]) for w in NUMBER_WORDS)]
    return named + [i for i in found if i not in named]


def placeholders(text: str) -> list[str]:
    """The ``{column}`` names a text uses, in order, each once."""
    found: list[str] = []
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1).strip()
        if name and name not in found:
            found.append(name)
    return found


def column_of(table: Table, name: str) -> int | None:
    """The column a placeholder names: its header (loosely compared) or its letter."""
    wanted = loose(name)
    for index, header in enumerate(table.header):
        if loose(header) == wanted:
            return index
    for index in range(len(table.header)):
        if _letters(index).lower() == name.strip().lower():
            return index
    return None


def fields_of(table: Table, text: str) -> dict[str, int]:
    """The column of each placeholder of ``text``; ``UserError`` names one that names none."""
    columns: dict[str, int] = {}
    for name in placeholders(text):
        index = column_of(table, name)
        if index is None:
            raise UserError("file.unknown_column", name=name, columns=", ".join(table.header))
        columns[name] = index
    return columns


def plan(table: Table, number_column: int, text: str) -> Plan:
    """One text per valid row: numbers normalised, a number's second row dropped (counted), a
    row whose number is not a mobile number or whose placeholder cell is empty named as
    invalid. A placeholder that names no column is refused before anything else."""
    fields = placeholders(text)
    columns: dict[str, int] = {}
    for name in fields:
        index = column_of(table, name)
        if index is None:
            raise UserError("file.unknown_column", name=name, columns=", ".join(table.header))
        columns[name] = index
    result = Plan(rows=0, texts=[] if fields else None)
    seen: set[str] = set()
    for offset, row in enumerate(table.rows):
        if not any(row):
            continue  # a blank line between blocks is no row at all
        result.rows += 1
        at = table.first_row + offset
        raw = row[number_column]
        if not raw:
            result.invalid.append(Invalid(at, "", "empty"))
            continue
        try:
            number = numbers.normalize(raw)
        except numbers.InvalidNumber:
            result.invalid.append(Invalid(at, short(raw), "not_mobile"))
            continue
        if number in seen:
            result.duplicates += 1
            continue
        missing = next((n for n, i in columns.items() if not row[i]), None)
        if missing is not None:
            result.invalid.append(Invalid(at, short(raw), f"missing:{missing}"))
            continue
        seen.add(number)
        result.numbers.append(number)
        if result.texts is not None:
            result.texts.append(_fill(text, row, columns))
    return result


def short(value: str) -> str:
    """A cell as a preview quotes it."""
    return value if len(value) <= SHOWN_VALUE else value[: SHOWN_VALUE - 1] + "…"


def _fill(text: str, row: Sequence[str], columns: dict[str, int]) -> str:
    def value(match: re.Match[str]) -> str:
        index = columns.get(match.group(1).strip())
        return row[index] if index is not None else match.group(0)

    return _PLACEHOLDER.sub(value, text)
