"""What every provider simulator shares: a clock tests can move, one way to run a method under
switchable faults, the record of what was sent, number checks and SMS part counting.

Nothing here comes from the client side (``providers/``): a simulator that shared the client's
reading of a document could not catch its mistakes.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.applications import Starlette
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


def require_mobile(raw: str) -> str:
    """The 10-digit form of a number a test or the demo types, or a clear ValueError."""
    mobile = mobile10(raw)
    if mobile is None:
        raise ValueError(f"not a mobile number: {raw!r}")
    return mobile


# ------------------------------------------------------------------------------------ SMS parts

# 3GPP TS 23.038 §6.2.1: the GSM 7-bit default alphabet in code order 0x00-0x7F (0x1B is the
# escape to the extension table, not a character), and the extension characters (§6.2.1.1),
# which cost the escape plus their own septet.
GSM_DEFAULT_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION_TABLE = "\f^{}\\[~]|€"
_SEPTETS = {c: 1 for c in GSM_DEFAULT_TABLE if c != "\x1b"} | {c: 2 for c in GSM_EXTENSION_TABLE}


def sms_parts(text: str) -> int:
    """How many SMS a text takes, as an SMS centre splits it: GSM-7 when every character is in
    the default alphabet or its extension (160 septets alone; 153 per part of a long message,
    an escape pair never split), else UCS-2 (70 code units alone; 67 per part, a surrogate pair
    never split)."""
    if not text:
        return 1
    if all(c in _SEPTETS for c in text):
        units, single, per_part = [_SEPTETS[c] for c in text], 160, 153
    else:
        units = [len(c.encode("utf-16-be")) // 2 for c in text]
        single, per_part = 70, 67
    if sum(units) <= single:
        return 1
    parts, room = 1, per_part
    for size in units:
        if size > room:
            parts, room = parts + 1, per_part
        room -= size
    return parts


# ------------------------------------------------------------------------------------ time


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


# ------------------------------------------------------------------------------------ faults


@dataclass
class _Fault:
    kind: str
    count: int
    method: str | None
    after: int  # matching calls to let through first


class FaultySim:
    """What every simulator offers its controller, and the one way it runs a method.

    Faults, by name, the same on every simulator (``fail_next(kind, count, method)``):

    - before the method runs: ``http_500`` / ``http_503`` (an HTML error page), ``garbage``
      (an HTML page with HTTP 200), ``hang`` (answer after ``hang_seconds``), and each
      simulator's own: ``token_expired`` (the credentials' token dies now, answered the way that
      provider answers it) and those it lists in ``SPECIFIC_FAULTS``;
    - after the method did its work (an SMS sent stays sent): ``accept_then_hang``,
      ``accept_then_500`` and ``accept_then_garbage`` — the answer is lost.
    """

    SPECIFIC_FAULTS: frozenset[str] = frozenset()
    app: Starlette  # each simulator's HTTP side
    undeliverable: set[str | None]  # 10-digit numbers whose SMS never reach the handset

    def __init__(self, clock: Clock | None = None, hang_seconds: float = 30.0) -> None:
        self.clock = clock or Clock()
        self.hang_seconds = hang_seconds
        self.requests: list[tuple[str, Any]] = []
        self._pending: list[_Fault] = []

    def fail_next(
        self, kind: str, count: int = 1, method: str | None = None, *, after: int = 0
    ) -> None:
        """The next ``count`` calls of ``method`` (any method: None) fail as ``kind``, once
        ``after`` of them have gone through untouched."""
        known = {
            "http_500",
            "http_503",
            "garbage",
            "hang",
            "token_expired",
            "accept_then_hang",
            "accept_then_500",
            "accept_then_garbage",
        } | self.SPECIFIC_FAULTS
        if kind not in known:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(sorted(known))}")
        self._pending.append(_Fault(kind, count, method, after))

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass on the simulator's clock (tokens, delivery, schedules)."""
        self.clock.advance(seconds)

    def sent(self) -> list[tuple[str, str]]:
        """(``98`` + 10 digits, text) of every SMS the simulator sent, in order."""
        raise NotImplementedError

    def reachable(self, *numbers: str) -> None:
        """Make these numbers (``98`` + 10 digits) ones the provider will send to (sms.ir White
        SMS reaches only its phonebook; the others reach any number)."""

    def _take(self, method: str) -> str | None:
        for fault in self._pending:
            if fault.method in (None, method):
                if fault.after > 0:
                    fault.after -= 1
                    return None
                fault.count -= 1
                if fault.count <= 0:
                    self._pending.remove(fault)
                return fault.kind
        return None

    def fault_response(self, kind: str, method: str) -> Response | None:
        """A simulator's own fault before ``method`` runs (None: run it)."""
        return None

    async def run(
        self,
        method: str,
        params: Any,
        work: Callable[[], Response | Awaitable[Response]],
    ) -> Response:
        """Record the request, apply a pending fault, do the work."""
        self.requests.append((method, params))
        fault = self._take(method)
        if fault in ("http_500", "http_503"):
            return Response(
                "<html><body>Error</body></html>", int(fault[5:]), media_type="text/html"
            )
        if fault == "garbage":
            return Response("<html>Service Unavailable", 200, media_type="text/html")
        if fault == "hang":
            await asyncio.sleep(self.hang_seconds)
        if fault is not None:
            early = self.fault_response(fault, method)
            if early is not None:
                return early
        result = work()
        response = await result if not isinstance(result, Response) else result
        if fault == "accept_then_hang":
            await asyncio.sleep(self.hang_seconds)
        elif fault == "accept_then_500":
            return Response("<html>Error</html>", 500, media_type="text/html")
        elif fault == "accept_then_garbage":
            return Response("<html>Service Unavail", 200, media_type="text/html")
        return response

    async def _ctl_fault(self, request: Request) -> Response:
        body = await request.json()
        self.fail_next(body["kind"], int(body.get("count", 1)), body.get("method"))
        return JSONResponse({"ok": True})

    async def _ctl_sent(self, request: Request) -> Response:
        return JSONResponse([{"mobile": number, "text": text} for number, text in self.sent()])
