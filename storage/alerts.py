"""Alerts that stand until their cause goes away: one low-credit alert per account."""

from __future__ import annotations

from .db import Database


class AlertsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def low_credit(self, account: str) -> bool:
        """Whether the admins were told this account's credit is low (and it has not recovered)."""
        row = await self.db.fetchone(
            "SELECT standing FROM credit_alerts WHERE account = ?", (account,)
        )
        return bool(row and row[0])

    async def set_low_credit(self, account: str, standing: bool) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO credit_alerts (account, standing) VALUES (?, ?) "
                "ON CONFLICT (account) DO UPDATE SET standing = excluded.standing",
                (account, int(standing)),
            )
