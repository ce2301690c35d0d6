"""Search over inbound and sent SMS: SQLite FTS5 on the text, folded so that what people type
matches however it was written — Persian and Arabic letter forms (ی/ي/ى, ک/ك, ه/ة), Persian,
Arabic and ASCII digits, the zero-width non-joiner, case — and plain indexes for a number.

The index is written in the same transaction as the SMS (``index_inbound``) or the send's claim
(``index_send``), and retention removes its rows with theirs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # db.py registers fold() on its connection: no import back at run time
    from .db import Database

_FOLD = str.maketrans(
    {
        **{c: str(i) for i, c in enumerate("۰۱۲۳۴۵۶۷۸۹")},
        **{c: str(i) for i, c in enumerate("٠١٢٣٤٥٦٧٨٩")},
        "ي": "ی",
        "ى": "ی",
        "ئ": "ی",
        "ك": "ک",
        "ة": "ه",
        "ۀ": "ه",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "\u200c": "",  # می‌خواهم and میخواهم are one word (people type either)
        "\u200d": "",
        "ـ": "",  # tatweel
    }
)


def fold(text: str) -> str:
    """Text as the index stores it and a query is compared in."""
    return unicodedata.normalize("NFKC", text).translate(_FOLD).casefold()


def match_query(words: str) -> str | None:
    """An FTS5 query: every word must appear, each as a prefix (``سفار`` finds ``سفارش``)."""
    tokens = re.findall(r"\w+", fold(words))
    if not tokens:
        return None
    return " ".join('"' + t.replace('"', '""') + '"*' for t in tokens)


async def index_inbound(conn: Any, rows: Sequence[tuple[int, str]]) -> None:
    """(inbound id, text) of SMS just stored, in the caller's transaction."""
    await conn.executemany(
        "INSERT INTO inbound_fts (rowid, body) VALUES (?, ?)", [(i, fold(t)) for i, t in rows]
    )


async def index_send(conn: Any, send_id: int, text: str) -> None:
    """A send once it is confirmed (a preview nobody sent is not "sent SMS")."""
    await conn.execute(
        "INSERT OR REPLACE INTO send_fts (rowid, body) VALUES (?, ?)", (send_id, fold(text))
    )


@dataclass(frozen=True, slots=True)
class Hit:
    kind: str  # "inbound" or "send"
    id: int
    at: str  # when: received, or confirmed
    number: str  # the sender, or the first recipient
    text: str
    account: str
    count: int = 1  # a send's recipients
    order: str = ""  # when the bridge stored or confirmed it (one clock, for newest first)


class SearchRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(
        self, words: str, number: str | None, limit: int, chat_id: int | None = None
    ) -> list[Hit]:
        """The newest ``limit`` SMS (inbound and sent together) whose text has every word, or
        that ``number`` sent or was sent; with ``chat_id``, only the SMS shown in that chat and
        the sends made from it."""
        seen = (
            "AND (? IS NULL OR EXISTS (SELECT 1 FROM message_links l "
            "WHERE l.chat_id = ? AND l.inbound_id = i.id))"
        )
        mine = "AND (? IS NULL OR s.chat_id = ?)"
        if number is not None:
            inbound = await self.db.fetchall(
                "SELECT i.id, i.received_at, i.sender, i.text, i.account, i.stored_at FROM inbound i "
                f"WHERE i.sender = ? {seen} ORDER BY i.id DESC LIMIT ?",
                (number, chat_id, chat_id, limit),
            )
            sends = await self.db.fetchall(
                "SELECT s.id, s.confirmed_at, r.number, s.text, s.account, 1, s.confirmed_at "
                "FROM send_recipients r "
                "JOIN sends s ON s.id = r.send_id WHERE r.number = ? AND s.confirmed_at IS NOT NULL "
                f"{mine} ORDER BY r.send_id DESC LIMIT ?",
                (number, chat_id, chat_id, limit),
            )
        else:
            query = match_query(words)
            if query is None:
                return []
            inbound = await self.db.fetchall(
                "SELECT i.id, i.received_at, i.sender, i.text, i.account, i.stored_at "
                "FROM inbound_fts f "
                f"JOIN inbound i ON i.id = f.rowid WHERE inbound_fts MATCH ? {seen} "
                "ORDER BY f.rowid DESC LIMIT ?",
                (query, chat_id, chat_id, limit),
            )
            sends = await self.db.fetchall(
                "SELECT s.id, s.confirmed_at, (SELECT number FROM send_recipients r WHERE "
                "r.send_id = s.id ORDER BY rowid LIMIT 1), s.text, s.account, (SELECT count(*) "
                "FROM send_recipients r WHERE r.send_id = s.id), s.confirmed_at FROM send_fts f "
                f"JOIN sends s ON s.id = f.rowid WHERE send_fts MATCH ? {mine} "
                "ORDER BY f.rowid DESC LIMIT ?",
                (query, chat_id, chat_id, limit),
            )
        hits = [Hit("inbound", r[0], r[1], r[2], r[3], r[4], 1, r[5]) for r in inbound]
        hits += [Hit("send", r[0], r[1], r[2] or "", r[3], r[4], int(r[5]), r[6]) for r in sends]
        hits.sort(key=lambda h: (datetime.fromisoformat(h.order), h.kind == "send"), reverse=True)
        return hits[:limit]
