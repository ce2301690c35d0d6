"""Low-credit alerts: the admins hear once when an account's credit falls below its
``low_credit_alert``, and again only after it has risen above and fallen again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from providers.base import Capability, ProviderError, SmsProvider
from storage.access import AccessRepo
from storage.inbound import InboundRepo, OutboxRepo

from . import render
from .config import Config

log = logging.getLogger("smsbridge.alerts")
FLAG = "low_credit"  # a cursor row per account: "1" while the alert stands


class CreditWatch:
    def __init__(
        self,
        config: Config,
        providers: Mapping[str, SmsProvider],
        access: AccessRepo,
        inbound: InboundRepo,
        outbox: OutboxRepo,
    ) -> None:
        self.config, self.providers = config, providers
        self.access, self.inbound, self.outbox = access, inbound, outbox
        self.wake: asyncio.Event | None = None  # set after a send: check soon
        self.queued: Callable[[], None] = lambda: None  # wakes the outbox

    def soon(self) -> None:
        """A send may have used credit: check without waiting for the next round."""
        if self.wake is not None:
            self.wake.set()

    def watched(self) -> list[str]:
        return [a.name for a in self.config.accounts
                if a.low_credit_alert > 0
                and Capability.BALANCE in self.providers[a.name].capabilities]  # fmt: skip

    async def check(self, account: str) -> bool:
        """Look at the credit now; True when an alert was queued."""
        cfg = self.config.account(account)
        if cfg is None or cfg.low_credit_alert <= 0:
            return False
        balance = await self.providers[account].balance()
        low = balance.credit < cfg.low_credit_alert
        standing = await self.inbound.cursor(account, FLAG) == "1"
        if low == standing:
            return False
        await self.inbound.set_cursor(account, FLAG, "1" if low else "0")
        if not low:
            log.info("%s: credit back above the alert threshold", account)
            return False
        currency = cfg.currency or balance.currency
        admins = set(self.config.access.admins)
        admins |= {u for u, role in await self.access.users() if role == "admin"}
        for chat_id in sorted(admins):
            lang = await self.access.language(chat_id) or self.config.telegram.language
            text = render.t(lang, "low_credit", account=render.esc(account),
                            credit=render.money(lang, balance.credit, currency),
                            threshold=render.money(lang, cfg.low_credit_alert, currency))  # fmt: skip
            await self.outbox.enqueue(chat_id, {"kind": "text", "text": text})
        self.queued()
        log.warning("%s: credit %s below %s, %d admin(s) told", account, balance.credit,
                    cfg.low_credit_alert, len(admins))  # fmt: skip
        return True

    async def run(self, interval: float = 600.0) -> None:
        """Every ``interval`` seconds, and soon after each send."""
        self.wake = asyncio.Event()
        while True:
            for account in self.watched():
                try:
                    await self.check(account)
                except ProviderError as exc:
                    log.info("credit check of %s failed: %s", account, exc)
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), interval)
