"""What every provider simulator shares: a clock tests can move, switchable faults, SMS parts."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

TEHRAN = timezone(timedelta(hours=3, minutes=30))
_MOBILE = re.compile(r"(?:\+98|0098|98|0)?(9\d{9})")


def wall() -> datetime:
    """Tehran wall-clock time, naive, as the providers show it."""
    return datetime.now(TEHRAN).replace(tzinfo=None)


def mobile10(raw: Any) -> str | None:
    """The 10-digit form of an accepted number (ASCII digits only, like the real service)."""
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        return None
    match = _MOBILE.fullmatch(str(raw).strip())
    return match.group(1) if match else None


def sms_parts(text: str) -> int:
    """SPEC's arithmetic: GSM-7 160/153 for ASCII text, UCS-2 70/67 otherwise."""
    units = len(text.encode("utf-16-le")) // 2
    single, multi = (160, 153) if text.isascii() else (70, 67)
    return 1 if units <= single else -(-units // multi)


class Clock:
    """Monotonic seconds plus an offset that ``advance`` moves: token expiry, delivery progress
    and scheduled times all follow it, so a test can let thirty minutes pass at once. A client
    given the same clock sees the same time."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def wall(self) -> datetime:
        return wall() + timedelta(seconds=self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class _Fault:
    kind: str
    count: int
    method: str | None


def require_mobile(raw: str) -> str:
    """The 10-digit form of a number a test or the demo types, or a clear ValueError."""
    mobile = mobile10(raw)
    if mobile is None:
        raise ValueError(f"not a mobile number: {raw!r}")
    return mobile


class Faults:
    """``add("http_500", count=2, method="Message/Send")``; ``take(method)`` consumes one."""

    def __init__(self) -> None:
        self._pending: list[_Fault] = []

    def add(self, kind: str, count: int = 1, method: str | None = None) -> None:
        self._pending.append(_Fault(kind, count, method))

    def take(self, method: str) -> str | None:
        for fault in self._pending:
            if fault.method in (None, method):
                fault.count -= 1
                if fault.count <= 0:
                    self._pending.remove(fault)
                return fault.kind
        return None


class FaultySim:
    """What every simulator offers its controller: faults, from Python or over HTTP."""

    def __init__(self) -> None:
        self._faults = Faults()

    def fail_next(self, kind: str, count: int = 1, method: str | None = None) -> None:
        self._faults.add(kind, count, method)

    async def _ctl_fault(self, request: Request) -> Response:
        body = await request.json()
        self.fail_next(body["kind"], int(body.get("count", 1)), body.get("method"))
        return JSONResponse({"ok": True})
