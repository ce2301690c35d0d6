"""Fetching inbound SMS from the providers that are polled: each account's poll (a page and its
cursor stored in one commit; a hand-out-once page kept until it is stored), the reconciliation
that recovers what a hand-out-once inbox handed out and was lost, and the receiving lines a
provider leaves out (learned from its per-line listing)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from providers.base import (
    Capability,
    InboundPage,
    InboundSms,
    NotSupported,
    ProviderError,
    SmsProvider,
)
from providers.timeutil import now_tehran, utc_now
from storage.inbound import InboundRepo, InboundRow

from .bridge import Bridge
from .config import Config

log = logging.getLogger("smsbridge.polling")
CURSOR = "inbound"
BACKFILL = timedelta(hours=1)  # on the very first poll of a cursor, older SMS are not forwarded
RECONCILE_WINDOW = timedelta(hours=1)
LINE_SLACK = timedelta(minutes=2)  # around an SMS's time, where its line's listing must show it


class Polling:
    def __init__(
        self,
        config: Config,
        providers: Mapping[str, SmsProvider],
        inbound: InboundRepo,
        bridge: Bridge,
        reconcile_every: float = 300.0,
    ) -> None:
        self.config = config
        self.providers = providers
        self.inbound = inbound
        self.bridge = bridge
        self.reconcile_every = reconcile_every  # seconds between reconciliations
        self._unsaved: dict[str, InboundPage] = {}  # per account: a page handed out, not stored

    async def poll_once(self, account: str) -> int:
        """Fetch until the provider has nothing more; each page and its cursor in one commit.
        A page whose commit fails is kept and stored before anything else is fetched (a
        hand-out-once inbox will not hand it out again). Returns how many SMS were fetched."""
        provider = self.providers[account]
        stored = await self.inbound.cursor(account, CURSOR)
        first_run = stored is None
        fetched = 0
        while True:
            page = self._unsaved.pop(account, None) or await provider.fetch_inbound(stored)
            messages = page.messages
            if first_run and page.cursor is not None:
                # A cursor starts at the provider's whole history: only recent SMS are news.
                cutoff = utc_now() - BACKFILL
                messages = tuple(m for m in messages if m.received_at >= cutoff)
                if len(messages) < len(page.messages):
                    log.info(
                        "%s: first poll skipped %d SMS older than %s",
                        account,
                        len(page.messages) - len(messages),
                        BACKFILL,
                    )
            if messages or (page.cursor is not None and page.cursor != stored):
                cursor = (CURSOR, page.cursor) if page.cursor is not None else None
                try:
                    new = await self.bridge.ingest(account, messages, "poll", cursor, wake=False)
                except BaseException:
                    self._unsaved[account] = page
                    raise
                if new:
                    await self.learn_lines(account, [m for m in messages if m.line is None])
                    self.bridge.wake()
            fetched += len(messages)
            stored = page.cursor if page.cursor is not None else stored
            if not page.more:
                return fetched

    async def poll_step(self, account: str) -> float | None:
        """One poll, then ``poll_interval`` seconds (None: this account is not polled)."""
        cfg = self.config.account(account)
        interval = float(getattr(cfg, "poll_interval", 0) or 0)
        if not interval or Capability.INBOUND_POLL not in self.providers[account].capabilities:
            return None
        await self.poll_once(account)
        return interval

    async def learn_lines(self, account: str, messages: Sequence[InboundSms]) -> None:
        """The receiving line of SMS whose provider did not give it (AmootSMS
        ``RecieveNewMessages``), from the per-line listing around their time. Best effort: an SMS
        whose line stays unknown is still forwarded, and a reply asks again."""
        cfg = self.config.account(account)
        lines = list(cfg.lines) if cfg is not None else []
        if not messages or not lines:
            return
        found: dict[str, str] = {}
        if len(lines) == 1:
            found = {m.provider_id: lines[0] for m in messages}
        else:
            start = min(m.received_at for m in messages) - LINE_SLACK
            end = max(m.received_at for m in messages) + LINE_SLACK
            wanted = {m.provider_id for m in messages}
            try:
                for line in lines:
                    for sms in await self.providers[account].inbound_between(start, end, line):
                        if sms.provider_id in wanted:
                            found.setdefault(sms.provider_id, line)
                    if len(found) == len(wanted):
                        break
            except ProviderError as exc:
                log.info(
                    "%s: the receiving lines of %d SMS stay unknown: %s",
                    account,
                    len(wanted) - len(found),
                    exc,
                )
        await self.inbound.fill_lines(account, list(found.items()))

    async def reply_line(self, row: InboundRow) -> tuple[str | None, bool]:
        """The line to answer an SMS from, and whether it is the line the SMS came to: learned
        now when the provider did not say; failing that, a line that can receive answers (the
        shared ``public`` line cannot), so the customer can write back."""
        if row.line:
            return row.line, True
        received = datetime.fromisoformat(row.received_at)
        await self.learn_lines(
            row.account, [InboundSms(row.provider_id, row.sender, row.text, received)]
        )
        fresh = await self.inbound.get(row.id)
        if fresh is not None and fresh.line:
            return fresh.line, True
        cfg = self.config.account(row.account)
        receiving = [ln for ln in cfg.lines if ln.lower() != "public"] if cfg is not None else []
        return (receiving[0] if receiving else None), False

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
        new = await self.bridge.ingest(account, found, "reconcile")
        await self.inbound.fill_lines(account, [(m.provider_id, m.line) for m in found if m.line])
        if new:
            log.warning("reconciliation of %s recovered %d SMS", account, len(new))
        return len(new)

    async def reconcile_step(self, account: str) -> float | None:
        """At start (a crash may have lost a hand-out), then every ``reconcile_every`` seconds;
        None for a provider whose inbox is not hand-out-once (nothing to reconcile)."""
        try:
            await self.reconcile_once(account)
        except NotSupported:
            return None
        return self.reconcile_every
