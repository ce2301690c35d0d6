"""PayamSMS (Atieh Dadeh Pardaz) web service (reference §3): OAuth2 password grant, per-item results.

What the documents leave open, and what this client does (reference §3.6):
- Login is a form body by default (JSON per account). Logging in again returns the same token
  without extending it, so the earliest expiry is kept; an API 401 logs in once and retries once.
- Every message carries a ``customerId`` derived from the bridge's send reference. A send whose
  answer was lost is never repeated (whether PayamSMS refuses a repeated ``customerId`` is not
  documented); ``find_sent`` asks ``status?byCustomer=true`` later, and a message it does not
  know yet stays unknown (nothing promises a new message is visible to ``status`` at once).
- Per-item results are matched by ``customerId`` (the answer's order is not documented).
- Request-level errors have no documented carrier: any JSON body with an E-code is mapped.
- Inbound uses the ``id`` cursor only; the form without ``id`` marks messages read and is never
  used. The cursor is kept per line.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import Field, RootModel

from . import numbers
from ._http import DEFAULT_TIMEOUT, CallObserver, Transport
from ._wire import Id, Text, Wire, chunks, json_body, lower_keys, model
from .base import (
    AuthFailed,
    Balance,
    Capability,
    DeliveryReport,
    DeliveryState,
    InboundPage,
    InboundSms,
    InsufficientCredit,
    InvalidRecipient,
    OtpResult,
    Outcome,
    OutcomeUnknown,
    OutgoingSms,
    ProviderBase,
    ProviderError,
    ProviderProtocolError,
    ProviderRejected,
    RecipientResult,
    ScheduledSms,
    SendResult,
)
from .outcome import ends_send, results_for, send_request
from .timeutil import format_tehran, now_tehran, parse_local

MAX_ITEMS = 250  # messages per send call, ids per status call
MAX_PARTS = 32  # parts per text (E211 beyond)
MO_PAGE = 90
SendMethod = Literal["sendMultipleWithSrc", "sendMultipleWithSrcBody", "send"]

_E = type[ProviderError]
# E-code → (error class, English sentence, Persian sentence); reference §3.5.
ECODES: dict[str, tuple[_E, str, str]] = {
    "E2": (ProviderRejected, "a required parameter is missing", "همه پارامترها الزامی هستند"),
    "E4": (AuthFailed, "unauthorised access", "دسترسی غیرمجاز به سامانه"),
    "E5": (AuthFailed, "wrong user name or password", "نام کاربری یا رمز عبور اشتباه است"),
    "E6": (InsufficientCredit, "credit is too low", "اعتبار کافی نیست"),
    "E7": (ProviderRejected, "no new unread message", "پیام دریافتی خوانده‌نشده جدیدی وجود ندارد"),
    "E8": (ProviderRejected, "the message id is invalid", "شناسه پیام نامعتبر است"),
    "E43": (InvalidRecipient, "the recipient number is invalid", "شماره گیرنده نامعتبر است"),
    "E107": (ProviderRejected, "more than 250 recipients in one call", "گیرندگان بیش از ۲۵۰ است"),
    "E132": (ProviderRejected, "the text contains a filtered word", "متن حاوی کلمات حساس است"),
    "E211": (ProviderRejected, "the text is longer than 32 parts", "متن بیش از حد مجاز است"),
    "E223": (ProviderRejected, "the sender line is invalid", "شماره اختصاصی نامعتبر است"),
    "E303": (InvalidRecipient, "no valid recipient number", "شماره گیرنده معتبری وارد نشده است"),
    "E305": (ProviderRejected, "no such message id", "شناسه پیام وجود ندارد"),
    "E766": (ProviderRejected, "the text is empty", "متن پیام خالی است"),
}
STATUSES = {
    "send successfully": DeliveryState.DELIVERED,
    "failed": DeliveryState.FAILED,
    "pending": DeliveryState.SENT,
    "pending in queue": DeliveryState.QUEUED,
}
_ECODE = re.compile(r"\bE\d{1,4}\b")


def error_for(account: str, code: str, description: str = "") -> ProviderError:
    known = ECODES.get(code.upper())
    if known is None:
        detail = description or code or "the request was refused"
        return ProviderRejected(account, code or "refused", f"PayamSMS refused: {detail}")
    cls, en, fa = known
    return cls(account, code.upper(), en, fa)


def find_error(body: Any) -> tuple[str, str] | None:
    """(E-code, description) from a request-level error body of any documented-or-not shape."""
    obj = lower_keys(body)
    if isinstance(obj, dict):
        code = next(
            (
                str(obj[k])
                for k in ("errorcode", "code", "error_description", "error")
                if isinstance(obj.get(k), str | int) and _ECODE.search(str(obj[k]))
            ),
            None,
        )
        description = str(obj.get("description") or obj.get("message") or "")
        if code is not None:
            found = _ECODE.search(code)
            return (found.group() if found else code), description
    found = _ECODE.search(json.dumps(body, ensure_ascii=False)) if body is not None else None
    return (found.group(), "") if found else None


class _Item(Wire):
    customer_id: Text = Field("", alias="customerid")
    mobile: Text = Field("", alias="mobile")
    server_id: Id | None = Field(None, alias="serverid")
    error: Text | None = Field(None, alias="errorcode")
    description: Text = Field("", alias="description")


class _ItemList(RootModel[list[_Item]]):
    """A send answer validated in one pass (a bulk send returns 250 items per call)."""


class _Status(Wire):
    customer_id: Text = Field("", alias="customerid")
    server_id: Id = Field("", alias="serverid")
    total: int = Field(0, alias="totalparts")
    delivered: int = Field(0, alias="totaldeliveredparts")
    undelivered: int = Field(0, alias="totalundeliveredparts")
    status: Text = Field("", alias="status")


class _Mo(Wire):
    id: int = Field(alias="id")
    body: Text = Field("", alias="body")
    sender: Id = Field(alias="from")
    date: Text = Field("", alias="date")


class _Scheduled(Wire):
    server_id: Id = Field(alias="serverid")
    recipient: Id = Field("", alias="recipient")
    message: Text = Field("", alias="message")
    send_date: Text = Field("", alias="senddate")
    price: float | None = Field(None, alias="totalprice")
    parts: int | None = Field(None, alias="parts")


class _ScheduledPage(Wire):
    pages: int = Field(0, alias="totalpages")
    items: list[_Scheduled] = Field(default_factory=list, alias="scheduledmessages")


@dataclass(frozen=True, slots=True)
class _Message:
    number: str
    text: str
    customer_id: str


class PayamSmsClient(ProviderBase):
    capabilities = frozenset(
        {
            Capability.BALANCE,
            Capability.SEND,
            Capability.SEND_P2P,
            Capability.OTP,
            Capability.SCHEDULE,
            Capability.CANCEL_SCHEDULED,
            Capability.DELIVERY,
            Capability.INBOUND_POLL,
            Capability.FIND_SENT,
        }
    )
    max_parts: int | None = MAX_PARTS

    def __init__(
        self,
        account: str,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        system_name: str,
        username: str,
        password: str,
        lines: Sequence[str] = (),
        send_method: SendMethod = "sendMultipleWithSrc",
        login_json: bool = False,
        otp_text: str = "کد تأیید شما: {code}",
        proxy: str | None = None,
        observer: CallObserver | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account = account
        self.lines = tuple(lines)
        self.send_method = send_method
        self.login_json = login_json
        self.otp_text = otp_text
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._basic = f"Basic {basic}"
        self._login_fields = {
            "systemName": system_name,
            "username": username,
            "password": password,
            "scope": "webservice",
            "grant_type": "password",
        }
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._token_lock = asyncio.Lock()
        self._http = Transport(account, base_url, proxy=proxy, observer=observer, timeout=timeout)

    # ------------------------------------------------------------------ token

    def token_expiry(self) -> datetime | None:
        if self._token is None:
            return None
        return now_tehran() + timedelta(seconds=self._expires_at - self._clock())

    async def _get_token(self, stale: str | None) -> str:
        async with self._token_lock:
            if (
                self._token is not None
                and self._token != stale
                and self._clock() < self._expires_at
            ):
                return self._token
            login = (
                {"json": self._login_fields} if self.login_json else {"data": self._login_fields}
            )
            response = await self._http.request(
                "POST",
                "auth/oauth/token",
                headers={"Authorization": self._basic},
                ok_statuses=(400, 401, 403),
                **login,
            )
            if response.status_code >= 400:
                found = find_error(_maybe_json(response))
                if found is not None and found[0] in ECODES:
                    raise error_for(self.account, found[0], found[1])
                raise AuthFailed(
                    self.account,
                    f"http_{response.status_code}",
                    "PayamSMS refused the client id or secret",
                    "شناسه یا رمز کلاینت پذیرفته نشد",
                )
            obj = lower_keys(json_body(self.account, response.content))
            if not isinstance(obj, dict) or not obj.get("access_token"):
                raise ProviderProtocolError(self.account, "bad_shape", "the login has no token")
            token = str(obj["access_token"])
            try:
                lifetime = float(obj.get("expires_in") or 0)
            except (TypeError, ValueError):
                lifetime = 0.0
            now = self._clock()
            expires_at = now + lifetime
            if token == self._token:
                # A repeat login returns the same token and never extends it (rule 1): keep the
                # earlier expiry while it lies ahead; past it, check again within a minute.
                expires_at = (
                    self._expires_at if self._expires_at > now else now + min(lifetime, 60.0)
                )
            self._token, self._expires_at = token, expires_at
            return token

    async def _call(
        self,
        verb: str,
        path: str,
        *,
        params: Any = None,
        body: Any = None,
    ) -> Any:
        """The JSON answer of one API call; 401 (turned away before anything was done) → one
        fresh login and one retry."""
        stale: str | None = None
        for attempt in (1, 2):
            token = await self._get_token(stale)
            response = await self._http.request(
                verb,
                path,
                params=params,
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                ok_statuses=(400, 401, 403, 404),
            )
            status = response.status_code
            if status == 401 and attempt == 1:
                stale = token
                continue
            if status in (401, 403):
                raise AuthFailed(
                    self.account,
                    f"http_{status}",
                    "PayamSMS refused the token"
                    if status == 401
                    else "this PayamSMS user may not do that",
                    "توکن پذیرفته نشد" if status == 401 else "اجازه این کار را ندارید",
                )
            if status >= 400:
                found = find_error(_maybe_json(response))
                if found is None:
                    raise ProviderProtocolError(
                        self.account, f"http_{status}", f"unexpected HTTP {status} from PayamSMS"
                    )
                raise error_for(self.account, *found)
            return json_body(self.account, response.content)
        raise AssertionError("unreachable")

    async def _list(self, verb: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        """An answer that must be a JSON array; an object with an E-code is that error."""
        value = await self._call(verb, path, **kwargs)
        if isinstance(value, list) and all(isinstance(i, dict) for i in value):
            return [{str(k).lower(): v for k, v in i.items()} for i in value]  # flat items
        found = find_error(value)
        if found is not None:
            raise error_for(self.account, *found)
        raise ProviderProtocolError(self.account, "bad_shape", "expected a JSON array")

    # ------------------------------------------------------------------ account

    async def balance(self) -> Balance:
        value = await self._call("GET", "accounting/webservice/balance")
        if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            found = find_error(value)
            if found is not None:
                raise error_for(self.account, *found)
            raise ProviderProtocolError(self.account, "bad_shape", "the balance is not a number")
        return Balance(credit=float(value), currency="", lines=self.lines)

    # ------------------------------------------------------------------ sending

    async def send(self, sms: OutgoingSms) -> SendResult:
        reference = sms.reference or uuid.uuid4().hex[:16]
        messages = [_Message(n, sms.text, f"{reference}-{i}") for i, n in enumerate(sms.recipients)]
        return await self._send_all(sms.line, messages, sms.send_at)

    async def send_p2p(
        self, line: str, items: Sequence[tuple[str, str]], send_at: datetime | None = None
    ) -> SendResult:
        reference = uuid.uuid4().hex[:16]
        messages = [_Message(n, t, f"{reference}-{i}") for i, (n, t) in enumerate(items)]
        return await self._send_all(line, messages, send_at)

    async def send_otp(
        self, number: str, code: str | None, length: int = 5, reference: str = ""
    ) -> OtpResult:
        """PayamSMS has no OTP service: a generated code goes out as a plain SMS."""
        if not self.lines:
            raise ProviderRejected(
                self.account,
                "no_line",
                "the account has no line to send from",
                "این حساب خطی برای ارسال ندارد",
            )
        code = code or "".join(secrets.choice("0123456789") for _ in range(max(4, length)))
        text = self.otp_text.format(code=code)
        result = await self.send(OutgoingSms(self.lines[0], (number,), text, reference=reference))
        item = result.items[0]
        if item.outcome is Outcome.UNKNOWN:
            raise OutcomeUnknown(
                self.account,
                item.error or "unknown",
                "the code may have been sent",
                "ممکن است کد رفته باشد",
            )
        if not item.ok:
            raise error_for(self.account, item.error or "")
        return OtpResult(number, code, item.message_id)

    async def _send_all(
        self, line: str, messages: Sequence[_Message], send_at: datetime | None
    ) -> SendResult:
        """Chunks of 250, one call each. A chunk that fails is reported message by message (failed
        or unknown, by the outcome rule) and the next chunks still go; only an account-level
        refusal of the first chunk fails the send."""
        results: dict[str, RecipientResult] = {}
        for index in range(0, len(messages), MAX_ITEMS):
            chunk = messages[index : index + MAX_ITEMS]
            try:
                with send_request(self.account):
                    answered = self._match(chunk, await self._post(line, chunk, send_at))
            except ProviderError as exc:
                if ends_send(exc, first=index == 0, only=len(chunk) == len(messages)):
                    raise
                failed = results_for([m.number for m in chunk], exc)
                answered = {m.customer_id: r for m, r in zip(chunk, failed, strict=True)}
            results.update(answered)
        return SendResult(items=tuple(results[m.customer_id] for m in messages))

    async def _post(
        self, line: str, chunk: Sequence[_Message], send_at: datetime | None
    ) -> list[dict[str, Any]]:
        when = {"sendDate": format_tehran(send_at)} if send_at else {}
        items = [
            {
                "recipient": numbers.try_normalize(m.number) or m.number,
                "body": m.text,
                "customerId": m.customer_id,
            }
            | when
            for m in chunk
        ]
        same_text = len({m.text for m in chunk}) == 1
        if self.send_method == "send":
            body: Any = [{"sender": line} | item for item in items]
            path = "panel/webservice/send"
        elif self.send_method == "sendMultipleWithSrcBody" and same_text:
            path = "panel/webservice/sendMultipleWithSrcBody"
            body = {
                "sender": line,
                "body": chunk[0].text,
                "smsItems": [{k: v for k, v in i.items() if k != "body"} for i in items],
            }
        else:
            path = "panel/webservice/sendMultipleWithSrc"
            body = {"sender": line, "smsItems": items}
        return await self._list("POST", path, body=body)

    def _match(
        self, chunk: Sequence[_Message], answer: list[dict[str, Any]]
    ) -> dict[str, RecipientResult]:
        """Per-item results by customerId; by position only when the ids are missing."""
        items = model(self.account, _ItemList, answer).root
        by_id = {i.customer_id: i for i in items if i.customer_id}
        results: dict[str, RecipientResult] = {}
        for position, message in enumerate(chunk):
            item = by_id.get(message.customer_id)
            if item is None and not by_id and position < len(items):
                item = items[position]
            if item is None:  # an answer that leaves a message out has not said what became of it
                result = RecipientResult.unknown(message.number, "not_in_answer")
            elif item.server_id and not item.error:
                result = RecipientResult.accepted(message.number, item.server_id)
            else:
                result = RecipientResult.refused(message.number, item.error or "failed")
            results[message.customer_id] = result
        return results

    # ------------------------------------------------------------------ delivery

    async def _statuses(self, ids: Sequence[str], by_customer: bool) -> list[_Status]:
        found: list[_Status] = []
        for chunk in chunks(ids, MAX_ITEMS):
            params = [("byCustomer", "true" if by_customer else "false")]
            params += [("ids", i) for i in chunk]
            try:
                items = await self._list("GET", "report/webservice/status", params=params)
            except ProviderRejected as exc:
                if exc.code == "E305":  # none of these ids is known (yet)
                    continue
                raise
            found += [model(self.account, _Status, i) for i in items]
        return found

    async def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        """``status?byCustomer=true`` for the send's ``customerId``s: a message PayamSMS knows was
        accepted; one it does not know (yet) is still ``absent``."""
        if not sms.reference:
            return None
        ids = [f"{sms.reference}-{i}" for i in range(len(sms.recipients))]
        statuses = await self._statuses(ids, by_customer=True)
        known = {s.customer_id: s.server_id for s in statuses if s.customer_id and s.server_id}
        return SendResult(
            tuple(
                RecipientResult.accepted(n, known[c])
                if c in known
                else RecipientResult.unknown(n, "absent")
                for n, c in zip(sms.recipients, ids, strict=True)
            )
        )

    async def deliveries(
        self, message_ids: Sequence[str], campaign_id: str | None = None
    ) -> list[DeliveryReport]:
        return [
            DeliveryReport(
                message_id=s.server_id,
                state=STATUSES.get(s.status.strip().lower(), DeliveryState.UNKNOWN),
                raw=s.status + (f" {s.delivered}/{s.total}" if s.total else ""),
            )
            for s in await self._statuses(message_ids, by_customer=False)
        ]

    # ------------------------------------------------------------------ scheduled

    async def scheduled(self, start: datetime, end: datetime) -> list[ScheduledSms]:
        found: list[ScheduledSms] = []
        page = 0
        while True:
            params = {
                "from": format_tehran(start),
                "to": format_tehran(end),
                "page": page,
                "size": 100,
            }
            value = await self._call("GET", "panel/webservice/scheduledList", params=params)
            data = model(self.account, _ScheduledPage, lower_keys(value))
            for s in data.items:
                number = numbers.try_normalize(s.recipient) or s.recipient
                found.append(
                    ScheduledSms(
                        s.server_id, number, s.message, parse_local(s.send_date), s.price, s.parts
                    )
                )
            page += 1
            if page >= data.pages or not data.items:
                return found

    async def cancel_scheduled(self, message_id: str) -> bool:
        """True when PayamSMS cancelled it; False when it could not (maybe already sent)."""
        value = await self._call(
            "POST", "panel/webservice/cancelScheduled", body={"serverId": message_id}
        )
        obj = lower_keys(value)
        if not isinstance(obj, dict) or "status" not in obj:
            raise ProviderProtocolError(self.account, "bad_shape", "the cancel has no status")
        return obj["status"] is True or str(obj["status"]).lower() == "true"

    # ------------------------------------------------------------------ inbound

    async def fetch_inbound(self, cursor: str | None = None) -> InboundPage:
        """One page per line after the stored ids; the cursor is ``{"<line>": <last id>}``."""
        positions: dict[str, int] = json.loads(cursor) if cursor else {}
        found: list[InboundSms] = []
        more = False
        for line in self.lines:
            after = int(positions.get(line, 0))
            try:
                items = await self._list(
                    "GET", "report/webservice/mo", params={"number": line, "id": after}
                )
            except ProviderRejected as exc:
                if exc.code == "E7":  # "no new message", whatever its carrier
                    continue
                raise
            page = [model(self.account, _Mo, i) for i in items]
            more = more or len(page) >= MO_PAGE
            for mo in sorted(page, key=lambda m: m.id):
                if mo.id <= after:
                    continue
                found.append(
                    InboundSms(
                        provider_id=f"{line}/{mo.id}",
                        sender=numbers.try_normalize(mo.sender) or mo.sender,
                        text=mo.body,
                        received_at=parse_local(mo.date) or now_tehran(),
                        line=line,
                    )
                )
                positions[line] = max(positions.get(line, 0), mo.id)
        return InboundPage(tuple(found), json.dumps(positions, sort_keys=True), more)

    async def aclose(self) -> None:
        await self._http.aclose()


def _maybe_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
