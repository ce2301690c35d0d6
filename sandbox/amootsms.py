"""A stateful AmootSMS REST v1 simulator, faithful to the provider documents, quirks included.

Sim conventions (where the documents are silent; docs/providers.md §1.6):
- ``DeliveryType`` codes: 0 queued, 35 sent to operator, 1 delivered, 2 not delivered. A message moves
  0 → 35 → 1 after ``delivery_steps`` seconds; numbers in ``undeliverable`` end at 2.
- SendSimple accepts at most ``recipient_cap`` numbers per call (``Count_Invalid`` beyond).
- Blacklisted numbers get a per-item ``Mobile_Invalid`` while the others go out; so do numbers
  on a line's cancellation list (``cancel_reception``), which ``IsBlackList_ByCancelation`` answers
  for one number and one line per request (``OTP`` stands for the first line).
- An inbound SMS pushed by relay with a 2xx answer is not handed out by RecieveNewMessages again
  (``relay_excludes_poll``).
- Relay bodies: one RecieveNewMessages item plus ``LineNumber``; delivery: one
  GetDeliveriesByCampaignID item. JSON by default, form with ``relay_format = "form"``; a non-2xx
  answer is retried up to ``relay_attempts`` times with backoff.
- The documents disagree on how ``Status`` is written (A5) and where the payload sits (A6), and
  never show the OTP answer (A11): ``status_style`` = ``"title"`` (every example; the default),
  ``"int"`` (status_codes.md) or ``"bool"`` (older examples); ``payload_key`` = ``"Data"`` or
  ``"ReturnValue"`` (the tables); ``otp_shape`` = ``"object"`` or ``"array"`` ("an array of one
  class"). A client must read them all.
- ``CalculateMessagePrice`` answers a failure with the negated status code, never ``0``.
Faults (``fail_next``): the shared ones (``sandbox/_common.FaultySim``); ``token_expired``
answers ``Token_Expired``; ``server_error`` answers ``ServerError`` inside an HTTP 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesParser
from email.policy import default
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._common import (
    TEHRAN,
    Call,
    Clock,
    FaultySim,
    Handler,
    Params,
    Refused,
    mobile10,
    require_mobile,
    sms_parts,
)

# status_codes.md: the codes of the Titles this simulator answers with.
STATUS_CODE = {
    "Failed": 0,
    "Success": 1,
    "CreditNotEnough": 4,
    "LineNumber_NotExist": 5,
    "LineNumber_Empty": 12,
    "SMSMessageText_Empty": 14,
    "Mobile_Empty": 16,
    "Mobiles_Empty": 17,
    "URLAddress_Empty": 20,
    "Mobile_Invalid": 101,
    "Mobiles_Invalid": 102,
    "Count_Invalid": 103,
    "FromDateTime_Invalid": 106,
    "ToDateTime_Invalid": 108,
    "FromDateTimeIsAfterThanToDateTime": 110,
    "MessageID_Invalid": 111,
    "BulkID_Invalid": 112,
    "URLAddress_Duplicate": 117,
    "RelayMessageDeliveryID_Invalid": 118,
    "RelayRecieveMessageID_Invalid": 119,
    "Length_Invalid": 120,
    "Length_Exceeded": 121,
    "ServerError": 500,
    "Token_NotAllowMethod": -208,
    "Token_NotAllowIP": -207,
    "Token_Expired": -204,
    "Token_Disabled": -203,
    "Token_Invalid": -202,
    "Token_NotExists": -201,
    "User_NotExists": -1,
}
DEFAULT_TOKEN = "sandbox-amoot-token"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")[:-1]


def parse_time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.astimezone(TEHRAN).replace(tzinfo=None) if value.tzinfo else value


@dataclass
class Token:
    active: bool = True
    expires: datetime | None = None
    allowed_ips: set[str] | None = None
    allowed_methods: set[str] | None = None


@dataclass
class Sent:
    message_id: int
    campaign_id: int
    mobile: str  # 10 digits
    line: str
    text: str
    send_at: datetime
    created: float
    parts: int
    price: int
    method: str
    code: str | None = None
    pushed_type: int | None = None


@dataclass
class Inbound:
    message_id: int
    mobile: str
    text: str
    line: str
    received: datetime
    read: bool = False
    relayed: bool = False


@dataclass
class Hook:
    id: int
    url: str
    active: bool
    registered: datetime


@dataclass
class Patterns:
    id: int
    text: str
    variables: list[str]
    is_otp: bool
    status: int = 1


class AmootSim(FaultySim):
    """Simulator state plus the Starlette ``app`` serving it."""

    SPECIFIC_FAULTS = frozenset({"server_error"})

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        credit: int = 5_000_000,
        lines: tuple[str, ...] = ("public", "10001234"),
        recipient_cap: int = 100,
        delivery_steps: tuple[float, float] = (1.0, 2.0),
        undeliverable: tuple[str, ...] = (),
        blacklist: tuple[str, ...] = (),
        relay_format: str = "json",
        relay_attempts: int = 3,
        relay_excludes_poll: bool = True,
        leading_zero_quirk: bool = False,
        status_style: str = "title",
        payload_key: str = "Data",
        otp_shape: str = "object",
        hang_seconds: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(clock, hang_seconds)
        self.status_style = status_style
        self.payload_key = payload_key
        self.otp_shape = otp_shape
        self.tokens: dict[str, Token] = {token: Token()}
        self.credit = credit
        self.lines = list(lines)
        self.recipient_cap = recipient_cap
        self.delivery_steps = delivery_steps
        self.undeliverable = {mobile10(n) for n in undeliverable}
        self.blacklist = {mobile10(n) for n in blacklist}
        self.cancellations: set[tuple[str, str]] = set()  # (line, lower-cased; 10-digit mobile)
        self.relay_format = relay_format
        self.relay_attempts = relay_attempts
        self.relay_excludes_poll = relay_excludes_poll
        self.leading_zero_quirk = leading_zero_quirk
        self.prices = {"fa": 1000, "en": 5000}
        self.outgoing: list[Sent] = []
        self.inbound: list[Inbound] = []
        self.hooks: dict[str, list[Hook]] = {"inbound": [], "delivery": []}
        self.patterns = [
            Patterns(1001, "کد تایید شما: %code%", ["code"], True),
            Patterns(1002, "سلام %name%، سفارش %order% ثبت شد", ["name", "order"], False),
        ]
        self.relay_log: list[tuple[str, int]] = []
        self._ids = itertools.count(700_000_001)
        self._campaigns = itertools.count(88_000_001)
        self._hook_ids = itertools.count(990)
        self._inbound_ids = itertools.count(123_456_001)
        self._pushes: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self.app = Starlette(
            routes=[
                Route("/_sandbox/inbound", self._ctl_inbound, methods=["POST"]),
                Route("/_sandbox/sent", self._ctl_sent, methods=["GET"]),
                Route("/_sandbox/fault", self._ctl_fault, methods=["POST"]),
                Route("/{method}", self._dispatch, methods=["GET", "POST", "PUT", "DELETE"]),
            ],
            lifespan=self._lifespan,
        )

    # ------------------------------------------------------------------ control side (tests, demo)

    def inbound_line(self) -> str:
        return self.lines[-1]

    def cancel_reception(self, number: str, line: str) -> None:
        """The customer at ``number`` cancels SMS from ``line`` at the operator (not by SMS)."""
        self.cancellations.add((line.lower(), require_mobile(number)))

    def _refused_on(self, line: str, mobile: str | None) -> bool:
        return (
            mobile is None
            or mobile in self.blacklist
            or (line.lower(), mobile) in self.cancellations
        )

    def inject_inbound(self, sender: str, text: str, line: str | None = None) -> int:
        mobile = require_mobile(sender)
        message = Inbound(
            next(self._inbound_ids),
            mobile,
            text,
            line or self.inbound_line(),
            self.clock.wall().replace(microsecond=0),
        )
        self.inbound.append(message)
        if self._active_hooks("inbound"):
            self._spawn(self._push_inbound(message))
        return message.message_id

    def sent(self) -> list[tuple[str, str]]:
        return [("98" + s.mobile, s.text) for s in self.outgoing]

    def delivery_type(self, sent: Sent) -> int:
        age = self.clock() - sent.created
        if sent.send_at > self.clock.wall() or age < self.delivery_steps[0]:
            return 0
        if age < self.delivery_steps[1]:
            return 35
        return 2 if sent.mobile in self.undeliverable else 1

    async def _ctl_inbound(self, request: Request) -> Response:
        body = await request.json()
        message_id = self.inject_inbound(body["sender"], body["text"], body.get("line"))
        return JSONResponse({"message_id": message_id})

    # ------------------------------------------------------------------ HTTP plumbing

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> Any:
        self._ticker = asyncio.create_task(self._tick())
        try:
            yield
        finally:
            self._ticker.cancel()
            for task in list(self._pushes):
                task.cancel()
            await asyncio.gather(self._ticker, *self._pushes, return_exceptions=True)

    async def _dispatch(self, request: Request) -> Response:
        method = request.path_params["method"]
        handler = self._handlers().get(method)
        if handler is None:  # correctly spelled ReceiveMessages & co. do not exist
            return Response("Not Found", status_code=404)
        if request.method != "POST":
            return Response("Method Not Allowed", status_code=405)
        return await self.handle(method, request, handler)

    async def read(self, method: str, request: Request) -> tuple[Params, Any]:
        """JSON, form or multipart, names in any case (docs/providers.md, AmootSMS)."""
        raw = await request.body()
        ctype = request.headers.get("content-type", "")
        if "multipart/form-data" in ctype:
            message = BytesParser(policy=default).parsebytes(
                f"Content-Type: {ctype}\r\n\r\n".encode() + raw
            )
            fields = [
                (
                    str(part.get_param("name", header="content-disposition") or ""),
                    part.get_content(),
                )
                for part in message.iter_parts()
            ]
            return Params(fields), None
        text = raw.decode("utf-8", errors="replace").strip()
        if text.startswith("{"):
            try:
                body = json.loads(text)
            except ValueError as exc:
                raise Refused("Failed") from exc
            return Params(list(body.items()) if isinstance(body, dict) else []), body
        return Params(parse_qsl(text, keep_blank_values=True)), None

    def authorize(self, call: Call) -> None:
        denied = self._auth(call.request, call.method)
        if denied:
            raise Refused(denied)

    def answer(self, call: Call, payload: Any) -> Response:
        return self._json(payload)

    def refusal(self, method: str, refused: Refused) -> Response:
        return self._error(method, str(refused.code))

    def fault_response(self, kind: str, method: str) -> Response | None:
        if kind == "token_expired":
            return self._error(method, "Token_Expired")
        if kind == "server_error":
            return self._error(method, "ServerError")
        return None

    def _status(self, title: str) -> Any:
        """``Status`` as this simulator writes it (``status_style``, A5)."""
        if self.status_style == "int":
            return STATUS_CODE.get(title, 0)
        if self.status_style == "bool":
            return title == "Success"
        return title

    def _json(self, body: Any) -> Response:
        """An answer with every ``Status`` in ``status_style`` and ``Data`` named ``payload_key``."""

        def convert(value: Any) -> Any:
            if isinstance(value, dict):
                return {
                    (self.payload_key if k == "Data" else k): (
                        self._status(v) if k == "Status" and isinstance(v, str) else convert(v)
                    )
                    for k, v in value.items()
                }
            if isinstance(value, list):
                return [convert(v) for v in value]
            return value

        return JSONResponse(convert(body))

    def _auth(self, request: Request, method: str) -> str | None:
        header = request.headers.get("authorization")
        if header is None:
            return "Token_NotExists"
        if header.lower().startswith("bearer "):
            return "Token_Invalid"
        token = self.tokens.get(header.strip())
        if token is None:
            return "Token_NotExists"
        if not token.active:
            return "Token_Disabled"
        if token.expires is not None and token.expires < self.clock.wall():
            return "Token_Expired"
        client = request.client.host if request.client else ""
        if token.allowed_ips is not None and client not in token.allowed_ips:
            return "Token_NotAllowIP"
        if token.allowed_methods is not None and method not in token.allowed_methods:
            return "Token_NotAllowMethod"
        return None

    def _error(self, method: str, title: str) -> Response:
        if method == "AccountStatus" and title in ("Token_NotExists", "Token_Invalid"):
            title = "User_NotExists"  # the documented answer of AccountStatus to a bad token
        shapes: dict[str, Any] = {
            "AccountStatus": {
                "Status": title,
                "AccountName": None,
                "RemaindCredit": 0,
                "BaseSMS_PersianPrice": 0,
                "BaseSMS_EnglishPrice": 0,
                "ServiceSMS_PersianPrice": 0,
                "ServiceSMS_EnglishPrice": 0,
                "AdsSMS_PersianPrice": 0,
                "AdsSMS_EnglishPrice": 0,
                "Avanak_SecondPrice": 0,
                "ListLineNumbers": [],
            },
            "SendSimple": {
                "MessageText": None,
                "SMSPagesCount": 1,
                "CampaignID": 0,
                "Price": 0,
                "Status": title,
                "Data": [],
            },
            "SendPeerToPeer": {"Data": None, "Status": title},
            "RelayRecieveMessageCreate": {"Status": title, "RelayRecieveMessageID": 0},
            "RelayMessageDeliveryCreate": {"Status": title, "RelayMessageDeliveryID": 0},
            "RecieveNewMessages": {"Status": title, "Message": "خطا", "Data": []},
            "GetMessage": {"Status": title, "Data": None},
            "IsBlackList_ByCancelation": {
                "Status": title,
                "LineNumber": None,
                "Data": None if title == "LineNumber_NotExist" else [],
            },
        }
        if method in ("RelayRecieveMessageSetActive", "RelayMessageDeliverySetActive"):
            return JSONResponse(title)
        if method == "CalculateMessagePrice":  # a failure is negative, never a price (A18)
            return JSONResponse(-(abs(STATUS_CODE.get(title, 0)) or 1))
        return self._json(shapes.get(method, {"Status": title, "Data": []}))

    def _handlers(self) -> dict[str, Handler]:
        return {
            "AccountStatus": self._account_status,
            "SendSimple": self._send_simple,
            "SendPeerToPeer": self._send_p2p,
            "IsBlackList_ByCancelation": self._is_blacklist,
            "SendQuickOTP": self._send_otp,
            "SendWithPattern": self._send_pattern,
            "SendWithPatternOWN": self._send_pattern_own,
            "PatternCodeList": self._pattern_list,
            "CalculateMessagePrice": self._price,
            "GetDeliveries": self._deliveries,
            "GetDelivery": self._delivery,
            "GetDeliveriesByCampaignID": self._campaign_deliveries,
            "RecieveNewMessages": self._receive_new,
            "RecieveMessages": self._receive_range,
            "RelayRecieveMessageCreate": lambda call: self._relay_create(call, "inbound"),
            "RelayRecieveMessageList": lambda call: self._relay_list("inbound"),
            "RelayRecieveMessageSetActive": lambda call: self._relay_active(call, "inbound"),
            "RelayMessageDeliveryCreate": lambda call: self._relay_create(call, "delivery"),
            "RelayMessageDeliveryList": lambda call: self._relay_list("delivery"),
            "RelayMessageDeliverySetActive": lambda call: self._relay_active(call, "delivery"),
        }

    # ------------------------------------------------------------------ methods

    def _account_status(self, call: Call) -> Any:
        return {
            "Status": "Success",
            "AccountName": "sandbox",
            "RemaindCredit": self.credit,
            "BaseSMS_PersianPrice": self.prices["fa"],
            "BaseSMS_EnglishPrice": self.prices["en"],
            "ServiceSMS_PersianPrice": 2050,
            "ServiceSMS_EnglishPrice": 6670,
            "AdsSMS_PersianPrice": 3870,
            "AdsSMS_EnglishPrice": 11560,
            "Avanak_SecondPrice": 23,
            "ListLineNumbers": [ln.capitalize() if ln == "public" else ln for ln in self.lines],
        }

    def _line(self, params: Params, required: bool = True) -> str:
        line = params.text("LineNumber").strip()
        if not line:
            if required:
                raise Refused("LineNumber_Empty")
            return "public"
        if line.lower() not in {ln.lower() for ln in self.lines}:
            raise Refused("LineNumber_NotExist")
        return line

    def _send_time(self, params: Params) -> datetime:
        text = params.text("SendDateTime")
        if not text.strip():
            return self.clock.wall()
        moment = parse_time(text)
        if moment is None:
            raise Refused("Failed")
        return moment

    def _price_of(self, text: str) -> tuple[int, int]:
        parts = sms_parts(text)
        return parts, parts * self.prices["en" if text.isascii() else "fa"]

    def _record(
        self, mobile: str, line: str, text: str, send_at: datetime, method: str, campaign: int
    ) -> Sent:
        parts, price = self._price_of(text)
        sent = Sent(
            next(self._ids),
            campaign,
            mobile,
            line,
            text,
            send_at,
            self.clock(),
            parts,
            price,
            method,
        )
        self.outgoing.append(sent)
        self.credit -= price
        return sent

    def _charge_check(self, text: str, count: int) -> None:
        parts, price = self._price_of(text)
        if parts > 10:
            raise Refused("Length_Exceeded")
        if price * count > self.credit:
            raise Refused("CreditNotEnough")

    def _send_simple(self, call: Call) -> Any:
        params = call.params
        text = params.text("SMSMessageText")
        line = self._line(params)
        raw = params.array("Mobiles")
        send_at = self._send_time(params)
        if not text.strip():
            raise Refused("SMSMessageText_Empty")
        if not raw:
            raise Refused("Mobiles_Empty")
        if len(raw) > self.recipient_cap:
            raise Refused("Count_Invalid")
        mobiles = [mobile10(r) for r in raw]
        if all(m is None for m in mobiles):
            raise Refused("Mobiles_Invalid")
        good = [m for m in mobiles if not self._refused_on(line, m)]
        self._charge_check(text, len(good))
        campaign = next(self._campaigns)
        items, total, parts = [], 0, sms_parts(text)
        for raw_number, mobile in zip(raw, mobiles, strict=True):
            if mobile is None or self._refused_on(line, mobile):
                items.append(
                    {
                        "Mobile": _as_number(mobile or raw_number),
                        "MessageID": 0,
                        "Status": "Mobile_Invalid",
                    }
                )
                continue
            sent = self._record(mobile, line, text, send_at, "SendSimple", campaign)
            total += sent.price
            items.append({"Mobile": int(mobile), "MessageID": sent.message_id, "Status": "Success"})
        return {
            "MessageText": text,
            "SMSPagesCount": parts,
            "CampaignID": campaign,
            "Price": total,
            "Status": "Success",
            "Data": items,
        }

    def _send_p2p(self, call: Call) -> Any:
        params = call.params
        line = self._line(params)
        send_at = self._send_time(params)
        entries = params.get("Input")
        if not isinstance(entries, list) or not entries:
            raise Refused("Mobiles_Empty")
        if len(entries) > self.recipient_cap:
            raise Refused("Count_Invalid")
        by_text: dict[str, list[str]] = {}
        failed = 0
        for entry in entries:
            fields = (
                {str(k).lower(): v for k, v in entry.items()} if isinstance(entry, dict) else {}
            )
            mobile = mobile10(fields.get("number"))
            text = str(fields.get("messagetext") or "")
            if mobile is None or not text.strip() or self._refused_on(line, mobile):
                failed += 1
                continue
            by_text.setdefault(text, []).append(mobile)
        # The whole request is priced before any of it goes: credit for part of it is not enough.
        for text in by_text:
            self._charge_check(text, 0)
        if sum(self._price_of(t)[1] * len(m) for t, m in by_text.items()) > self.credit:
            raise Refused("CreditNotEnough")
        campaigns: list[dict[str, Any]] = []
        created = 0
        for text, mobiles in by_text.items():
            campaign = next(self._campaigns)
            numbers = []
            for mobile in mobiles:
                sent = self._record(mobile, line, text, send_at, "SendPeerToPeer", campaign)
                numbers.append({"ID": sent.message_id, "Number": "@@0" + mobile})
                created += 1
            campaigns.append(
                {
                    "Numbers": numbers,
                    "Status": "Success",
                    "MessageText": text,
                    "ID": campaign,
                    "SMSPagesCount": sms_parts(text),
                }
            )
        body = bytes(
            self._json(
                {
                    "Data": {
                        "CampaignsCreated": len(campaigns),
                        "TotalCampaignNumbersCreated": created,
                        "FailedCount": failed,
                        "Campaigns": campaigns,
                    },
                    "Status": "Success",
                },
            ).body
        ).decode()
        # The documented example carries the number with its leading zero as a bare JSON number.
        replacement = r"\1" if self.leading_zero_quirk else r"\2"
        body = re.sub(r'"@@(0(9\d{9}))"', replacement, body)
        return Response(body, media_type="application/json")

    def _is_blacklist(self, call: Call) -> Any:
        params = call.params
        if not params.text("Mobile").strip():
            raise Refused("Mobile_Empty")
        mobile = mobile10(params.text("Mobile"))
        if mobile is None:
            raise Refused("Mobile_Invalid")
        if params.text("LineNumber").strip().upper() == "OTP":  # the server picks an OTP line
            line = self.lines[0]
        else:
            line = self._line(params)
        listed = (line.lower(), mobile) in self.cancellations
        return {
            "Status": "Success",
            "LineNumber": line,
            "Data": [{"Number": int("98" + mobile), "IsBlackList": listed}],
        }

    def _send_otp(self, call: Call) -> Any:
        params = call.params
        mobile = mobile10(params.text("Mobile"))
        if not params.text("Mobile"):
            raise Refused("Mobile_Empty")
        if mobile is None:
            raise Refused("Mobile_Invalid")
        try:
            length = int(params.text("CodeLength"))
        except ValueError:
            raise Refused("Length_Invalid") from None
        if not 4 <= length <= 8:
            raise Refused("Length_Invalid")
        code = params.text("OptionalCode").strip()
        if not code:
            code = str(int(time.time_ns() % 10**length)).zfill(length)
        text = f"کد تایید شما: {code}"
        self._charge_check(text, 1)
        sent = self._record(
            mobile, "OTP", text, self.clock.wall(), "SendQuickOTP", next(self._campaigns)
        )
        item = {
            "Status": "Success",
            "MessageID": sent.message_id,
            "Mobile": params.text("Mobile"),
            "Code": code,
        }
        return {"Status": "Success", "Data": [item] if self.otp_shape == "array" else item}

    def _render_pattern(self, params: Params) -> tuple[str, str, list[str]]:
        raw = params.text("Mobile")
        mobile = mobile10(raw)
        if not raw:
            raise Refused("Mobile_Empty")
        if mobile is None:
            raise Refused("Mobile_Invalid")
        try:
            pattern_id = int(params.text("PatternCodeID"))
        except ValueError:
            raise Refused("Failed") from None
        pattern = next((p for p in self.patterns if p.id == pattern_id and p.status == 1), None)
        values = params.text("PatternValues").split(",")
        if pattern is None or len(values) != len(pattern.variables):
            raise Refused("Failed")
        text = pattern.text
        for name, value in zip(pattern.variables, values, strict=True):
            text = text.replace(f"%{name}%", value)
        return mobile, text, values

    def _send_pattern(self, call: Call) -> Any:
        params = call.params
        mobile, text, values = self._render_pattern(params)
        self._charge_check(text, 1)
        sent = self._record(
            mobile, "pattern", text, self.clock.wall(), "SendWithPattern", next(self._campaigns)
        )
        return {
            "Status": "Success",
            "MessageID": str(sent.message_id),
            "Mobile": "0" + mobile,
            "PatternCodeID": int(params.text("PatternCodeID")),
            "PatternValues": values,
        }

    def _send_pattern_own(self, call: Call) -> Any:
        params = call.params
        line = self._line(params)
        mobile, text, values = self._render_pattern(params)
        self._charge_check(text, 1)
        sent = self._record(
            mobile, line, text, self.clock.wall(), "SendWithPatternOWN", next(self._campaigns)
        )
        return {
            "Status": "Success",
            "MessageID": str(sent.message_id),
            "Mobile": "0" + mobile,
            "LineNumber": line,
            "PatternCodeID": int(params.text("PatternCodeID")),
            "PatternValues": values,
        }

    def _pattern_list(self, call: Call) -> Any:
        return {
            "Status": "Success",
            "Data": [
                {
                    "ID": p.id,
                    "Status": p.status,
                    "IsOTP": p.is_otp,
                    "MessageText": p.text,
                    "Patterns": p.variables,
                    "NumberPatterns": [],
                }
                for p in self.patterns
            ],
        }

    def _price(self, call: Call) -> Any:
        params = call.params
        text = params.text("SMSMessageText")
        self._line(params)
        mobiles = [mobile10(m) for m in params.array("Mobiles")]
        if not text:
            raise Refused("SMSMessageText_Empty")
        if not mobiles:
            raise Refused("Mobiles_Empty")
        if None in mobiles:
            raise Refused("Mobiles_Invalid")
        return self._price_of(text)[1] * len(mobiles)

    def _delivery_item(self, sent: Sent, number: bool = False) -> dict[str, Any]:
        item: dict[str, Any] = {
            "MessageID": sent.message_id,
            "DeliveryType": self.delivery_type(sent),
            "Cost": 0,
            "RegDateTime": iso(sent.send_at),
            "SendDateTime": iso(sent.send_at),
            "Status": "Success",
        }
        return {"Number": sent.mobile, **item} if number else item

    def _deliveries(self, call: Call) -> Any:
        params = call.params
        wanted = set(params.array("ListMessageID"))
        items = [self._delivery_item(s) for s in self.outgoing if str(s.message_id) in wanted]
        if not items:
            raise Refused("Failed")
        return {"Status": "Success", "Data": items}

    def _delivery(self, call: Call) -> Any:
        params = call.params
        found = [s for s in self.outgoing if str(s.message_id) == params.text("MessageID")]
        if not found:
            raise Refused("Failed")
        item = self._delivery_item(found[0])
        del item["Status"]
        return {"Status": "Success", "Data": item}

    def _campaign_deliveries(self, call: Call) -> Any:
        params = call.params
        campaign = params.text("CampaignID")
        items = [
            self._delivery_item(s, True) for s in self.outgoing if str(s.campaign_id) == campaign
        ]
        if not items:
            raise Refused("BulkID_Invalid")
        return {"Status": "Success", "Data": items}

    def _receive_new(self, call: Call) -> Any:
        params = call.params
        try:
            count = int(params.text("Count"))
        except ValueError:
            raise Refused("Count_Invalid") from None
        if count <= 0:
            raise Refused("Count_Invalid")
        fresh = [
            m for m in self.inbound if not m.read and not (m.relayed and self.relay_excludes_poll)
        ]
        handed = fresh[:count]
        for message in handed:  # consumed before the answer is written, as in reality
            message.read = True
        if not handed:
            return {"Status": "Success", "Message": "هیچ پیام جدیدی یافت نشد", "Data": []}
        return {
            "Status": "Success",
            "Message": "پیامک‌های جدید با موفقیت دریافت شدند",
            "Data": [self._inbound_item(m, with_line=False) for m in handed],
        }

    def _inbound_item(self, message: Inbound, with_line: bool = True) -> dict[str, Any]:
        item: dict[str, Any] = {
            "MessageID": str(message.message_id) if not with_line else message.message_id,
            "Mobile": "0" + message.mobile,
            "MessageText": message.text,
            "ReceiveDateTime": message.received.isoformat(timespec="seconds"),
        }
        if with_line:
            item["LineNumber"] = message.line
        return item

    def _receive_range(self, call: Call) -> Any:
        params = call.params
        start = parse_time(params.text("FromDateTime"))
        end = parse_time(params.text("ToDateTime"))
        if start is None:
            raise Refused("FromDateTime_Invalid")
        if end is None:
            raise Refused("ToDateTime_Invalid")
        if start > end:
            raise Refused("FromDateTimeIsAfterThanToDateTime")
        line = params.text("LineNumber").strip().lower()
        found = [
            self._inbound_item(m)
            for m in self.inbound
            if start <= m.received <= end and (not line or m.line.lower() == line)
        ]
        return {"Status": "Success", "Data": found}

    # ------------------------------------------------------------------ relays

    def _relay_create(self, call: Call, kind: str) -> Any:
        params = call.params
        url = params.text("URLAddress").strip().lower()
        field_name = "RelayRecieveMessageID" if kind == "inbound" else "RelayMessageDeliveryID"
        if not url:
            raise Refused("URLAddress_Empty")
        if not re.match(r"https?://", url):
            raise Refused("Failed")
        if any(h.url == url for h in self.hooks[kind]):
            return {"Status": "URLAddress_Duplicate", field_name: 0}
        hook = Hook(next(self._hook_ids), url, True, self.clock.wall())
        self.hooks[kind].append(hook)
        return {"Status": "Success", field_name: hook.id}

    def _relay_list(self, kind: str) -> Any:
        return {
            "Status": "Success",
            "Data": [
                {
                    "ID": h.id,
                    "EncryptedID": "",
                    "Active": h.active,
                    "RegDateTime": iso(h.registered),
                    "URLAddress": h.url,
                }
                for h in self.hooks[kind]
            ],
        }

    def _relay_active(self, call: Call, kind: str) -> Any:
        params = call.params
        field_name = "RelayRecieveMessageID" if kind == "inbound" else "RelayMessageDeliveryID"
        active = params.text("Active").strip().lower() == "true"
        for hook in self.hooks[kind]:
            if str(hook.id) == params.text(field_name):
                hook.active = active
                return "Success"
        return "Failed" if kind == "delivery" else "RelayRecieveMessageID_Invalid"

    def _active_hooks(self, kind: str) -> list[Hook]:
        return [h for h in self.hooks[kind] if h.active]

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    async def _post(self, url: str, item: dict[str, Any]) -> bool:
        async with httpx.AsyncClient(timeout=10) as client:
            for attempt in range(self.relay_attempts):
                try:
                    if self.relay_format == "form":
                        response = await client.post(url, data={k: str(v) for k, v in item.items()})
                    else:
                        response = await client.post(url, json=item)
                    self.relay_log.append((url, response.status_code))
                    if 200 <= response.status_code < 300:
                        return True
                except httpx.HTTPError:
                    self.relay_log.append((url, 0))
                await asyncio.sleep(0.2 * 2**attempt)
        return False

    async def _push_inbound(self, message: Inbound) -> None:
        item = self._inbound_item(message)
        results = [await self._post(hook.url, item) for hook in self._active_hooks("inbound")]
        if results and all(results) and not message.read:
            message.relayed = True

    async def _tick(self) -> None:
        """Push delivery changes to the registered delivery relays."""
        while True:
            await asyncio.sleep(0.25)
            hooks = self._active_hooks("delivery")
            if not hooks:
                continue
            for sent in self.outgoing:
                code = self.delivery_type(sent)
                if code != sent.pushed_type:
                    sent.pushed_type = code
                    for hook in hooks:
                        self._spawn(self._post(hook.url, self._delivery_item(sent, True)))


def _as_number(value: str) -> Any:
    return int(value) if value.isdigit() else value
