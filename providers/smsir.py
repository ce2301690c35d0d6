"""sms.ir legacy v1, "White SMS" (reference §2): a membership product that sends to phonebook contacts.

What the documents leave open, and what this client does (reference §2.6):
- Success is ``IsSuccessful: true`` whatever the HTTP status; ``ErrorCode`` values are not
  documented, so they are kept for the person but never branched on.
- The token lives 30 minutes. It is refreshed after 25, and once more when a call is refused
  (HTTP 401/403, or ``IsSuccessful: false`` on a call that sends nothing: how a dead token is
  answered is not documented); the call is then retried once, never in a loop. A send is retried
  only after HTTP 401/403 (turned away before anything was done): a send answered
  ``IsSuccessful: false`` may have gone out in part (``CanContinueInCaseOfError``), so its outcome
  is unknown and it is never repeated.
- ``Message/Send`` takes contact groups and contact-relation ids only. A phone number is resolved
  with ``SearchContacts``; one that is not a contact is refused with that reason, unless the account
  enables the non-seed ``Message/SendByMobileNumbers`` (``send_by_mobile_numbers``).
- ``DeliveryStatus`` is free text: it is kept raw and classified by a substring table.
- ``find_sent``: after a send whose outcome is unknown, the sent list is read back: the messages
  with the send's text since it started are its batches, and their numbers are its accepted
  recipients; when more match than the send could have made, the list cannot tell.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from . import numbers
from ._http import DEFAULT_TIMEOUT, CallObserver, Transport
from ._wire import Id, Text, Wire, json_body, lower_keys, model
from .base import (
    GROUP_PREFIX,
    Audience,
    AuthFailed,
    Balance,
    Capability,
    DeliveryReport,
    DeliveryState,
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

TOKEN_LIFETIME = 30 * 60.0
REFRESH_AFTER = 25 * 60.0
PAGE = 50
HEADER = "x-sms-ir-secure-token"

# Substrings of DeliveryStatus texts; the longest match wins ("نرسیده" contains "رسیده").
DELIVERY_STATUSES: dict[str, DeliveryState] = {
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


def classify(text: str, table: Mapping[str, DeliveryState]) -> DeliveryState:
    """The state of a free-text ``DeliveryStatus``; unknown text stays pending (UNKNOWN)."""
    folded = text.strip().casefold()
    for key in sorted(table, key=len, reverse=True):
        if key.casefold() in folded:
            return table[key]
    return DeliveryState.UNKNOWN


def _looks_like_token_trouble(message: str) -> bool:
    folded = message.casefold()
    return "توکن" in message or "token" in folded


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
    ) -> None:
        self.account = account
        self.send_by_mobile_numbers = send_by_mobile_numbers
        self.delivery_statuses = {**DELIVERY_STATUSES, **(delivery_statuses or {})}
        self._credentials = {"UserApiKey": api_key, "SecretKey": secret_key}
        self._clock = clock
        self._token: str | None = None
        self._token_at = 0.0
        self._token_lock = asyncio.Lock()
        self._lookups = asyncio.Semaphore(max(1, lookups_at_once))
        self._http = Transport(account, base_url, proxy=proxy, observer=observer, timeout=timeout)

    # ------------------------------------------------------------------ token and envelope

    def token_expiry(self) -> datetime | None:
        if self._token is None:
            return None
        left = TOKEN_LIFETIME - (self._clock() - self._token_at)
        return now_tehran() + timedelta(seconds=left)

    async def _get_token(self, stale: str | None) -> str:
        """The cached token, or a new one when it is old or is the one that just failed.
        Concurrent callers share one GetToken."""
        async with self._token_lock:
            fresh = self._clock() - self._token_at < REFRESH_AFTER
            if self._token is not None and self._token != stale and fresh:
                return self._token
            response = await self._http.request(
                "POST", "Token/GetToken", json=self._credentials, ok_statuses=(400, 401, 403)
            )
            obj = self._envelope(response.content)
            token = obj.get("tokenkey")
            if response.status_code >= 400 or obj.get("issuccessful") is not True or not token:
                message = str(obj.get("message") or "")
                raise AuthFailed(
                    self.account,
                    str(obj.get("errorcode", "GetToken")),
                    "sms.ir refused the API key and secret key"
                    + (f": {message}" if message else ""),
                    "کلید وب‌سرویس یا کد امنیتی sms.ir پذیرفته نشد"
                    + (f": {message}" if message else ""),
                )
            self._token, self._token_at = str(token), self._clock()
            return self._token

    def _envelope(self, body: bytes) -> dict[str, Any]:
        # Only the envelope's own keys: nested lists are lower-cased where they are read (a
        # send to a group of 10,000 answers with 10,000 ids that nobody needs).
        value = json_body(self.account, body)
        obj = {str(k).lower(): v for k, v in value.items()} if isinstance(value, dict) else {}
        if "issuccessful" not in obj:
            raise ProviderProtocolError(
                self.account, "bad_shape", "the answer has no IsSuccessful envelope"
            )
        return obj

    def _rejected(self, obj: Mapping[str, Any], auth: bool) -> ProviderRejected:
        message = str(obj.get("message") or "").strip()
        code = str(obj.get("errorcode", ""))
        cls = AuthFailed if auth else ProviderRejected
        return cls(
            self.account,
            code,
            f"sms.ir refused: {message}" if message else "sms.ir refused the request",
            message or "sms.ir درخواست را نپذیرفت",
        )

    async def _call(
        self,
        verb: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        sends: bool = False,
    ) -> dict[str, Any]:
        """One API call inside the envelope, with at most one token refresh and one retry (for a
        send, only after HTTP 401/403)."""
        stale: str | None = None
        for attempt in (1, 2):
            token = await self._get_token(stale)
            response = await self._http.request(
                verb,
                path,
                params=params,
                json=body,
                headers={HEADER: token},
                ok_statuses=(400, 401, 403, 404, 409, 422),
            )
            if response.status_code in (401, 403):
                if attempt == 1:
                    stale = token
                    continue
                raise AuthFailed(
                    self.account,
                    f"http_{response.status_code}",
                    "sms.ir refused the token",
                    "sms.ir توکن را نپذیرفت",
                )
            try:  # IsSuccessful decides, whatever the HTTP status
                obj = self._envelope(response.content)
            except ProviderProtocolError:
                if response.status_code < 400:
                    raise
                raise ProviderProtocolError(
                    self.account,
                    f"http_{response.status_code}",
                    f"unexpected HTTP {response.status_code} from sms.ir",
                ) from None
            if obj.get("issuccessful") is True:
                return obj
            refused = self._rejected(obj, _looks_like_token_trouble(str(obj.get("message") or "")))
            if sends:
                raise unconfirmed(refused)
            if attempt == 1:
                # How a dead token is answered is not documented, and ErrorCode values are not
                # either: a refused read gets one fresh token and one retry.
                stale = token
                continue
            raise refused
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ account

    async def balance(self) -> Balance:
        info = model(self.account, _UserInfo, await self._call("GET", "WhiteSms/GetUserInfo"))
        name = info.business or f"{info.first} {info.last}".strip()
        return Balance(
            credit=info.credit,
            currency="",
            expires=parse_local(info.expires),
            account_name=name,
        )

    async def drafts(self) -> list[str]:
        obj = await self._call("GET", "DraftMessage/GetDraftMessages")
        items = lower_keys(obj.get("draftmessagedetails") or [])
        return [str(i.get("message") or "") for i in items if isinstance(i, dict)]

    # ------------------------------------------------------------------ recipients

    async def _relation_id(self, number: str) -> str | None:
        async with self._lookups:
            obj = await self._call(
                "GET", "Contacts/SearchContacts", params={"mobile": numbers.local0(number)}
            )
        for item in lower_keys(obj.get("contacts") or []):
            contact = model(self.account, _Contact, item)
            if numbers.try_normalize(contact.mobile) == number:
                return contact.relation_id
        return None

    async def _resolve(self, phones: Sequence[str]) -> dict[str, str | None]:
        found = await asyncio.gather(*(self._relation_id(n) for n in phones))
        return dict(zip(phones, found, strict=True))

    async def _groups(self) -> set[str]:
        obj = await self._call("GET", "Contacts/GetContactGroups")
        groups = lower_keys(obj.get("contactgroups") or [])
        return {model(self.account, _Group, g).group_id for g in groups}

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

    # ------------------------------------------------------------------ sending

    async def send(self, sms: OutgoingSms) -> SendResult:
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
                results.update(_by_number(phones, answer))
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
                results.update(_by_number(list(relation_ids), answer))
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
            page = [
                model(self.account, _SentMessage, m) for m in lower_keys(obj.get("messages") or [])
            ]
            recent = [m for m in page if (parse_local(m.sent) or earliest) >= earliest]
            found += recent
            ids = [int(m.id) for m in page if m.id.isdigit()]
            if len(page) < PAGE or len(recent) < len(page) or not ids:
                return found
            last_id = min(ids)

    # ------------------------------------------------------------------ delivery

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
            page = [
                model(self.account, _SentNumber, m) for m in lower_keys(obj.get("messages") or [])
            ]
            fresh = [m for m in page if m.id not in seen]
            seen.update((m.id, m) for m in fresh)
            if len(page) < PAGE or not fresh:
                return list(seen.values())
            last_id = min(int(m.id) for m in page if m.id.isdigit())

    async def deliveries(
        self, message_ids: Sequence[str], campaign_id: str | None = None
    ) -> list[DeliveryReport]:
        """By batch (the send's ``campaign_id``): sms.ir has no lookup by message id."""
        reports: list[DeliveryReport] = []
        for batch in (campaign_id or "").split(","):
            if not batch:
                continue
            for item in await self._sent_numbers(batch):
                reports.append(
                    DeliveryReport(
                        message_id=item.id,
                        state=classify(item.status, self.delivery_statuses),
                        raw=item.status,
                        number=numbers.try_normalize(item.mobile),
                        at=parse_local(item.sent),
                    )
                )
        return reports

    async def aclose(self) -> None:
        await self._http.aclose()


def _by_number(phones: Sequence[str], answer: _SendAnswer) -> dict[str, RecipientResult]:
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
