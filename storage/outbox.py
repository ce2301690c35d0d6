"""The Telegram outbox: messages waiting to reach their chats, in per-chat order, and the links from
what was posted back to the SMS or send it shows."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .db import Database


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    chat_id: int
    thread_id: int | None
    inbound_id: int | None
    payload: dict[str, Any]
    attempts: int
    send_id: int | None = None  # an edit of this send's chat message


@dataclass(frozen=True, slots=True)
class Link:
    chat_id: int
    message_id: int
    account: str
    line: str | None
    counterparty: str
    inbound_id: int | None
    send_id: int | None


# Each chat's head row by index seeks, one per chat (a "loose index scan" on outbox_chat),
# rather than reading every queued row: a backlog of thousands costs no more than a few rows.
_CHAT_HEADS = """
WITH RECURSIVE chats(chat) AS (
    SELECT min(chat_id) FROM outbox WHERE dead = 0
    UNION ALL
    SELECT (SELECT min(chat_id) FROM outbox WHERE dead = 0 AND chat_id > chats.chat)
    FROM chats WHERE chats.chat IS NOT NULL
),
heads(id) AS (
    SELECT (SELECT min(id) FROM outbox WHERE dead = 0 AND chat_id = chats.chat)
    FROM chats WHERE chats.chat IS NOT NULL
)
"""


# A message's link, replacing the one it had (a message shows one SMS or send)
_LINK = (
    "INSERT INTO message_links (chat_id, message_id, account, line, counterparty, inbound_id, "
    "send_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id, message_id) DO UPDATE SET "
    "account = excluded.account, line = excluded.line, counterparty = excluded.counterparty, "
    "inbound_id = excluded.inbound_id, send_id = excluded.send_id"
)


class OutboxRepo:
    """Messages waiting to reach Telegram, in per-chat order, and links to what was delivered."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue_send_update(self, chat_id: int, send_id: int) -> int:
        """Queue an edit of a send's chat message to its current state (rendered when sent, so
        edits queued meanwhile are carried by the same one: ``updates_covered``)."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO outbox (chat_id, send_id, payload, created_at) VALUES (?, ?, ?, ?) "
                "RETURNING id",
                (chat_id, send_id, json.dumps({"kind": "send", "send_id": send_id}), time.time()),
            )
            return int((await cursor.fetchone())[0])

    async def updates_covered(self, item: OutboxItem) -> list[int]:
        """Later queued edits of the same send: an edit rendered now shows their state too."""
        rows = await self.db.fetchall(
            "SELECT id FROM outbox WHERE dead = 0 AND chat_id = ? AND send_id = ? AND id > ?",
            (item.chat_id, item.send_id, item.id),
        )
        return [int(r[0]) for r in rows]

    async def enqueue(self, chat_id: int, payload: dict[str, Any]) -> int:
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO outbox (chat_id, payload, created_at) VALUES (?, ?, ?) RETURNING id",
                (chat_id, json.dumps(payload, ensure_ascii=False), time.time()),
            )
            return int((await cursor.fetchone())[0])

    async def heads(self, now: float, exclude: Sequence[int] = ()) -> list[OutboxItem]:
        """The oldest live item of each chat whose head is due (per-chat order is kept)."""
        rows = await self.db.fetchall(
            f"{_CHAT_HEADS} SELECT o.id, o.chat_id, o.thread_id, o.inbound_id, o.payload, "
            "o.attempts, o.send_id FROM heads h JOIN outbox o ON o.id = h.id "
            "WHERE o.next_attempt_at <= ?",
            (now,),
        )
        skip = set(exclude)
        return [
            OutboxItem(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6])
            for r in rows
            if r[1] not in skip
        ]

    async def next_due(self) -> float | None:
        row = await self.db.fetchone(
            f"{_CHAT_HEADS} SELECT min(o.next_attempt_at) FROM heads h JOIN outbox o ON o.id = h.id"
        )
        return None if row is None or row[0] is None else float(row[0])

    async def depth(self) -> tuple[int, float | None]:
        row = await self.db.fetchone("SELECT count(*), min(created_at) FROM outbox WHERE dead = 0")
        if row is None:
            return 0, None
        return int(row[0]), (None if row[1] is None else float(row[1]))

    async def dead(self) -> int:
        """Rows Telegram refused for good (their SMS were handed to the admins)."""
        row = await self.db.fetchone("SELECT count(*) FROM outbox WHERE dead = 1")
        return int(row[0]) if row else 0

    async def delivered(
        self,
        item: OutboxItem,
        message_ids: Sequence[int],
        link: Link | None,
        covered: Sequence[int] = (),
    ) -> None:
        """A row Telegram accepted (and the later rows its message carried) leaves the queue;
        each message that shows it (a long one takes parts) links back to what it shows."""
        async with self.db.transaction() as conn:
            await conn.executemany(
                "DELETE FROM outbox WHERE id = ?", [(i,) for i in (item.id, *covered)]
            )
            if link is not None and message_ids:
                await conn.executemany(
                    _LINK,
                    [
                        (
                            item.chat_id,
                            message_id,
                            link.account,
                            link.line,
                            link.counterparty,
                            link.inbound_id,
                            link.send_id,
                        )
                        for message_id in message_ids
                    ],
                )

    async def queue(self, chat_id: int, limit: int) -> list[OutboxItem]:
        """A chat's live rows, oldest first (its head first)."""
        rows = await self.db.fetchall(
            "SELECT id, chat_id, thread_id, inbound_id, payload, attempts, send_id FROM outbox "
            "WHERE dead = 0 AND chat_id = ? ORDER BY id LIMIT ?",
            (chat_id, limit),
        )
        return [OutboxItem(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]

    async def delivered_digest(
        self,
        items: Sequence[OutboxItem],
        message_ids: Sequence[int],
        entries: Sequence[tuple[int, int]],
    ) -> None:
        """Rows sent together as one digest (in parts, when Telegram took it only as plain
        text); ``entries`` are (number, inbound id)."""
        async with self.db.transaction() as conn:
            await conn.executemany("DELETE FROM outbox WHERE id = ?", [(i.id,) for i in items])
            await conn.executemany(
                "INSERT INTO digest_items (chat_id, message_id, number, inbound_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (chat_id, message_id, number) "
                "DO UPDATE SET inbound_id = excluded.inbound_id",
                [
                    (items[0].chat_id, message_id, n, inbound_id)
                    for message_id in message_ids
                    for n, inbound_id in entries
                ],
            )

    async def digest(self, chat_id: int, message_id: int) -> dict[int, int]:
        """The SMS of a digest message: number → inbound id (empty when it is not a digest)."""
        rows = await self.db.fetchall(
            "SELECT number, inbound_id FROM digest_items WHERE chat_id = ? AND message_id = ?",
            (chat_id, message_id),
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def retry_later(self, item_id: int, at: float, error: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
                "WHERE id = ?",
                (at, error[:500], item_id),
            )

    async def give_up(self, item_id: int, error: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET dead = 1, last_error = ? WHERE id = ?", (error[:500], item_id)
            )

    async def add_link(self, link: Link) -> None:
        """A message posted outside the queue that shows an SMS: a reply to it answers that SMS."""
        async with self.db.transaction() as conn:
            await conn.execute(
                _LINK,
                (
                    link.chat_id,
                    link.message_id,
                    link.account,
                    link.line,
                    link.counterparty,
                    link.inbound_id,
                    link.send_id,
                ),
            )

    async def link(self, chat_id: int, message_id: int) -> Link | None:
        row = await self.db.fetchone(
            "SELECT chat_id, message_id, account, line, counterparty, inbound_id, send_id "
            "FROM message_links WHERE chat_id = ? AND message_id = ?",
            (chat_id, message_id),
        )
        return Link(*row) if row else None
