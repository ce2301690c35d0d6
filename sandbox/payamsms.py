"""A stateful PayamSMS web-service simulator, faithful to docs/providers.md §3, quirks included.

Sim conventions (where the documents are silent):
- One token per (client id, systemName, username), valid ``token_lifetime`` seconds on ``clock``;
  a login during its validity returns the same token with ``expires_in`` = the seconds left and
  never extends it. An expired or unknown bearer → HTTP 401. Wrong Basic credentials → HTTP 401;
  a wrong user, password or systemName → HTTP 400 ``{"error": "invalid_grant",
  "error_description": "E5"}``; a wrong scope or grant type → HTTP 400 ``invalid_request``. The
  login is read from a form body, the query string or JSON.
- Request-level errors → HTTP 400 ``{"errorCode": "E…", "description": "…"}``; item-level errors
  inside the 200 array. More than 250 items → E107 for the whole request.
- Recipients must be ``98`` + 10 digits (else E43); the sender must be a line of the account
  (E223); empty text E766; more than 32 parts E211; a banned word E132; no credit E6.
- Status moves ``Pending In Queue`` → ``Pending`` → ``Send Successfully`` (``Failed`` for
  ``undeliverable`` numbers and cancelled messages) after ``delivery_steps`` seconds from the send
  time. Nothing promises a new message is visible to ``status`` at once: it shows only
  ``status_delay`` seconds after it was accepted. Unknown ids are left out; when none is known the
  call fails with E305.
- Inbound: per-line ids, increasing. Without ``id`` the 90 oldest unread are returned and marked
  read (E7 when there are none); with ``id`` every message above it, ascending, 90 per page,
  flags untouched.
- scheduledList needs one of serverId/customerId/from/to (else E2); pages are 0-based, 10 by default.
  cancelScheduled is ``true`` only while the message is still waiting, and refunds it.
Faults (``fail_next``): the shared ones (``sandbox/_common.FaultySim``); ``token_expired`` (the
bearer dies now: HTTP 401), ``http_403`` (this user may not do that) and ``e4`` (E4, unauthorised
access, as a request-level error).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._common import (
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


class Login(TypedDict):
    client_id: str
    client_secret: str
    system_name: str
    username: str
    password: str


DEFAULT_LOGIN: Login = {
    "client_id": "sandbox-client",
    "client_secret": "sandbox-client-secret",
    "system_name": "sandbox",
    "username": "operator",
    "password": "sandbox-password",
}
MAX_ITEMS = 250
MO_PAGE = 90
DESCRIPTIONS = {
    "E2": "همه پارامترها الزامی هستند",
    "E4": "دسترسی غیرمجاز به سامانه",
    "E6": "اعتبار کافی نیست",
    "E7": "پیام دریافتی خوانده نشده جدیدی وجود ندارد",
    "E8": "شناسه پیام نامعتبر است",
    "E43": "شماره گیرنده نامعتبر است",
    "E107": "تعداد گیرندگان بیش از ۲۵۰ است",
    "E132": "متن حاوی کلمات حساس است",
    "E211": "متن بیش از حد مجاز است",
    "E223": "شماره اختصاصی نامعتبر است",
    "E305": "شناسه پیام وجود ندارد",
    "E766": "متن پیام خالی است",
}
_RECIPIENT = re.compile(r"98(9\d{9})")


@dataclass
class Message:
    server_id: str
    customer_id: str
    sender: str
    mobile: str  # 10 digits
    body: str
    send_at: datetime  # Tehran wall clock
    sent_clock: float  # clock() when it is (or was) due
    parts: int
    price: int
    accepted_clock: float = 0.0  # clock() when it was accepted
    cancelled: bool = False


@dataclass
class Mo:
    id: int
    line: str
    sender: str
    body: str
    date: datetime
    read: bool = False


class PayamSim(FaultySim):
    SPECIFIC_FAULTS = frozenset({"http_403", "e4"})

    def __init__(
        self,
        *,
        login: Login | None = None,
        lines: tuple[str, ...] = ("98200012345", "98200067890"),
        credit: int = 2_000_000,
        part_price: int = 1_200,
        token_lifetime: float = 3600.0,
        delivery_steps: tuple[float, float] = (1.0, 2.0),
        undeliverable: tuple[str, ...] = (),
        banned_words: tuple[str, ...] = ("قمار",),
        status_delay: float = 2.0,
        hang_seconds: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(clock, hang_seconds)
        self.status_delay = status_delay
        self.login = dict(login or DEFAULT_LOGIN)
        self.lines = list(lines)
        self.credit = credit
        self.part_price = part_price
        self.token_lifetime = token_lifetime
        self.delivery_steps = delivery_steps
        self.undeliverable = {mobile10(n) for n in undeliverable}
        self.banned_words = banned_words
        self.token: tuple[str, float] | None = None  # (access token, expires at)
        self.logins = 0
        self.messages: list[Message] = []
        self.inbox: list[Mo] = []
        self._server_ids = itertools.count(4_100_000_001)
        self._mo_ids: dict[str, itertools.count[int]] = {}
        api: dict[str, tuple[str, Handler]] = {
            "/auth/oauth/token": ("POST", self._login),
            "/accounting/webservice/balance": ("GET", self._balance),
            "/panel/webservice/send": ("POST", self._send),
            "/panel/webservice/sendMultipleWithSrc": ("POST", self._send_with_src),
            "/panel/webservice/sendMultipleWithSrcBody": ("POST", self._send_with_src_body),
            "/report/webservice/status": ("GET", self._status),
            "/report/webservice/mo": ("GET", self._mo),
            "/panel/webservice/scheduledList": ("GET", self._scheduled_list),
            "/panel/webservice/cancelScheduled": ("POST", self._cancel_scheduled),
        }
        self.app = Starlette(
            routes=[
                Route("/_sandbox/inbound", self._ctl_inbound, methods=["POST"]),
                Route("/_sandbox/fault", self._ctl_fault, methods=["POST"]),
                *(
                    Route(path, self.endpoint(path.rsplit("/", 1)[1], handler), methods=[verb])
                    for path, (verb, handler) in api.items()
                ),
            ]
        )

    # ------------------------------------------------------------------ control side

    def inbound_line(self) -> str:
        return self.lines[0]

    def inject_inbound(self, sender: str, text: str, line: str | None = None) -> int:
        """Ids count per line, as on the wire."""
        mobile = require_mobile(sender)
        line = line or self.inbound_line()
        counter = self._mo_ids.setdefault(line, itertools.count(478))
        mo = Mo(next(counter), line, "98" + mobile, text, self.clock.wall().replace(microsecond=0))
        self.inbox.append(mo)
        return mo.id

    def sent(self) -> list[tuple[str, str]]:
        """Every message accepted, cancelled ones included."""
        return [("98" + m.mobile, m.body) for m in self.messages]

    def status_of(self, message: Message) -> str:
        if message.cancelled:
            return "Failed"
        age = self.clock() - message.sent_clock
        if age < self.delivery_steps[0]:
            return "Pending In Queue"
        if age < self.delivery_steps[1]:
            return "Pending"
        return "Failed" if message.mobile in self.undeliverable else "Send Successfully"

    async def _ctl_inbound(self, request: Request) -> Response:
        body = await request.json()
        mo_id = self.inject_inbound(body["sender"], body["text"], body.get("line"))
        return JSONResponse({"id": mo_id})

    # ------------------------------------------------------------------ login

    def _login(self, call: Call) -> Any:
        p = call.params
        if p.get("scope") != "webservice" or p.get("grant_type") != "password":
            raise Refused("invalid_request")
        if (p.get("systemName"), p.get("username"), p.get("password")) != (
            self.login["system_name"],
            self.login["username"],
            self.login["password"],
        ):
            raise Refused("invalid_grant", "E5")
        self.logins += 1
        now = self.clock()
        if self.token is None or self.token[1] <= now:
            self.token = (secrets.token_urlsafe(24), now + self.token_lifetime)
        token, expires = self.token
        return {
            "access_token": token,
            "expires_in": int(expires - now),
            "scope": "webservice",
            "userDetails": {
                "username": self.login["username"],
                "systemName": self.login["system_name"],
            },
        }

    # ------------------------------------------------------------------ API plumbing

    async def read(self, method: str, request: Request) -> tuple[Params, Any]:
        """The query, and a POST's JSON body (the login takes its fields as a form, JSON or in
        the query). Names are compared exactly, as the Java service binds them."""
        query = list(request.query_params.multi_items())
        raw = (await request.body()).decode("utf-8", errors="replace").strip()
        if method == "token":
            if raw.startswith("{"):
                try:
                    fields = json.loads(raw)
                except ValueError:
                    raise Refused("invalid_request") from None
                if not isinstance(fields, dict):
                    raise Refused("invalid_request")
                return Params(query + list(fields.items()), fold_case=False), fields
            return Params(query + parse_qsl(raw), fold_case=False), None
        if request.method != "POST":
            return Params(query, fold_case=False), None
        try:
            body = json.loads(raw or "null")
        except ValueError:
            raise Refused("E2") from None
        return Params(query, fold_case=False), body

    def authorize(self, call: Call) -> None:
        header = call.request.headers.get("authorization", "")
        if call.method == "token":
            client = f"{self.login['client_id']}:{self.login['client_secret']}"
            if header != f"Basic {base64.b64encode(client.encode()).decode()}":
                raise Refused("unauthorized", status=401)
        elif (
            self.token is None
            or header != f"Bearer {self.token[0]}"
            or self.token[1] <= self.clock()
        ):
            raise Refused("invalid_token", status=401)

    def refusal(self, method: str, refused: Refused) -> Response:
        """An ``E`` code with its description (HTTP 400); the login's and the bearer's refusals
        in OAuth's own form."""
        code = str(refused.code)
        if code.startswith("E") and method != "token":
            return JSONResponse({"errorCode": code, "description": DESCRIPTIONS.get(code, "")}, 400)
        body = {"error": code} | ({"error_description": refused.message} if refused.message else {})
        return JSONResponse(body, refused.status or 400)

    def fault_response(self, kind: str, method: str) -> Response | None:
        if kind == "token_expired" and self.token is not None:
            self.token = (self.token[0], self.clock())  # the bearer dies now; the call gets 401
        if kind == "http_403":
            return JSONResponse({"error": "access_denied"}, 403)
        if kind == "e4":
            return self.refusal(method, Refused("E4"))
        return None

    # ------------------------------------------------------------------ methods

    def _balance(self, _call: Call) -> Any:
        return self.credit  # a bare JSON number

    def _send_date(self, raw: Any) -> datetime | None:
        if raw in (None, ""):
            return None
        try:
            return datetime.strptime(str(raw), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise Refused("E2") from None

    def _accept(self, sender: Any, item: Any, body: Any) -> dict[str, Any]:
        """One message: the documented per-item answer, accepted or with its E-code."""
        item = item if isinstance(item, dict) else {}
        customer_id = str(item.get("customerId") or "")
        recipient = str(item.get("recipient") or "")
        answer: dict[str, Any] = {"customerId": customer_id, "mobile": recipient}
        match = _RECIPIENT.fullmatch(recipient)
        text = "" if body is None else str(body)
        code: str | None = None
        try:
            send_at = self._send_date(item.get("sendDate"))
        except Refused as refused:
            code = str(refused.code)
            send_at = None
        parts = sms_parts(text)
        if code:
            pass
        elif match is None:
            code = "E43"
        elif str(sender) not in self.lines:
            code = "E223"
        elif not text.strip():
            code = "E766"
        elif parts > 32:
            code = "E211"
        elif any(word in text for word in self.banned_words):
            code = "E132"
        elif parts * self.part_price > self.credit:
            code = "E6"
        if code or match is None:
            return answer | {"errorCode": code, "description": DESCRIPTIONS.get(code or "", "")}
        now_wall = self.clock.wall()
        due = send_at if send_at is not None and send_at > now_wall else now_wall
        message = Message(
            str(next(self._server_ids)),
            customer_id,
            str(sender),
            match.group(1),
            text,
            due,
            self.clock() + (due - now_wall).total_seconds(),
            parts,
            parts * self.part_price,
            self.clock(),
        )
        self.credit -= message.price
        self.messages.append(message)
        return answer | {"serverId": message.server_id}

    def _items(self, value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise Refused("E2")
        if len(value) > MAX_ITEMS:
            raise Refused("E107")
        return value

    def _send(self, call: Call) -> Any:
        body = call.body
        return [
            self._accept(
                i.get("sender") if isinstance(i, dict) else None,
                i,
                i.get("body") if isinstance(i, dict) else None,
            )
            for i in self._items(body)
        ]

    def _send_with_src(self, call: Call) -> Any:
        body = call.body
        body = body if isinstance(body, dict) else {}
        items = self._items(body.get("smsItems"))
        return [
            self._accept(body.get("sender"), i, i.get("body") if isinstance(i, dict) else None)
            for i in items
        ]

    def _send_with_src_body(self, call: Call) -> Any:
        body = call.body
        body = body if isinstance(body, dict) else {}
        items = self._items(body.get("smsItems"))
        return [self._accept(body.get("sender"), i, body.get("body")) for i in items]

    def _status(self, call: Call) -> Any:
        by_customer = call.params.text("byCustomer").lower()
        ids = [str(i) for i in call.params.all("ids")]
        if by_customer not in ("true", "false") or not ids:
            raise Refused("E2")
        if len(ids) > MAX_ITEMS:
            raise Refused("E107")
        if by_customer == "false" and not all(i.isdigit() for i in ids):
            raise Refused("E8")
        wanted = set(ids)
        visible = self.clock() - self.status_delay
        found = [
            m
            for m in self.messages
            if (m.customer_id if by_customer == "true" else m.server_id) in wanted
            and m.accepted_clock <= visible
        ]
        if not found:
            raise Refused("E305")
        result = []
        for m in found:
            status = self.status_of(m)
            result.append(
                {
                    "customerId": m.customer_id,
                    "serverId": m.server_id,
                    "totalParts": m.parts,
                    "totalDeliveredParts": m.parts if status == "Send Successfully" else 0,
                    "totalUnDeliveredParts": m.parts if status == "Failed" else 0,
                    "totalUnKnownParts": m.parts if status.startswith("Pending") else 0,
                    "status": status,
                }
            )
        return result

    def _mo(self, call: Call) -> Any:
        line = call.params.text("number")
        if not line:
            raise Refused("E2")
        mine = sorted((m for m in self.inbox if m.line == line), key=lambda m: m.id)
        raw_id = call.params.get("id")
        if raw_id is None:
            page = [m for m in mine if not m.read][:MO_PAGE]
            if not page:
                raise Refused("E7")
            for m in page:
                m.read = True  # marked read before the answer leaves (docs/providers.md §3.3, P7)
        else:
            if not raw_id.isdigit():
                raise Refused("E2")
            page = [m for m in mine if m.id > int(raw_id)][:MO_PAGE]
        return [
            {
                "body": m.body,
                "id": m.id,
                "from": m.sender,
                "date": m.date.strftime("%Y-%m-%d %H:%M:%S"),
                "to": m.line,
            }
            for m in page
        ]

    def _waiting(self) -> list[Message]:
        now = self.clock.wall()
        return [m for m in self.messages if not m.cancelled and m.send_at > now]

    def _scheduled_list(self, call: Call) -> Any:
        q = call.params
        if not any(q.get(k) for k in ("serverId", "customerId", "from", "to")):
            raise Refused("E2")
        start, end = self._send_date(q.get("from")), self._send_date(q.get("to"))
        found = [
            m
            for m in self._waiting()
            if (not q.get("serverId") or m.server_id == q.get("serverId"))
            and (not q.get("customerId") or m.customer_id == q.get("customerId"))
            and (start is None or m.send_at >= start)
            and (end is None or m.send_at <= end)
        ]
        page, size = int(q.get("page") or 0), max(1, int(q.get("size") or 10))
        return {
            "totalItem": len(found),
            "totalPages": -(-len(found) // size),
            "currentPage": page,
            "scheduledMessages": [
                {
                    "serverId": m.server_id,
                    "customerId": m.customer_id,
                    "sendDate": m.send_at.strftime("%Y-%m-%d %H:%M:%S"),
                    "recipient": "98" + m.mobile,
                    "message": m.body,
                    "totalPrice": m.price,
                    "parts": m.parts,
                }
                for m in found[page * size : (page + 1) * size]
            ],
        }

    def _cancel_scheduled(self, call: Call) -> Any:
        body = call.body
        server_id = str(body.get("serverId") or "") if isinstance(body, dict) else ""
        if not server_id:
            raise Refused("E2")
        message = next((m for m in self.messages if m.server_id == server_id), None)
        cancelled = message is not None and message in self._waiting()
        if message is not None and cancelled:
            message.cancelled = True
            self.credit += message.price
        return {
            "serverId": server_id,
            "recipient": "98" + message.mobile if message else "",
            "status": cancelled,
        }
