"""Rows for /export, read in batches by key (never the whole range in memory): each recipient of
the sends made in a time range and confirmed, or each inbound SMS stored in it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .db import Database

BATCH = 2_000


class ExportRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _ids(self, table: str, column: str, since: str, until: str) -> tuple[int, int]:
        """The first and last id of the rows written in [since, until): rows are written in id
        order, so the range is read by key (an index finds the ends)."""
        row = await self.db.fetchone(
            f"SELECT min(id), max(id) FROM {table} WHERE {column} >= ? AND {column} < ?",
            (since, until),
        )
        if row is None or row[0] is None:
            return 1, 0
        return int(row[0]), int(row[1])

    async def sends(
        self, since: str, until: str, chat_id: int | None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Per recipient: the send, its text (the recipient's own in a personalised send), the
        recipient's state, provider ids and the send's price. ``chat_id``: the sends made in that
        chat only (None: all)."""
        low, high = await self._ids("sends", "created_at", since, until)
        last = (low - 1, -1)
        while True:
            rows = await self.db.fetchall(
                "SELECT s.id, s.confirmed_at, s.account, s.line, coalesce(r.text, s.text) AS text, "
                "r.number, r.state, r.message_id, r.raw_status, r.error, s.campaign_id, s.price, "
                "r.rowid AS position, (SELECT name FROM contacts c WHERE c.number = r.number) "
                "AS name FROM sends s JOIN send_recipients r ON r.send_id = s.id "
                "WHERE s.id <= ? AND s.confirmed_at IS NOT NULL AND (? IS NULL OR s.chat_id = ?) "
                "AND (s.id, r.rowid) > (?, ?) ORDER BY s.id, r.rowid LIMIT ?",
                (high, chat_id, chat_id, *last, BATCH),
            )
            if not rows:
                return
            yield [dict(r) for r in rows]
            last = (int(rows[-1]["id"]), int(rows[-1]["position"]))

    async def inbound(
        self, since: str, until: str, chat_id: int | None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Per SMS stored in the range; ``chat_id``: those shown in that chat only."""
        low, high = await self._ids("inbound", "stored_at", since, until)
        last = low - 1
        while True:
            rows = await self.db.fetchall(
                "SELECT i.id, i.received_at, i.stored_at, i.account, i.line, i.sender, i.text, "
                "i.provider_id, i.source, (SELECT name FROM contacts c WHERE c.number = i.sender) "
                "AS name FROM inbound i WHERE i.id > ? AND i.id <= ? "
                "AND (? IS NULL OR EXISTS (SELECT 1 FROM message_links l WHERE l.chat_id = ? "
                "AND l.inbound_id = i.id)) ORDER BY i.id LIMIT ?",
                (last, high, chat_id, chat_id, BATCH),
            )
            if not rows:
                return
            yield [dict(r) for r in rows]
            last = int(rows[-1]["id"])
