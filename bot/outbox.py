"""The durable Telegram outbox: queued rows reach their chats in order, retried until they do.

A message Telegram refuses outright (HTTP 400) is posted again in a form it accepts — in the
chat's main thread when its topic is gone, else as plain text split into parts — and a row that
still cannot be posted (or whose chat is gone) is given up only after ``on_dead`` has told the
admins.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from storage.outbox import Link, OutboxItem, OutboxRepo

from .aio import wait_set
from .ratelimit import retry_seconds
from .workers import Worker

log = logging.getLogger("smsbridge.outbox")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str  # Telegram HTML
    link: Link | None = None
    thread_id: int | None = None  # the forum topic to post in, when the renderer chose one
    edit: int | None = None  # a message of the chat to edit instead of posting a new one
    covers: tuple[int, ...] = ()  # later queued rows this message carries too


@dataclass(frozen=True, slots=True)
class Digest:
    """Several queued SMS in one message: the rows it carries and (number, inbound id) each."""

    text: str
    items: list[OutboxItem]
    entries: list[tuple[int, int]]


Renderer = Callable[[OutboxItem], Awaitable[Rendered | None]]
DigestRenderer = Callable[[list[OutboxItem]], Awaitable[Digest | None]]
OnDead = Callable[[OutboxItem, str], Awaitable[None]]
DIGEST_AFTER = 5.0  # seconds: a backlog that would take longer at the chat's rate is packed
DIGEST_ROWS = 200  # queued rows looked at for one digest (more than 4096 characters can carry)
LIMIT = 4096  # characters Telegram shows in one message, after entity parsing
PLAIN_PARTS = 3  # at most this many plain parts for one row; the rest is cut, and says so
LOOK_AGAIN = 0.25  # seconds between looks for a link another replica may be recording
_TAG = re.compile(r"<[^>]*>")
_THREAD_GONE = ("thread not found", "topic_closed", "topic_deleted", "topic closed")


def plain(text: str) -> str:
    """Telegram HTML as the plain text it shows (every outside string in it was escaped)."""
    return html.unescape(_TAG.sub("", text))


def parts(text: str, limit: int = LIMIT, most: int = PLAIN_PARTS) -> list[str]:
    """Plain text in messages Telegram accepts: cut at line ends where it can, at most ``most``."""
    pieces: list[str] = []
    rest = text
    while rest and len(pieces) < most:
        if len(rest) <= limit:
            pieces.append(rest)
            rest = ""
            break
        cut = rest.rfind("\n", 0, limit)
        cut = cut if cut > limit // 2 else limit
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    if rest:
        note = f"\n… [+{len(rest)}]"
        pieces[-1] = pieces[-1][: limit - len(note)] + note
    return pieces


class Outbox:
    """One drain task per chat with due rows; a chat's next row waits for the one before it."""

    def __init__(
        self,
        repo: OutboxRepo,
        bot: Bot,
        render: Renderer,
        max_backoff: float = 300,
        first_retry: float = 1.0,
        stop_grace: float = 5.0,
        digest: DigestRenderer | None = None,
        interval: Callable[[int], float] = lambda chat_id: 1.0,
        on_dead: OnDead | None = None,
    ) -> None:
        self.repo = repo
        self.on_dead = on_dead
        self.digest = digest
        self.interval = interval  # the pacer's seconds per message for a chat
        self.bot = bot
        self.render = render
        self.max_backoff = max_backoff
        self.first_retry = first_retry
        self.stop_grace = stop_grace
        self._stopping = False
        self._wake = asyncio.Event()
        self._busy: dict[int, asyncio.Task[None]] = {}
        self._recorded = asyncio.Condition()  # notified after each post is recorded
        self.alive = False
        self.worker: Worker | None = None

    def wake(self) -> None:
        self._wake.set()

    async def run(self, worker: Worker | None = None) -> None:
        """Until cancelled: start a drain for each chat whose head is due. ``worker`` hears of
        each success and failure (``/healthz``)."""
        self.worker = worker
        self.alive, self._stopping = True, False  # again, after another replica had it
        try:
            while True:
                self._wake.clear()
                for item in await self.repo.heads(time.time(), exclude=list(self._busy)):
                    self._busy[item.chat_id] = asyncio.create_task(self._drain(item))
                due = await self.repo.next_due()
                if due is None and self.worker is not None:
                    self.worker.succeeded()  # nothing is waiting
                timeout = 5.0 if due is None else min(5.0, max(0.05, due - time.time()))
                await wait_set(self._wake, timeout)
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
        except Exception:  # the database, most likely: the run loop starts this chat again
            log.exception("outbox of chat %s paused after an error", first.chat_id)
            await asyncio.sleep(1.0)
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
            try:
                sent = await self._post(item, rendered)
            except BadRequest as exc:  # never accepted as it is: a form Telegram takes
                log.warning(
                    "outbox row %s to chat %s refused (%s): posting it plainly",
                    item.id,
                    item.chat_id,
                    exc.message,
                )
                sent = await self._post_plainly(item, rendered, exc.message)
        except RetryAfter as exc:
            await self._later(item, retry_seconds(exc), "429")
            return False
        except (Forbidden, BadRequest) as exc:
            # The chat is gone, the bot was removed, or no form of the message is accepted.
            await self._dead(item, exc.message)
            return True
        except (NetworkError, TelegramError) as exc:
            await self._later(item, self._backoff(item), str(exc))
            return False
        except Exception as exc:  # a bug must not silently stop a chat's queue: log, retry later
            log.exception("outbox row %s to chat %s failed unexpectedly", item.id, item.chat_id)
            await self._later(item, self._backoff(item), repr(exc))
            return False
        if digest is not None:
            await self.repo.delivered_digest(digest.items, sent, digest.entries)
        else:
            await self.repo.delivered(item, sent, rendered.link, rendered.covers)
        async with self._recorded:
            self._recorded.notify_all()
        if self.worker is not None:
            self.worker.succeeded()
        return True

    async def linked(self, chat_id: int, message_id: int, wait: float) -> Link | None:
        """The link of a message the outbox posted (an SMS it shows), waiting up to ``wait``
        seconds for the outbox to record it (a person may answer a message before its post is
        recorded); None at once for a digest, which has entries instead."""
        deadline = asyncio.get_running_loop().time() + wait
        async with self._recorded:
            while True:
                link = await self.repo.link(chat_id, message_id)
                if link is not None or await self.repo.digest(chat_id, message_id):
                    return link
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    # another replica's outbox may record it: look again now and then too
                    await asyncio.wait_for(self._recorded.wait(), min(remaining, LOOK_AGAIN))

    async def _post(
        self, item: OutboxItem, rendered: Rendered, *, main_thread: bool = False
    ) -> list[int]:
        """Post (or edit) as rendered; the ids of the new messages that show it."""
        if rendered.edit is not None:
            try:
                await self.bot.edit_message_text(
                    rendered.text,
                    chat_id=item.chat_id,
                    message_id=rendered.edit,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=NO_PREVIEW,
                )
            except BadRequest as exc:
                if "not modified" not in exc.message.lower():
                    raise
            return []
        if len(plain(rendered.text)) > LIMIT:
            raise BadRequest("message is too long")
        thread = None if main_thread else rendered.thread_id or item.thread_id
        message = await self.bot.send_message(
            item.chat_id,
            rendered.text,
            parse_mode=ParseMode.HTML,
            message_thread_id=thread,
            link_preview_options=NO_PREVIEW,
        )
        return [message.message_id]

    async def _post_plainly(self, item: OutboxItem, rendered: Rendered, reason: str) -> list[int]:
        """The forms Telegram accepts: the chat's main thread when the topic is gone; plain text,
        in parts, otherwise. An edit that cannot be made is left (the message is gone)."""
        thread = rendered.thread_id or item.thread_id
        if thread is not None and any(word in reason.lower() for word in _THREAD_GONE):
            return await self._post(item, rendered, main_thread=True)
        if rendered.edit is not None:
            if "not found" in reason.lower() or "can't be edited" in reason.lower():
                return []
            text = parts(plain(rendered.text), most=1)[0]
            await self.bot.edit_message_text(text, chat_id=item.chat_id, message_id=rendered.edit)
            return []
        sent = []
        for piece in parts(plain(rendered.text)):
            message = await self.bot.send_message(
                item.chat_id, piece, message_thread_id=thread, link_preview_options=NO_PREVIEW
            )
            sent.append(message.message_id)
        return sent

    async def _dead(self, item: OutboxItem, reason: str) -> None:
        log.error(
            "outbox row %s to chat %s given up: %s",
            item.id,
            item.chat_id,
            reason,
            extra={"chat_id": item.chat_id, "send_id": item.send_id},
        )
        if self.on_dead is not None:
            await self.on_dead(item, reason)
        await self.repo.give_up(item.id, reason)

    def _backoff(self, item: OutboxItem) -> float:
        """After a failure other than a 429: ``first_retry`` seconds, doubling per attempt."""
        return min(self.max_backoff, self.first_retry * 2.0 ** min(item.attempts, 10))

    async def _later(self, item: OutboxItem, seconds: float, error: str) -> None:
        if self.worker is not None and error != "429":
            self.worker.failed(error)
        log.warning(
            "outbox row %s to chat %s retried in %.1f s: %s", item.id, item.chat_id, seconds, error
        )
        await self.repo.retry_later(item.id, time.time() + seconds, error)
        self._wake.set()
