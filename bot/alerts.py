"""The credit watch: every account's credit is read now and then (and soon after each send) for
``/metrics``; the admins hear once when an account's credit falls below its ``low_credit_alert``,
and again only after it has risen above and fallen again."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from providers.base import Capability, ProviderError, SmsProvider
from storage.alerts import AlertsRepo

from . import render
from .config import Config
from .metrics import Metrics

log = logging.getLogger("smsbridge.alerts")
# Queues a notice for every admin, each in their chat's language: (lang → text) → how many.
TellAdmins = Callable[[Callable[[str], str]], Awaitable[int]]


class CreditWatch:
    def __init__(
        self,
        config: Config,
        providers: Mapping[str, SmsProvider],
        alerts: AlertsRepo,
        tell_admins: TellAdmins,
        interval: float = 600.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.config, self.providers = config, providers
        self.alerts, self.tell_admins = alerts, tell_admins
        self.interval = interval
        self.metrics = metrics
        self._due: set[str] = set()  # accounts that sent since their credit was last read
        self._next_full = 0.0  # monotonic time of the next pass over every account

    def watched(self) -> list[str]:
        return [
            a.name
            for a in self.config.accounts
            if Capability.BALANCE in self.providers[a.name].capabilities
        ]

    async def check(self, account: str) -> bool:
        """Look at the credit now; True when an alert was queued."""
        cfg = self.config.account(account)
        if cfg is None:
            return False
        balance = await self.providers[account].balance()
        if self.metrics is not None:
            self.metrics.balance(account, balance.credit, cfg.low_credit_alert, balance.expires)
        if cfg.low_credit_alert <= 0:
            return False
        low = balance.credit < cfg.low_credit_alert
        if low == await self.alerts.low_credit(account):
            return False
        await self.alerts.set_low_credit(account, low)
        if not low:
            log.info("%s: credit back above the alert threshold", account)
            return False
        currency = cfg.currency or balance.currency
        told = await self.tell_admins(
            lambda lang: render.t(
                lang,
                "low_credit",
                account=render.esc(account),
                credit=render.money(lang, balance.credit, currency),
                threshold=render.money(lang, cfg.low_credit_alert, currency),
            )
        )
        log.warning(
            "%s: credit %s below %s, %d admin(s) told",
            account,
            balance.credit,
            cfg.low_credit_alert,
            told,
        )
        return True

    def after_send(self, account: str) -> None:
        """An account just sent: read its credit on the next pass (the caller wakes it)."""
        self._due.add(account)

    async def step(self, _worker: object = None) -> float | None:
        """Every account's credit every ``interval`` seconds, and an account's own soon after it
        sends — not every account's after any send (None: no account can tell its credit)."""
        watched = self.watched()
        if not watched:
            return None
        now = time.monotonic()
        if now >= self._next_full:
            accounts, self._next_full = watched, now + self.interval
        else:
            accounts = [a for a in watched if a in self._due]
        self._due.clear()
        for account in accounts:
            try:
                await self.check(account)
            except ProviderError as exc:  # one provider's trouble must not hide the others
                log.info("credit check of %s failed: %s", account, exc)
        return max(0.0, self._next_full - time.monotonic())
