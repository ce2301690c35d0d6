"""Retention: with ``[storage] keep_days`` set, what is older goes, in small batches that never
hold the writer for long, and the file gives the space back.

What goes once older than the window: inbound SMS (by when they were stored), sends in a final
state with their recipients, audit rows, and outbox rows Telegram refused for good. What stays
whatever its age: a send whose outcome is unknown or that is still sending, a send scheduled for
later, an SMS a remaining send answers, and an SMS still waiting for its chat. A Telegram message
that showed a pruned SMS keeps a link with no sender, so a reply to it is told the SMS is too old
rather than met with silence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .db import Database, now_iso

log = logging.getLogger("smsbridge.retention")
BATCH = 500  # rows per transaction: a relay waits at most one batch for the writer

_FINAL = "('sent', 'partial', 'failed', 'cancelled', 'draft', 'armed')"
_OLD_SENDS = f"""
    SELECT id FROM sends
    WHERE created_at < ? AND state IN {_FINAL}
      AND (send_at IS NULL OR send_at < ?)
    LIMIT ?
"""
_OLD_INBOUND = """
    SELECT id FROM inbound AS i
    WHERE stored_at < ?
      AND NOT EXISTS (SELECT 1 FROM sends AS s WHERE s.inbound_id = i.id)
      AND NOT EXISTS (SELECT 1 FROM outbox AS o WHERE o.inbound_id = i.id AND o.dead = 0)
    LIMIT ?
"""


@dataclass
class Pruned:
    sends: int = 0
    inbound: int = 0
    audit: int = 0
    outbox: int = 0
    events: int = 0
    freed_pages: int = 0
    vacuumed: bool = False  # the file was switched to incremental vacuum (once, a full VACUUM)
    seconds: float = field(default=0.0, compare=False)


class Retention:
    def __init__(self, db: Database, keep_days: int, batch: int = BATCH) -> None:
        self.db, self.keep_days, self.batch = db, keep_days, batch

    async def step(self, _worker: object = None) -> float | None:
        """One pass a day (None: keep_days is 0, everything is kept)."""
        if self.keep_days <= 0:
            return None
        pruned = await self.prune()
        log.info(
            "retention (%d days): pruned %d SMS, %d sends, %d audit rows, %d dead outbox rows "
            "in %.1f s; %d pages freed%s",
            self.keep_days,
            pruned.inbound,
            pruned.sends,
            pruned.audit,
            pruned.outbox,
            pruned.seconds,
            pruned.freed_pages,
            "; the file was switched to incremental vacuum (a full VACUUM, once)"
            if pruned.vacuumed
            else "",
        )
        return 86_400.0

    async def prune(self, now: datetime | None = None) -> Pruned:
        started = asyncio.get_running_loop().time()
        moment = (now or datetime.now(UTC)) - timedelta(days=self.keep_days)
        cutoff = moment.isoformat(timespec="seconds")
        pruned = Pruned()
        pruned.sends = await self._batches(_OLD_SENDS, (cutoff, now_iso()), self._drop_sends)
        pruned.inbound = await self._batches(_OLD_INBOUND, (cutoff,), self._drop_inbound)
        pruned.audit = await self._batches(
            "SELECT id FROM audit WHERE at < ? LIMIT ?", (cutoff,), self._drop("audit")
        )
        # events every webhook endpoint has taken (none is dropped while one still waits for it)
        pruned.events = await self._batches(
            "SELECT id FROM events WHERE at < ? AND id <= coalesce((SELECT min(last_id) FROM "
            "webhook_cursors), id) LIMIT ?",
            (cutoff,),
            self._drop("events"),
        )
        pruned.outbox = await self._batches(
            "SELECT id FROM outbox WHERE dead = 1 AND created_at < ? LIMIT ?",
            (moment.timestamp(),),
            self._drop("outbox"),
        )
        pruned.vacuumed, pruned.freed_pages = await self.db.reclaim()
        pruned.seconds = asyncio.get_running_loop().time() - started
        return pruned

    async def _batches(self, select: str, params: tuple[Any, ...], drop: Any) -> int:
        total = 0
        while True:
            async with self.db.transaction() as conn:
                cursor = await conn.execute(select, (*params, self.batch))
                ids = [int(r[0]) for r in await cursor.fetchall()]
                if ids:
                    await drop(conn, ids)
            total += len(ids)
            if len(ids) < self.batch:
                return total
            await asyncio.sleep(0)  # let the relays and the outbox have the writer

    @staticmethod
    def _drop(table: str) -> Any:
        async def drop(conn: Any, ids: Sequence[int]) -> None:
            await conn.execute(f"DELETE FROM {table} WHERE id IN ({_marks(ids)})", ids)

        return drop

    @staticmethod
    async def _drop_sends(conn: Any, ids: Sequence[int]) -> None:
        marks = _marks(ids)
        await conn.execute(f"DELETE FROM outbox WHERE send_id IN ({marks})", ids)
        await conn.execute(
            f"DELETE FROM message_links WHERE send_id IN ({marks}) AND inbound_id IS NULL", ids
        )
        await conn.execute(
            f"UPDATE message_links SET send_id = NULL WHERE send_id IN ({marks})", ids
        )
        await conn.execute(f"DELETE FROM send_fts WHERE rowid IN ({marks})", ids)
        await conn.execute(f"DELETE FROM sends WHERE id IN ({marks})", ids)  # recipients cascade

    @staticmethod
    async def _drop_inbound(conn: Any, ids: Sequence[int]) -> None:
        marks = _marks(ids)
        await conn.execute(f"DELETE FROM outbox WHERE inbound_id IN ({marks})", ids)
        # A digest message and a forwarded SMS keep a link without a sender: "too old to answer".
        await conn.execute(
            "INSERT INTO message_links (chat_id, message_id, account, line, "
            "counterparty, inbound_id, send_id) SELECT d.chat_id, d.message_id, i.account, NULL, "
            f"'', NULL, NULL FROM digest_items AS d JOIN inbound AS i ON i.id = d.inbound_id "
            f"WHERE d.inbound_id IN ({marks}) ON CONFLICT DO NOTHING",
            ids,
        )
        await conn.execute(f"DELETE FROM digest_items WHERE inbound_id IN ({marks})", ids)
        await conn.execute(
            "UPDATE message_links SET inbound_id = NULL, counterparty = '', line = NULL "
            f"WHERE inbound_id IN ({marks})",
            ids,
        )
        await conn.execute(f"DELETE FROM inbound_fts WHERE rowid IN ({marks})", ids)
        await conn.execute(f"DELETE FROM inbound WHERE id IN ({marks})", ids)


def _marks(ids: Sequence[int]) -> str:
    return ", ".join("?" * len(ids))
