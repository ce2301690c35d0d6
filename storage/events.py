"""SMS events for other systems: an append-only log written in the same transaction as what it
tells (an SMS stored, a delivery report, a send's outcome, an opt-out), and each webhook
endpoint's place in it. An endpoint reads the log in id order from its place and moves its place
only after the receiver said 2xx: at least once, in order, nothing dropped while it is down.
(docs/webhooks.md: the event shapes.)"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .db import Database, now_iso


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    at: str
    type: str
    account: str | None
    line: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Cursor:
    url: str
    last_id: int
    failures: int
    failing_since: str | None
    last_error: str | None


class Recorder:
    """What the repositories call inside their transactions; records nothing while no webhook is
    configured (``on`` is False), so a bridge without webhooks pays nothing."""

    def __init__(self) -> None:
        self.on = False

    async def add(
        self,
        conn: Any,
        rows: Sequence[tuple[str, str | None, str | None, dict[str, Any]]],
    ) -> None:
        """(type, account, line, data) events, in the caller's transaction."""
        if not self.on or not rows:
            return
        at = now_iso()
        await conn.executemany(
            "INSERT INTO events (at, type, account, line, data) VALUES (?, ?, ?, ?, ?)",
            [
                (at, kind, account, line, json.dumps(data, ensure_ascii=False))
                for kind, account, line, data in rows
            ],
        )


class EventsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def after(self, last_id: int, limit: int) -> list[Event]:
        rows = await self.db.fetchall(
            "SELECT id, at, type, account, line, data FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (last_id, limit),
        )
        return [Event(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    async def last_id(self) -> int:
        row = await self.db.fetchone("SELECT coalesce(max(id), 0) FROM events")
        return int(row[0]) if row else 0

    async def first_since(self, at: str) -> int:
        """The id before the first event at or after ``at`` (a replay starts after it)."""
        row = await self.db.fetchone("SELECT min(id) FROM events WHERE at >= ?", (at,))
        return int(row[0]) - 1 if row and row[0] is not None else await self.last_id()

    async def cursor(self, url: str) -> Cursor:
        """The endpoint's place; a new endpoint starts at the end of the log (no backfill)."""
        row = await self.db.fetchone(
            "SELECT url, last_id, failures, failing_since, last_error FROM webhook_cursors "
            "WHERE url = ?",
            (url,),
        )
        if row is not None:
            return Cursor(*tuple(row))
        start = await self.last_id()
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO webhook_cursors (url, last_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (url, start),
            )
        return Cursor(url, start, 0, None, None)

    async def cursors(self) -> list[Cursor]:
        rows = await self.db.fetchall(
            "SELECT url, last_id, failures, failing_since, last_error FROM webhook_cursors "
            "ORDER BY url"
        )
        return [Cursor(*tuple(r)) for r in rows]

    async def backlog(self, last_id: int) -> int:
        row = await self.db.fetchone("SELECT count(*) FROM events WHERE id > ?", (last_id,))
        return int(row[0]) if row else 0

    async def delivered(self, url: str, last_id: int) -> None:
        """The receiver took every event up to ``last_id``: its place moves, failures clear."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE webhook_cursors SET last_id = CASE WHEN last_id > ? THEN last_id ELSE ? END, "
                "failures = 0, failing_since = NULL, last_error = NULL WHERE url = ?",
                (last_id, last_id, url),
            )

    async def failed(self, url: str, error: str) -> Cursor:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE webhook_cursors SET failures = failures + 1, last_error = ?, "
                "failing_since = coalesce(failing_since, ?) WHERE url = ?",
                (error[:300], now_iso(), url),
            )
        return await self.cursor(url)

    async def keep_only(self, urls: Sequence[str]) -> int:
        """Forget the places of endpoints no longer configured (retention keeps every event an
        endpoint still waits for: a removed one would hold them forever); returns how many."""
        async with self.db.transaction() as conn:
            marks = ", ".join("?" * len(urls)) or "NULL"
            cursor = await conn.execute(
                f"DELETE FROM webhook_cursors WHERE url NOT IN ({marks})", tuple(urls)
            )
            return int(cursor.rowcount)

    async def rewind(self, url: str | None, to_id: int) -> int:
        """Replay: the endpoint (every one: None) reads again from after ``to_id``."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE webhook_cursors SET last_id = CASE WHEN last_id < ? THEN last_id ELSE ? END "
                "WHERE ? IS NULL OR url = ?",
                (to_id, to_id, url, url),
            )
            return int(cursor.rowcount)
