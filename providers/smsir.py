"""sms.ir legacy v1, "White SMS" (docs/providers.md §2): a membership product that sends to its
phonebook's contacts and contact groups, and receives nothing.

What the documents leave open, and what this client does:
- Success is ``IsSuccessful: true`` whatever the HTTP status (B1). ``ErrorCode`` values are not
  documented: they are kept for the person, never branched on (the code table is empty).
- The token lives 30 minutes; it is renewed after 25, and once when a call is turned away (HTTP
  401/403, or ``IsSuccessful: false`` on a call that sends nothing: how a dead token is answered
  is not documented, B2) — ``TokenAuth``, never in a loop. A send answered ``IsSuccessful: false``
  may have gone out in part (``CanContinueInCaseOfError``): its outcome is unknown and it is never
  repeated (``providers/outcome.py``).
- ``Message/Send`` takes contact groups and contact-relation ids only (B9). A number is resolved
  with ``SearchContacts``; one that is not a contact is refused with that reason, unless the
  account enables the non-seed ``Message/SendByMobileNumbers`` (``send_by_mobile_numbers``).
- ``DeliveryStatus`` is free text (B10): kept raw, its state read by a substring table.
- ``find_sent``: the sent list is read back; the messages with the send's text since it started
  are its batches, their numbers its accepted recipients (B11: no idempotency key exists).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import Field

from . import numbers
from ._http import DEFAULT_TIMEOUT, CallObserver, Session, TokenAuth, Transport
from ._wire import Id, Text, Wire, json_body, lower_keys, model
from .base import (
    GROUP_PREFIX,
    Audience,
    AuthFailed,
    Balance,
    Capability,
    DeliveryReport,
    DeliveryState,
    ErrorCode,
    InvalidRecipient,
    Outcome,
    OutgoingSms,
    ProviderBase,
    ProviderError,
    ProviderProtocolError,
    ProviderRejected,
    RecipientResult,
    SendResult,
)
from .outcome import outcome_of, results_for, send_request, unconfirmed
from .timeutil import now_tehran, parse_local

# ------------------------------------------------------------------------ limits and tables

TOKEN_LIFETIME = 30 * 60.0
RENEW_AFTER = 25 * 60.0
PAGE = 50  # records per page of every list
HEADER = "x-sms-ir-secure-token"

# No ErrorCode is documented: a refusal carries sms.ir's own Message (error_for).
CODES: dict[str, ErrorCode] = {}

# Substrings of DeliveryStatus texts; the longest match wins ("نرسیده" contains "رسیده").
DELIVERY_STATES: dict[str, DeliveryState] = {
    "رسیده به گوشی": DeliveryState.DELIVERED,
    "نرسیده به گوشی": DeliveryState.FAILED,
    "نرسیده": DeliveryState.FAILED,
    "رسیده به مخابرات": DeliveryState.SENT,
    "در صف ارسال": DeliveryState.QUEUED,
    "delivered": DeliveryState.DELIVERED,
    "not delivered": DeliveryState.FAILED,
    "undelivered": DeliveryState.FAILED,
    "reached operator": DeliveryState.SENT,
    "queued": DeliveryState.QUEUED,
}


def error_for(account: str, code: str, description: str = "") -> ProviderError:
    """A refusal: ``code`` the ``ErrorCode``, ``description`` sms.ir's ``Message``. One that
    speaks of the token is ``AuthFailed``."""
    known = CODES.get(code)
    if known is not None:
        return known.error(account, code)
    token_trouble = "توکن" in description or "token" in description.casefold()
    kind = AuthFailed if token_trouble else ProviderRejected
    return kind(
        account,
        code,
        f"sms.ir refused: {description}" if description else "sms.ir refused the request",
        description or "sms.ir درخواست را نپذیرفت",
    )


def delivery_state(raw: str, table: Mapping[str, DeliveryState]) -> DeliveryState:
    """The state of a free-text ``DeliveryStatus``; text the table does not know stays pending."""
    folded = raw.strip().casefold()
    for key in sorted(table, key=len, reverse=True):
        if key.casefold() in folded:
            return table[key]
    return DeliveryState.UNKNOWN


# ------------------------------------------------------------------------ wire models


class _Contact(Wire):
    relation_id: Id = Field(alias="contactrelationid")
    mobile: Id = Field("", alias="mobile")


class _Group(Wire):
    group_id: Id = Field(alias="groupid")


class _SendAnswer(Wire):
    message_id: Id | None = Field(None, alias="messageid")
    batch_key: Text = Field("", alias="batchkey")
    # per-number ids, read only when numbers were sent (a group of 10,000 needs none of them)
    ids: list[Any] | None = Field(None, alias="ids")


class _SentMessage(Wire):
    id: Id = Field(alias="id")
    batch_key: Text = Field("", alias="batchkey")
    text: Text = Field("", alias="message")
    sent: Text = Field("", alias="senddatetime")
    recipients: int = Field(0, alias="distinctrecipientscount")


class _SentNumber(Wire):
    id: Id = Field(alias="id")
    mobile: Id = Field("", alias="mobilenumber")
    status: Text = Field("", alias="deliverystatus")
    sent: Text = Field("", alias="senddatetime")


class _UserInfo(Wire):
    credit: float = Field(0, alias="credit")
    expires: Text = Field("", alias="expirationdatetime")
    is_expired: bool = Field(False, alias="isexpired")
    business: Text = Field("", alias="businessname")
    first: Text = Field("", alias="firstname")
    last: Text = Field("", alias="lastname")


# ------------------------------------------------------------------------ parse functions


def envelope(account: str, body: bytes) -> dict[str, Any]:
    """The answer's own keys, lower-cased (nested lists are read where they are used: a send to
    a group of 10,000 answers with 10,000 ids that nobody needs)."""
    value = json_body(account, body)
    obj = {str(k).lower(): v for k, v in value.items()} if isinstance(value, dict) else {}
    if "issuccessful" not in obj:
        raise ProviderProtocolError(account, "bad_shape", "the answer has no IsSuccessful envelope")
    return obj


def checked(account: str, body: bytes) -> dict[str, Any]:
    """An answer that says ``IsSuccessful: true``; else the refusal it carries."""
    obj = envelope(account, body)
    if obj.get("issuccessful") is not True:
        raise error_for(
            account, str(obj.get("errorcode", "")), str(obj.get("message") or "").strip()
        )
    return obj


def items(obj: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """The objects listed under ``key`` (lower-cased), with their keys lower-cased."""
    found = lower_keys(obj.get(key) or [])
    return [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []


def parse_balance(account: str, obj: Mapping[str, Any]) -> Balance:
    info = model(account, _UserInfo, obj)
    return Balance(
        credit=info.credit,
        currency="",
        expires=parse_local(info.expires),
        account_name=info.business or f"{info.first} {info.last}".strip(),
    )


def parse_sent_numbers(account: str, obj: Mapping[str, Any]) -> list[_SentNumber]:
    return [model(account, _SentNumber, m) for m in items(obj, "messages")]


def parse_sent_messages(account: str, obj: Mapping[str, Any]) -> list[_SentMessage]:
    return [model(account, _SentMessage, m) for m in items(obj, "messages")]


def parse_deliveries(
    sent: Sequence[_SentNumber], table: Mapping[str, DeliveryState]
) -> list[DeliveryReport]:
    return [
        DeliveryReport(
            message_id=item.id,
            state=delivery_state(item.status, table),
            raw=item.status,
            number=numbers.try_normalize(item.mobile),
            at=parse_local(item.sent),
        )
        for item in sent
    ]


def match_results(phones: Sequence[str], answer: _SendAnswer) -> dict[str, RecipientResult]:
    """Per-number results matched by normalised number. ``Ids`` lists the batch: a number it
    leaves out was not sent; an answer without ``Ids`` says nothing of any number."""
    if not phones:  # a send to groups only: its 10,000 ids are nobody's business here
        return {}
    if answer.ids is None:
        return {n: RecipientResult.unknown(n, "not_in_answer") for n in phones}
    ids = {
        numbers.try_normalize(i.get("mobilenumber")): str(i.get("id"))
        for i in lower_keys(answer.ids)
        if isinstance(i, dict) and i.get("id") is not None
    }
    return {
        n: RecipientResult.accepted(n, ids[n])
        if n in ids
        else RecipientResult.refused(n, "not_in_batch")
        for n in phones
    }


# ------------------------------------------------------------------------ the client


class SmsirClient(ProviderBase):
    """One sms.ir White SMS account; the token goes only in ``x-sms-ir-secure-token``."""

    capabilities = frozenset(
        {
            Capability.BALANCE,
            Capability.SEND,
            Capability.DELIVERY,
            Capability.CONTACT_GROUPS,
            Capability.DRAFTS,
            Capability.FIND_SENT,
        }
    )

    def __init__(
        self,
        account: str,
        base_url: str,
        api_key: str,
        secret_key: str,
        *,
        send_by_mobile_numbers: bool = False,
        delivery_statuses: Mapping[str, DeliveryState] | None = None,
        proxy: str | None = None,
        observer: CallObserver | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        lookups_at_once: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.account = account
        self.send_by_mobile_numbers = send_by_mobile_numbers
        self.delivery_statuses = {**DELIVERY_STATES, **(delivery_statuses or {})}
        self._credentials = {"UserApiKey": api_key, "SecretKey": secret_key}
        self._clock = clock
        self._lookups = asyncio.Semaphore(max(1, lookups_at_once))
        self._auth = TokenAuth(
            login=self._login,
            read=self._read_login,
            apply=lambda request, token: request.headers.__setitem__(HEADER, token),
            turned_away=_turned_away,
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
        return httpx.Request("POST", self._http.base_url + "Token/GetToken", json=self._credentials)

    def _read_login(self, response: httpx.Response, _previous: Session | None) -> Session:
        obj = envelope(self.account, response.content)  # (TokenAuth has read the body)
        token = obj.get("tokenkey")
        if response.status_code >= 400 or obj.get("issuccessful") is not True or not token:
            message = str(obj.get("message") or "")
            raise AuthFailed(
                self.account,
                str(obj.get("errorcode", "GetToken")),
                "sms.ir refused the API key and secret key" + (f": {message}" if message else ""),
                "کلید وب‌سرویس یا کد امنیتی sms.ir پذیرفته نشد"
                + (f": {message}" if message else ""),
            )
        now = self._clock()
        return Session(str(token), now + RENEW_AFTER, now + TOKEN_LIFETIME)

    def token_expiry(self) -> datetime | None:
        expires = self._auth.expiry()
        if expires is None:
            return None
        return now_tehran() + timedelta(seconds=expires - self._clock())

    async def _call(
        self,
        verb: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        sends: bool = False,
    ) -> dict[str, Any]:
        """One API call's envelope (the token was renewed and the call repeated once already,
        where that is safe). A refused send is unknown: it may have gone out in part."""
        response = await self._http.request(
            verb,
            path,
            params=params,
            json=body,
            sends=sends,
            ok_statuses=(400, 401, 403, 404, 409, 422),
        )
        status = response.status_code
        if status in (401, 403):
            raise AuthFailed(
                self.account, f"http_{status}", "sms.ir refused the token", "sms.ir توکن را نپذیرفت"
            )
        try:  # IsSuccessful decides, whatever the HTTP status
            return checked(self.account, response.content)
        except ProviderRejected as refused:
            raise unconfirmed(refused) if sends else refused from None
        except ProviderProtocolError:
            if status < 400:
                raise
            raise ProviderProtocolError(
                self.account, f"http_{status}", f"unexpected HTTP {status} from sms.ir"
            ) from None

    # --- account

    async def balance(self) -> Balance:
        return parse_balance(self.account, await self._call("GET", "WhiteSms/GetUserInfo"))

    async def drafts(self) -> list[str]:
        obj = await self._call("GET", "DraftMessage/GetDraftMessages")
        return [str(i.get("message") or "") for i in items(obj, "draftmessagedetails")]

    async def audience(self, recipients: Sequence[str]) -> Audience:
        """Numbers must be contacts (unless sending by mobile numbers); groups must exist. The
        count is sms.ir's own ``GroupContactsDistinctCount``."""
        groups = [r for r in recipients if r.startswith(GROUP_PREFIX)]
        phones = [r for r in recipients if not r.startswith(GROUP_PREFIX)]
        refused: list[tuple[str, str]] = []
        group_ids: list[int] = []
        if groups:
            known = await self._groups()
            for group in groups:
                gid = group.removeprefix(GROUP_PREFIX)
                if gid in known:
                    group_ids.append(int(gid))
                else:
                    refused.append((group, "unknown_group"))
        relation_ids: list[int] = []
        accepted_phones = phones
        if phones and not self.send_by_mobile_numbers:
            resolved = await self._resolve(phones)
            accepted_phones = [n for n in phones if resolved[n] is not None]
            refused += [(n, "not_contact") for n in phones if resolved[n] is None]
            relation_ids = [int(resolved[n] or 0) for n in accepted_phones]
        count: int | None = len(accepted_phones) if self.send_by_mobile_numbers else 0
        if group_ids or relation_ids:
            obj = await self._call(
                "POST",
                "Message/GroupContactsDistinctCount",
                body={"ContactsGroupIds": group_ids, "ContactRelationIds": relation_ids},
            )
            count = int(obj.get("count") or 0) + (count or 0)
        accepted = tuple(r for r in recipients if r not in dict(refused))
        return Audience(accepted, tuple(refused), count)

    async def _relation_id(self, number: str) -> str | None:
        async with self._lookups:
            obj = await self._call(
                "GET", "Contacts/SearchContacts", params={"mobile": numbers.local0(number)}
            )
        for item in items(obj, "contacts"):
            contact = model(self.account, _Contact, item)
            if numbers.try_normalize(contact.mobile) == number:
                return contact.relation_id
        return None

    async def _resolve(self, phones: Sequence[str]) -> dict[str, str | None]:
        found = await asyncio.gather(*(self._relation_id(n) for n in phones))
        return dict(zip(phones, found, strict=True))

    async def _groups(self) -> set[str]:
        obj = await self._call("GET", "Contacts/GetContactGroups")
        return {model(self.account, _Group, g).group_id for g in items(obj, "contactgroups")}

    # --- sending

    async def send(self, sms: OutgoingSms) -> SendResult:
        """Numbers by mobile number (with the flag) or as contacts, groups as groups: one call
        each kind. A call that fails is reported recipient by recipient (the outcome rule)."""
        groups = [r for r in sms.recipients if r.startswith(GROUP_PREFIX)]
        phones = [r for r in sms.recipients if not r.startswith(GROUP_PREFIX)]
        results: dict[str, RecipientResult] = {}
        batches: list[str] = []
        relation_ids: dict[str, str] = {}
        if phones and self.send_by_mobile_numbers:
            body = {
                "Message": sms.text,
                "MobileNumbers": [numbers.local0(n) for n in phones],
                "CanContinueInCaseOfError": True,
            }
            try:
                answer = await self._send_call("Message/SendByMobileNumbers", body)
            except ProviderError as exc:
                if outcome_of(exc) is Outcome.FAILED:
                    raise
                results.update((r.number, r) for r in results_for(phones, exc))
            else:
                batches.append(answer.batch_key)
                results.update(match_results(phones, answer))
        elif phones:
            resolved = await self._resolve(phones)
            for number in phones:
                if resolved[number] is None:
                    results[number] = RecipientResult.refused(number, "not_contact")
                else:
                    relation_ids[number] = resolved[number] or ""
        if groups or relation_ids:
            body = {
                "Message": sms.text,
                "ContactGroupIds": [int(g.removeprefix(GROUP_PREFIX)) for g in groups],
                "ContactRelationIds": [int(i) for i in relation_ids.values()],
                "CanContinueInCaseOfError": True,
            }
            try:
                answer = await self._send_call("Message/Send", body)
            except ProviderError as exc:
                if not batches and outcome_of(exc) is Outcome.FAILED:
                    raise
                # the numbers sent by mobile number did go out: report the rest one by one
                results.update((r.number, r) for r in results_for([*relation_ids, *groups], exc))
            else:
                batches.append(answer.batch_key)
                results.update(match_results(list(relation_ids), answer))
                for group in groups:
                    batch_id = answer.message_id or answer.batch_key
                    results[group] = (
                        RecipientResult.accepted(group, batch_id)
                        if batch_id
                        else RecipientResult.unknown(group, "no_id")
                    )
        if not results or all(r.error == "not_contact" for r in results.values()):
            raise InvalidRecipient(
                self.account,
                "not_contact",
                "none of the numbers is a contact of this sms.ir account",
                "هیچ‌یک از شماره‌ها در دفترچه تلفن این حساب sms.ir نیست",
            )
        return SendResult(
            items=tuple(results[r] for r in sms.recipients),
            campaign_id=",".join(b for b in batches if b) or None,
        )

    async def _send_call(self, path: str, body: Mapping[str, Any]) -> _SendAnswer:
        with send_request(self.account):
            obj = await self._call("POST", path, body=body, sends=True)
            return model(self.account, _SendAnswer, obj)

    async def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        """What sms.ir's sent list says of a send whose outcome is unknown: the messages with its
        text sent since ``since`` are its batches (one per call it made), and their numbers its
        accepted recipients. No such message: every recipient is still ``absent``. More matches
        than calls: the list cannot tell which are ours (None)."""
        earliest = since - timedelta(minutes=1)
        matches = [m for m in await self._sent_since(earliest) if m.text == sms.text]
        phones = [r for r in sms.recipients if not r.startswith(GROUP_PREFIX)]
        groups = [r for r in sms.recipients if r.startswith(GROUP_PREFIX)]
        by_mobile = bool(phones) and self.send_by_mobile_numbers
        calls = int(by_mobile) + int(bool(groups) or (bool(phones) and not by_mobile))
        if not matches:
            return SendResult(tuple(RecipientResult.unknown(r, "absent") for r in sms.recipients))
        if len(matches) > calls:
            return None
        ids: dict[str, str] = {}
        for match in matches:
            for item in await self._sent_numbers(match.batch_key):
                number = numbers.try_normalize(item.mobile)
                if number:
                    ids.setdefault(number, item.id)
        results = [
            RecipientResult.accepted(n, ids[n])
            if n in ids
            else RecipientResult.refused(n, "not_in_batch")
            if len(matches) == calls
            else RecipientResult.unknown(n, "absent")
            for n in phones
        ]
        results += [RecipientResult.accepted(g, matches[-1].id) for g in groups]
        by_recipient = {r.number: r for r in results}
        return SendResult(
            tuple(by_recipient[r] for r in sms.recipients),
            campaign_id=",".join(m.batch_key for m in matches if m.batch_key) or None,
        )

    async def _sent_since(self, earliest: datetime) -> list[_SentMessage]:
        """The sent list, newest first, back to ``earliest`` (``lastId`` pages backwards)."""
        found: list[_SentMessage] = []
        last_id = 0
        while True:
            obj = await self._call(
                "GET", "Message/GetLastSentMessagesFromLastId", params={"lastId": last_id}
            )
            page = parse_sent_messages(self.account, obj)
            recent = [m for m in page if (parse_local(m.sent) or earliest) >= earliest]
            found += recent
            ids = [int(m.id) for m in page if m.id.isdigit()]
            if len(page) < PAGE or len(recent) < len(page) or not ids:
                return found
            last_id = min(ids)

    # --- delivery

    async def deliveries(
        self, message_ids: Sequence[str], campaign_id: str | None = None
    ) -> list[DeliveryReport]:
        """By batch (the send's ``campaign_id``): sms.ir has no lookup by message id."""
        reports: list[DeliveryReport] = []
        for batch in (campaign_id or "").split(","):
            if batch:
                reports += parse_deliveries(await self._sent_numbers(batch), self.delivery_statuses)
        return reports

    async def _sent_numbers(self, batch_key: str) -> list[_SentNumber]:
        """Every number of one batch, 50 per page, newest first: ``lastId`` pages backwards."""
        seen: dict[str, _SentNumber] = {}
        last_id = 0
        while True:
            obj = await self._call(
                "GET",
                "Message/GetSentMessagesMobileNumbers",
                params={"lastId": last_id, "batchKey": batch_key},
            )
            page = parse_sent_numbers(self.account, obj)
            fresh = [m for m in page if m.id not in seen]
            seen.update((m.id, m) for m in fresh)
            if len(page) < PAGE or not fresh:
                return list(seen.values())
            last_id = min(int(m.id) for m in page if m.id.isdigit())

    async def aclose(self) -> None:
        await self._http.aclose()


def _turned_away(response: httpx.Response, sends: bool) -> bool:
    """Refused for its token: HTTP 401/403, or (for a call that sends nothing: a refused send
    may have gone out in part) any ``IsSuccessful: false`` — how sms.ir answers a dead token is
    not documented."""
    if response.status_code in (401, 403):
        return True
    if sends:
        return False
    try:
        return response.json().get("IsSuccessful") is False
    except (ValueError, AttributeError):
        return False
