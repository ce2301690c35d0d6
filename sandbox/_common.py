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


# ------------------------------------------------------------------------------------ calls


class Params:
    """A call's named parameters (query string, form or JSON object fields), in the order sent.

    ``fold_case``: whether names match whatever their case (AmootSMS and sms.ir bind them that
    way; PayamSMS compares them exactly). A name sent as ``Name[]`` is ``Name``."""

    def __init__(self, pairs: list[tuple[str, Any]], *, fold_case: bool = True) -> None:
        self.fold_case = fold_case
        self.values: dict[str, list[Any]] = {}
        for key, value in pairs:
            self.values.setdefault(self._key(key.removesuffix("[]")), []).append(value)

    def _key(self, name: str) -> str:
        return name.lower() if self.fold_case else name

    def get(self, name: str) -> Any:
        """The first value sent under ``name`` (None: not sent)."""
        found = self.values.get(self._key(name))
        return found[0] if found else None

    def text(self, name: str) -> str:
        value = self.get(name)
        return "" if value is None else str(value)

    def all(self, name: str) -> list[Any]:
        """Every value sent under ``name``, as sent (a repeated query parameter)."""
        return list(self.values.get(self._key(name), []))

    def array(self, name: str) -> list[str]:
        """A list parameter in any of its forms: a JSON array, a comma-separated string or the
        name repeated."""
        found = self.all(name)
        if len(found) == 1 and isinstance(found[0], list):
            return [str(v) for v in found[0]]
        if len(found) == 1 and isinstance(found[0], str):
            return [v.strip() for v in found[0].split(",") if v.strip()]
        return [str(v) for v in found]


@dataclass
class Call:
    """One API call as the simulator received it; ``requests`` keeps every one."""

    method: str  # the provider's own name for it
    request: Request
    params: Params
    body: Any = None  # the JSON body as sent (object, array or scalar); None: none sent


class Refused(Exception):
    """A method refuses the call: the provider's own error ``code`` and ``message``, written in
    its own envelope (``FaultySim.refusal``). ``status``: an HTTP status other than the one that
    provider uses for refusals; ``payload``: fields its refusals carry besides the code."""

    def __init__(
        self,
        code: str | int,
        message: str = "",
        *,
        status: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code, message)
        self.code, self.message, self.status = code, message, status
        self.payload = payload or {}


Handler = Callable[[Call], Any]  # a method: the payload of its answer, or a Response as it is


# ------------------------------------------------------------------------------------ faults


@dataclass
class _Fault:
    kind: str
    count: int
    method: str | None
    after: int  # matching calls to let through first


class FaultySim:
    """What every simulator offers its controller, and the one way it runs a method.

    Each simulator routes a path to ``handle(method, request, handler)`` and says, for itself,
    how a request's parameters are read (``read``), how credentials are checked (``authorize``)
    and how an answer and a refusal are written (``answer``, ``refusal``). A handler takes the
    ``Call`` and returns the payload, or raises ``Refused``.

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
        self.requests: list[Call] = []
        self._pending: list[_Fault] = []

    # -------------------------------------------------------------- the controller's verbs

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

    def inbound_line(self) -> str | None:
        """The line a customer texts when none is named (None: this provider receives no SMS)."""
        return None

    def inject_inbound(self, sender: str, text: str, line: str | None = None) -> int:
        """A customer texts one of the account's lines (``inbound_line()`` by default); returns
        the message's id."""
        raise NotImplementedError(f"{type(self).__name__}: this provider receives no SMS")

    def calls(self, method: str) -> list[Call]:
        """Every call of ``method`` received so far."""
        return [call for call in self.requests if call.method == method]

    # -------------------------------------------------------------- each simulator's own

    async def read(self, method: str, request: Request) -> tuple[Params, Any]:
        """The call's parameters and its JSON body; ``Refused`` for a body the provider cannot
        read."""
        raise NotImplementedError

    def authorize(self, call: Call) -> None:
        """``Refused`` unless the call's credentials let it run."""

    def answer(self, call: Call, payload: Any) -> Response:
        return JSONResponse(payload)

    def refusal(self, method: str, refused: Refused) -> Response:
        raise NotImplementedError

    def fault_response(self, kind: str, method: str) -> Response | None:
        """A simulator's own fault before ``method`` runs (None: run it)."""
        return None

    # -------------------------------------------------------------- the one way a method runs

    def endpoint(self, method: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """A Starlette endpoint that runs ``handler`` as ``method``."""

        async def endpoint(request: Request) -> Response:
            return await self.handle(method, request, handler)

        return endpoint

    async def handle(self, method: str, request: Request, handler: Handler) -> Response:
        """Read the call, record it, apply a pending fault, check the credentials, run the
        method and write its answer or refusal."""
        try:
            params, body = await self.read(method, request)
        except Refused as refused:
            return self.refusal(method, refused)
        call = Call(method, request, params, body)
        self.requests.append(call)
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
        try:
            self.authorize(call)
            result = handler(call)
            response = result if isinstance(result, Response) else self.answer(call, result)
        except Refused as refused:
            response = self.refusal(method, refused)
        if fault == "accept_then_hang":
            await asyncio.sleep(self.hang_seconds)
        elif fault == "accept_then_500":
            return Response("<html>Error</html>", 500, media_type="text/html")
        elif fault == "accept_then_garbage":
            return Response("<html>Service Unavail", 200, media_type="text/html")
        return response

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

    async def _ctl_fault(self, request: Request) -> Response:
        body = await request.json()
        self.fail_next(body["kind"], int(body.get("count", 1)), body.get("method"))
        return JSONResponse({"ok": True})

    async def _ctl_sent(self, request: Request) -> Response:
        return JSONResponse([{"mobile": number, "text": text} for number, text in self.sent()])
