"""Customer lists as people send them to the bot (XLSX and CSV), for the demo, the tests and the
benchmarks: a number column written the ways Excel users write it, a name and an order number."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook

HEADER = ("mobile", "name", "order")
NAMES = ("علی رضایی", "Sara", "مریم احمدی", "Reza", "نگار", "John")


def customers(count: int, first: int = 0) -> list[tuple[object, ...]]:
    """``count`` rows of distinct mobile numbers, written as people write them: with the 0, as
    the number Excel keeps without it, and in Persian digits."""
    rows: list[tuple[object, ...]] = []
    for n in range(first, first + count):
        local = f"0912{n:07d}"
        spelled: object = local
        if n % 3 == 1:
            spelled = int(local)  # Excel drops the leading zero of a number cell
        elif n % 3 == 2:
            spelled = local.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
        rows.append((spelled, NAMES[n % len(NAMES)], f"A-{1000 + n}"))
    return rows


def xlsx(rows: Sequence[Sequence[object]], header: Sequence[str] | None = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    if header is not None:
        sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(
    rows: Sequence[Sequence[object]],
    header: Sequence[str] | None = HEADER,
    encoding: str = "utf-8-sig",
    delimiter: str = ",",
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)
