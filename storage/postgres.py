"""PostgreSQL for several replicas: a psycopg 3 connection pool behind the same ``Database``
interface as SQLite, so the repositories are written once (``?`` placeholders and all).

Write transactions take one transaction-scoped advisory lock, so they run one at a time across
every replica, as SQLite's do on one machine: the repositories' read-then-write transactions
(a claim, a quota, a de-duplication) keep their meaning without a retry loop each. Reads take no
lock. A replica killed mid-transaction loses its connection, and PostgreSQL rolls the
transaction back and frees the lock at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import AsyncConnectionPool

from .db import POSTGRESQL, Database, Row
from .migrations import POSTGRES_STEPS, refuse_newer

log = logging.getLogger("smsbridge.storage")
WRITE_LOCK = 0x5353_4272  # "SSBr": the advisory lock every write transaction holds
MIGRATE_LOCK = WRITE_LOCK + 1  # replicas starting together migrate one after another


class PgRow(tuple[Any, ...]):
    """A row read by position or by column name, as sqlite3.Row is."""

    names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def _rows(cursor: psycopg.AsyncCursor[Any]) -> Callable[[Sequence[Any]], PgRow]:
    names = {c.name: i for i, c in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> PgRow:
        row = PgRow(values)
        row.names = names
        return row

    return make


_QUOTED = re.compile(r"('(?:[^']|'')*')")


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled), outside
    quoted strings."""
    parts = _QUOTED.split(sql)
    for i in range(0, len(parts), 2):  # the even parts are outside quotes
        parts[i] = parts[i].replace("%", "%%").replace("?", "%s")
    for i in range(1, len(parts), 2):
        parts[i] = parts[i].replace("%", "%%")
    return "".join(parts)


class PgCursor:
    """What the repositories use of a cursor: its rows (read at once) and ``rowcount``."""

    def __init__(self, rows: list[PgRow], rowcount: int) -> None:
        self._rows, self.rowcount = rows, rowcount

    async def fetchone(self) -> PgRow | None:
        return self._rows[0] if self._rows else None

    async def fetchall(self) -> list[PgRow]:
        return self._rows


class PgConnection:
    """A connection inside a transaction, answering as an aiosqlite connection does."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> PgCursor:
        async with self._conn.cursor(row_factory=_rows) as cursor:
            await cursor.execute(translate(sql), tuple(params))
            rows = await cursor.fetchall() if cursor.description else []
            return PgCursor(rows, cursor.rowcount)

    async def execute_fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[PgRow]:
        return await (await self.execute(sql, params)).fetchall()

    async def executemany(self, sql: str, params: Iterable[Iterable[Any]]) -> None:
        values = [tuple(p) for p in params]
        if values:
            async with self._conn.cursor() as cursor:
                await cursor.executemany(translate(sql), values)


def safe_url(url: str) -> str:
    """The URL without its password, for logs and /healthz."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class PgDatabase(Database):
    dialect = POSTGRESQL
    shared = True

    def __init__(self, pool: AsyncConnectionPool[Any], url: str, connect: dict[str, Any]) -> None:
        self._pool = pool
        self._url, self._connect = url, connect
        self.path = safe_url(url)
        self.commits = 0
        self._notifying: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()

    @classmethod
    async def open(cls, url: str | Path, password: str | None = None) -> PgDatabase:
        # client-side binding: values are typed by PostgreSQL from the query, as SQLite takes them
        kwargs: dict[str, Any] = {"autocommit": True, "cursor_factory": psycopg.AsyncClientCursor}
        if password:
            kwargs["password"] = password
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            str(url), min_size=2, max_size=10, kwargs=kwargs, open=False, timeout=10.0
        )
        await pool.open(wait=True, timeout=10.0)
        try:
            async with pool.connection() as conn:
                await migrate_postgres(conn)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, str(url), kwargs)

    async def close(self) -> None:
        for task in self._notifying.values():
            task.cancel()
        await asyncio.gather(*self._notifying.values(), return_exceptions=True)
        await self._pool.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgConnection]:
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield PgConnection(conn)
        self.commits += 1

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._url, **self._connect)
                async with conn:
                    await conn.execute(f"LISTEN {channel}")
                    callback()
                    async for _notice in conn.notifies():
                        callback()
            except psycopg.Error as exc:
                log.warning("not hearing %s from the other replicas: %s", channel, exc)
                await asyncio.sleep(1.0)

    def notify(self, channel: str) -> None:
        """Many calls while one NOTIFY is on its way make one more, not many (a burst of relays
        wakes the outbox's replica a few times, not once per SMS)."""
        running = self._notifying.get(channel)
        if running is not None and not running.done():
            self._again.add(channel)
            return
        self._notifying[channel] = asyncio.create_task(self._notify(channel))

    async def _notify(self, channel: str) -> None:
        while True:
            self._again.discard(channel)
            try:
                async with self._pool.connection() as conn:
                    await conn.execute(f"NOTIFY {channel}")
            except psycopg.Error as exc:
                log.warning("the other replicas were not told of %s: %s", channel, exc)
            if channel not in self._again:
                return

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        async with self._pool.connection() as conn:
            return await PgConnection(conn).execute_fetchall(sql, params)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        async with self._pool.connection() as conn:
            return await (await PgConnection(conn).execute(sql, params)).fetchone()


async def migrate_postgres(conn: psycopg.AsyncConnection[Any]) -> int:
    """Bring the schema to the same version number as SQLite's; returns the version before."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
        await conn.execute("CREATE TABLE IF NOT EXISTS smsbridge_schema (version INTEGER NOT NULL)")
        row = await (await conn.execute("SELECT max(version) FROM smsbridge_schema")).fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        refuse_newer(current, "storage.url")
        for version in range(current, len(POSTGRES_STEPS)):
            async with conn.transaction():  # a savepoint: each step whole or not at all
                await conn.execute(POSTGRES_STEPS[version])  # a script: client-side, one go
                await conn.execute("DELETE FROM smsbridge_schema")
                await conn.execute("INSERT INTO smsbridge_schema VALUES (%s)", (version + 1,))
    return current
