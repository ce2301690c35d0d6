"""SMS events out to other systems (docs/webhooks.md): each ``[[webhooks]]`` endpoint reads the
event log (storage/events.py) in order from its place and gets each event it asked for as a
signed JSON POST. Its place moves only after a 2xx, so a receiver that is down gets everything
later, in order; a bridge killed between the 2xx and the move sends that event again, with the
same id. A failure is retried by the endpoint's worker, waiting longer each time (with jitter,
up to five minutes) for as long as it takes; /healthz, /metrics and the admins hear of a receiver
that keeps failing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx

from providers._http import tls
from storage.events import Event, EventsRepo

from .config import WebhookConfig

log = logging.getLogger("smsbridge.webhooks")
VERSION = 1
BATCH = 100
IDLE = 1.0  # seconds between looks at the log when nothing is waiting
ALERT_AFTER = 300.0  # seconds of failure before the admins are told
TIMEOUT = 10.0


class DeliveryFailed(Exception):
    """The receiver did not take an event: the worker waits and tries it again."""


def envelope(event: Event) -> dict[str, Any]:
    """The JSON body of an event (its schema is versioned: ``version``)."""
    return {
        "version": VERSION,
        "id": event.id,
        "type": event.type,
        "time": event.at,
        "account": event.account,
        "line": event.line,
        "data": event.data,
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``X-Smsbridge-Signature``: HMAC-SHA256 of ``<timestamp>.<body>`` under the secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def wanted(hook: WebhookConfig, event: Event) -> bool:
    """Whether the endpoint asked for this event (type, account and line filters)."""
    if event.type not in hook.events:
        return False
    if hook.accounts and event.account not in hook.accounts:
        return False
    return not hook.lines or event.line in hook.lines


class Endpoint:
    """One receiver: its worker's step delivers what is waiting, in order."""

    def __init__(
        self,
        hook: WebhookConfig,
        repo: EventsRepo,
        tell_admins: Callable[[str, bool, str], Awaitable[None]],
    ) -> None:
        self.hook = hook
        self.repo = repo
        self.tell_admins = tell_admins  # (url, failing, last error)
        self.http = httpx.AsyncClient(timeout=TIMEOUT, proxy=hook.proxy or None, verify=tls())
        self.alerted = False

    async def step(self, _worker: object = None) -> float:
        """Deliver the waiting events in order; raise ``DeliveryFailed`` at the first the
        receiver refuses (its place stays there). Returns the wait before the next look."""
        cursor = await self.repo.cursor(self.hook.url)
        events = await self.repo.after(cursor.last_id, BATCH)
        for event in events:
            if wanted(self.hook, event):
                try:
                    await self._post(event)
                except DeliveryFailed as exc:
                    now = await self.repo.failed(self.hook.url, str(exc))
                    await self._maybe_alert(now.failing_since, str(exc))
                    raise
            await self.repo.delivered(self.hook.url, event.id)
        if cursor.failures and self.alerted:
            self.alerted = False
            await self.tell_admins(self.hook.url, False, "")
        return 0.0 if len(events) == BATCH else IDLE

    async def _post(self, event: Event) -> None:
        body = json.dumps(envelope(event), ensure_ascii=False, separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Smsbridge-Event-Id": str(event.id),
            "X-Smsbridge-Timestamp": stamp,
            "X-Smsbridge-Signature": sign(self.hook.secret.get_secret_value(), stamp, body),
        }
        try:
            response = await self.http.post(self.hook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"event {event.id}: {type(exc).__name__}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"event {event.id}: HTTP {response.status_code}")

    async def _maybe_alert(self, failing_since: str | None, error: str) -> None:
        """Once an outage has lasted ``ALERT_AFTER``, the admins hear of it (once)."""
        if self.alerted or failing_since is None:
            return
        if time.time() - datetime.fromisoformat(failing_since).timestamp() >= ALERT_AFTER:
            self.alerted = True
            await self.tell_admins(self.hook.url, True, error)

    async def aclose(self) -> None:
        await self.http.aclose()
