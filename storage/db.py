"""The database: SQLite on one machine (the default), or PostgreSQL shared by several replicas
(storage/postgres.py). Both give the repositories the same few things — ``transaction()``,
``fetchall``, ``fetchone`` and a ``Dialect`` for the handful of expressions the two spell
differently — so every repository is written once (docs/architecture.md, "Storage").
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from .migrations import migrate
from .search import fold

# A result row: indexable by position and by column name (sqlite3.Row, or postgres.PgRow)
Row = Any
# A connection inside ``transaction()``: ``execute`` (→ a cursor with ``fetchone``, ``fetchall``,
# ``rowcount``), ``execute_fetchall`` and ``executemany``, with ``?`` placeholders on both backends
Connection = Any


def now_iso() -> str:
    """Now, as every table stores a moment: UTC, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def is_postgres(target: str | Path) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


@dataclass(frozen=True)
class Dialect:
    """What the two backends spell differently; everything else is one SQL text."""

    name: str  # "sqlite" or "postgresql"

    def tehran_day(self, column: str) -> str:
        """The Tehran date (YYYY-MM-DD; UTC+3:30 all year since 2022) of a stored UTC moment."""
        if self.name == "sqlite":
            return f"date({column}, '+210 minutes')"
        return (
            f"to_char(({column})::timestamptz AT TIME ZONE 'UTC' + interval '210 minutes', "
            "'YYYY-MM-DD')"
        )

    def send_payload(self, id_column: str) -> str:
        """An outbox payload that edits a send's chat message (as ``json.dumps`` would)."""
        if self.name == "sqlite":
            return f"json_object('kind', 'send', 'send_id', {id_column})"
        return f"json_build_object('kind', 'send', 'send_id', {id_column})::text"

    @property
    def epoch(self) -> str:
        """The database's clock in Unix seconds: replicas on several machines share one clock."""
        if self.name == "sqlite":
            return "((julianday('now') - 2440587.5) * 86400.0)"
        return "extract(epoch FROM clock_timestamp())"

    def nocase(self, column: str) -> str:
        """``column`` compared and ordered without ASCII case (SQLite's NOCASE collation, whose
        indexes the SQLite schema has; PostgreSQL's are on lower())."""
        return f"{column} COLLATE NOCASE" if self.name == "sqlite" else f"lower({column})"


SQLITE = Dialect("sqlite")
POSTGRESQL = Dialect("postgresql")


class Database(ABC):
    """``transaction()`` is the only way to write, and a commit is durable when it returns.
    Write transactions are serialised on both backends (SQLite has one writer; on PostgreSQL
    each takes one advisory lock): a repository may read and then write in one transaction
    without another writer coming between."""

    dialect: Dialect
    shared: bool  # several bridge processes may use it at once (PostgreSQL)
    commits: int  # write transactions committed (group commit shows in this count)
    path: str  # where it is: a file, or the URL without its password

    @classmethod
    async def open(cls, target: str | Path, password: str | None = None) -> Database:
        """A ``postgresql://`` URL opens PostgreSQL; anything else is an SQLite file."""
        if is_postgres(target):
            from .postgres import PgDatabase  # psycopg is imported only by who uses it

            return await PgDatabase.open(str(target), password)
        return await SqliteDatabase.open(target)

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def transaction(self) -> contextlib.AbstractAsyncContextManager[Connection]: ...

    @abstractmethod
    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]: ...

    @abstractmethod
    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None: ...

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        """Until cancelled, call ``callback`` whenever a replica notifies ``channel`` (and once
        on each (re)connection, for what came meanwhile). Alone, nobody does."""
        await asyncio.Event().wait()

    def notify(self, channel: str) -> None:
        """Tell every replica listening on ``channel``, soon (alone: nobody to tell)."""
        return None

    async def reclaim(self) -> tuple[bool, int]:
        """Give freed space back to the system: (switched to incremental now, pages freed).
        PostgreSQL's autovacuum does this by itself."""
        return False, 0

    async def writable(self) -> bool:
        """True when a write transaction can be opened and committed right now."""
        try:
            async with self.transaction() as conn:
                await conn.execute("UPDATE meta SET value = value WHERE key = 'created'")
        except Exception:
            return False
        return True


class SqliteDatabase(Database):
    """One connection serves every read and write, one at a time (SQLite has one writer anyway).

    A transaction is ``BEGIN IMMEDIATE`` … ``COMMIT`` with ``synchronous=FULL``, so a row the
    caller saw committed survives a power cut.
    """

    dialect = SQLITE
    shared = False

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self.path = path
        self.commits = 0

    @classmethod
    async def open(cls, path: str | Path, password: str | None = None) -> SqliteDatabase:
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = aiosqlite.Row
        try:
            for pragma in (
                "PRAGMA auto_vacuum=INCREMENTAL",  # takes effect on a new, empty file only
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=FULL",
                "PRAGMA foreign_keys=ON",
                "PRAGMA busy_timeout=5000",
            ):
                await conn.execute(pragma)
            # the folding search uses (storage/search.py), for the step that indexes old rows
            await conn.create_function("smsbridge_fold", 1, fold, deterministic=True)
            await migrate(conn)
        except BaseException:
            await conn.close()
            raise
        return cls(conn, str(path))

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")
            self.commits += 1

    # One trip to the database thread for each read (not one to execute and one to fetch): each
    # trip costs the event loop a wake-up, and the outbox reads after every commit.
    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._lock:
            return list(await self._conn.execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def reclaim(self) -> tuple[bool, int]:
        """A file made before incremental vacuum was the default is switched over once, with a
        full VACUUM (it holds the writer while it runs)."""
        async with self._lock:
            cursor = await self._conn.execute("PRAGMA auto_vacuum")
            row = await cursor.fetchone()
            switched = row is not None and int(row[0]) != 2
            cursor = await self._conn.execute("PRAGMA freelist_count")
            row = await cursor.fetchone()
            free = int(row[0]) if row else 0
            if switched:
                await self._conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                await self._conn.execute("VACUUM")
            else:
                await self._conn.execute("PRAGMA incremental_vacuum")
            return switched, free

    async def trace(self, callback: Callable[[str], None] | None) -> None:
        """Hear every statement the connection runs, its values bound (None: stop)."""
        # None stops tracing (sqlite3's contract); aiosqlite's annotation leaves it out
        await self._conn.set_trace_callback(callback)  # type: ignore[arg-type]
