"""/export as a file: each recipient of the sends, or each inbound SMS, of a time range — as CSV
(UTF-8 with a BOM, so that Excel shows Persian) or XLSX — written batch by batch to a temporary
file, never whole in memory, with Jalali and Gregorian times and the phonebook's names."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from . import render

KINDS = ("sends", "inbound")
FORMATS = ("csv", "xlsx")

_SEND_COLUMNS = (
    "send",
    "number",
    "name",
    "text",
    "account",
    "line",
    "jalali",
    "gregorian",
    "state",
    "message_id",
    "provider_status",
    "error",
    "campaign",
    "send_price",
)
_INBOUND_COLUMNS = (
    "jalali",
    "gregorian",
    "number",
    "name",
    "account",
    "line",
    "text",
    "provider_id",
    "source",
)


def columns(kind: str) -> tuple[str, ...]:
    return _SEND_COLUMNS if kind == "sends" else _INBOUND_COLUMNS


def _times(iso: str | None) -> tuple[str, str]:
    """Jalali and Gregorian, Tehran time, in ASCII digits (a sheet sorts and sums them)."""
    return render.when("en", datetime.fromisoformat(iso)) if iso else ("", "")


def header(kind: str, lang: str) -> list[str]:
    return [render.t(lang, f"export.col.{c}") for c in columns(kind)]


def cells(kind: str, row: dict[str, Any]) -> list[object]:
    """One line of the file, in ``columns(kind)`` order."""
    if kind == "sends":
        jalali, gregorian = _times(row["confirmed_at"])
        return [
            row["id"],
            render.local_form(row["number"]).replace(" ", ""),
            row["name"] or "",
            row["text"],
            row["account"],
            row["line"],
            jalali,
            gregorian,
            row["state"],
            row["message_id"] or "",
            row["raw_status"] or "",
            row["error"] or "",
            row["campaign_id"] or "",
            row["price"] if row["price"] is not None else "",
        ]
    jalali, gregorian = _times(row["received_at"])
    return [
        jalali,
        gregorian,
        render.local_form(row["sender"]).replace(" ", ""),
        row["name"] or "",
        row["account"],
        row["line"] or "",
        row["text"],
        row["provider_id"],
        row["source"],
    ]


async def write(
    path: Path,
    kind: str,
    form: str,
    lang: str,
    batches: AsyncIterator[list[dict[str, Any]]],
) -> int:
    """Write the file batch by batch (each batch's writing off the event loop); returns the
    number of rows written."""
    count = 0
    names = header(kind, lang)
    writer = _CsvWriter(path, names) if form == "csv" else _XlsxWriter(path, names)
    try:
        async for batch in batches:
            lines = [cells(kind, r) for r in batch]
            await asyncio.to_thread(writer.add, lines)
            count += len(lines)
    finally:
        await asyncio.to_thread(writer.close)
    return count


class _CsvWriter:
    def __init__(self, path: Path, header: list[str]) -> None:
        # held open across batches and closed by close(): a with-block cannot span awaits here
        self._file = path.open("w", encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(header)

    def add(self, lines: list[list[object]]) -> None:
        self._csv.writerows(lines)

    def close(self) -> None:
        self._file.close()


class _XlsxWriter:
    """openpyxl's write-only mode: rows go to the file as they come."""

    def __init__(self, path: Path, header: list[str]) -> None:
        from openpyxl import Workbook  # only when an XLSX is asked for

        self._path = path
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet()
        self._sheet.append(header)

    def add(self, lines: list[list[object]]) -> None:
        for line in lines:
            self._sheet.append(line)

    def close(self) -> None:
        self._book.save(self._path)
