"""Inbound SMS → chats (through the outbox), and the polling loops that fetch them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from telegram import Bot
from telegram.error import BadRequest

from providers.base import Capability, InboundSms, NotSupported, ProviderError, SmsProvider
from providers.timeutil import now_tehran, utc_now
from storage.access import AccessRepo
from storage.inbound import InboundRepo, InboundRow, Link, NewInbound, OutboxItem

from . import render
from .config import Config
from .metrics import Metrics
from .outbox import Digest, Outbox, Rendered

log = logging.getLogger("smsbridge.bridge")
CURSOR = "inbound"
BACKFILL = timedelta(hours=1)  # on the very first poll of a cursor, older SMS are not forwarded
RECONCILE_WINDOW = timedelta(hours=1)


class Bridge:
    def __init__(
        self,
        config: Config,
        providers: Mapping[str, SmsProvider],
        inbound: InboundRepo,
        access: AccessRepo,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.providers = providers
        self.inbound = inbound
        self.access = access
        self.metrics = metrics
        self.outbox: Outbox | None = None
        self.bot: Bot | None = None  # creates forum topics; set once the bot exists
        self.topic_chats = {r.chat_id for r in config.routes if r.topics}
        self.reconcile_every = 300.0  # seconds between reconciliations of hand-out-once inboxes
        self._db_routes: list[tuple[str, str, int]] = []
        self.pollers_alive: dict[str, bool] = {}

    async def load_routes(self) -> None:
        self._db_routes = await self.inbound.routes()

    def chats_for(self, account: str, line: str | None) -> list[int]:
        """Chats routed for an SMS to ``line`` (None: the provider did not say which line)."""
        cfg = self.config.account(account)
        only_line = cfg.lines[0] if cfg is not None and len(cfg.lines) == 1 else None
        routes = [(r.account, r.line or "", r.chat_id) for r in self.config.routes]
        routes += self._db_routes
        chats: list[int] = []
        for route_account, route_line, chat_id in routes:
            if route_account != account or chat_id in chats:
                continue
            if (
                not route_line
                or (line is not None and route_line.lower() == line.lower())
                or (line is None and only_line is not None and route_line == only_line)
            ):
                chats.append(chat_id)
        return chats

    async def ingest(
        self,
        account: str,
        messages: Sequence[InboundSms],
        source: str,
        cursor: tuple[str, str] | None = None,
    ) -> list[int]:
        """Commit new SMS and their outbox rows; returns the ids that were new."""
        rows = [
            NewInbound(m.provider_id, m.sender, m.text, m.received_at.isoformat(), m.line)
            for m in messages
        ]
        new = await self.inbound.store(
            account, rows, source, lambda line: self.chats_for(account, line), cursor
        )
        if new:
            log.info("%d new SMS for %s (%s)", len(new), account, source)
            if self.metrics is not None:
                self.metrics.inbound.inc(len(new), account=account, source=source)
            if self.outbox is not None:
                self.outbox.wake()
        return new

    async def render(self, item: OutboxItem) -> Rendered | None:
        """The chat message for an outbox row, in the chat's language, and what it links to."""
        lang = await self.access.language(item.chat_id) or self.config.telegram.language
        if item.payload.get("kind") == "text":
            return Rendered(str(item.payload["text"]))
        row = await self.inbound.get(int(item.payload["inbound_id"]))
        if row is None:
            return None
        jalali, gregorian = render.when(lang, datetime.fromisoformat(row.received_at))
        text = render.t(
            lang, "inbound", sender=render.phone(lang, row.sender),
            line=render.ltr(render.esc(row.line or "—")), account=render.esc(row.account),
            jalali=jalali, gregorian=gregorian, text=render.esc(row.text),
        )  # fmt: skip
        link = Link(item.chat_id, 0, row.account, row.line, row.sender, row.id, None)
        thread = await self._topic(item.chat_id, row) if item.chat_id in self.topic_chats else None
        return Rendered(text, link, thread)

    async def _topic(self, chat_id: int, row: InboundRow) -> int | None:
        """The correspondent's own forum topic in this chat, created on their first SMS."""
        thread = await self.inbound.topic(chat_id, row.account, row.sender)
        if thread is None and self.bot is not None:
            try:
                topic = await self.bot.create_forum_topic(chat_id, render.local_form(row.sender))
            except BadRequest as exc:  # not a forum (any more), or no right to manage topics
                log.warning("no topic for %s in chat %s: %s", row.sender, chat_id, exc.message)
                return None
            thread = topic.message_thread_id
        if thread is not None:
            await self.inbound.set_topic(chat_id, row.account, row.sender, row.line, thread)
        return thread

    async def render_digest(self, items: Sequence[OutboxItem], limit: int = 4096) -> Digest | None:
        """As many of a chat's queued SMS (in order) as fit one message, each numbered so that
        a reply can pick it; None when fewer than two fit."""
        if not items or items[0].chat_id in self.topic_chats:
            return None  # in a chat of topics, each SMS goes to its correspondent's topic
        lang = await self.access.language(items[0].chat_id) or self.config.telegram.language
        run = []  # the leading inbound rows of one topic: plain texts and other topics go alone
        for item in items:
            if item.payload.get("kind") != "inbound" or item.thread_id != items[0].thread_id:
                break
            run.append(item)
        rows = await self.inbound.get_many([int(i.payload["inbound_id"]) for i in run])
        # The title with the largest count it could show: its length bounds every shorter one.
        size = len(render.t(lang, "digest.title", count=render.number(lang, len(run)),
                            example=f"#{render.digits(lang, '1')}"))  # fmt: skip
        blocks: list[str] = []
        taken: list[OutboxItem] = []
        entries: list[tuple[int, int]] = []
        for item in run:
            row = rows.get(int(item.payload["inbound_id"]))
            if row is None:
                break
            number = len(entries) + 1
            block = render.t(
                lang, "digest.item", number=f"#{render.digits(lang, str(number))}",
                sender=render.phone(lang, row.sender), line=render.ltr(render.esc(row.line or "—")),
                account=render.esc(row.account),
                time=render.when(lang, datetime.fromisoformat(row.received_at))[0],
                text=render.esc(row.text),
            )  # fmt: skip
            size += len(block) + 2
            if size > limit:
                break
            blocks.append(block)
            taken.append(item)
            entries.append((number, row.id))
        if len(taken) < 2:
            return None
        title = render.t(lang, "digest.title", count=render.number(lang, len(taken)),
                         example=f"#{render.digits(lang, '1')}")  # fmt: skip
        return Digest("\n\n".join([title, *blocks]), taken, entries)

    async def poll_once(self, account: str) -> int:
        """Fetch until the provider has nothing more; each page and its cursor in one commit.
        Returns how many SMS were fetched."""
        provider = self.providers[account]
        stored = await self.inbound.cursor(account, CURSOR)
        first_run = stored is None
        fetched = 0
        while True:
            page = await provider.fetch_inbound(stored)
            messages = page.messages
            if first_run and page.cursor is not None:
                # A cursor starts at the provider's whole history: only recent SMS are news.
                cutoff = utc_now() - BACKFILL
                messages = tuple(m for m in messages if m.received_at >= cutoff)
                if len(messages) < len(page.messages):
                    log.info(
                        "%s: first poll skipped %d SMS older than %s",
                        account, len(page.messages) - len(messages), BACKFILL,
                    )  # fmt: skip
            if messages or (page.cursor is not None and page.cursor != stored):
                cursor = (CURSOR, page.cursor) if page.cursor is not None else None
                await self.ingest(account, messages, "poll", cursor)
            fetched += len(messages)
            stored = page.cursor if page.cursor is not None else stored
            if not page.more:
                return fetched

    async def poll_forever(self, account: str) -> None:
        """Poll every ``poll_interval`` seconds; after failures, back off up to five minutes."""
        cfg = self.config.account(account)
        provider = self.providers[account]
        interval = getattr(cfg, "poll_interval", 0) or 0
        if not interval or Capability.INBOUND_POLL not in provider.capabilities:
            return
        failures = 0
        self.pollers_alive[account] = True
        try:
            while True:
                try:
                    await self.poll_once(account)
                    failures = 0
                except ProviderError as exc:
                    failures += 1
                    log.warning("polling %s failed (%d in a row): %s", account, failures, exc)
                await asyncio.sleep(min(300.0, interval * 2 ** min(failures, 5)))
        finally:
            self.pollers_alive[account] = False

    async def reconcile_once(self, account: str) -> int:
        """Ask for every SMS of the last hour, per line, and store what is missing: an SMS handed
        out by a hand-out-once inbox (or pushed to a relay) and lost before its commit comes back
        here. The answer also names the receiving line, which fills in a line left unknown."""
        provider = self.providers[account]
        cfg = self.config.account(account)
        end = now_tehran()
        found: list[InboundSms] = []
        for line in cfg.lines if cfg is not None and cfg.lines else [None]:
            found += await provider.inbound_between(end - RECONCILE_WINDOW, end, line)
        new = await self.ingest(account, found, "reconcile")
        await self.inbound.fill_lines(account, [(m.provider_id, m.line) for m in found if m.line])
        if new:
            log.warning("reconciliation of %s recovered %d SMS", account, len(new))
        return len(new)

    async def reconcile_forever(self, account: str) -> None:
        """At start (a crash may have lost a hand-out), then every ``reconcile_every`` seconds."""
        while True:
            try:
                await self.reconcile_once(account)
            except NotSupported:
                return  # this provider's inbox is not hand-out-once: nothing to reconcile
            except ProviderError as exc:
                log.warning("reconciliation of %s failed: %s", account, exc)
            await asyncio.sleep(self.reconcile_every)
