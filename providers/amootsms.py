"""AmootSMS REST v1 (docs/providers.md §1): a static panel token, sends in chunks, inbound SMS
handed out once (and listed by time to reconcile), and relays that push SMS and delivery reports.

What the documents leave open, and what this client does:
- Logical errors come inside HTTP 200 (A2); ``Status`` is a Title, an int or a bool (A5); whole
  bodies may be a bare string or number (A3); the payload is ``Data`` or ``ReturnValue`` (A6);
  field names are matched case-insensitively; numbers come as strings or numbers with or without
  ``0``/``98`` (A9); invalid JSON with leading-zero numbers is repaired only when it will not parse
  (A4). All of these are read.
- ``DeliveryType`` codes are undocumented (A10): only the account's configured codes mean a state.
- A send that may have reached AmootSMS is never repeated: there is nothing to ask whether it went
  out (A23), so its recipients stay unknown (``providers/outcome.py``).
- ``RecieveNewMessages`` hands each SMS out once and leaves out the receiving line (A12): the
  caller stores a page before anything else; ``inbound_between`` (per line) fills the gap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import httpx
from pydantic import AliasChoices, Field, ValidationError

from . import numbers
from ._http import DEFAULT_TIMEOUT, CallObserver, Transport
from ._wire import Id, Text, Wire, as_str, chunks, lower_keys, model
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
    OutgoingSms,
    Pattern,
    ProviderBase,
    ProviderError,
    ProviderProtocolError,
    ProviderRejected,
    ProviderUnavailable,
    RecipientResult,
    RelayHook,
    RelayKind,
    SendResult,
)
from .outcome import ends_send, results_for, send_request
from .timeutil import format_tehran, now_tehran, parse_local

# ------------------------------------------------------------------------ limits and tables

# status_codes.md: a Status number and its Title (the wire carries the Title, A5).
NUMBERS: dict[int, str] = {
    1: "Success",
    0: "Failed",
    2: "AccountIsDemo",
    4: "CreditNotEnough",
    5: "LineNumber_NotExist",
    6: "BackupLineNumber_NotExist",
    7: "Avanak_NotAvailable",
    10: "UserName_Empty",
    11: "Password_Empty",
    12: "LineNumber_Empty",
    13: "BackupLineNumber_Empty",
    14: "SMSMessageText_Empty",
    15: "AvanakMessageText_Empty",
    16: "Mobile_Empty",
    17: "Mobiles_Empty",
    18: "Title_Empty",
    19: "FirstNameOrLastName_Empty",
    20: "URLAddress_Empty",
    100: "UserNameOrPassword_Invalid",
    101: "Mobile_Invalid",
    102: "Mobiles_Invalid",
    103: "Count_Invalid",
    104: "FromRow_Invalid",
    105: "FromDate_Invalid",
    106: "FromDateTime_Invalid",
    107: "ToDate_Invalid",
    108: "ToDateTime_Invalid",
    109: "FromDateIsAfterThanToDate",
    110: "FromDateTimeIsAfterThanToDateTime",
    111: "MessageID_Invalid",
    112: "BulkID_Invalid",
    113: "ContactID_Invalid",
    114: "ContactGroupID_Invalid",
    115: "CourseID_Invalid",
    116: "CourseGroupID_Invalid",
    117: "URLAddress_Duplicate",
    118: "RelayMessageDeliveryID_Invalid",
    119: "RelayRecieveMessageID_Invalid",
    120: "Length_Invalid",
    121: "Length_Exceeded",
    500: "ServerError",
    -300: "System_Disabled",
    -208: "Token_NotAllowMethod",
    -207: "Token_NotAllowIP",
    -204: "Token_Expired",
    -203: "Token_Disabled",
    -202: "Token_Invalid",
    -201: "Token_NotExists",
    -109: "User_NotAllowHttp",
    -108: "User_NotAllowMethod",
    -107: "User_NotAllowIP",
    -106: "User_NotAllowWebService",
    -105: "User_WebServiceBanned",
    -104: "User_Expired",
    -103: "User_Disabled",
    -102: "User_MobileNotVerified",
    -1: "User_NotExists",
}
# Title → (error, English, Persian from status_codes.md).
CODES: dict[str, ErrorCode] = {
    "Failed": ErrorCode(ProviderRejected, "the operation failed", "عملیات ناموفق"),
    "AccountIsDemo": ErrorCode(
        ProviderRejected, "the account is a demo account", "کاربری دمو می‌باشد"
    ),
    "CreditNotEnough": ErrorCode(InsufficientCredit, "credit is too low", "اعتبار کافی نمی‌باشد"),
    "LineNumber_NotExist": ErrorCode(
        ProviderRejected, "the sending line does not exist on this account", "خط ارسال وجود ندارد"
    ),
    "BackupLineNumber_NotExist": ErrorCode(
        ProviderRejected, "the backup line does not exist", "خط ارسال پشتیبان وجود ندارد"
    ),
    "Avanak_NotAvailable": ErrorCode(
        ProviderUnavailable, "the voice service is unavailable", "سرویس آوانک در دسترس نمی‌باشد"
    ),
    "UserName_Empty": ErrorCode(AuthFailed, "the user name is empty", "نام کاربری خالی می‌باشد"),
    "Password_Empty": ErrorCode(AuthFailed, "the password is empty", "گذرواژه خالی می‌باشد"),
    "LineNumber_Empty": ErrorCode(
        ProviderRejected, "no sending line was given", "خط ارسال خالی می‌باشد"
    ),
    "BackupLineNumber_Empty": ErrorCode(
        ProviderRejected, "no backup line was given", "خط ارسال پشتیبان خالی می‌باشد"
    ),
    "SMSMessageText_Empty": ErrorCode(
        ProviderRejected, "the text is empty", "متن پیامک خالی می‌باشد"
    ),
    "AvanakMessageText_Empty": ErrorCode(
        ProviderRejected, "the voice text is empty", "متن پیام صوتی خالی می‌باشد"
    ),
    "Mobile_Empty": ErrorCode(
        InvalidRecipient, "no mobile number was given", "شماره موبایل خالی می‌باشد"
    ),
    "Mobiles_Empty": ErrorCode(
        InvalidRecipient, "the list of numbers is empty", "لیست شماره موبایل خالی می‌باشد"
    ),
    "Title_Empty": ErrorCode(ProviderRejected, "the title is empty", "عنوان خالی می‌باشد"),
    "FirstNameOrLastName_Empty": ErrorCode(
        ProviderRejected, "first or last name is empty", "نام یا نام خانوادگی خالی می‌باشد"
    ),
    "URLAddress_Empty": ErrorCode(ProviderRejected, "the URL is empty", "آدرس URL خالی می‌باشد"),
    "UserNameOrPassword_Invalid": ErrorCode(
        AuthFailed, "wrong user name or password", "نام کاربری ویا گذرواژه اشتباه می‌باشد"
    ),
    "Mobile_Invalid": ErrorCode(
        InvalidRecipient,
        "the number is wrong or has opted out (blacklist)",
        "شماره موبایل اشتباه یا در لیست سیاه است",
    ),
    "Mobiles_Invalid": ErrorCode(
        InvalidRecipient,
        "numbers are wrong or have opted out (blacklist)",
        "لیست شماره موبایل اشتباه یا در لیست سیاه است",
    ),
    "Count_Invalid": ErrorCode(
        ProviderRejected, "the count is not accepted", "تعداد اشتباه می‌باشد"
    ),
    "FromRow_Invalid": ErrorCode(
        ProviderRejected, "the start row is wrong", "ردیف شروع اشتباه می‌باشد"
    ),
    "FromDate_Invalid": ErrorCode(
        ProviderRejected, "the start date is wrong", "تاریخ شروع اشتباه می‌باشد"
    ),
    "FromDateTime_Invalid": ErrorCode(
        ProviderRejected, "the start time is wrong", "زمان شروع اشتباه می‌باشد"
    ),
    "ToDate_Invalid": ErrorCode(
        ProviderRejected, "the end date is wrong", "تاریخ پایان اشتباه می‌باشد"
    ),
    "ToDateTime_Invalid": ErrorCode(
        ProviderRejected, "the end time is wrong", "زمان پایان اشتباه می‌باشد"
    ),
    "FromDateIsAfterThanToDate": ErrorCode(
        ProviderRejected,
        "the start date is after the end date",
        "تاریخ شروع جلوتر از تاریخ پایان می‌باشد",
    ),
    "FromDateTimeIsAfterThanToDateTime": ErrorCode(
        ProviderRejected,
        "the start time is after the end time",
        "زمان شروع جلوتر از زمان پایان می‌باشد",
    ),
    "MessageID_Invalid": ErrorCode(
        ProviderRejected, "the message id is wrong or not yours", "کد پیام اشتباه می‌باشد"
    ),
    "BulkID_Invalid": ErrorCode(
        ProviderRejected, "the campaign or bank id is wrong", "کد بانک یا کمپین اشتباه می‌باشد"
    ),
    "ContactID_Invalid": ErrorCode(
        ProviderRejected, "the contact id is wrong", "کد مخاطب اشتباه می‌باشد"
    ),
    "ContactGroupID_Invalid": ErrorCode(
        ProviderRejected, "the contact group id is wrong", "کد گروه مخاطب اشتباه می‌باشد"
    ),
    "CourseID_Invalid": ErrorCode(
        ProviderRejected, "the periodic-send id is wrong", "کد ارسال دوره‌ای اشتباه می‌باشد"
    ),
    "CourseGroupID_Invalid": ErrorCode(
        ProviderRejected,
        "the periodic-send group id is wrong",
        "کد گروه ارسال دوره‌ای اشتباه می‌باشد",
    ),
    "URLAddress_Duplicate": ErrorCode(
        ProviderRejected, "the relay URL is already registered", "آدرس URL تکراری می‌باشد"
    ),
    "RelayMessageDeliveryID_Invalid": ErrorCode(
        ProviderRejected, "the delivery relay id is wrong", "کد انتقال دلیوری پیام اشتباه می‌باشد"
    ),
    "RelayRecieveMessageID_Invalid": ErrorCode(
        ProviderRejected, "the inbound relay id is wrong", "کد انتقال دریافت پیام اشتباه می‌باشد"
    ),
    "Length_Invalid": ErrorCode(
        ProviderRejected, "the length is not accepted", "طول اشتباه می‌باشد"
    ),
    "Length_Exceeded": ErrorCode(
        ProviderRejected, "the text is longer than the maximum", "طول بیشتر از حداکثر می‌باشد"
    ),
    "ServerError": ErrorCode(ProviderUnavailable, "the provider had a server error", "خطای سرور"),
    "System_Disabled": ErrorCode(
        ProviderUnavailable, "the provider's system is disabled", "سامانه غیرفعال می‌باشد"
    ),
    "Token_NotAllowMethod": ErrorCode(
        AuthFailed, "the API token may not call this method", "متد برای این توکن مجاز نیست"
    ),
    "Token_NotAllowIP": ErrorCode(
        AuthFailed,
        "the API token does not allow this server's IP address",
        "آی‌پی این سرور برای توکن مجاز نیست",
    ),
    "Token_Expired": ErrorCode(
        AuthFailed,
        "the API token has expired; issue a new one in the panel",
        "توکن منقضی شده است؛ در پنل توکن تازه بسازید",
    ),
    "Token_Disabled": ErrorCode(AuthFailed, "the API token is disabled", "توکن غیرفعال است"),
    "Token_Invalid": ErrorCode(AuthFailed, "the API token is malformed", "توکن اشتباه می‌باشد"),
    "Token_NotExists": ErrorCode(AuthFailed, "the API token does not exist", "توکن وجود ندارد"),
    "User_NotAllowHttp": ErrorCode(
        AuthFailed, "plain HTTP is not allowed; use HTTPS", "استفاده از پروتکل HTTP مجاز نیست"
    ),
    "User_NotAllowMethod": ErrorCode(
        AuthFailed, "the account may not call this method", "متد غیرمجاز"
    ),
    "User_NotAllowIP": ErrorCode(
        AuthFailed, "the account does not allow this server's IP address", "آی‌پی غیرمجاز"
    ),
    "User_NotAllowWebService": ErrorCode(
        AuthFailed, "the web service is not enabled on the account", "عدم مجوز استفاده از وب سرویس"
    ),
    "User_WebServiceBanned": ErrorCode(
        AuthFailed, "the web service is banned on the account", "عدم مجوز استفاده از وب سرویس"
    ),
    "User_Expired": ErrorCode(AuthFailed, "the account has expired", "کاربری منقضی شده است"),
    "User_Disabled": ErrorCode(AuthFailed, "the account is disabled", "کاربری غیرفعال می‌باشد"),
    "User_MobileNotVerified": ErrorCode(
        AuthFailed, "the account owner is not verified", "کاربری احراز هویت ندارد"
    ),
    "User_NotExists": ErrorCode(
        AuthFailed, "the account or API token is not recognised", "کاربر یا توکن شناخته نشد"
    ),
}
_TITLES = {title.lower(): title for title in CODES}


def error_for(account: str, code: str, description: str = "") -> ProviderError:
    """A Title's error (any case); an unknown Title is a refusal that carries it."""
    title = _TITLES.get(code.strip().lower())
    if title is None:
        return ProviderRejected(account, code, f"the provider refused ({description or code})")
    return CODES[title].error(account, title)


def price_error(account: str, raw: int) -> ProviderError:
    """A negative ``CalculateMessagePrice`` answer: its magnitude is undocumented (A18), so it is
    read as a status code of either sign when one matches, and kept raw otherwise."""
    for candidate in (-raw, raw):
        title = NUMBERS.get(candidate)
        if title is not None and title != "Success":
            return error_for(account, title)
    return ProviderRejected(account, str(raw), f"the provider refused the price estimate ({raw})")


_INTEGER = re.compile(r"-?\d+")


def status_title(raw: object) -> str:
    if isinstance(raw, bool):
        return "Success" if raw else "Failed"
    if isinstance(raw, int):
        return NUMBERS.get(raw, str(raw))
    if isinstance(raw, str):
        stripped = raw.strip()
        if _INTEGER.fullmatch(stripped):
            return status_title(int(stripped))
        return stripped
    return repr(raw)


def is_success(raw: object) -> bool:
    if raw == "Success":  # as nearly every item of a send answer says it: no parsing
        return True
    return status_title(raw).lower() == "success"


def delivery_state(code: int | None, table: Mapping[int, DeliveryState]) -> DeliveryState:
    """``DeliveryType`` codes are undocumented (A10): only a configured code means anything."""
    if code is None:
        return DeliveryState.UNKNOWN
    return table.get(code, DeliveryState.UNKNOWN)


# ------------------------------------------------------------------------ wire models


class _AccountStatus(Wire):
    account_name: str | None = Field(None, alias="accountname")
    credit: float = Field(0, alias="remaindcredit")
    base_fa: float = Field(0, alias="basesms_persianprice")
    base_en: float = Field(0, alias="basesms_englishprice")
    service_fa: float = Field(0, alias="servicesms_persianprice")
    service_en: float = Field(0, alias="servicesms_englishprice")
    ads_fa: float = Field(0, alias="adssms_persianprice")
    ads_en: float = Field(0, alias="adssms_englishprice")
    lines: list[Text] = Field(default_factory=list, alias="listlinenumbers")


class _SendItem(Wire):
    mobile: Id | None = Field(None, alias="mobile")
    number: Id | None = Field(None, alias="number")
    message_id: Id | None = Field(None, alias="messageid")
    status: Any = Field("Success", alias="status")


class _SendSimple(Wire):
    campaign_id: Id | None = Field(None, alias="campaignid")
    price: float | None = Field(None, alias="price")
    parts: int | None = Field(None, alias="smspagescount")
    items: list[_SendItem] = Field(
        default_factory=list, validation_alias=AliasChoices("data", "returnvalue")
    )  # A6: the payload under either name


class _P2PNumber(Wire):
    id: Id = Field(alias="id")
    number: Id = Field(alias="number")


class _P2PCampaign(Wire):
    id: Id | None = Field(None, alias="id")
    status: Any = Field("Success", alias="status")
    numbers: list[_P2PNumber] = Field(default_factory=list, alias="numbers")
    parts: int | None = Field(None, alias="smspagescount")


class _P2PData(Wire):
    failed: int = Field(0, alias="failedcount")
    campaigns: list[_P2PCampaign] = Field(default_factory=list, alias="campaigns")


class _Otp(Wire):
    status: Any = Field("Success", alias="status")
    message_id: Id | None = Field(None, alias="messageid")
    campaign_id: Id | None = Field(None, alias="campaignid")
    code: Text | None = Field(None, alias="code")


class _PatternItem(Wire):
    id: Id = Field(alias="id")
    status: int = Field(0, alias="status")
    is_otp: bool = Field(False, alias="isotp")
    text: Text = Field("", alias="messagetext")
    variables: list[str] | None = Field(None, alias="patterns")


class _Delivery(Wire):
    message_id: Id = Field(alias="messageid")
    delivery_type: int | None = Field(None, alias="deliverytype")
    number: Id | None = Field(None, alias="number")
    mobile: Id | None = Field(None, alias="mobile")
    send_time: str | None = Field(None, alias="senddatetime")
    status: Any = Field(None, alias="status")


class _Inbound(Wire):
    message_id: Id = Field(alias="messageid")
    sender: Id = Field(validation_alias="sender")
    text: Text = Field(validation_alias="text")
    received: str | None = Field(None, validation_alias="received")
    line: Id | None = Field(None, validation_alias="line")


class _Cancellation(Wire):
    number: Id = Field(alias="number")
    listed: bool = Field(alias="isblacklist")


class _Relay(Wire):
    id: Id = Field(alias="id")
    url: Text = Field("", alias="urladdress")
    active: bool = Field(True, alias="active")


# ------------------------------------------------------------------------ parse functions

_LEADING_ZERO = re.compile(r"([:\[,]\s*)(0\d+)(?=\s*[,\]}])")


def decode(account: str, body: bytes) -> Any:
    """Parse a body as JSON; on failure retry once with leading-zero numbers quoted (A4)."""
    text = body.decode("utf-8-sig", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return json.loads(_LEADING_ZERO.sub(r'\1"\2"', text))
    except ValueError as exc:
        raise ProviderProtocolError(
            account, "bad_json", "the provider's answer is not valid JSON"
        ) from exc


def checked(account: str, body: Any) -> dict[str, Any]:
    """An object answer whose ``Status`` is success, keys lower-cased; else the mapped error."""
    if isinstance(body, str):
        if is_success(body):
            return {"status": "Success"}
        raise error_for(account, status_title(body))
    if not isinstance(body, dict):
        raise ProviderProtocolError(
            account, "bad_shape", f"unexpected answer of type {type(body).__name__}"
        )
    obj = cast(dict[str, Any], lower_keys(body))
    if "status" not in obj:
        raise ProviderProtocolError(account, "bad_shape", "the answer has no Status")
    if not is_success(obj["status"]):
        raise error_for(account, status_title(obj["status"]))
    return obj


def payload(obj: Mapping[str, Any]) -> Any:
    """``Data`` on the wire, ``ReturnValue`` in the tables (A6): look in both."""
    data = obj.get("data")
    return obj.get("returnvalue") if data is None else data


# Candidate field names for inbound items (RecieveNewMessages, RecieveMessages, relay bodies).
_INBOUND_FIELDS = {
    "sender": ("mobile", "number", "from", "sender"),
    "text": ("messagetext", "smsmessagetext", "text", "body", "message"),
    "received": ("receivedatetime", "regdatetime", "date", "datetime"),
    "line": ("linenumber", "to", "line"),
}


def _pick_inbound(item: Mapping[str, Any]) -> dict[str, Any]:
    picked: dict[str, Any] = {"messageid": item.get("messageid", item.get("id"))}
    for target, names in _INBOUND_FIELDS.items():
        for name in names:
            if item.get(name) not in (None, ""):
                picked[target] = item[name]
                break
    return picked


def parse_inbound_item(account: str, item: Mapping[str, Any]) -> InboundSms:
    """One inbound SMS from a provider item or relay body (keys already lower-cased)."""
    try:
        wire = _Inbound.model_validate(_pick_inbound(item))
    except ValidationError as exc:
        raise ProviderProtocolError(
            account, "bad_item", "an inbound SMS lacks its id, sender or text"
        ) from exc
    sender = numbers.try_normalize(wire.sender) or wire.sender
    line = wire.line.strip() if wire.line else None
    return InboundSms(
        provider_id=wire.message_id,
        sender=sender,
        text=wire.text,
        received_at=parse_local(wire.received) or now_tehran(),
        line=line or None,
    )


def parse_delivery_item(
    account: str, item: Mapping[str, Any], table: Mapping[int, DeliveryState]
) -> DeliveryReport:
    try:
        wire = _Delivery.model_validate(item)
    except ValidationError as exc:
        raise ProviderProtocolError(account, "bad_item", "a delivery report lacks its id") from exc
    number = wire.number or wire.mobile
    return DeliveryReport(
        message_id=wire.message_id,
        state=delivery_state(wire.delivery_type, table),
        raw="" if wire.delivery_type is None else str(wire.delivery_type),
        number=numbers.try_normalize(number) if number else None,
        at=parse_local(wire.send_time),
    )


def parse_balance(account: str, obj: Mapping[str, Any]) -> Balance:
    """AccountStatus: credit in Rial, tariffs per part, the lines."""
    status = model(account, _AccountStatus, obj)
    tariffs = {
        "base_fa": status.base_fa,
        "base_en": status.base_en,
        "service_fa": status.service_fa,
        "service_en": status.service_en,
        "ads_fa": status.ads_fa,
        "ads_en": status.ads_en,
    }
    return Balance(
        credit=status.credit,
        currency="rial",
        tariffs={k: v for k, v in tariffs.items() if v},
        lines=tuple(status.lines),
        account_name=status.account_name or "",
    )


def _items(account: str, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    data = payload(obj)
    if data is None:
        return []
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list) or not all(isinstance(i, dict) for i in data):
        raise ProviderProtocolError(account, "bad_shape", "Data is not a list of objects")
    return cast(list[dict[str, Any]], data)


def match_results(chunk: Sequence[str], items: Sequence[_SendItem]) -> list[RecipientResult]:
    """Per-recipient results are matched by normalised number, never by position."""
    by_number: dict[str, _SendItem] = {}
    for item in items:
        canonical = numbers.try_normalize(item.mobile or item.number or "")
        if canonical:
            by_number[canonical] = item
    results = []
    for number in chunk:
        found = by_number.get(number)
        if found is None:  # an answer that leaves a number out has not said what became of it
            results.append(RecipientResult.unknown(number, "not_in_answer"))
        elif not is_success(found.status):
            results.append(RecipientResult.refused(number, status_title(found.status)))
        elif not found.message_id or found.message_id == "0":
            results.append(RecipientResult.unknown(number, "no_id"))
        else:
            results.append(RecipientResult.accepted(number, found.message_id))
    return results


# ------------------------------------------------------------------------ the client

_RELAY_METHODS = {
    RelayKind.INBOUND: (
        "RelayRecieveMessageCreate",
        "RelayRecieveMessageList",
        "RelayRecieveMessageSetActive",
        "RelayRecieveMessageID",
    ),
    RelayKind.DELIVERY: (
        "RelayMessageDeliveryCreate",
        "RelayMessageDeliveryList",
        "RelayMessageDeliverySetActive",
        "RelayMessageDeliveryID",
    ),
}


class AmootSmsClient(ProviderBase):
    """One AmootSMS account. The token goes only in the raw ``Authorization`` header."""

    capabilities = frozenset(
        {
            Capability.BALANCE,
            Capability.SEND,
            Capability.SEND_P2P,
            Capability.OTP,
            Capability.PATTERN,
            Capability.SCHEDULE,
            Capability.DELIVERY,
            Capability.INBOUND_POLL,
            Capability.RELAY,
            Capability.PRICE,
            Capability.CANCELLATIONS,
        }
    )

    def __init__(
        self,
        account: str,
        base_url: str,
        token: str,
        *,
        proxy: str | None = None,
        delivery_codes: Mapping[int, DeliveryState] | None = None,
        chunk_size: int = 100,
        inbound_batch: int = 100,
        observer: CallObserver | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.account = account
        self.delivery_codes = dict(delivery_codes or {})
        self.chunk_size = self.batch = chunk_size
        self.inbound_batch = inbound_batch
        self._http = Transport(
            account,
            base_url,
            headers={"Authorization": token},
            proxy=proxy,
            observer=observer,
            timeout=timeout,
            transport=transport,
        )

    async def _call(
        self,
        method: str,
        *,
        form: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        response = await self._http.request("POST", method, data=form, json=json_body)
        return decode(self.account, response.content)

    async def _obj(self, method: str, **kwargs: Any) -> dict[str, Any]:
        return checked(self.account, await self._call(method, **kwargs))

    # --- account

    async def balance(self) -> Balance:
        return parse_balance(self.account, await self._obj("AccountStatus"))

    # --- sending

    async def send(self, sms: OutgoingSms) -> SendResult:
        """SendSimple in chunks of ``chunk_size``; a future ``send_at`` schedules the send. A chunk
        that fails is reported number by number (failed or unknown, by the outcome rule) and the
        next chunks still go; only an account-level refusal of the first chunk fails the send."""
        results: list[RecipientResult] = []
        campaigns: list[str] = []
        price = 0.0
        parts: int | None = None
        for index, chunk in enumerate(chunks(sms.recipients, self.chunk_size)):
            body = {
                "SendDateTime": format_tehran(sms.send_at or now_tehran()),
                "SMSMessageText": sms.text,
                "LineNumber": sms.line,
                "Mobiles": [numbers.bare10(n) for n in chunk],
            }
            try:
                with send_request(self.account):
                    wire = model(
                        self.account, _SendSimple, await self._obj("SendSimple", json_body=body)
                    )
            except ProviderError as exc:
                if ends_send(exc, first=index == 0, only=len(chunk) == len(sms.recipients)):
                    raise
                results.extend(results_for(chunk, exc))
                continue
            if wire.campaign_id and wire.campaign_id != "0":
                campaigns.append(wire.campaign_id)
            price += wire.price or 0
            parts = wire.parts or parts
            results.extend(match_results(chunk, wire.items))
        return SendResult(
            items=tuple(results),
            campaign_id=",".join(campaigns) or None,
            price=price,
            parts=parts,
        )

    async def send_p2p(
        self,
        line: str,
        items: Sequence[tuple[str, str]],
        send_at: datetime | None = None,
        reference: str = "",
    ) -> SendResult:
        """SendPeerToPeer in chunks of ``chunk_size``, chunk failures handled as in ``send``. The
        answer lists the accepted numbers per campaign (one per distinct text); a number it leaves
        out was refused — the answer only counts those (``FailedCount``)."""
        results: list[RecipientResult] = []
        campaigns: list[str] = []
        for index, chunk in enumerate(chunks(tuple(items), self.chunk_size)):
            body = {
                "SendDateTime": format_tehran(send_at or now_tehran()),
                "LineNumber": line,
                "Input": [{"Number": numbers.local0(n), "MessageText": t} for n, t in chunk],
            }
            recipients = [n for n, _t in chunk]
            try:
                with send_request(self.account):
                    obj = await self._obj("SendPeerToPeer", json_body=body)
                    data = model(self.account, _P2PData, payload(obj) or {})
            except ProviderError as exc:
                if ends_send(exc, first=index == 0, only=len(chunk) == len(items)):
                    raise
                results.extend(results_for(recipients, exc))
                continue
            ids: dict[str, str] = {}
            for campaign in data.campaigns:
                if campaign.id:
                    campaigns.append(campaign.id)
                if not is_success(campaign.status):
                    continue
                for entry in campaign.numbers:
                    canonical = numbers.try_normalize(entry.number)
                    if canonical:
                        ids[canonical] = entry.id
            results.extend(
                RecipientResult.accepted(n, ids[n])
                if n in ids
                else RecipientResult.refused(n, "Failed")
                for n in recipients
            )
        return SendResult(items=tuple(results), campaign_id=",".join(campaigns) or None)

    async def send_otp(
        self, number: str, code: str | None, length: int = 5, reference: str = ""
    ) -> OtpResult:
        form = {
            "Mobile": numbers.local0(number),
            "CodeLength": str(length),
            "OptionalCode": code or "",
        }
        with send_request(self.account):
            obj = await self._obj("SendQuickOTP", form=form)
            data = payload(obj)
            if isinstance(data, list):
                data = data[0] if data else {}
            inner = model(self.account, _Otp, data if isinstance(data, dict) else {})
            if not is_success(inner.status):
                raise error_for(self.account, status_title(inner.status))
            top = model(self.account, _Otp, obj)
        returned = inner.code if inner.code and inner.code.isdigit() else None
        return OtpResult(
            number=number,
            code=code or returned,
            message_id=inner.message_id or inner.campaign_id or top.message_id or top.campaign_id,
        )

    async def send_pattern(
        self, pattern_id: str, number: str, values: Sequence[str], line: str | None = None
    ) -> SendResult:
        bad = [v for v in values if "," in v]
        if bad:
            raise ProviderRejected(
                self.account,
                "PatternValues_Comma",
                "a pattern value may not contain a comma (AmootSMS joins values with commas)",
                "مقدار الگو نباید ویرگول انگلیسی (,) داشته باشد",
            )
        form = {
            "Mobile": numbers.bare10(number),
            "PatternCodeID": pattern_id,
            "PatternValues": ",".join(values),
        }
        method = "SendWithPattern"
        if line:
            form["LineNumber"] = line
            method = "SendWithPatternOWN"
        with send_request(self.account):
            obj = await self._obj(method, form=form)
            data = payload(obj)
            source = data if isinstance(data, dict) else obj
            message_id = as_str(source.get("messageid") or obj.get("messageid"))
        if not message_id:
            return SendResult(items=(RecipientResult.unknown(number, "no_id"),))
        return SendResult(items=(RecipientResult.accepted(number, str(message_id)),))

    async def patterns(self) -> list[Pattern]:
        obj = await self._obj("PatternCodeList")
        result = []
        for item in _items(self.account, obj):
            wire = model(self.account, _PatternItem, item)
            variables = wire.variables or re.findall(r"%(\w+)%", wire.text)
            result.append(Pattern(wire.id, wire.text, tuple(variables), wire.is_otp, wire.status))
        return result

    async def estimate_price(self, sms: OutgoingSms) -> float | None:
        body = {
            "SMSMessageText": sms.text,
            "LineNumber": sms.line,
            "Mobiles": [numbers.bare10(n) for n in sms.recipients],
        }
        value = await self._call("CalculateMessagePrice", json_body=body)
        if isinstance(value, dict):  # the shape before 2025-11
            value = payload(checked(self.account, value))
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProviderProtocolError(self.account, "bad_shape", "the price is not a number")
        if value < 0:
            raise price_error(self.account, int(value))
        return float(value)

    async def cancelled(self, line: str, numbers_: Sequence[str]) -> dict[str, bool]:
        """IsBlackList_ByCancelation: the method takes one number, so one request per number.
        The answer names the number (with 98) and whether it is on the line's list."""
        found: dict[str, bool] = {}
        for number in numbers_:
            form = {"Mobile": numbers.local0(number), "LineNumber": line}
            obj = await self._obj("IsBlackList_ByCancelation", form=form)
            for item in _items(self.account, obj):
                wire = model(self.account, _Cancellation, item)
                if numbers.try_normalize(wire.number) == number:
                    found[number] = wire.listed
            if number not in found:
                raise ProviderProtocolError(
                    self.account, "bad_shape", "the cancellation list did not name the number"
                )
        return found

    # --- delivery

    async def deliveries(
        self, message_ids: Sequence[str], campaign_id: str | None = None
    ) -> list[DeliveryReport]:
        """By message ids; a campaign alone (a send whose ids are unknown) asks by campaign."""
        if not message_ids and campaign_id:
            found: list[DeliveryReport] = []
            for campaign in campaign_id.split(","):
                found += await self.campaign_deliveries(campaign)
            return found
        reports: list[DeliveryReport] = []
        for chunk in chunks(tuple(message_ids), self.chunk_size):
            obj = await self._obj("GetDeliveries", form={"ListMessageID": ",".join(chunk)})
            reports.extend(
                parse_delivery_item(self.account, i, self.delivery_codes)
                for i in _items(self.account, obj)
            )
        return reports

    async def campaign_deliveries(self, campaign_id: str) -> list[DeliveryReport]:
        obj = await self._obj("GetDeliveriesByCampaignID", form={"CampaignID": campaign_id})
        return [
            parse_delivery_item(self.account, i, self.delivery_codes)
            for i in _items(self.account, obj)
        ]

    # --- inbound

    async def fetch_inbound(self, cursor: str | None = None) -> InboundPage:
        """RecieveNewMessages hands each SMS out once: the caller must commit before anything else.
        There is no cursor; a full batch means more may be waiting."""
        obj = await self._obj("RecieveNewMessages", form={"Count": str(self.inbound_batch)})
        found = tuple(parse_inbound_item(self.account, i) for i in _items(self.account, obj))
        return InboundPage(found, None, more=len(found) >= self.inbound_batch)

    async def inbound_between(
        self, start: datetime, end: datetime, line: str | None = None
    ) -> list[InboundSms]:
        form = {
            "FromDateTime": format_tehran(start),
            "ToDateTime": format_tehran(end),
            "LineNumber": line or "",
        }
        obj = await self._obj("RecieveMessages", form=form)
        found = [parse_inbound_item(self.account, i) for i in _items(self.account, obj)]
        if line:  # the filter also tells us the receiving line RecieveNewMessages leaves out
            found = [
                InboundSms(s.provider_id, s.sender, s.text, s.received_at, s.line or line)
                for s in found
            ]
        return found

    # --- relays

    async def relay_list(self, kind: RelayKind) -> list[RelayHook]:
        obj = await self._obj(_RELAY_METHODS[kind][1])
        hooks = (model(self.account, _Relay, i) for i in _items(self.account, obj))
        return [RelayHook(h.id, h.url, h.active) for h in hooks]

    async def relay_set_active(self, kind: RelayKind, hook_id: str, active: bool) -> None:
        _create, _list, method, id_field = _RELAY_METHODS[kind]
        form = {id_field: hook_id, "Active": "true" if active else "false"}
        checked(self.account, await self._call(method, form=form))

    async def relay_register(self, kind: RelayKind, url: str) -> RelayHook:
        """Idempotent: a URL already registered is found (case-insensitively) and re-activated."""
        create, _list, _set, id_field = _RELAY_METHODS[kind]
        body = await self._call(create, form={"URLAddress": url})
        obj = lower_keys(body) if isinstance(body, dict) else {}
        if status_title(obj.get("status")) == "URLAddress_Duplicate":
            for hook in await self.relay_list(kind):
                if hook.url.lower() == url.lower():
                    if not hook.active:
                        await self.relay_set_active(kind, hook.id, True)
                    return RelayHook(hook.id, hook.url, True)
            raise error_for(self.account, "URLAddress_Duplicate")
        obj = checked(self.account, body)
        return RelayHook(str(obj.get(id_field.lower(), "")), url, True)

    async def aclose(self) -> None:
        await self._http.aclose()
