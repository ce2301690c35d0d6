"""PayamSMS (Atieh Dadeh Pardaz; docs/providers.md §3): an OAuth2 password grant, sends of up to 250
messages per call with a result per message, and inbound SMS by an id cursor.

What the documents leave open, and what this client does:
- Login is a form body by default, JSON per account (P2). Logging in again returns the same
  token without extending it, so the earliest expiry is kept (P3); an API 401 logs in once and
  repeats the call once — ``TokenAuth``.
- Every message carries a ``customerId`` derived from the bridge's send reference. A send whose
  answer was lost is never repeated (whether PayamSMS refuses a repeated ``customerId`` is not
  documented, P13); ``find_sent`` asks ``status?byCustomer=true`` later, and a message it does
  not know yet stays unknown (nothing promises a new message is visible to ``status`` at once).
- Per-message results are matched by ``customerId`` (the answer's order is not documented, P14).
- Request-level errors have no documented carrier (P6): any body with an E-code is mapped.
- Inbound uses the ``id`` cursor only; the form without ``id`` marks messages read (P7) and is
  never used. The cursor is kept per line.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import Field, RootModel

from . import numbers
from ._http import DEFAULT_TIMEOUT, CallObserver, Session, TokenAuth, Transport
from ._wire import Id, Text, Wire, chunks, json_body, lower_keys, model
from .base import (
    AuthFailed,
    Balance,
    Capability,
    DeliveryReport,
    DeliveryState,
    ErrorCode,
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

# ------------------------------------------------------------------------ limits and tables

MAX_ITEMS = 250  # messages per send call, ids per status call
MAX_PARTS = 32  # parts per text (E211 beyond)
MO_PAGE = 90
SendMethod = Literal["sendMultipleWithSrc", "sendMultipleWithSrcBody", "send"]

# E-code → (error, English, Persian); docs/providers.md §3.5.
CODES: dict[str, ErrorCode] = {
    "E2": ErrorCode(
        ProviderRejected, "a required parameter is missing", "همه پارامترها الزامی هستند"
    ),
    "E4": ErrorCode(AuthFailed, "unauthorised access", "دسترسی غیرمجاز به سامانه"),
    "E5": ErrorCode(AuthFailed, "wrong user name or password", "نام کاربری یا رمز عبور اشتباه است"),
    "E6": ErrorCode(InsufficientCredit, "credit is too low", "اعتبار کافی نیست"),
    "E7": ErrorCode(
        ProviderRejected, "no new unread message", "پیام دریافتی خوانده‌نشده جدیدی وجود ندارد"
    ),
    "E8": ErrorCode(ProviderRejected, "the message id is invalid", "شناسه پیام نامعتبر است"),
    "E43": ErrorCode(
        InvalidRecipient, "the recipient number is invalid", "شماره گیرنده نامعتبر است"
    ),
    "E107": ErrorCode(
        ProviderRejected, "more than 250 recipients in one call", "گیرندگان بیش از ۲۵۰ است"
    ),
    "E132": ErrorCode(
        ProviderRejected, "the text contains a filtered word", "متن حاوی کلمات حساس است"
    ),
    "E211": ErrorCode(
        ProviderRejected, "the text is longer than 32 parts", "متن بیش از حد مجاز است"
    ),
    "E223": ErrorCode(ProviderRejected, "the sender line is invalid", "شماره اختصاصی نامعتبر است"),
    "E303": ErrorCode(
        InvalidRecipient, "no valid recipient number", "شماره گیرنده معتبری وارد نشده است"
    ),
    "E305": ErrorCode(ProviderRejected, "no such message id", "شناسه پیام وجود ندارد"),
    "E766": ErrorCode(ProviderRejected, "the text is empty", "متن پیام خالی است"),
}
DELIVERY_STATES: dict[str, DeliveryState] = {
    "send successfully": DeliveryState.DELIVERED,
    "failed": DeliveryState.FAILED,
    "pending": DeliveryState.SENT,
    "pending in queue": DeliveryState.QUEUED,
}
_ECODE = re.compile(r"\bE\d{1,4}\b")


def error_for(account: str, code: str, description: str = "") -> ProviderError:
    """An E-code's error; an unknown one is a refusal in PayamSMS's own words."""
    known = CODES.get(code.upper())
    if known is not None:
        return known.error(account, code.upper())
    detail = description or code or "the request was refused"
    return ProviderRejected(account, code or "refused", f"PayamSMS refused: {detail}")


def delivery_state(raw: str, table: Mapping[str, DeliveryState] = DELIVERY_STATES) -> DeliveryState:
    return table.get(raw.strip().lower(), DeliveryState.UNKNOWN)


# ------------------------------------------------------------------------ wire models


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


# ------------------------------------------------------------------------ parse functions


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


def checked(account: str, value: Any) -> list[dict[str, Any]]:
    """An answer that must be a JSON array of objects (keys lower-cased); an object with an
    E-code is that error."""
    if isinstance(value, list) and all(isinstance(i, dict) for i in value):
        return [{str(k).lower(): v for k, v in i.items()} for i in value]  # flat items
    found = find_error(value)
    if found is not None:
        raise error_for(account, *found)
    raise ProviderProtocolError(account, "bad_shape", "expected a JSON array")


def parse_balance(account: str, value: Any, lines: Sequence[str]) -> Balance:
    """A bare JSON number (or a number in a string)."""
    if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        found = find_error(value)
        if found is not None:
            raise error_for(account, *found)
        raise ProviderProtocolError(account, "bad_shape", "the balance is not a number")
    return Balance(credit=float(value), currency="", lines=tuple(lines))


def account_refusal(account: str, results: Iterable[RecipientResult]) -> ProviderError | None:
    """PayamSMS refuses message by message (E6 for credit), never the request: when it refused
    every message of a request for the same account-level reason (credit, credentials), that is
    the account's refusal, and a caller sending more requests would only meet it again."""
    found = list(results)
    codes = {r.error for r in found if r.outcome is Outcome.FAILED}
    if len(codes) != 1 or any(r.outcome is not Outcome.FAILED for r in found):
        return None
    code = codes.pop() or ""
    known = CODES.get(code)
    if known is None or not issubclass(known.kind, InsufficientCredit | AuthFailed):
        return None
    return known.error(account, code)


def customer_id(reference: str, number: str) -> str:
    """A message's ``customerId``: the send's reference and the recipient, unique in a send
    however its recipients are split into requests, so that a look-up finds each one."""
    return f"{reference}-{number}"


def match_results(
    account: str, chunk: Sequence[_Message], answer: list[dict[str, Any]]
) -> dict[str, RecipientResult]:
    """Per-message results by customerId; by position only when the ids are missing."""
    items = model(account, _ItemList, answer).root
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


def parse_statuses(account: str, items: Sequence[Mapping[str, Any]]) -> list[_Status]:
    return [model(account, _Status, i) for i in items]


def parse_deliveries(statuses: Sequence[_Status]) -> list[DeliveryReport]:
    return [
        DeliveryReport(
            message_id=s.server_id,
            state=delivery_state(s.status),
            raw=s.status + (f" {s.delivered}/{s.total}" if s.total else ""),
        )
        for s in statuses
    ]


def parse_inbound(
    account: str, line: str, after: int, items: Sequence[Mapping[str, Any]]
) -> list[InboundSms]:
    """The messages of one line above the cursor ``after``, oldest first."""
    found = []
    for mo in sorted((model(account, _Mo, i) for i in items), key=lambda m: m.id):
        if mo.id > after:
            found.append(
                InboundSms(
                    provider_id=f"{line}/{mo.id}",
                    sender=numbers.try_normalize(mo.sender) or mo.sender,
                    text=mo.body,
                    received_at=parse_local(mo.date) or now_tehran(),
                    line=line,
                )
            )
    return found


def parse_scheduled(account: str, value: Any) -> tuple[list[ScheduledSms], int]:
    """One page of scheduled messages, and how many pages there are."""
    data = model(account, _ScheduledPage, lower_keys(value))
    found = [
        ScheduledSms(
            s.server_id,
            numbers.try_normalize(s.recipient) or s.recipient,
            s.message,
            parse_local(s.send_date),
            s.price,
            s.parts,
        )
        for s in data.items
    ]
    return found, data.pages


def _maybe_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


# ------------------------------------------------------------------------ the client


class PayamSmsClient(ProviderBase):
    """One PayamSMS user of an organisation; the token goes only in ``Authorization: Bearer``."""

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
    batch: int | None = MAX_ITEMS

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
        transport: httpx.AsyncBaseTransport | None = None,
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
        self._auth = TokenAuth(
            login=self._login,
            read=self._read_login,
            apply=lambda request, token: request.headers.__setitem__(
                "Authorization", f"Bearer {token}"
            ),
            turned_away=lambda response, _sends: response.status_code == 401,
            clock=clock,
        )
        self._http = Transport(
            account,
            base_url,
            proxy=proxy,
            observer=observer,
            timeout=timeout,
            transport=transport,
            auth=self._auth,
        )

    # --- the token

    def _login(self) -> httpx.Request:
        url = self._http.base_url + "auth/oauth/token"
        headers = {"Authorization": self._basic}
        if self.login_json:
            return httpx.Request("POST", url, headers=headers, json=self._login_fields)
        return httpx.Request("POST", url, headers=headers, data=self._login_fields)

    def _read_login(self, response: httpx.Response, previous: Session | None) -> Session:
        if response.status_code >= 500:
            raise ProviderProtocolError(
                self.account, f"http_{response.status_code}", "PayamSMS could not log in now"
            )
        if response.status_code >= 400:
            found = find_error(_maybe_json(response))
            if found is not None and found[0] in CODES:
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
        until = now + lifetime
        if previous is not None and token == previous.token:
            # A repeat login returns the same token and never extends it (P3): keep the earlier
            # expiry while it lies ahead; past it, check again within a minute.
            until = previous.until if previous.until > now else now + min(lifetime, 60.0)
        return Session(token, until, until)

    def token_expiry(self) -> datetime | None:
        expires = self._auth.expiry()
        if expires is None:
            return None
        return now_tehran() + timedelta(seconds=expires - self._clock())

    async def _call(
        self, verb: str, path: str, *, params: Any = None, body: Any = None, sends: bool = False
    ) -> Any:
        """The JSON answer of one API call (after a 401 the token was renewed and the call
        repeated once already)."""
        response = await self._http.request(
            verb, path, params=params, json=body, sends=sends, ok_statuses=(400, 401, 403, 404)
        )
        status = response.status_code
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

    async def _list(self, verb: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        return checked(self.account, await self._call(verb, path, **kwargs))

    # --- account

    async def balance(self) -> Balance:
        value = await self._call("GET", "accounting/webservice/balance")
        return parse_balance(self.account, value, self.lines)

    # --- sending

    async def send(self, sms: OutgoingSms) -> SendResult:
        reference = sms.reference or uuid.uuid4().hex[:16]
        messages = [_Message(n, sms.text, customer_id(reference, n)) for n in sms.recipients]
        return await self._send_all(sms.line, messages, sms.send_at)

    async def send_p2p(
        self,
        line: str,
        items: Sequence[tuple[str, str]],
        send_at: datetime | None = None,
        reference: str = "",
    ) -> SendResult:
        reference = reference or uuid.uuid4().hex[:16]
        messages = [_Message(n, t, customer_id(reference, n)) for n, t in items]
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
                path, body = self._send_body(line, chunk, send_at)
                with send_request(self.account):
                    answer = await self._list("POST", path, body=body, sends=True)
                    answered = match_results(self.account, chunk, answer)
                refusal = account_refusal(self.account, answered.values())
                if refusal is not None:  # every message refused for the account's own reason
                    raise refusal
            except ProviderError as exc:
                if ends_send(exc, first=index == 0, only=len(chunk) == len(messages)):
                    raise
                failed = results_for([m.number for m in chunk], exc)
                answered = {m.customer_id: r for m, r in zip(chunk, failed, strict=True)}
            results.update(answered)
        return SendResult(items=tuple(results[m.customer_id] for m in messages))

    def _send_body(
        self, line: str, chunk: Sequence[_Message], send_at: datetime | None
    ) -> tuple[str, Any]:
        """(path, body) of one send call, in the account's ``send_method``."""
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
        if self.send_method == "send":
            return "panel/webservice/send", [{"sender": line} | item for item in items]
        if self.send_method == "sendMultipleWithSrcBody" and len({m.text for m in chunk}) == 1:
            body = {
                "sender": line,
                "body": chunk[0].text,
                "smsItems": [{k: v for k, v in i.items() if k != "body"} for i in items],
            }
            return "panel/webservice/sendMultipleWithSrcBody", body
        return "panel/webservice/sendMultipleWithSrc", {"sender": line, "smsItems": items}

    async def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        """``status?byCustomer=true`` for the send's ``customerId``s: a message PayamSMS knows was
        accepted; one it does not know (yet) is still ``absent``."""
        if not sms.reference:
            return None
        ids = [customer_id(sms.reference, n) for n in sms.recipients]
        # Before schema 9 the id ended in the recipient's position: a send left unknown by an
        # older version is found under that id.
        legacy = [f"{sms.reference}-{i}" for i in range(len(sms.recipients))]
        statuses = await self._statuses([*ids, *legacy], by_customer=True)
        known = {s.customer_id: s.server_id for s in statuses if s.customer_id and s.server_id}
        return SendResult(
            tuple(
                RecipientResult.accepted(n, known.get(c) or known[old])
                if c in known or old in known
                else RecipientResult.unknown(n, "absent")
                for n, c, old in zip(sms.recipients, ids, legacy, strict=True)
            )
        )

    # --- delivery

    async def deliveries(
        self, message_ids: Sequence[str], campaign_id: str | None = None
    ) -> list[DeliveryReport]:
        return parse_deliveries(await self._statuses(message_ids, by_customer=False))

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
            found += parse_statuses(self.account, items)
        return found

    # --- inbound

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
            more = more or len(items) >= MO_PAGE
            page = parse_inbound(self.account, line, after, items)
            found += page
            if page:
                positions[line] = max(after, *(int(s.provider_id.rsplit("/", 1)[1]) for s in page))
        return InboundPage(tuple(found), json.dumps(positions, sort_keys=True), more)

    # --- scheduled

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
            listed, pages = parse_scheduled(self.account, value)
            found += listed
            page += 1
            if page >= pages or not listed:
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

    async def aclose(self) -> None:
        await self._http.aclose()
