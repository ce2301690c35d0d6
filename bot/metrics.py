"""Prometheus text exposition for the few figures docs/spec.md §7 names: counters, gauges, one histogram."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

Labels = tuple[tuple[str, str], ...]
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_quote(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class Counter:
    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help = name, help_text
        self.values: dict[Labels, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        self.values[key] = self.values.get(key, 0.0) + amount

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for key, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(key)} {value:g}"


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...] = BUCKETS) -> None:
        self.name, self.help, self.buckets = name, help_text, buckets
        self.values: dict[Labels, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        counts, totals = self.values.setdefault(key, ([0] * (len(self.buckets) + 1), [0.0]))
        counts[bisect.bisect_left(self.buckets, value)] += 1
        totals[0] += value

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        for key, (counts, totals) in sorted(self.values.items()):
            running = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                bucket = _labels(key, 'le="' + le + '"')
                yield f"{self.name}_bucket{bucket} {running}"
            yield f"{self.name}_sum{_labels(key)} {totals[0]:g}"
            yield f"{self.name}_count{_labels(key)} {running}"


class Metrics:
    """Every figure the bridge exposes; gauges are read when ``/metrics`` is asked."""

    def __init__(self) -> None:
        self.inbound = Counter("smsbridge_inbound_sms_total", "Inbound SMS stored, by source.")
        self.outbound = Counter("smsbridge_outbound_sms_total", "Outbound SMS by result.")
        self.provider_seconds = Histogram(
            "smsbridge_provider_request_seconds", "Provider call latency."
        )
        self.provider_errors = Counter(
            "smsbridge_provider_errors_total", "Provider calls that failed, by kind."
        )
        self.telegram_429 = Counter("smsbridge_telegram_429_total", "Telegram 429 answers.")

    def provider_call(self, account: str, method: str, seconds: float, kind: str) -> None:
        """The providers' transport observer."""
        if seconds:
            self.provider_seconds.observe(seconds, account=account, method=method)
        if kind:
            self.provider_errors.inc(account=account, kind=kind)

    def render(self, gauges: Iterable[tuple[str, str, float]]) -> str:
        lines: list[str] = []
        for name, help_text, value in gauges:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        for metric in (
            self.inbound,
            self.outbound,
            self.provider_seconds,
            self.provider_errors,
            self.telegram_429,
        ):
            lines += list(metric.lines())
        return "\n".join(lines) + "\n"
