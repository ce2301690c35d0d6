"""Search over inbound and sent SMS: the text folded so that what people type matches however
it was written — Persian and Arabic letter forms (ی/ي/ى, ک/ك, ه/ة), Persian, Arabic and ASCII
digits, the zero-width non-joiner, case — and plain indexes for a number.

Every word typed must begin a word of the SMS. On SQLite that is an FTS5 prefix query; on
PostgreSQL the index keeps the folded words between spaces (`` word word ``) under a trigram
index, and each word typed is a ``LIKE '% word%'``.

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
    from .db import Database, Dialect

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


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+", fold(text))


def match_query(words: str) -> str | None:
    """An FTS5 query: every word must appear, each as a prefix (``سفار`` finds ``سفارش``)."""
    tokens = words_of(words)
    if not tokens:
        return None
    return " ".join('"' + t.replace('"', '""') + '"*' for t in tokens)


def _body(dialect: Dialect, text: str) -> str:
    """What the index keeps of a text."""
    return fold(text) if dialect.name == "sqlite" else " " + " ".join(words_of(text)) + " "


async def index_inbound(conn: Any, dialect: Dialect, rows: Sequence[tuple[int, str]]) -> None:
    """(inbound id, text) of SMS just stored, in the caller's transaction."""
    await conn.executemany(
        "INSERT INTO inbound_fts (rowid, body) VALUES (?, ?)",
        [(i, _body(dialect, t)) for i, t in rows],
    )


async def index_send(conn: Any, dialect: Dialect, send_id: int, text: str) -> None:
    """A send once it is confirmed (a preview nobody sent is not "sent SMS")."""
    await conn.execute("DELETE FROM send_fts WHERE rowid = ?", (send_id,))
    await conn.execute(
        "INSERT INTO send_fts (rowid, body) VALUES (?, ?)", (send_id, _body(dialect, text))
    )


def _matching(dialect: Dialect, table: str, words: str) -> tuple[str, list[str]] | None:
    """The condition on ``f`` (an index table) that finds ``words``, and its values."""
    if dialect.name == "sqlite":
        query = match_query(words)
        return None if query is None else (f"{table} MATCH ?", [query])
    tokens = words_of(words)
    if not tokens:
        return None
    escaped = [t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for t in tokens]
    return " AND ".join(["f.body LIKE ?"] * len(tokens)), [f"% {t}%" for t in escaped]


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
            dialect = self.db.dialect
            found = _matching(dialect, "inbound_fts", words)
            if found is None:
                return []
            where, values = found
            inbound = await self.db.fetchall(
                "SELECT i.id, i.received_at, i.sender, i.text, i.account, i.stored_at "
                "FROM inbound_fts f "
                f"JOIN inbound i ON i.id = f.rowid WHERE {where} {seen} "
                "ORDER BY f.rowid DESC LIMIT ?",
                (*values, chat_id, chat_id, limit),
            )
            where, values = _matching(dialect, "send_fts", words) or (where, values)
            sends = await self.db.fetchall(
                "SELECT s.id, s.confirmed_at, (SELECT number FROM send_recipients r WHERE "
                "r.send_id = s.id ORDER BY rowid LIMIT 1), s.text, s.account, (SELECT count(*) "
                "FROM send_recipients r WHERE r.send_id = s.id), s.confirmed_at FROM send_fts f "
                f"JOIN sends s ON s.id = f.rowid WHERE {where} {mine} "
                "ORDER BY f.rowid DESC LIMIT ?",
                (*values, chat_id, chat_id, limit),
            )
        hits = [Hit("inbound", r[0], r[1], r[2], r[3], r[4], 1, r[5]) for r in inbound]
        hits += [Hit("send", r[0], r[1], r[2] or "", r[3], r[4], int(r[5]), r[6]) for r in sends]
        hits.sort(key=lambda h: (datetime.fromisoformat(h.order), h.kind == "send"), reverse=True)
        return hits[:limit]
