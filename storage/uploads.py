"""Files people sent the bot (a list to send to), kept read while their flow asks what to do with
them: one row per file, its table as JSON. A flow's file is dropped when the flow ends, and any
left over a day is dropped when the next file arrives."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .db import Database, now_iso

KEEP_HOURS = 24  # a flow left this long is not coming back


@dataclass(frozen=True, slots=True)
class Upload:
    id: int
    user_id: int
    chat_id: int
    file_name: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    first_row: int  # the spreadsheet's row number of ``rows[0]``


class UploadsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        *,
        user_id: int,
        chat_id: int,
        file_name: str,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        first_row: int,
    ) -> int:
        stale = datetime.now(UTC) - timedelta(hours=KEEP_HOURS)
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM uploads WHERE created_at < ?", (stale.isoformat(timespec="seconds"),)
            )
            cursor = await conn.execute(
                "INSERT INTO uploads (created_at, user_id, chat_id, file_name, header, rows, "
                "first_row) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    now_iso(),
                    user_id,
                    chat_id,
                    file_name,
                    json.dumps(list(header), ensure_ascii=False),
                    json.dumps([list(r) for r in rows], ensure_ascii=False),
                    first_row,
                ),
            )
            return int((await cursor.fetchone())[0])

    async def get(self, upload_id: int) -> Upload | None:
        row = await self.db.fetchone(
            "SELECT id, user_id, chat_id, file_name, header, rows, first_row FROM uploads "
            "WHERE id = ?",
            (upload_id,),
        )
        if row is None:
            return None
        return Upload(
            id=int(row["id"]),
            user_id=int(row["user_id"]),
            chat_id=int(row["chat_id"]),
            file_name=str(row["file_name"]),
            header=tuple(json.loads(row["header"])),
            rows=[tuple(r) for r in json.loads(row["rows"])],
            first_row=int(row["first_row"]),
        )

    async def delete(self, upload_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
