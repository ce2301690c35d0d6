"""Inbound SMS → chats: the routes from a line to its chats (config and /route), and storing
each SMS with its outbox rows in one commit, however it arrived (poll, relay, reconciliation)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from providers.base import InboundSms
from storage.inbound import InboundRepo, InboundRow, NewInbound

from .config import Config
from .metrics import Metrics
from .optouts import consent

log = logging.getLogger("smsbridge.bridge")


Route = tuple[str, str, int]  # (account, line or "" for every line, chat)


class Bridge:
    def __init__(
        self,
        config: Config,
        inbound: InboundRepo,
        wake: Callable[[], None],
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.inbound = inbound
        self.wake = wake  # the outbox: something was queued for Telegram
        self.metrics = metrics
        self._db_routes: list[Route] = []

    async def load_routes(self) -> None:
        self._db_routes = await self.inbound.routes()

    def routes(self) -> list[Route]:
        """Every route: the config's, then those set from chat with /route."""
        return [(r.account, r.line or "", r.chat_id) for r in self.config.routes] + self._db_routes

    async def set_route(self, account: str, line: str, chat_id: int, on: bool) -> None:
        """/route: send ``line``'s SMS (every line's, for "") to ``chat_id``, or stop; at once."""
        await self.inbound.set_route(account, line, chat_id, on)
        await self.load_routes()

    async def recent(self, chat_id: int, limit: int) -> list[InboundRow]:
        """/inbox: the latest SMS shown in this chat, newest first."""
        return await self.inbound.recent_for_chat(chat_id, limit)

    def chats_for(self, account: str, line: str | None) -> list[int]:
        """Chats routed for an SMS to ``line`` (None: the provider did not say which line)."""
        cfg = self.config.account(account)
        only_line = cfg.lines[0] if cfg is not None and len(cfg.lines) == 1 else None
        chats: list[int] = []
        for route_account, route_line, chat_id in self.routes():
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
        *,
        wake: bool = True,
    ) -> list[int]:
        """Commit new SMS and their outbox rows; returns the ids that were new. ``wake``: let the
        outbox post them now (a poll first learns their lines)."""
        cfg = self.config.account(account)
        keywords = (cfg.optout_keywords, cfg.optin_keywords) if cfg is not None else ((), ())
        rows = [
            NewInbound(
                m.provider_id,
                m.sender,
                m.text,
                m.received_at.isoformat(),
                m.line,
                consent(m.text, *keywords),  # the opt-out is stored with the SMS, in one commit
            )
            for m in messages
        ]
        new = await self.inbound.store(
            account, rows, source, lambda line: self.chats_for(account, line), cursor
        )
        if new:
            log.info(
                "%d new SMS for %s (%s)",
                len(new),
                account,
                source,
                extra={"account": account, "sms_id": new[0] if len(new) == 1 else None},
            )
            if self.metrics is not None:
                self.metrics.inbound_count(account, source).inc(len(new))
            if wake:
                self.wake()
        return new
