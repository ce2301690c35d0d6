"""A stateful sms.ir legacy v1 ("White SMS") simulator, faithful to docs/providers.md §2, quirks
included.

Served under ``/users/v1/`` like the real API. Sim conventions (where the documents are silent):
- Tokens live ``token_lifetime`` seconds (30 minutes) on ``clock``; a new GetToken does not revoke
  older ones unless ``new_token_revokes``. A missing, unknown or expired token answers HTTP 200 with
  ``IsSuccessful: false`` (``auth_status = 401`` answers HTTP 401 with the same body).
- ErrorCode table: 1 invalid token, 2 expired token, 3 validation error, 4 contact not valid yet,
  5 insufficient credit; ``Message`` texts in Persian.
- Message/Send reaches contacts only. A new contact is sendable ``contact_wait`` seconds after it was
  added. Without ``CanContinueInCaseOfError`` a send with such a contact fails whole; with it, the
  others are sent and — as the real service may — the answer still reports failure
  (``partial_failure``; off, the answer is a success that leaves them out of ``Ids``).
- One credit per SMS part per recipient.
- DeliveryStatus texts: در صف ارسال → رسیده به مخابرات → رسیده به گوشی (or نرسیده به گوشی for
  ``undeliverable`` numbers) after ``delivery_steps`` seconds.
- Pages hold 50 records, newest first; ``lastId=N`` returns records with ``Id < N``; query names are
  matched case-insensitively. ``MobileNumber`` in GetSentMessagesMobileNumbers is an integer.
- Message/SendByMobileNumbers (not in the seed document) exists only with ``send_by_mobile_numbers``.
Faults (``fail_next``): the shared ones (``sandbox/_common.FaultySim``); ``token_expired`` answers
the call as for an expired token; ``http_401`` answers HTTP 401 with no body.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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

DEFAULT_API_KEY = "sandbox-smsir-key"
DEFAULT_SECRET_KEY = "sandbox-smsir-secret"
PAGE = 50
QUEUED, AT_OPERATOR, DELIVERED, FAILED = (
    "در صف ارسال",
    "رسیده به مخابرات",
    "رسیده به گوشی",
    "نرسیده به گوشی",
)


@dataclass
class Contact:
    relation_id: int
    group_id: int
    mobile: str  # 10 digits
    first_name: str
    valid_at: float


@dataclass
class Group:
    id: int
    name: str


@dataclass
class SentNumber:
    id: int
    mobile: str
    created: float


@dataclass
class Batch:
    message_id: int
    batch_key: str
    text: str
    sent_at: datetime
    numbers: list[SentNumber] = field(default_factory=list)


class SmsirSim(FaultySim):
    SPECIFIC_FAULTS = frozenset({"http_401"})

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        secret_key: str = DEFAULT_SECRET_KEY,
        credit: int = 10_000,
        token_lifetime: float = 30 * 60,
        new_token_revokes: bool = False,
        auth_status: int = 200,
        contact_wait: float = 0.0,
        send_by_mobile_numbers: bool = False,
        partial_failure: bool = True,
        delivery_steps: tuple[float, float] = (1.0, 2.0),
        undeliverable: tuple[str, ...] = (),
        hang_seconds: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(clock, hang_seconds)
        self.partial_failure = partial_failure
        self.credentials = (api_key, secret_key)
        self.credit = credit
        self.token_lifetime = token_lifetime
        self.new_token_revokes = new_token_revokes
        self.auth_status = auth_status
        self.contact_wait = contact_wait
        self.send_by_mobile_numbers = send_by_mobile_numbers
        self.delivery_steps = delivery_steps
        self.undeliverable = {mobile10(n) for n in undeliverable}
        self.tokens: dict[str, float] = {}  # token → issued at
        self.groups = {1: Group(1, "مشتریان"), 2: Group(2, "همکاران")}
        self.contacts: list[Contact] = []
        self.batches: list[Batch] = []
        self.drafts = ["سلام، سفارش شما ارسال شد.", "تخفیف ویژه این هفته"]
        self._relation_ids = itertools.count(5001)
        self._message_ids = itertools.count(7001)
        self._number_ids = itertools.count(90_001)
        routes: dict[str, tuple[str, Handler]] = {
            "Token/GetToken": ("POST", self._get_token),
            "WhiteSms/GetUserInfo": ("GET", self._user_info),
            "Message/Send": ("POST", self._send),
            "Message/GroupContactsDistinctCount": ("POST", self._distinct_count),
            "Message/GetSentMessagesMobileNumbers": ("GET", self._sent_numbers),
            "Message/GetLastSentMessagesFromLastId": ("GET", self._last_sent),
            "Message/GetLastSentMessagesByPageId": ("GET", self._sent_by_page),
            "Contacts/SearchContacts": ("GET", self._search_contacts),
            "Contacts/GetContactGroups": ("GET", self._contact_groups),
            "Contacts/AddContacts": ("POST", self._add_contacts),
            "DraftMessage/GetDraftMessages": ("GET", self._drafts),
        }
        if send_by_mobile_numbers:
            routes["Message/SendByMobileNumbers"] = ("POST", self._send_by_mobile)
        self.app = Starlette(
            routes=[
                Route("/_sandbox/fault", self._ctl_fault, methods=["POST"]),
                *(
                    Route(f"/users/v1/{path}", self.endpoint(path, handler), methods=[verb])
                    for path, (verb, handler) in routes.items()
                ),
            ]
        )

    # ------------------------------------------------------------------ control side

    def add_contact(
        self, mobile: str, group_id: int = 1, name: str = "", wait: float | None = None
    ) -> int:
        """A phonebook contact; returns its ContactRelationId."""
        number = require_mobile(mobile)
        contact = Contact(
            next(self._relation_ids),
            group_id,
            number,
            name,
            self.clock() + (self.contact_wait if wait is None else wait),
        )
        self.contacts.append(contact)
        return contact.relation_id

    def reachable(self, *numbers: str) -> None:
        for number in numbers:
            if not any(c.mobile == number[-10:] for c in self.contacts):
                self.add_contact(number)

    def sent(self) -> list[tuple[str, str]]:
        return [("98" + n.mobile, b.text) for b in self.batches for n in b.numbers]

    def status_of(self, sent: SentNumber) -> str:
        age = self.clock() - sent.created
        if age < self.delivery_steps[0]:
            return QUEUED
        if age < self.delivery_steps[1]:
            return AT_OPERATOR
        return FAILED if sent.mobile in self.undeliverable else DELIVERED

    # ------------------------------------------------------------------ HTTP plumbing

    async def read(self, method: str, request: Request) -> tuple[Params, Any]:
        """A GET's query or a POST's JSON object, names in any case (ASP.NET binds them so)."""
        if request.method == "GET":
            return Params(request.query_params.multi_items()), None
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise Refused(3, "بدنه درخواست JSON معتبر نیست") from None
        return Params(list(body.items()) if isinstance(body, dict) else []), body

    def authorize(self, call: Call) -> None:
        if call.method == "Token/GetToken":
            return
        issued = self.tokens.get(call.request.headers.get("x-sms-ir-secure-token", ""))
        if issued is None:
            raise Refused(1, "توکن نامعتبر است", status=self.auth_status)
        if self.clock() - issued >= self.token_lifetime:
            raise Refused(2, "توکن منقضی شده است", status=self.auth_status)

    def answer(self, call: Call, payload: Any) -> Response:
        return JSONResponse({**payload, "IsSuccessful": True, "Message": "", "ErrorCode": 0})

    def refusal(self, method: str, refused: Refused) -> Response:
        body = {
            **refused.payload,
            "IsSuccessful": False,
            "Message": refused.message,
            "ErrorCode": refused.code,
        }
        return JSONResponse(body, status_code=refused.status or 200)

    def fault_response(self, kind: str, method: str) -> Response | None:
        if kind == "http_401":
            return Response("", 401)
        if kind == "token_expired":
            return self.refusal(method, Refused(2, "توکن منقضی شده است", status=self.auth_status))
        return None

    # ------------------------------------------------------------------ methods

    def _get_token(self, call: Call) -> dict[str, Any]:
        p = call.params
        if (p.get("UserApiKey"), p.get("SecretKey")) != self.credentials:
            raise Refused(3, "کلید وب سرویس یا کد امنیتی اشتباه است")
        if self.new_token_revokes:
            self.tokens.clear()
        token = secrets.token_hex(10)
        self.tokens[token] = self.clock()
        return {"TokenKey": token}

    def _user_info(self, call: Call) -> dict[str, Any]:
        expires = self.clock.wall() + timedelta(days=90)
        return {
            "FirstName": "سارا",
            "LastName": "محمدی",
            "BusinessName": "فروشگاه نمونه",
            "PersianExpirationDateTime": "1406/03/01 12:00",
            "IsExpired": False,
            "IsTrial": False,
            "SentCount": len(self.sent()),
            "ExpirationDateTime": expires.isoformat(timespec="seconds"),
            "MembershipKeyword": "عضویت",
            "CancelMembershipKeyword": "لغو",
            "Credit": self.credit,
            "HasUploadedNationalCard": True,
            "MobileNumber": "09120000000",
            "ReagentCode": "",
            "ExpirationLeftDays": 90,
        }

    def _int_list(self, p: Params, name: str) -> list[int]:
        value = p.get(name)
        if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
            raise Refused(3, f"{name} الزامی است")
        return list(value)

    def _targets(self, group_ids: list[int], relation_ids: list[int]) -> list[Contact]:
        """The distinct contacts (by mobile) of some groups and relation ids."""
        chosen: dict[str, Contact] = {}
        for contact in self.contacts:
            if contact.group_id in group_ids or contact.relation_id in relation_ids:
                chosen.setdefault(contact.mobile, contact)
        return list(chosen.values())

    def _distinct_count(self, call: Call) -> dict[str, Any]:
        p = call.params
        targets = self._targets(
            self._int_list(p, "ContactsGroupIds"), self._int_list(p, "ContactRelationIds")
        )
        valid = [c for c in targets if c.valid_at <= self.clock()]
        return {"Count": len(valid), "InvalidCount": len(targets) - len(valid)}

    def _deliver(self, text: str, mobiles: list[str]) -> dict[str, Any]:
        if not text.strip():
            raise Refused(3, "متن پیام الزامی است")
        cost = sms_parts(text) * len(mobiles)
        if cost > self.credit:
            raise Refused(5, "اعتبار کافی نیست")
        self.credit -= cost
        batch = Batch(next(self._message_ids), secrets.token_hex(6), text, self.clock.wall())
        for mobile in mobiles:
            batch.numbers.append(SentNumber(next(self._number_ids), mobile, self.clock()))
        self.batches.append(batch)
        return {
            "MessageId": batch.message_id,
            "BatchKey": batch.batch_key,
            "Ids": [{"ID": n.id, "MobileNumber": "0" + n.mobile} for n in batch.numbers],
        }

    def _send(self, call: Call) -> dict[str, Any]:
        p = call.params
        groups = self._int_list(p, "ContactGroupIds")
        relations = self._int_list(p, "ContactRelationIds")
        known = {c.relation_id for c in self.contacts}
        if any(r not in known for r in relations) or any(g not in self.groups for g in groups):
            raise Refused(3, "شناسه مخاطب یا گروه نامعتبر است")
        targets = self._targets(groups, relations)
        waiting = [c for c in targets if c.valid_at > self.clock()]
        if waiting and not p.get("CanContinueInCaseOfError"):
            raise Refused(4, "مخاطب هنوز معتبر نشده است")
        mobiles = [c.mobile for c in targets if c not in waiting]
        if not mobiles:
            raise Refused(4, "مخاطب معتبری برای ارسال وجود ندارد")
        sent = self._deliver(str(p.get("Message") or ""), mobiles)
        if waiting and self.partial_failure:  # sent to the others, yet answered as a failure
            raise Refused(4, "برخی مخاطبان هنوز معتبر نشده‌اند")
        return sent

    def _send_by_mobile(self, call: Call) -> dict[str, Any]:
        p = call.params
        raw = p.get("MobileNumbers")
        if not isinstance(raw, list) or not raw:
            raise Refused(3, "شماره موبایل الزامی است")
        mobiles = [m for m in (mobile10(r) for r in raw) if m]
        if len(mobiles) < len(raw) and not p.get("CanContinueInCaseOfError"):
            raise Refused(3, "شماره موبایل نامعتبر است")
        if not mobiles:
            raise Refused(3, "شماره موبایل معتبری وجود ندارد")
        sent = self._deliver(str(p.get("Message") or ""), list(dict.fromkeys(mobiles)))
        if len(mobiles) < len(raw) and self.partial_failure:
            raise Refused(3, "برخی شماره‌ها نامعتبر هستند")
        return sent

    def _page_before(
        self, items: list[Any], last_id: str | None, key: Callable[[Any], int]
    ) -> list[Any]:
        newest_first = sorted(items, key=key, reverse=True)
        limit = int(last_id) if last_id and last_id.isdigit() and int(last_id) > 0 else None
        return [i for i in newest_first if limit is None or key(i) < limit][:PAGE]

    def _sent_numbers(self, call: Call) -> dict[str, Any]:
        p = call.params
        batch = next((b for b in self.batches if b.batch_key == p.get("batchkey")), None)
        if batch is None:
            raise Refused(3, "کلید دسته ارسال نامعتبر است")
        page = self._page_before(batch.numbers, p.get("lastid"), lambda n: n.id)
        return {
            "Messages": [
                {
                    "Id": n.id,
                    "BatchKey": batch.batch_key,
                    "MobileNumber": int(n.mobile),
                    "SendDateTime": batch.sent_at.isoformat(timespec="seconds"),
                    "PersianSendDateTime": "",
                    "DeliveryStatus": self.status_of(n),
                    "SmsMessageBody": batch.text,
                }
                for n in page
            ]
        }

    def _message_item(self, b: Batch) -> dict[str, Any]:
        return {
            "Id": b.message_id,
            "BatchKey": b.batch_key,
            "SendDateTime": b.sent_at.isoformat(timespec="seconds"),
            "PersianSendDateTime": "",
            "DistinctRecipientsCount": len(b.numbers),
            "Message": b.text,
        }

    def _last_sent(self, call: Call) -> dict[str, Any]:
        p = call.params
        page = self._page_before(self.batches, p.get("lastid"), lambda b: b.message_id)
        return {"Messages": [self._message_item(b) for b in page]}

    def _sent_by_page(self, call: Call) -> dict[str, Any]:
        p = call.params
        page_id = int(p.get("pageid") or 0)
        newest = sorted(self.batches, key=lambda b: b.message_id, reverse=True)
        return {
            "Messages": [
                self._message_item(b) for b in newest[page_id * PAGE : (page_id + 1) * PAGE]
            ]
        }

    def _search_contacts(self, call: Call) -> dict[str, Any]:
        p = call.params
        wanted = mobile10(p.get("mobile")) if p.get("mobile") else None
        group = int(p.text("groupid")) if p.text("groupid").isdigit() else None
        found = [
            c
            for c in self.contacts
            if (wanted is None or c.mobile == wanted) and (group is None or c.group_id == group)
        ]
        page_id = int(p.get("pageid") or 0)
        return {
            "Contacts": [
                {
                    "ContactRelationId": c.relation_id,
                    "GroupName": self.groups[c.group_id].name,
                    "Prefix": "",
                    "FirstName": c.first_name,
                    "LastName": "",
                    "Mobile": "0" + c.mobile,
                    "EmojiId": 1,
                }
                for c in found[page_id * PAGE : (page_id + 1) * PAGE]
            ]
        }

    def _contact_groups(self, call: Call) -> dict[str, Any]:
        now = self.clock()
        return {
            "ContactGroups": [
                {
                    "GroupId": g.id,
                    "Name": g.name,
                    "Color": "#2196f3",
                    "ContactsCount": sum(1 for c in self.contacts if c.group_id == g.id),
                    "InvalidContactsCount": sum(
                        1 for c in self.contacts if c.group_id == g.id and c.valid_at > now
                    ),
                }
                for g in self.groups.values()
            ]
        }

    def _add_contacts(self, call: Call) -> dict[str, Any]:
        p = call.params
        group = p.get("GroupId")
        if group not in self.groups:
            raise Refused(3, "گروه نامعتبر است")
        added, wrong = [], []
        for detail in p.get("ContactsDetails") or []:
            if mobile10(detail.get("Mobile")) is None:
                wrong.append(detail)
            else:
                self.add_contact(detail["Mobile"], group, str(detail.get("FirstName") or ""))
                added.append(detail)  # AddedList items carry no id, as documented
        return {"AddedList": added, "ErroneousList": wrong or None}

    def _drafts(self, call: Call) -> dict[str, Any]:
        return {
            "DraftMessageDetails": [
                {
                    "Message": text,
                    "CreationDateTime": "2026-01-01T10:00:00",
                    "PersianCreationDateTime": "1404/10/11 10:00",
                }
                for text in self.drafts
            ]
        }
