"""PTB persistence in the bridge's own database, so guided flows survive a restart.

Only JSON-serialisable data is kept: conversation states, and the user and chat data that flows
store (plain strings and numbers). Bot data and arbitrary callback data are not persisted.

PTB loads everything at start and writes changes later, which is right for one process. With
replicas, the next update of a flow may reach another replica: bot/replicas.py reads what an
update needs as stored now (``conversation``, ``data``) and writes its changes at once.
"""

from __future__ import annotations

import json
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

from .db import Database

Data = dict[Any, Any]


class DatabasePersistence(BasePersistence[Data, Data, Data]):
    def __init__(self, db: Database, update_interval: float = 1.0) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, callback_data=False),
            update_interval=update_interval,
        )
        self.db = db

    async def _one(self, kind: str, key: str) -> Any:
        row = await self.db.fetchone(
            "SELECT value FROM ptb_state WHERE kind = ? AND key = ?", (kind, key)
        )
        return None if row is None else json.loads(row[0])

    async def conversation(self, name: str, key: ConversationKey) -> object | None:
        """A conversation's state as stored now."""
        state: object | None = await self._one(f"conv:{name}", json.dumps(list(key)))
        return state

    async def data(self, kind: str, key: int) -> Data:
        """A user's (``kind`` "user") or chat's ("chat") data as stored now."""
        stored: Data | None = await self._one(kind, str(key))
        return stored or {}

    async def _load(self, kind: str) -> dict[str, Any]:
        rows = await self.db.fetchall("SELECT key, value FROM ptb_state WHERE kind = ?", (kind,))
        return {r["key"]: json.loads(r["value"]) for r in rows}

    async def _save(self, kind: str, key: str, value: Any) -> None:
        async with self.db.transaction() as conn:
            if value is None:
                await conn.execute("DELETE FROM ptb_state WHERE kind = ? AND key = ?", (kind, key))
            else:
                await conn.execute(
                    "INSERT INTO ptb_state (kind, key, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
                    (kind, key, json.dumps(value, ensure_ascii=False, default=str)),
                )

    async def get_user_data(self) -> dict[int, Data]:
        return {int(k): v for k, v in (await self._load("user")).items()}

    async def get_chat_data(self) -> dict[int, Data]:
        return {int(k): v for k, v in (await self._load("chat")).items()}

    async def get_bot_data(self) -> Data:
        return {}

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        loaded = await self._load(f"conv:{name}")
        return {tuple(json.loads(k)): v for k, v in loaded.items()}

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        await self._save(f"conv:{name}", json.dumps(list(key)), new_state)

    async def update_user_data(self, user_id: int, data: Data) -> None:
        await self._save("user", str(user_id), data or None)

    async def update_chat_data(self, chat_id: int, data: Data) -> None:
        await self._save("chat", str(chat_id), data or None)

    async def update_bot_data(self, data: Data) -> None:
        return None

    async def update_callback_data(self, data: CDCData) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        await self._save("chat", str(chat_id), None)

    async def drop_user_data(self, user_id: int) -> None:
        await self._save("user", str(user_id), None)

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        return None

    async def refresh_bot_data(self, bot_data: Data) -> None:
        return None

    async def flush(self) -> None:
        return None
