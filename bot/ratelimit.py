"""Every Bot API call is paced under Telegram's limits, and a 429's ``retry_after`` is honoured.

Plugged into PTB as its rate limiter, so command replies, edits and the outbox share one view of
each chat's budget: about 1 message/s in a private chat (short bursts of 3), 20 per minute in a
group, 30 per second overall. After a 429 no request goes to that chat until the window passes.

Replicas sharing one PostgreSQL (``share``) also take each counted call from the database's
record of the last minute's calls (storage/cluster.py): the limits are the bot's, so two
replicas together stay under them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from storage.cluster import ClusterRepo

log = logging.getLogger("smsbridge.telegram")

# Methods that post a new message and count against a chat's budget.
COUNTED = frozenset(
    {"sendMessage", "copyMessage", "forwardMessage", "sendPhoto", "sendDocument", "sendMediaGroup"}
)


@dataclass(frozen=True)
class Window:
    count: int
    seconds: float


PRIVATE = Window(3, 3.0)
GROUP = Window(20, 60.0)
GLOBAL = Window(30, 1.0)


@dataclass
class _Budget:
    window: Window
    # When each call of the window was made: stamped as it starts, stamped again when it ends,
    # the latest moment Telegram can have counted it (a call slowed on its way, say by a busy
    # event loop, is counted by Telegram later than it started; counting from the start let the
    # first call after a full window through early, and Telegram answered 429).
    stamps: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def wait(self, now: float, counted: bool = True) -> float:
        while self.stamps and self.stamps[0] <= now - self.window.seconds:
            self.stamps.popleft()
        delay = max(0.0, self.blocked_until - now)
        if counted and len(self.stamps) >= self.window.count:
            delay = max(delay, self.stamps[0] + self.window.seconds - now)
        return delay


def _widened(seconds: float) -> float:
    """A window counted in the database, a little longer than Telegram's: a call is counted
    when it is reserved, and calls from two replicas reach Telegram after delays that differ."""
    return seconds * 1.05 + 0.2


# PTB 22 builds every RetryAfter with a deprecation warning unless this opt-in to the coming
# timedelta type is set; the bridge reads both types, so it opts in rather than warn per 429.
os.environ.setdefault("PTB_TIMEDELTA", "1")


def retry_seconds(exc: RetryAfter) -> float:
    """Seconds to wait, whether ``retry_after`` is a timedelta (PTB_TIMEDELTA) or a number."""
    value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramPacer(BaseRateLimiter[None]):
    def __init__(
        self,
        *,
        private: Window = PRIVATE,
        group: Window = GROUP,
        overall: Window = GLOBAL,
        max_retries: int = 5,
        on_429: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.private, self.group, self.overall = private, group, overall
        self.max_retries = max_retries
        self.on_429 = on_429
        self.clock = clock
        self._chats: dict[object, _Budget] = {}
        self._global = _Budget(overall)
        self._shared: ClusterRepo | None = None

    def share(self, cluster: ClusterRepo) -> None:
        """Count calls with the other replicas on the same database."""
        self._shared = cluster

    async def _take_shared(self, chat_id: object, budget: _Budget | None) -> None:
        assert self._shared is not None
        budgets = [(0, self.overall.count, _widened(self.overall.seconds))]
        if budget is not None and isinstance(chat_id, int) and chat_id != 0:
            budgets.append((chat_id, budget.window.count, _widened(budget.window.seconds)))
        while True:
            try:
                wait = await self._shared.take_call(budgets)
            except Exception as exc:  # the database: this replica's own pacing still holds
                log.warning("Telegram calls not counted with the other replicas: %s", exc)
                return
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def _budget(self, chat_id: object) -> _Budget:
        budget = self._chats.get(chat_id)
        if budget is None:
            is_group = not isinstance(chat_id, int) or chat_id < 0
            budget = self._chats[chat_id] = _Budget(self.group if is_group else self.private)
        return budget

    def interval(self, chat_id: int) -> float:
        """The steady pace of one chat, in seconds per message (about 1 s private, 3 s group)."""
        window = self._budget(chat_id).window
        return window.seconds / window.count

    async def _take(
        self, budget: _Budget, counted: bool, taken: list[tuple[_Budget, float]]
    ) -> None:
        """Wait for room in ``budget``; a counted call's stamp goes in it and in ``taken``."""
        async with budget.lock:
            # A plain sleep: the wait is computed from the clock, nothing would set an event.
            while (delay := budget.wait(self.clock(), counted)) > 0:  # noqa: ASYNC110
                await asyncio.sleep(delay)
            if counted:
                stamp = self.clock()
                budget.stamps.append(stamp)
                taken.append((budget, stamp))

    def _ended(self, taken: list[tuple[_Budget, float]]) -> None:
        """A call is over: its stamps move to now (in order, as calls end)."""
        now = self.clock()
        for budget, stamp in taken:
            if stamp in budget.stamps:  # unless a call longer than the window aged it out
                budget.stamps.remove(stamp)
            budget.stamps.append(now)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        counted = endpoint in COUNTED
        budget = self._budget(chat_id) if chat_id is not None else None
        for attempt in range(self.max_retries + 1):
            taken: list[tuple[_Budget, float]] = []
            if budget is not None:
                await self._take(budget, counted, taken)
            await self._take(self._global, counted, taken)
            if counted and self._shared is not None:
                await self._take_shared(chat_id, budget)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                if self.on_429 is not None:
                    self.on_429()
                log.warning("Telegram asked to wait %.0f s (%s, chat %s)", wait, endpoint, chat_id)
                target = budget if budget is not None else self._global
                target.blocked_until = max(target.blocked_until, self.clock() + wait)
                if attempt == self.max_retries:
                    raise
            finally:
                self._ended(taken)
        raise AssertionError("unreachable")
