"""Users and roles, per-chat settings and the audit log."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from .db import Connection, Database, now_iso

ROLES = ("viewer", "operator", "admin")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: str
    user_id: int | None
    chat_id: int | None
    action: str
    account: str | None
    recipients: int
    detail: str


class AccessRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def button_key(self) -> bytes:
        """The key that signs this bridge's inline buttons, made on first use and kept, so that
        buttons sent before a restart still work."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ('button_key', ?) ON CONFLICT DO NOTHING",
                (secrets.token_hex(32),),
            )
            cursor = await conn.execute("SELECT value FROM meta WHERE key = 'button_key'")
            row = await cursor.fetchone()
        assert row is not None
        return bytes.fromhex(str(row[0]))

    async def role(self, user_id: int) -> str | None:
        row = await self.db.fetchone("SELECT role FROM users WHERE user_id = ?", (user_id,))
        return str(row["role"]) if row else None

    async def set_role(self, user_id: int, role: str, added_by: int | None) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO users (user_id, role, added_by, added_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET role = excluded.role",
                (user_id, role, added_by, now_iso()),
            )

    async def remove(self, user_id: int) -> bool:
        async with self.db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM users WHERE user_id = ?", (user_id,))
            return bool(cursor.rowcount > 0)

    async def users(self) -> list[tuple[int, str]]:
        rows = await self.db.fetchall("SELECT user_id, role FROM users ORDER BY user_id")
        return [(int(r["user_id"]), str(r["role"])) for r in rows]

    async def language(self, chat_id: int) -> str | None:
        row = await self.db.fetchone("SELECT language FROM chats WHERE chat_id = ?", (chat_id,))
        return str(row["language"]) if row and row["language"] else None

    async def set_language(self, chat_id: int, language: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO chats (chat_id, language) VALUES (?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET language = excluded.language",
                (chat_id, language),
            )

    async def audit(
        self,
        action: str,
        *,
        user_id: int | None,
        chat_id: int | None,
        account: str | None = None,
        recipients: int = 0,
        detail: str = "",
    ) -> None:
        async with self.db.transaction() as conn:
            await insert_audit(conn, action, user_id, chat_id, account, recipients, detail)

    async def recent_audit(self, limit: int) -> list[AuditEntry]:
        rows = await self.db.fetchall(
            "SELECT at, user_id, chat_id, action, account, recipients, detail FROM audit "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            AuditEntry(
                r["at"],
                r["user_id"],
                r["chat_id"],
                r["action"],
                r["account"],
                r["recipients"],
                r["detail"],
            )
            for r in rows
        ]


async def insert_audit(
    conn: Connection,
    action: str,
    user_id: int | None,
    chat_id: int | None,
    account: str | None,
    recipients: int,
    detail: str,
) -> None:
    """Write one audit row inside the caller's transaction."""
    await conn.execute(
        "INSERT INTO audit (at, user_id, chat_id, action, account, recipients, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (now_iso(), user_id, chat_id, action, account, recipients, detail),
    )
