"""Low-credit alerts: the admins hear once when an account's credit falls below its
``low_credit_alert``, and again only after it has risen above and fallen again."""

from __future__ import annotations

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
        interval: float = 600.0,
    ) -> None:
        self.config, self.providers = config, providers
        self.access, self.inbound, self.outbox = access, inbound, outbox
        self.soon: Callable[[], None] = lambda: None  # a send may have used credit: check now
        self.queued: Callable[[], None] = lambda: None  # wakes the outbox
        self.interval = interval

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

    async def step(self, _worker: object = None) -> float | None:
        """Every account's credit, every ``interval`` seconds and soon after each send (None:
        no account has an alert)."""
        watched = self.watched()
        if not watched:
            return None
        for account in watched:
            try:
                await self.check(account)
            except ProviderError as exc:  # one provider's trouble must not hide the others
                log.info("credit check of %s failed: %s", account, exc)
        return self.interval
