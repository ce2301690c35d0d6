"""Per-day figures for /stats, by Tehran date (UTC+3:30 all year since 2022): recipients sent,
delivered, not delivered or unknown, inbound SMS, and the providers' prices where they gave one."""

from __future__ import annotations

from dataclasses import dataclass

from .db import Database

# sent (a provider accepted), delivered, failed (refused or not delivered), unknown
_RECIPIENTS = (
    "r.message_id IS NOT NULL",
    "r.state = 'delivered'",
    "r.state = 'failed' OR (r.message_id IS NULL AND r.state NOT IN ('unknown', 'draft', 'sending'))",
    "r.state = 'unknown'",
)


@dataclass(slots=True)
class Day:
    sent: int = 0  # recipients a provider accepted
    delivered: int = 0
    failed: int = 0  # refused, or reported not delivered
    unknown: int = 0  # may have gone: still being looked up
    inbound: int = 0
    cost: float = 0.0


class StatsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def daily(self, since: str, account: str | None) -> dict[str, Day]:
        """Tehran date (YYYY-MM-DD) → its figures, for the sends confirmed and the SMS stored
        since ``since`` (UTC ISO), of one account or all."""
        days: dict[str, Day] = {}
        tehran = self.db.dialect.tehran_day
        sends = await self.db.fetchall(
            f"SELECT {tehran('s.confirmed_at')} AS day, "
            + ", ".join(_count(c) for c in _RECIPIENTS)
            + " "
            "FROM sends s JOIN send_recipients r ON r.send_id = s.id "
            "WHERE s.created_at >= ? AND s.confirmed_at IS NOT NULL AND (? IS NULL OR s.account = ?) "
            "GROUP BY day",
            (since, account, account),
        )
        for row in sends:
            day = days.setdefault(str(row[0]), Day())
            day.sent, day.delivered, day.failed, day.unknown = (int(v or 0) for v in row[1:5])
        costs = await self.db.fetchall(
            f"SELECT {tehran('confirmed_at')} AS day, sum(price) FROM sends "
            "WHERE created_at >= ? AND price IS NOT NULL AND (? IS NULL OR account = ?) "
            "GROUP BY day",
            (since, account, account),
        )
        for row in costs:
            days.setdefault(str(row[0]), Day()).cost = float(row[1] or 0)
        inbound = await self.db.fetchall(
            f"SELECT {tehran('stored_at')} AS day, count(*) FROM inbound "
            "WHERE stored_at >= ? AND (? IS NULL OR account = ?) GROUP BY day",
            (since, account, account),
        )
        for row in inbound:
            days.setdefault(str(row[0]), Day()).inbound = int(row[1])
        return days


def _count(condition: str) -> str:
    """How many rows of the group meet ``condition`` (a boolean is no number on PostgreSQL)."""
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"
