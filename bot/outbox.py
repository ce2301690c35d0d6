"""The durable Telegram outbox: queued rows reach their chats in order, retried until they do."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from storage.inbound import Link, OutboxItem, OutboxRepo

from .ratelimit import retry_seconds

log = logging.getLogger("smsbridge.outbox")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    link: Link | None = None
    thread_id: int | None = None  # the forum topic to post in, when the renderer chose one


@dataclass(frozen=True, slots=True)
class Digest:
    """Several queued SMS in one message: the rows it carries and (number, inbound id) each."""

    text: str
    items: list[OutboxItem]
    entries: list[tuple[int, int]]


Renderer = Callable[[OutboxItem], Awaitable[Rendered | None]]
DigestRenderer = Callable[[list[OutboxItem]], Awaitable[Digest | None]]
DIGEST_AFTER = 5.0  # seconds: a backlog that would take longer at the chat's rate is packed
DIGEST_ROWS = 200  # queued rows looked at for one digest (more than 4096 characters can carry)


class Outbox:
    """One drain task per chat with due rows; a chat's next row waits for the one before it."""

    def __init__(
        self,
        repo: OutboxRepo,
        bot: Bot,
        render: Renderer,
        max_backoff: float = 300,
        stop_grace: float = 5.0,
        digest: DigestRenderer | None = None,
        interval: Callable[[int], float] = lambda chat_id: 1.0,
    ) -> None:
        self.repo = repo
        self.digest = digest
        self.interval = interval  # the pacer's seconds per message for a chat
        self.bot = bot
        self.render = render
        self.max_backoff = max_backoff
        self.stop_grace = stop_grace
        self._stopping = False
        self._wake = asyncio.Event()
        self._busy: dict[int, asyncio.Task[None]] = {}
        self.alive = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        self.alive = True
        try:
            while True:
                self._wake.clear()
                for item in await self.repo.heads(time.time(), exclude=list(self._busy)):
                    self._busy[item.chat_id] = asyncio.create_task(self._drain(item))
                due = await self.repo.next_due()
                timeout = 5.0 if due is None else min(5.0, max(0.05, due - time.time()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            # Stopping: a message Telegram is sending right now gets recorded as sent, so a
            # restart does not send it again; no new row starts.
            self.alive = False
            self._stopping = True
            busy = list(self._busy.values())
            if busy:
                await asyncio.wait(busy, timeout=self.stop_grace)
            for task in busy:
                task.cancel()
            await asyncio.gather(*busy, return_exceptions=True)

    async def _drain(self, first: OutboxItem) -> None:
        item: OutboxItem | None = first
        try:
            while item is not None and await self._next(item) and not self._stopping:
                heads = await self.repo.heads(time.time())
                item = next((h for h in heads if h.chat_id == first.chat_id), None)
        finally:
            self._busy.pop(first.chat_id, None)
            self._wake.set()

    async def _next(self, head: OutboxItem) -> bool:
        """Deliver a chat's head row, or, when its backlog would take more than a few seconds
        at the chat's rate, as many queued SMS as fit one digest message."""
        if self.digest is not None:
            # Most heads have no backlog: look at just enough rows to know, then at a digest's worth.
            enough = int(DIGEST_AFTER / self.interval(head.chat_id)) + 1
            if len(await self.repo.queue(head.chat_id, limit=enough)) >= enough:
                digest = await self.digest(await self.repo.queue(head.chat_id, limit=DIGEST_ROWS))
                if digest is not None:
                    return await self._deliver(head, digest)
        return await self._deliver(head)

    async def _deliver(self, item: OutboxItem, digest: Digest | None = None) -> bool:
        """Send one row; True when it is done (sent or given up), False to retry later."""
        try:
            rendered = Rendered(digest.text) if digest is not None else await self.render(item)
            if rendered is None:
                await self.repo.give_up(item.id, "nothing to render")
                return True
            message = await self.bot.send_message(
                item.chat_id,
                rendered.text,
                parse_mode=ParseMode.HTML,
                message_thread_id=rendered.thread_id or item.thread_id,
                link_preview_options=NO_PREVIEW,
            )
        except RetryAfter as exc:
            await self._later(item, retry_seconds(exc), "429")
            return False
        except (Forbidden, BadRequest) as exc:
            # The chat is gone, the bot was removed, or the message can never be accepted.
            log.error("outbox row %s to chat %s given up: %s", item.id, item.chat_id, exc.message)
            await self.repo.give_up(item.id, exc.message)
            return True
        except (NetworkError, TelegramError) as exc:
            await self._later(item, self._backoff(item), str(exc))
            return False
        except Exception as exc:  # a bug must not silently stop a chat's queue: log, retry later
            log.exception("outbox row %s to chat %s failed unexpectedly", item.id, item.chat_id)
            await self._later(item, self._backoff(item), repr(exc))
            return False
        if digest is not None:
            await self.repo.delivered_digest(digest.items, message.message_id, digest.entries)
        else:
            await self.repo.delivered(item, message.message_id, rendered.link)
        return True

    def _backoff(self, item: OutboxItem) -> float:
        return float(min(self.max_backoff, 2 ** min(item.attempts, 10)))

    async def _later(self, item: OutboxItem, seconds: float, error: str) -> None:
        log.warning("outbox row %s to chat %s retried in %.1f s: %s", item.id, item.chat_id,
                    seconds, error)  # fmt: skip
        await self.repo.retry_later(item.id, time.time() + seconds, error)
        self._wake.set()
