"""Unknown sends get resolved: the provider is asked again about each recipient that may have been
sent, at growing intervals for a day, and what it says is adopted (the outcome rule:
``providers/outcome.py``). Nothing is ever resent from here."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from providers.base import Capability, DeliveryReport, ProviderError, SmsProvider
from storage.sends import Recipient, SendsRepo, SendState

from .delivery import updates_for
from .sending import outcome, recipient_row, send_state, sms_of

log = logging.getLogger("smsbridge.unknowns")

# Seconds after the confirmation at which an unknown send is looked up again: soon (a provider
# may show a new message only after a while), then rarer, for a day.
SCHEDULE: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400)
OnChange = Callable[[list[int]], None]  # sends whose chat-message edits were queued


class UnknownResolver:
    def __init__(
        self,
        providers: Mapping[str, SmsProvider],
        repo: SendsRepo,
        on_change: OnChange,
        schedule: tuple[float, ...] = SCHEDULE,
    ) -> None:
        self.providers = providers
        self.repo = repo
        self.on_change = on_change
        self.schedule = schedule

    async def step(self, _worker: object = None) -> float:
        """Look up every unknown send that is due; returns seconds until the next one is."""
        now = time.time()
        wait = 60.0
        for send_id, confirmed, lookups in await self.repo.unknown(len(self.schedule)):
            start = datetime.fromisoformat(confirmed).timestamp()
            if start + self.schedule[lookups] > now:
                wait = min(wait, start + self.schedule[lookups] - now)
                continue
            await self.resolve(send_id)
            if lookups + 1 < len(self.schedule):
                wait = min(wait, start + self.schedule[lookups + 1] - time.time())
        return max(0.05, wait)

    async def resolve(self, send_id: int) -> bool:
        """Ask the provider about this send's unknown recipients once; True when any settled."""
        row = await self.repo.get(send_id)
        if row is None or row.state is not SendState.UNKNOWN:
            return False
        provider = self.providers.get(row.account)
        pending = [r for r in row.recipients if r.state == "unknown"]
        updates: dict[str, Recipient] = {}
        campaign: str | None = None
        if provider is not None:
            named = [r for r in pending if r.message_id]
            if named and Capability.DELIVERY in provider.capabilities:
                try:
                    reports: list[DeliveryReport] = await provider.deliveries(
                        [r.message_id or "" for r in named], row.campaign_id
                    )
                except ProviderError as exc:
                    log.info("send %s: the delivery look-up failed: %s", row.id, exc)
                    reports = []
                by_id = {r.message_id: r for r in named}
                for message_id, state, raw in updates_for(row, reports):
                    found = by_id.get(message_id)
                    if found is not None:
                        updates[found.number] = Recipient(found.number, message_id, state, raw)
            nameless = {r.number: r for r in pending if not r.message_id}
            if nameless and Capability.FIND_SENT in provider.capabilities:
                since = datetime.fromisoformat(row.confirmed_at or row.created_at)
                try:
                    result = await provider.find_sent(sms_of(row), since)
                except ProviderError as exc:  # asked again at the next time of the schedule
                    log.info("send %s: the look-up failed: %s", row.id, exc)
                    result = None
                for item in result.items if result is not None else ():
                    before = nameless.get(item.number)
                    if before is None:
                        continue
                    stored = recipient_row(item)
                    if stored.state == "unknown":  # not in the provider's records (yet)
                        stored = Recipient(item.number, None, "unknown", item.error, before.error)
                    updates[item.number] = stored
                campaign = result.campaign_id if result is not None else None
        settled = {n: u for n, u in updates.items() if u.state != "unknown"}
        after = [updates.get(r.number, r) for r in row.recipients]
        state = send_state(outcome(r) for r in after)
        await self.repo.settle(
            row.id, state, updates.values(), campaign if settled else None, announce=bool(settled)
        )
        if not settled:
            return False
        log.info(
            "send %s: the provider settled %d unknown recipient(s)",
            row.id,
            len(settled),
            extra={"send_id": row.id, "account": row.account},
        )
        self.on_change([row.id])
        return True
