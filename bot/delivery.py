"""Live delivery: each send is followed with the provider's delivery lookup, with backoff, until
every recipient is final or the follow-up times out; every change is shown in the send's message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from providers.base import Capability, DeliveryReport, ProviderError, SmsProvider
from storage.sends import SendRow, SendsRepo

log = logging.getLogger("smsbridge.delivery")
FINAL = ("delivered", "failed")
OnChange = Callable[[SendRow], Awaitable[None]]


def updates_for(row: SendRow, reports: Sequence[DeliveryReport]) -> list[tuple[str, str, str]]:
    """(message id, state, raw) per report of this send, matched by message id, else by number
    (sms.ir reports per number of a batch)."""
    by_id = {r.message_id: r for r in row.recipients if r.message_id}
    by_number = {r.number: r for r in row.recipients if r.message_id}
    found: list[tuple[str, str, str]] = []
    for report in reports:
        recipient = by_id.get(report.message_id) or by_number.get(report.number or "")
        if recipient is not None and recipient.message_id:
            found.append((recipient.message_id, report.state.value, report.raw))
    return found


class DeliveryTracker:
    def __init__(
        self,
        providers: Mapping[str, SmsProvider],
        repo: SendsRepo,
        *,
        first_check: float = 1.0,
        longest_wait: float = 60.0,
        give_up_after: float = 6 * 3600.0,
    ) -> None:
        self.providers = providers
        self.repo = repo
        self.on_change: OnChange | None = None
        self.first_check = first_check
        self.longest_wait = longest_wait
        self.give_up_after = give_up_after
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def track(self, send_id: int) -> None:
        if send_id not in self._tasks:
            task = asyncio.create_task(self._follow(send_id), name=f"delivery:{send_id}")
            self._tasks[send_id] = task
            task.add_done_callback(lambda _t: self._tasks.pop(send_id, None))

    async def resume(self) -> int:
        """After a restart: follow again every recent send that still has pending recipients."""
        since = datetime.now(UTC) - timedelta(seconds=self.give_up_after)
        ids = await self.repo.awaiting_delivery(since.isoformat(timespec="seconds"))
        for send_id in ids:
            self.track(send_id)
        return len(ids)

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _follow(self, send_id: int) -> None:
        deadline = time.monotonic() + self.give_up_after
        wait = self.first_check
        while time.monotonic() < deadline:
            await asyncio.sleep(wait)
            wait = min(self.longest_wait, wait * 2)
            row = await self.repo.get(send_id)
            if row is None:
                return
            provider = self.providers.get(row.account)
            if provider is None or Capability.DELIVERY not in provider.capabilities:
                return
            pending = [r for r in row.recipients if r.message_id and r.state not in FINAL]
            if not pending:
                return
            try:
                reports = await provider.deliveries(
                    [r.message_id or "" for r in pending], row.campaign_id
                )
            except ProviderError as exc:
                log.warning("delivery of send %s: %s", send_id, exc)
                continue
            if await self.repo.update_delivery(row.account, updates_for(row, reports)):
                changed = await self.repo.get(send_id)
                if changed is not None and self.on_change is not None:
                    await self.on_change(changed)
