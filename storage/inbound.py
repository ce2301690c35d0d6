"""Inbound SMS, their routes to chats and polling cursors; storing an SMS queues it in the outbox."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .db import Database, now_iso
from .events import Recorder
from .search import index_inbound


@dataclass(frozen=True, slots=True)
class NewInbound:
    provider_id: str
    sender: str
    text: str
    received_at: str
    line: str | None
    consent: str | None = None  # "out" / "in": the text is an opt-out / opt-in keyword


@dataclass(frozen=True, slots=True)
class InboundRow:
    id: int
    account: str
    provider_id: str
    sender: str
    line: str | None
    text: str
    received_at: str
    name: str | None = None  # the sender's name in the phonebook, read with the SMS


ChatsFor = Callable[[str | None], list[int]]  # the chats routed for an SMS to a line


@dataclass(slots=True)
class _Write:
    account: str
    messages: Sequence[NewInbound]
    source: str
    chats_for: ChatsFor
    cursor: tuple[str, str] | None
    done: asyncio.Future[list[int]]


_ROWS_PER_INSERT = 500  # 8 values a row, well under SQLite's 32766 variables
# The sender's phonebook name comes with the row: no second query per SMS on the hot path.
_INBOUND = (
    "id, account, provider_id, sender, line, text, received_at, "
    "(SELECT name FROM contacts WHERE contacts.number = inbound.sender) AS name"
)


def _told(inbound_id: int, sms: NewInbound, source: str) -> dict[str, Any]:
    """An ``inbound`` event's data (docs/webhooks.md)."""
    return {
        "inbound_id": inbound_id,
        "provider_id": sms.provider_id,
        "sender": sms.sender,
        "text": sms.text,
        "received_at": sms.received_at,
        "source": source,
    }


class InboundRepo:
    def __init__(self, db: Database, events: Recorder | None = None) -> None:
        self.db = db
        self.events = events or Recorder()
        self._pending: list[_Write] = []
        self._flusher: asyncio.Task[None] | None = None

    async def store(
        self,
        account: str,
        messages: Sequence[NewInbound],
        source: str,
        chats_for: ChatsFor,
        cursor: tuple[str, str] | None = None,
    ) -> list[int]:
        """Store new SMS and queue each for its chats; duplicates are skipped. Returns the ids of
        the rows that were new, once they are committed.

        ``chats_for(line)`` gives the chat ids routed for a line. ``cursor`` (name, value) is
        advanced in the same transaction, so a cursor never runs ahead of stored rows.
        Concurrent calls share commits (group commit): while one transaction is being written,
        the calls that arrive wait and are written together in the next one.
        """
        write = _Write(
            account, messages, source, chats_for, cursor, asyncio.get_running_loop().create_future()
        )
        self._pending.append(write)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        # A caller that gives up (a relay client hanging up) does not undo its write.
        return await asyncio.shield(write.done)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                async with self.db.transaction() as conn:
                    results = await self._write(conn, batch)
            except BaseException as exc:
                for w in batch:
                    if not w.done.done():
                        w.done.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for w, result in zip(batch, results, strict=True):
                if not w.done.done():
                    w.done.set_result(result)

    async def _write(self, conn: Any, batch: Sequence[_Write]) -> list[list[int]]:
        """One batch in a handful of statements (the database thread is the bottleneck, not the
        disk): multi-row inserts that return the new ids, then every outbox row at once."""
        stored_at = now_iso()
        rows = [
            (w.account, m.provider_id, m.sender, m.line, m.text, m.received_at, stored_at, w.source)
            for w in batch
            for m in w.messages
        ]
        new: dict[tuple[str, str], int] = {}
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            returned = await conn.execute_fetchall(
                "INSERT INTO inbound (account, provider_id, sender, line, text, received_at, "
                "stored_at, source) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
                + " ON CONFLICT (account, provider_id) DO NOTHING RETURNING id, account, provider_id",
                [value for row in chunk for value in row],
            )
            new.update(((r[1], r[2]), int(r[0])) for r in returned)
        texts = {(w.account, m.provider_id): m.text for w in batch for m in w.messages}
        await index_inbound(conn, self.db.dialect, [(i, texts[key]) for key, i in new.items()])
        results: list[list[int]] = []
        outbox: list[tuple[int, int, str, float]] = []
        consents: list[tuple[str, str, str, int]] = []
        told: list[tuple[str, str | None, str | None, dict[str, Any]]] = []
        for w in batch:
            ids: list[int] = []
            for m in w.messages:
                inbound_id = new.pop((w.account, m.provider_id), None)  # once, even if repeated
                if inbound_id is None:
                    continue
                ids.append(inbound_id)
                told.append(("inbound", w.account, m.line, _told(inbound_id, m, w.source)))
                if m.consent is not None:
                    consents.append((m.consent, w.account, m.sender, inbound_id))
                    change = {"number": m.sender, "opted_out": m.consent == "out", "source": "sms"}
                    told.append(("optout", w.account, m.line, change | {"inbound_id": inbound_id}))
                payload = json.dumps({"kind": "inbound", "inbound_id": inbound_id})
                outbox += [(chat, inbound_id, payload, time.time()) for chat in w.chats_for(m.line)]
            results.append(ids)
        if outbox:  # ids follow message order, so each chat's rows keep it
            await conn.executemany(
                "INSERT INTO outbox (chat_id, inbound_id, payload, created_at) VALUES (?, ?, ?, ?)",
                sorted(outbox, key=lambda row: row[1]),
            )
        for said, account, number, inbound_id in consents:  # in arrival order: the last one wins
            if said == "out":
                await conn.execute(
                    "INSERT INTO optouts (account, number, at, source, inbound_id) "
                    "VALUES (?, ?, ?, 'sms', ?) ON CONFLICT (account, number) DO UPDATE SET "
                    "at = excluded.at, source = 'sms', inbound_id = excluded.inbound_id, "
                    "by_user = NULL",
                    (account, number, stored_at, inbound_id),
                )
            else:
                await conn.execute(
                    "DELETE FROM optouts WHERE account = ? AND number = ?", (account, number)
                )
        await self.events.add(conn, told)
        cursors = [(w.account, *w.cursor) for w in batch if w.cursor is not None]
        if cursors:
            await conn.executemany(
                "INSERT INTO cursors (account, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT (account, name) DO UPDATE SET value = excluded.value",
                cursors,
            )
        return results

    async def fill_lines(self, account: str, lines: Sequence[tuple[str, str]]) -> None:
        """Record the receiving line of SMS stored without one (provider id, line)."""
        if not lines:
            return
        async with self.db.transaction() as conn:
            await conn.executemany(
                "UPDATE inbound SET line = ? WHERE account = ? AND provider_id = ? "
                "AND line IS NULL",
                [(line, account, provider_id) for provider_id, line in lines],
            )

    async def topic(self, chat_id: int, account: str, counterparty: str) -> int | None:
        row = await self.db.fetchone(
            "SELECT thread_id FROM topics WHERE chat_id = ? AND account = ? AND counterparty = ?",
            (chat_id, account, counterparty),
        )
        return int(row[0]) if row else None

    async def set_topic(
        self, chat_id: int, account: str, counterparty: str, line: str | None, thread_id: int
    ) -> None:
        """Remember a correspondent's topic, and the line their latest SMS came to."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO topics (chat_id, account, counterparty, line, thread_id) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, account, counterparty) "
                "DO UPDATE SET line = coalesce(excluded.line, topics.line), "
                "thread_id = excluded.thread_id",
                (chat_id, account, counterparty, line, thread_id),
            )

    async def topics_of(self, numbers: Sequence[str]) -> list[tuple[int, int, str]]:
        """(chat, thread, correspondent) of the forum topics these correspondents have."""
        found: list[tuple[int, int, str]] = []
        for start in range(0, len(numbers), 500):
            chunk = list(numbers[start : start + 500])
            rows = await self.db.fetchall(
                "SELECT chat_id, thread_id, counterparty FROM topics WHERE counterparty IN "
                f"({', '.join('?' * len(chunk))})",
                chunk,
            )
            found += [(int(r[0]), int(r[1]), str(r[2])) for r in rows]
        return found

    async def topic_owner(self, chat_id: int, thread_id: int) -> tuple[str, str, str | None] | None:
        """(account, correspondent, line) of a topic, or None when it is not a correspondent's."""
        row = await self.db.fetchone(
            "SELECT account, counterparty, line FROM topics WHERE chat_id = ? AND thread_id = ?",
            (chat_id, thread_id),
        )
        return (row[0], row[1], row[2]) if row else None

    async def get_many(self, inbound_ids: Sequence[int]) -> dict[int, InboundRow]:
        """Several SMS by id in one query (a digest shows up to a few dozen)."""
        if not inbound_ids:
            return {}
        marks = ", ".join("?" * len(inbound_ids))
        rows = await self.db.fetchall(
            f"SELECT {_INBOUND} FROM inbound WHERE id IN ({marks})", tuple(inbound_ids)
        )
        return {int(r[0]): InboundRow(*r) for r in rows}

    async def get(self, inbound_id: int) -> InboundRow | None:
        row = await self.db.fetchone(f"SELECT {_INBOUND} FROM inbound WHERE id = ?", (inbound_id,))
        return InboundRow(*row) if row else None

    async def recent_for_chat(self, chat_id: int, limit: int) -> list[InboundRow]:
        # The chat's links newest first (its primary key), stopping at ``limit`` distinct SMS:
        # a chat that has shown a million SMS answers as fast as one that has shown ten.
        # (PostgreSQL wants what DISTINCT orders by selected: it groups the chat's links.)
        newest = (
            "SELECT DISTINCT inbound_id FROM message_links "
            "WHERE chat_id = ? AND inbound_id IS NOT NULL ORDER BY message_id DESC LIMIT ?"
            if self.db.dialect.name == "sqlite"
            else "SELECT inbound_id FROM message_links WHERE chat_id = ? AND inbound_id IS NOT "
            "NULL GROUP BY inbound_id ORDER BY max(message_id) DESC LIMIT ?"
        )
        rows = await self.db.fetchall(
            f"SELECT {_INBOUND} FROM inbound WHERE id IN ({newest}) ORDER BY id DESC",
            (chat_id, limit),
        )
        return [InboundRow(*r) for r in rows]

    async def set_cursor(self, account: str, name: str, value: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO cursors (account, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT (account, name) DO UPDATE SET value = excluded.value",
                (account, name, value),
            )

    async def cursor(self, account: str, name: str) -> str | None:
        row = await self.db.fetchone(
            "SELECT value FROM cursors WHERE account = ? AND name = ?", (account, name)
        )
        return str(row["value"]) if row else None

    # --- routes set from chat (/route); config routes are merged by the caller

    async def routes(self) -> list[tuple[str, str, int]]:
        rows = await self.db.fetchall("SELECT account, line, chat_id FROM routes")
        return [(r["account"], r["line"], r["chat_id"]) for r in rows]

    async def set_route(self, account: str, line: str, chat_id: int, on: bool) -> None:
        async with self.db.transaction() as conn:
            if on:
                await conn.execute(
                    "INSERT INTO routes (account, line, chat_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (account, line, chat_id),
                )
            else:
                await conn.execute(
                    "DELETE FROM routes WHERE account = ? AND line = ? AND chat_id = ?",
                    (account, line, chat_id),
                )
