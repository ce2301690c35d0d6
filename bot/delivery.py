"""Live delivery: each send is followed with the provider's delivery lookup, with backoff, until
every recipient is final or the follow-up times out; every change is shown in the send's message."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from providers.base import Capability, DeliveryReport, SmsProvider
from storage.sends import SendRow, SendsRepo

log = logging.getLogger("smsbridge.delivery")
FINAL = ("delivered", "failed")
OnChange = Callable[[list[int]], None]  # sends whose chat-message edits were queued


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
    """Follows sends with pending recipients, each at its own growing interval, in one worker."""

    def __init__(
        self,
        providers: Mapping[str, SmsProvider],
        repo: SendsRepo,
        on_change: OnChange = lambda send_ids: None,
        wake: Callable[[], None] = lambda: None,
        *,
        first_check: float = 1.0,
        longest_wait: float = 60.0,
        give_up_after: float = 6 * 3600.0,
    ) -> None:
        self.providers = providers
        self.repo = repo
        self.on_change = on_change  # sends whose chat-message edits were queued
        self.wake = wake  # the worker: a send to follow was added
        self.first_check = first_check
        self.longest_wait = longest_wait
        self.give_up_after = give_up_after
        self._due: dict[int, tuple[float, float, float]] = {}  # send → (next check, wait, deadline)

    def track(self, send_id: int) -> None:
        if send_id not in self._due:
            now = time.monotonic()
            self._due[send_id] = (
                now + self.first_check,
                self.first_check,
                now + self.give_up_after,
            )
            self.wake()

    async def resume(self) -> int:
        """After a restart: follow again every recent send that still has pending recipients."""
        since = datetime.now(UTC) - timedelta(seconds=self.give_up_after)
        ids = await self.repo.awaiting_delivery(since.isoformat(timespec="seconds"))
        for send_id in ids:
            self.track(send_id)
        return len(ids)

    async def step(self, _worker: object = None) -> float:
        """Check every send that is due (together); returns seconds until the next one is."""
        now = time.monotonic()
        due = [s for s, (at, _w, _d) in self._due.items() if at <= now]
        results = await asyncio.gather(*(self._check(s) for s in due), return_exceptions=True)
        failures = []
        for send_id, result in zip(due, results, strict=True):
            _at, wait, deadline = self._due[send_id]
            if isinstance(result, BaseException):
                failures.append(result)
            if result is True or time.monotonic() >= deadline:
                del self._due[send_id]  # every recipient final, or followed long enough
                continue
            wait = min(self.longest_wait, wait * 2)
            self._due[send_id] = (time.monotonic() + wait, wait, deadline)
        if failures:
            raise failures[0]  # the worker logs it and backs off; the sends stay followed
        upcoming = [at for at, _w, _d in self._due.values()]
        return max(0.05, min(upcoming) - time.monotonic()) if upcoming else 60.0

    async def _check(self, send_id: int) -> bool:
        """One look at a send's pending recipients; True when there is nothing more to follow."""
        row = await self.repo.get(send_id)
        if row is None:
            return True
        provider = self.providers.get(row.account)
        if provider is None or Capability.DELIVERY not in provider.capabilities:
            return True
        pending = [r for r in row.recipients if r.message_id and r.state not in FINAL]
        if not pending:
            return row.state != "unknown"  # an unknown send may yet gain accepted recipients
        reports = await provider.deliveries([r.message_id or "" for r in pending], row.campaign_id)
        changed = await self.repo.update_delivery(row.account, updates_for(row, reports))
        if changed:
            self.on_change(changed)
        return False
