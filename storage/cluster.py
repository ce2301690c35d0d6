"""What replicas sharing one PostgreSQL coordinate through it (docs/operations.md §9): leases — which replica runs each job that must run once at a time — and the Bot
API calls of the last minute, so Telegram's limits hold for the bot, not for each replica.

Times are the database's clock (``Dialect.epoch``): the replicas' own clocks may disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .db import Database

REPLICA = "replica:"  # a lease every live replica holds under its own name (its heartbeat)
KEEP_CALLS = 120.0  # seconds of Bot API calls kept: Telegram's longest window is a minute


class ClusterRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def hold(self, holder: str, names: Sequence[str], ttl: float) -> set[str]:
        """Take or keep each lease that is free, expired or already ``holder``'s, for ``ttl``
        seconds from now; returns the names ``holder`` holds now. One statement, so a renewal
        of every job costs one commit."""
        if not names:
            return set()
        now = self.db.dialect.epoch
        values = ", ".join([f"(?, ?, {now} + ?)"] * len(names))
        async with self.db.transaction() as conn:
            rows = await conn.execute_fetchall(
                f"INSERT INTO leases (name, holder, expires_at) VALUES {values} "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "expires_at = excluded.expires_at "
                f"WHERE leases.holder = excluded.holder OR leases.expires_at < {now} "
                "RETURNING name",
                [value for name in names for value in (name, holder, ttl)],
            )
        return {str(r[0]) for r in rows}

    async def release(self, holder: str) -> None:
        """A replica stopping gives its jobs up at once (another takes them at its next try)."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM leases WHERE holder = ?", (holder,))

    async def holders(self) -> dict[str, str]:
        """Each lease still in force: name → holder."""
        rows = await self.db.fetchall(
            f"SELECT name, holder FROM leases WHERE expires_at >= {self.db.dialect.epoch}"
        )
        return {str(r[0]): str(r[1]) for r in rows}

    async def take_call(self, budgets: Iterable[tuple[int, int, float]]) -> float:
        """Reserve one Bot API call against every (key, count, seconds) budget — a chat's, and
        the bot's overall under key 0 — or say how long to wait before asking again (0: taken).
        Writes are serialised, so two replicas never take the last slot twice."""
        now = self.db.dialect.epoch
        budgets = list(budgets)
        async with self.db.transaction() as conn:
            moment = float((await (await conn.execute(f"SELECT {now}")).fetchone())[0])
            wait = 0.0
            for key, count, seconds in budgets:
                rows = await conn.execute_fetchall(
                    "SELECT at FROM telegram_calls WHERE chat_id = ? AND at > ? "
                    "ORDER BY at DESC LIMIT ?",
                    (key, moment - seconds, count),
                )
                if len(rows) >= count:  # full: the oldest of the window must leave first
                    wait = max(wait, float(rows[-1][0]) + seconds - moment)
            if wait > 0:
                return wait
            await conn.executemany(
                "INSERT INTO telegram_calls (chat_id, at) VALUES (?, ?)",
                [(key, moment) for key, _count, _seconds in budgets],
            )
            await conn.execute("DELETE FROM telegram_calls WHERE at < ?", (moment - KEEP_CALLS,))
        return 0.0
