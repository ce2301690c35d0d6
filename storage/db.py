"""The SQLite file: one connection, strict pragmas, explicit transactions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from .migrations import migrate
from .search import fold

Row = aiosqlite.Row


def now_iso() -> str:
    """Now, as every table stores a moment: UTC, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Database:
    """One connection serves every read and write, one at a time (SQLite has one writer anyway).

    ``transaction()`` is the only way to write: ``BEGIN IMMEDIATE`` … ``COMMIT`` with
    ``synchronous=FULL``, so a row the caller saw committed survives a power cut.
    """

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self.path = path
        self.commits = 0  # write transactions committed (group commit shows in this count)

    @classmethod
    async def open(cls, path: str | Path) -> Database:
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

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._lock:
            cursor = await self._conn.execute(sql, tuple(params))
            return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        async with self._lock:
            cursor = await self._conn.execute(sql, tuple(params))
            return await cursor.fetchone()

    async def reclaim(self) -> tuple[bool, int]:
        """Give freed pages back to the file system. A file made before incremental vacuum was
        the default is switched over once, with a full VACUUM (it holds the writer while it
        runs). Returns (switched now, pages freed)."""
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

    async def writable(self) -> bool:
        """True when a write transaction can be opened and committed right now."""
        try:
            async with self.transaction() as conn:
                await conn.execute("UPDATE meta SET value = value WHERE key = 'created'")
        except Exception:
            return False
        return True
