"""``/metrics``: the figures of docs/spec.md §7 and those operators alert on, through
``prometheus_client`` (its registry, its exposition, its process and Python collectors).

Counters and the histogram are updated where things happen; the gauges that describe stored
state (the outbox, unknown sends) or other parts (workers, credit, tokens) are read when
``/metrics`` is asked (``refresh``). Alert rules on these names: deploy/prometheus/alerts.yml.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class State:
    """What ``/metrics`` reads from storage and from the running parts at each scrape."""

    outbox_depth: int
    outbox_oldest: float | None  # unix time of the oldest waiting message
    outbox_dead: int
    unknown_sends: int
    workers: Mapping[str, tuple[float, float]]  # name → (last success, unix time; interval)
    tokens: Mapping[str, datetime | None]  # account → when its session token expires
    webhooks: Mapping[str, int] = field(default_factory=dict)  # endpoint url → events waiting


class Metrics:
    """Every figure the bridge exposes, in a registry of its own (one per running bridge)."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        self.inbound = Counter(
            "smsbridge_inbound_sms",
            "Inbound SMS stored, by source (poll, relay).",
            ["account", "source"],
            registry=registry,
        )
        self._inbound: dict[tuple[str, str], Counter] = {}
        self.outbound = Counter(
            "smsbridge_outbound_sms",
            "Outbound SMS recipients by outcome (accepted, failed, unknown).",
            ["account", "result"],
            registry=registry,
        )
        self.provider_seconds = Histogram(
            "smsbridge_provider_request_seconds",
            "Provider call latency.",
            ["account", "method"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.provider_errors = Counter(
            "smsbridge_provider_errors",
            "Provider calls that failed, by kind.",
            ["account", "kind"],
            registry=registry,
        )
        self.telegram_429 = Counter(
            "smsbridge_telegram_429", "Telegram 429 answers.", registry=registry
        )
        self.outbox_depth = Gauge(
            "smsbridge_outbox_depth", "Telegram messages waiting in the outbox.", registry=registry
        )
        self.outbox_oldest_age = Gauge(
            "smsbridge_outbox_oldest_age_seconds",
            "Age of the oldest waiting message (0 when none waits).",
            registry=registry,
        )
        self.outbox_dead = Gauge(
            "smsbridge_outbox_dead",
            "Outbox messages Telegram refused for good (their SMS went to the admins).",
            registry=registry,
        )
        self.unknown_sends = Gauge(
            "smsbridge_unknown_sends",
            "Sends whose outcome is unknown: they may have gone out, nobody may resend them.",
            registry=registry,
        )
        self.worker_last_success = Gauge(
            "smsbridge_worker_last_success_timestamp_seconds",
            "When each background worker last succeeded.",
            ["worker"],
            registry=registry,
        )
        self.worker_interval = Gauge(
            "smsbridge_worker_interval_seconds",
            "Each background worker's pace (alert when three pass without a success).",
            ["worker"],
            registry=registry,
        )
        self.credit = Gauge(
            "smsbridge_credit",
            "Each account's credit as last read, in the provider's unit.",
            ["account"],
            registry=registry,
        )
        self.credit_alert = Gauge(
            "smsbridge_credit_alert_threshold",
            "Each account's low_credit_alert (0: off).",
            ["account"],
            registry=registry,
        )
        self.account_expiry = Gauge(
            "smsbridge_account_expiry_timestamp_seconds",
            "When each account expires, where its provider says.",
            ["account"],
            registry=registry,
        )
        self.webhook_backlog = Gauge(
            "smsbridge_webhook_backlog",
            "Events a webhook endpoint has not taken yet (kept, in order, while it fails)",
            ["endpoint"],
            registry=registry,
        )
        self.token_expiry = Gauge(
            "smsbridge_token_expiry_timestamp_seconds",
            "When each account's session token expires (accounts that log in).",
            ["account"],
            registry=registry,
        )

    def inbound_count(self, account: str, source: str) -> Counter:
        """The inbound counter of one account and source, looked up once (``labels()`` costs
        as much as the rest of counting an SMS, and a relay flush counts thousands)."""
        child = self._inbound.get((account, source))
        if child is None:
            child = self._inbound[(account, source)] = self.inbound.labels(account, source)
        return child

    def provider_call(self, account: str, method: str, seconds: float, kind: str) -> None:
        """The providers' transport observer."""
        if seconds:
            self.provider_seconds.labels(account=account, method=method).observe(seconds)
        if kind:
            self.provider_errors.labels(account=account, kind=kind).inc()

    def balance(
        self, account: str, credit: float, threshold: float, expires: datetime | None
    ) -> None:
        """An account's credit as just read (the credit watch)."""
        self.credit.labels(account=account).set(credit)
        self.credit_alert.labels(account=account).set(threshold)
        if expires is not None:
            self.account_expiry.labels(account=account).set(expires.timestamp())

    def refresh(self, state: State, now: float) -> None:
        self.outbox_depth.set(state.outbox_depth)
        oldest = state.outbox_oldest
        self.outbox_oldest_age.set(0.0 if oldest is None else max(0.0, now - oldest))
        self.outbox_dead.set(state.outbox_dead)
        self.unknown_sends.set(state.unknown_sends)
        for name, (last_ok, interval) in state.workers.items():
            self.worker_last_success.labels(worker=name).set(last_ok)
            self.worker_interval.labels(worker=name).set(interval)
        for account, expires in state.tokens.items():
            if expires is not None:
                self.token_expiry.labels(account=account).set(expires.timestamp())
        for url, waiting in state.webhooks.items():
            self.webhook_backlog.labels(endpoint=url).set(waiting)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
