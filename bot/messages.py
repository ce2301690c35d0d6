"""What the outbox posts: each queued row as a Telegram message, in the chat's language — an
inbound SMS (in its correspondent's forum topic where the route asks for topics), a digest of
several, a notice, or an edit of a send's chat message to its current state."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence

from telegram import Bot
from telegram.error import TelegramError

from storage.access import AccessRepo
from storage.inbound import InboundRepo, InboundRow
from storage.outbox import Link, OutboxItem, OutboxRepo

from . import render
from .config import Config
from .contacts import Phonebook
from .optouts import Consent, consent
from .outbox import Digest, Rendered
from .sending import SendService

log = logging.getLogger("smsbridge.messages")


class Messages:
    def __init__(
        self,
        config: Config,
        access: AccessRepo,
        inbound: InboundRepo,
        outbox: OutboxRepo,
        sends: SendService,
        bot: Bot,
        wake: Callable[[], None],
        phonebook: Phonebook,
    ) -> None:
        self.config = config
        self.access = access
        self.inbound = inbound
        self.outbox = outbox
        self.sends = sends
        self.bot = bot
        self.wake = wake  # the outbox: something was queued
        self.phonebook = phonebook

    @property
    def topic_chats(self) -> set[int]:
        """Chats whose route gives each correspondent a forum topic (read on each use: a reload
        may change the routes)."""
        return {r.chat_id for r in self.config.routes if r.topics}

    def said(self, row: InboundRow) -> Consent | None:
        """Whether the SMS is an opt-out (or opt-in) keyword for its account."""
        cfg = self.config.account(row.account)
        return consent(row.text, cfg.optout_keywords, cfg.optin_keywords) if cfg else None

    async def language(self, chat_id: int) -> str:
        return await self.access.language(chat_id) or self.config.telegram.language

    async def render(self, item: OutboxItem) -> Rendered | None:
        """The chat message for an outbox row, and what it links to (None: nothing to post)."""
        kind = item.payload.get("kind")
        lang = await self.language(item.chat_id)
        if kind == "text":
            return Rendered(str(item.payload["text"]))
        if kind == "send":
            return await self._send_status(lang, item)
        row = await self.inbound.get(int(item.payload["inbound_id"]))
        if row is None:
            return None
        link = Link(item.chat_id, 0, row.account, row.line, row.sender, row.id, None)
        topics = item.chat_id in self.topic_chats
        thread = await self._topic(item.chat_id, row) if topics else None
        return Rendered(render.inbound_sms(lang, row, self.said(row)), link, thread)

    async def _send_status(self, lang: str, item: OutboxItem) -> Rendered | None:
        row = await self.sends.get(int(item.payload["send_id"]))
        if row is None or row.chat_message_id is None:
            return None
        reply_to = await self.sends.reply_to(row)
        names = await self.phonebook.names(render.shown_numbers(row, reply_to))
        text = render.send_status(lang, row, reply_to, names)
        covered = await self.outbox.updates_covered(item)
        return Rendered(text, edit=row.chat_message_id, covers=tuple(covered))

    async def _topic(self, chat_id: int, row: InboundRow) -> int | None:
        """The correspondent's own forum topic in this chat, created on their first SMS (named
        after them when the phonebook knows them)."""
        thread = await self.inbound.topic(chat_id, row.account, row.sender)
        if thread is None:
            title = render.topic_name(row.sender, row.name)
            try:
                topic = await self.bot.create_forum_topic(chat_id, title)
            except TelegramError as exc:  # not a forum (any more), or no right to manage topics
                log.warning("no topic for a correspondent in chat %s: %s", chat_id, exc)
                return None
            thread = topic.message_thread_id
        await self.inbound.set_topic(chat_id, row.account, row.sender, row.line, thread)
        return thread

    async def tell_admins(self, text: Callable[[str], str], *, skip: int | None = None) -> int:
        """A notice for every admin (from the config and from /users), each in their chat's
        language; returns how many were queued."""
        admins = set(self.config.access.admins)
        admins |= {u for u, role in await self.access.users() if role == "admin"}
        admins.discard(skip or 0)
        for chat_id in sorted(admins):
            notice = text(await self.language(chat_id))
            await self.outbox.enqueue(chat_id, {"kind": "text", "text": notice})
        self.wake()
        return len(admins)

    async def webhook_trouble(self, url: str, failing: bool, error: str) -> None:
        """A webhook receiver has kept failing (or answers again): the admins are told."""
        key = "webhook.failing" if failing else "webhook.recovered"
        await self.tell_admins(
            lambda lang: render.t(lang, key, url=render.esc(url), error=render.esc(error))
        )

    async def notify_dead(self, item: OutboxItem, reason: str) -> None:
        """An SMS Telegram will not take in its chat: the admins get it, with the reason, so that
        no SMS is left unseen. (Notices and edits that die tell nobody: no loops.)"""
        if item.payload.get("kind") != "inbound":
            return
        row = await self.inbound.get(int(item.payload["inbound_id"]))
        if row is None:
            return
        await self.tell_admins(
            lambda lang: render.t(
                lang,
                "outbox.dead",
                chat=render.ltr(str(item.chat_id)),
                reason=render.esc(reason[:200]),
                sms=render.inbound_sms(lang, row),
            ),
            skip=item.chat_id,
        )

    async def render_digest(self, items: Sequence[OutboxItem], limit: int = 4096) -> Digest | None:
        """As many of a chat's queued SMS (in order) as fit one message, each numbered so that
        a reply can pick it; None when fewer than two fit."""
        if not items or items[0].chat_id in self.topic_chats:
            return None  # in a chat of topics, each SMS goes to its correspondent's topic
        lang = await self.language(items[0].chat_id)
        run = []  # the leading inbound rows of one topic: plain texts and other topics go alone
        for item in items:
            if item.payload.get("kind") != "inbound" or item.thread_id != items[0].thread_id:
                break
            run.append(item)
        rows = await self.inbound.get_many([int(i.payload["inbound_id"]) for i in run])
        found = []  # the run up to its first row that is gone
        for item in run:
            row = rows.get(int(item.payload["inbound_id"]))
            if row is None:
                break
            found.append((item, row))
        # The title with the largest count it could show: its length bounds every shorter one.
        room = limit - len(render.digest_title(lang, len(found)))
        blocks: list[str] = []

        def rendered() -> Iterator[str]:  # only as far as fitting() reads: a few dozen of 200
            for n, (_item, row) in enumerate(found, 1):
                blocks.append(render.digest_item(lang, n, row, self.said(row)))
                yield blocks[-1]

        count = fitting(rendered(), room)
        if count < 2:
            return None
        taken = [item for item, _row in found[:count]]
        entries = [(n, row.id) for n, (_item, row) in enumerate(found[:count], 1)]
        blocks = blocks[:count]
        return Digest("\n\n".join([render.digest_title(lang, count), *blocks]), taken, entries)


def fitting(blocks: Iterable[str], room: int, separator: int = 2) -> int:
    """How many of ``blocks``, in order, fit in ``room`` characters, each after a separator
    (read no further than the first that does not)."""
    used = 0
    count = 0
    for block in blocks:
        used += separator + len(block)
        if used > room:
            break
        count += 1
    return count
