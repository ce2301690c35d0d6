"""``smsbridge migrate-storage``: a stopped deployment's SQLite file copied into an empty
PostgreSQL database (docs/operations.md, "Moving to PostgreSQL"), in one transaction — all of it
or nothing — and then checked: every table's row count, and a sample of rows compared column by
column.

Rows keep their ids (links, the outbox and the event log refer to them), identity counters
continue after them, recipients keep their order, and the search index is written afresh in
PostgreSQL's form. Leases and the record of Bot API calls are a running cluster's: not copied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .db import Connection, Database, SqliteDatabase
from .postgres import PgDatabase
from .search import index_inbound, index_send

# Every table in an order that satisfies the foreign keys, and the identity column each has
TABLES: tuple[tuple[str, str | None], ...] = (
    ("meta", None),
    ("users", None),
    ("chats", None),
    ("audit", "id"),
    ("inbound", "id"),
    ("sends", "id"),
    ("send_recipients", None),
    ("outbox", "id"),
    ("cursors", None),
    ("message_links", None),
    ("routes", None),
    ("ptb_state", None),
    ("digest_items", None),
    ("topics", None),
    ("credit_alerts", None),
    ("optouts", None),
    ("uploads", "id"),
    ("contacts", None),
    ("templates", "id"),
    ("events", "id"),
    ("webhook_cursors", None),
)
NOT_COPIED = ("leases", "telegram_calls", "inbound_fts", "send_fts")
CHUNK = 500  # rows per INSERT
SAMPLE = 25  # rows compared per table


class TargetNotEmpty(RuntimeError):
    """The PostgreSQL database already holds a deployment's data."""


class Mismatch(RuntimeError):
    """What was copied is not what was read."""


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)  # rows copied per table
    compared: int = 0  # rows compared column by column


async def migrate_storage(
    source: SqliteDatabase, target: PgDatabase, say: Callable[[str], None] = print
) -> Report:
    """Copy ``source`` into the empty ``target`` and check the copy."""
    await _refuse_data(target)
    report = Report()
    async with target.transaction() as conn:
        # the meta rows the empty schema was made with give way to the deployment's own
        await conn.execute("DELETE FROM meta")
        for table, identity in TABLES:
            report.counts[table] = await _copy(source, conn, table)
            if identity is not None:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{identity}'), "
                    f"coalesce((SELECT max({identity}) FROM {table}), 0) + 1, false)"
                )
            say(f"{table}: {report.counts[table]:,} rows")
        await _index(source, target, conn)
    for table, _identity in TABLES:
        report.compared += await _verify(source, target, table, report.counts[table])
    say(f"checked: every table's row count, and {report.compared:,} rows column by column")
    return report


async def _refuse_data(target: Database) -> None:
    for table, _identity in TABLES:
        if table == "meta":
            continue
        row = await target.fetchone(f"SELECT count(*) FROM {table}")
        if row is not None and int(row[0]):
            raise TargetNotEmpty(
                f"the PostgreSQL database already has rows in {table}: migrate into an empty one"
            )


async def _columns(source: Database, table: str) -> list[str]:
    return [name for name, _key in await _table_info(source, table)]


async def _table_info(source: Database, table: str) -> list[tuple[str, int]]:
    """Each column's name and its place in the primary key (0: not in it)."""
    rows = await source.fetchall(f"PRAGMA table_info({table})")
    return [(str(r[1]), int(r[5])) for r in rows]


async def _copy(source: SqliteDatabase, conn: Connection, table: str) -> int:
    columns = await _columns(source, table)
    names = ", ".join(columns)
    marks = "(" + ", ".join("?" * len(columns)) + ")"
    copied, last = 0, None
    while True:  # by rowid: recipients keep their order, and memory stays flat
        rows = await source.fetchall(
            f"SELECT rowid, {names} FROM {table} WHERE ? IS NULL OR rowid > ? "
            f"ORDER BY rowid LIMIT {CHUNK}",
            (last, last),
        )
        if not rows:
            return copied
        await conn.execute(
            f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * len(rows))}",
            [value for row in rows for value in tuple(row)[1:]],
        )
        copied += len(rows)
        last = rows[-1][0]


async def _index(source: SqliteDatabase, target: PgDatabase, conn: Connection) -> None:
    """The search index, in PostgreSQL's form, of every SMS and every confirmed send."""
    for query, write in (
        ("SELECT id, text FROM inbound WHERE id > ? ORDER BY id LIMIT 1000", "inbound"),
        (
            "SELECT id, text FROM sends WHERE confirmed_at IS NOT NULL AND id > ? "
            "ORDER BY id LIMIT 1000",
            "send",
        ),
    ):
        last = 0
        while rows := await source.fetchall(query, (last,)):
            pairs = [(int(r[0]), str(r[1])) for r in rows]
            if write == "inbound":
                await index_inbound(conn, target.dialect, pairs)
            else:
                for send_id, text in pairs:
                    await index_send(conn, target.dialect, send_id, text)
            last = pairs[-1][0]


async def _verify(source: Database, target: Database, table: str, copied: int) -> int:
    """Row counts, then a sample of rows (the first, the last and some between) compared."""
    counted = await target.fetchone(f"SELECT count(*) FROM {table}")
    if counted is None or int(counted[0]) != copied:
        raise Mismatch(f"{table}: {copied} rows copied, {counted and counted[0]} found")
    info = await _table_info(source, table)
    columns = [name for name, _place in info]
    key = [name for name, place in sorted(info, key=lambda c: c[1]) if place] or columns
    rows = await source.fetchall(
        f"SELECT {', '.join(columns)} FROM {table} WHERE rowid IN ("
        f"SELECT min(rowid) FROM {table} UNION SELECT max(rowid) FROM {table} UNION "
        f"SELECT rowid FROM (SELECT rowid FROM {table} ORDER BY random() LIMIT {SAMPLE}))"
    )
    for found_row in rows:
        row = tuple(found_row)
        where = " AND ".join(f"{k} = ?" for k in key)
        found = await target.fetchone(
            f"SELECT {', '.join(columns)} FROM {table} WHERE {where}",
            [row[columns.index(k)] for k in key],
        )
        if found is None or not _same(row, tuple(found)):
            raise Mismatch(f"{table}: the row {dict(zip(columns, row, strict=True))} differs")
    return len(rows)


def _same(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return all(
        x == y or (isinstance(x, float | int) and isinstance(y, float | int) and abs(x - y) < 1e-9)
        for x, y in zip(a, b, strict=True)
    )
