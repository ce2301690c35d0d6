"""Numbers that asked not to be texted, per account: who opted out, when and how, and the audit
of every change a person made."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .access import insert_audit
from .db import Database, now_iso
from .events import Recorder


@dataclass(frozen=True, slots=True)
class OptOut:
    account: str
    number: str
    at: str
    source: str  # "sms" (the number's own keyword) or "manual"
    by_user: int | None


class OptoutsRepo:
    def __init__(self, db: Database, events: Recorder | None = None) -> None:
        self.db = db
        self.events = events or Recorder()

    async def among(self, account: str, numbers: Sequence[str]) -> set[str]:
        """Which of ``numbers`` (canonical) have opted out of ``account``."""
        found: set[str] = set()
        for start in range(0, len(numbers), 500):
            chunk = list(numbers[start : start + 500])
            rows = await self.db.fetchall(
                f"SELECT number FROM optouts WHERE account = ? AND number IN "
                f"({', '.join('?' * len(chunk))})",
                (account, *chunk),
            )
            found.update(str(r[0]) for r in rows)
        return found

    async def set(
        self, account: str, number: str, out: bool, *, user_id: int, chat_id: int | None
    ) -> bool:
        """/optout add|del by a person; True when it changed anything. Audited."""
        async with self.db.transaction() as conn:
            if out:
                cursor = await conn.execute(
                    "INSERT INTO optouts (account, number, at, source, by_user) "
                    "VALUES (?, ?, ?, 'manual', ?) ON CONFLICT DO NOTHING",
                    (account, number, now_iso(), user_id),
                )
            else:
                cursor = await conn.execute(
                    "DELETE FROM optouts WHERE account = ? AND number = ?", (account, number)
                )
            changed = bool(cursor.rowcount > 0)
            if changed:
                action = "optout.add" if out else "optout.del"
                await insert_audit(conn, action, user_id, chat_id, account, 1, number)
                said = {"number": number, "opted_out": out, "source": "manual", "by_user": user_id}
                await self.events.add(conn, [("optout", account, None, said)])
        return changed

    async def overridden(
        self, account: str, number: str, *, user_id: int, chat_id: int | None
    ) -> None:
        """An admin sends to an opted-out number anyway: the audit says who and when."""
        async with self.db.transaction() as conn:
            await insert_audit(conn, "optout.override", user_id, chat_id, account, 1, number)

    async def listing(self, account: str | None, limit: int, offset: int = 0) -> list[OptOut]:
        where, params = ("WHERE account = ?", (account,)) if account else ("", ())
        rows = await self.db.fetchall(
            f"SELECT account, number, at, source, by_user FROM optouts {where} "
            "ORDER BY at DESC, number LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [OptOut(*tuple(r)) for r in rows]

    async def count(self, account: str | None = None) -> int:
        where, params = ("WHERE account = ?", (account,)) if account else ("", ())
        row = await self.db.fetchone(f"SELECT count(*) FROM optouts {where}", params)
        return int(row[0]) if row else 0
