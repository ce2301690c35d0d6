"""Every client's parsing on the example bodies of the provider documents, answered by an
``httpx.MockTransport`` — no simulator, so a simulator and a client cannot share one misreading.

The bodies are the documents' own (docs/providers.md quotes them): AmootSMS's method pages,
sms.ir's "constructed concrete examples", PayamSMS's reconstructed examples with their
placeholders filled in. A body the documents show as invalid JSON is kept invalid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

import httpx
import pytest

from providers.amootsms import AmootSmsClient
from providers.base import (
    AuthFailed,
    DeliveryState,
    InvalidRecipient,
    Outcome,
    OutgoingSms,
    ProviderRejected,
)
from providers.payamsms import PayamSmsClient
from providers.smsir import SmsirClient

Bodies = Mapping[str, str | tuple[int, str]]  # path suffix → body (or status and body)


def transport(bodies: Bodies, seen: list[httpx.Request] | None = None) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        for suffix, body in bodies.items():
            if request.url.path.endswith(suffix):
                status, text = body if isinstance(body, tuple) else (200, body)
                return httpx.Response(status, content=text.encode())
        return httpx.Response(404, content=b"not recorded")

    return httpx.MockTransport(answer)


def amoot(bodies: Bodies, seen: list[httpx.Request] | None = None) -> AmootSmsClient:
    codes = {0: DeliveryState.QUEUED, 35: DeliveryState.SENT, 1: DeliveryState.DELIVERED}
    return AmootSmsClient(
        "amoot",
        "https://portal.amootsms.com/rest",
        "MyToken",
        delivery_codes=codes,
        transport=transport(bodies, seen),
    )


# --- AmootSMS: docs/Account/account_status.md, docs/Send/*.md, docs/Reports/*.md, docs/Receive/*

ACCOUNT_STATUS = """{"Status": "Success", "AccountName": "AccountName", "RemaindCredit": 25000,
  "BaseSMS_PersianPrice": 1000, "BaseSMS_EnglishPrice": 5000, "ServiceSMS_PersianPrice": 2050,
  "ServiceSMS_EnglishPrice": 6670, "AdsSMS_PersianPrice": 3870, "AdsSMS_EnglishPrice": 11560,
  "Avanak_SecondPrice": 23, "ListLineNumbers": ["98", "Public", "Service"]}"""
ACCOUNT_STATUS_BAD_TOKEN = """{"Status": "User_NotExists", "AccountName": null, "RemaindCredit": 0,
  "BaseSMS_PersianPrice": 0, "BaseSMS_EnglishPrice": 0, "ServiceSMS_PersianPrice": 0,
  "ServiceSMS_EnglishPrice": 0, "AdsSMS_PersianPrice": 0, "AdsSMS_EnglishPrice": 0,
  "Avanak_SecondPrice": 0, "ListLineNumbers": []}"""
SEND_SIMPLE = """{"MessageText": "نمونه پیام تستی", "SMSPagesCount": 1, "CampaignID": 12345678,
  "Price": 1234, "Status": "Success", "Data": [
    {"Mobile": 9120000000, "MessageID": 1234568, "Status": "Success"},
    {"Mobile": 9150000000, "MessageID": 1234567, "Status": "Success"}]}"""
SEND_SIMPLE_EMPTY = """{"MessageText": null, "SMSPagesCount": 1, "CampaignID": 0, "Price": 0,
  "Status": "SMSMessageText_Empty", "Data": []}"""
PEER_TO_PEER = """{"Data": {"CampaignsCreated": 1, "TotalCampaignNumbersCreated": 1,
  "FailedCount": 0, "Campaigns": [{"Numbers": [{"ID": 12345678, "Number": 09120000000}],
  "Status": "Success", "MessageText": "پیام نمونه تستی شماره 1", "ID": 12345678,
  "SMSPagesCount": 1}]}, "Status": "Success"}"""  # (sic: invalid JSON, A4)
DELIVERIES = """{"Status": "Success", "Data": [{"MessageID": 123456789, "DeliveryType": 1,
  "Cost": 0, "RegDateTime": "2025-10-07T11:26:26.31", "SendDateTime": "2025-10-07T11:31:34.51",
  "Status": "Success"}]}"""
CAMPAIGN = """{"Status": "Success", "Data": [
  {"Number": "9150000000", "MessageID": 12345678, "DeliveryType": 35, "Cost": 0,
   "RegDateTime": "2025-10-21T12:18:10.96", "SendDateTime": "2025-10-21T12:24:47.26",
   "Status": "Success"},
  {"Number": "9120000000", "MessageID": 12345677, "DeliveryType": 1, "Cost": 0,
   "RegDateTime": "2025-10-21T12:18:10.96", "SendDateTime": "2025-10-21T12:24:47.26",
   "Status": "Success"}]}"""
NEW_MESSAGES = """{"Status": "Success", "Message": "پیامک‌های جدید با موفقیت دریافت شدند",
  "Data": [{"MessageID": "123456789", "Mobile": "09120000000", "MessageText": "سلام وقت بخیر",
  "ReceiveDateTime": "2024-11-20T12:19:00"}]}"""
NO_NEW_MESSAGES = """{"Status":  "Success", "Message": "هیچ پیام جدیدی یافت نشد", "Data": []}"""


async def test_amoot_account_status_and_a_bad_token() -> None:
    balance = await amoot({"/AccountStatus": ACCOUNT_STATUS}).balance()
    assert (balance.credit, balance.currency, balance.lines) == (
        25000,
        "rial",
        ("98", "Public", "Service"),
    )
    assert balance.tariffs["base_fa"] == 1000 and balance.tariffs["ads_en"] == 11560
    with pytest.raises(AuthFailed, match="not recognised"):
        await amoot({"/AccountStatus": ACCOUNT_STATUS_BAD_TOKEN}).balance()


async def test_amoot_send_simple_matches_numbers_written_as_json_numbers() -> None:
    seen: list[httpx.Request] = []
    client = amoot({"/SendSimple": SEND_SIMPLE}, seen)
    result = await client.send(OutgoingSms("public", ("989120000000", "989150000000"), "x"))
    assert [(i.number, i.message_id) for i in result.items] == [
        ("989120000000", "1234568"),
        ("989150000000", "1234567"),
    ]
    assert result.campaign_id == "12345678" and result.price == 1234
    body = json.loads(seen[0].content)
    assert (
        body["Mobiles"] == ["9120000000", "9150000000"]
        and seen[0].headers["authorization"] == "MyToken"
    )
    with pytest.raises(ProviderRejected, match="text is empty"):
        await amoot({"/SendSimple": SEND_SIMPLE_EMPTY}).send(
            OutgoingSms("public", ("989120000000",), "")
        )


async def test_amoot_peer_to_peer_reads_the_documented_invalid_json() -> None:
    client = amoot({"/SendPeerToPeer": PEER_TO_PEER})
    result = await client.send_p2p("public", [("989120000000", "پیام نمونه تستی شماره 1")])
    assert [(i.number, i.message_id, i.outcome) for i in result.items] == [
        ("989120000000", "12345678", Outcome.ACCEPTED)
    ]


async def test_amoot_deliveries_by_message_and_by_campaign() -> None:
    client = amoot({"/GetDeliveries": DELIVERIES, "/GetDeliveriesByCampaignID": CAMPAIGN})
    [report] = await client.deliveries(["123456789"])
    assert (report.message_id, report.state, report.raw) == (
        "123456789",
        DeliveryState.DELIVERED,
        "1",
    )
    by_campaign = await client.deliveries([], "12345678")
    assert {(r.number, r.state) for r in by_campaign} == {
        ("989150000000", DeliveryState.SENT),
        ("989120000000", DeliveryState.DELIVERED),
    }


async def test_amoot_new_messages_and_none() -> None:
    page = await amoot({"/RecieveNewMessages": NEW_MESSAGES}).fetch_inbound()
    [sms] = page.messages
    assert (sms.provider_id, sms.sender, sms.text, sms.line) == (
        "123456789",
        "989120000000",
        "سلام وقت بخیر",
        None,
    )
    assert sms.received_at.isoformat() == "2024-11-20T12:19:00+03:30"
    assert (await amoot({"/RecieveNewMessages": NO_NEW_MESSAGES}).fetch_inbound()).messages == ()


@pytest.mark.parametrize(("body", "price"), [("3339", 3339.0), ("-17", None)])
async def test_amoot_price_is_a_bare_number_and_a_negative_one_an_error(
    body: str, price: float | None
) -> None:
    call = amoot({"/CalculateMessagePrice": body}).estimate_price(
        OutgoingSms("public", ("989120000000",), "x")
    )
    if price is None:
        with pytest.raises(InvalidRecipient):  # 17 is Mobiles_Empty in status_codes.md
            await call
    else:
        assert await call == price


# --- sms.ir: docs/providers.md §2.4 ("constructed concrete examples", the document's shapes)

TOKEN = '{"TokenKey": "5f0c1e2a9b7d4c3e8f1a", "IsSuccessful": true, "Message": "", "ErrorCode": 0}'
SEND = (
    '{"MessageId": 7012, "BatchKey": "a3f9c2", "Ids": [{"ID": 90031, "MobileNumber": '
    '"09120000000"}], "IsSuccessful": true, "Message": "", "ErrorCode": 0}'
)
REFUSED = '{"IsSuccessful": false, "Message": "توکن نامعتبر است", "ErrorCode": 1}'
SEARCH = (
    '{"Contacts": [{"ContactRelationId": 5001, "GroupName": "g", "Prefix": "", "FirstName": '
    '"", "LastName": "", "Mobile": "09120000000", "EmojiId": 1}], "IsSuccessful": true, '
    '"Message": "", "ErrorCode": 0}'
)
SENT_NUMBERS = (
    '{"Messages": [{"Id": 90031, "BatchKey": "a3f9c2", "MobileNumber": 9120000000, '
    '"SendDateTime": "2026-11-20T12:19:00", "PersianSendDateTime": "", '
    '"DeliveryStatus": "رسیده به گوشی", "SmsMessageBody": "x"}], "IsSuccessful": true, '
    '"Message": "", "ErrorCode": 0}'
)
USER_INFO = (
    '{"FirstName": "سارا", "LastName": "محمدی", "BusinessName": "", "Credit": 150, '
    '"ExpirationDateTime": "2027-03-01T12:00:00", "IsExpired": false, "IsSuccessful": '
    'true, "Message": "", "ErrorCode": 0}'
)


def smsir(bodies: Bodies, seen: list[httpx.Request] | None = None) -> SmsirClient:
    return SmsirClient(
        "smsir",
        "https://api.sms.ir/users/v1",
        "key",
        "secret",
        transport=transport({"/Token/GetToken": TOKEN, **bodies}, seen),
    )


async def test_smsir_token_envelope_send_and_delivery() -> None:
    seen: list[httpx.Request] = []
    client = smsir(
        {
            "/Contacts/SearchContacts": SEARCH,
            "/Message/Send": SEND,
            "/Message/GetSentMessagesMobileNumbers": SENT_NUMBERS,
        },
        seen,
    )
    result = await client.send(OutgoingSms("", ("989120000000",), "x"))
    assert [(i.number, i.message_id) for i in result.items] == [("989120000000", "90031")]
    assert result.campaign_id == "a3f9c2"
    assert all(
        r.headers.get("x-sms-ir-secure-token") == "5f0c1e2a9b7d4c3e8f1a"
        for r in seen
        if not r.url.path.endswith("GetToken")
    )
    send = json.loads(next(r for r in seen if r.url.path.endswith("/Message/Send")).content)
    assert send == {
        "Message": "x",
        "ContactGroupIds": [],
        "ContactRelationIds": [5001],
        "CanContinueInCaseOfError": True,
    }
    [report] = await client.deliveries([], "a3f9c2")
    assert (report.number, report.state) == ("989120000000", DeliveryState.DELIVERED)


async def test_smsir_balance_and_a_refusal_in_a_200() -> None:
    balance = await smsir({"/WhiteSms/GetUserInfo": USER_INFO}).balance()
    assert balance.credit == 150 and balance.account_name == "سارا محمدی"
    assert balance.expires == datetime.fromisoformat("2027-03-01T12:00:00+03:30")
    with pytest.raises(AuthFailed, match="توکن"):  # refused, renewed once, refused again
        await smsir({"/WhiteSms/GetUserInfo": REFUSED}).balance()


# --- PayamSMS: docs/providers.md §3 (reconstructed examples, placeholders filled in)

PAYAM_TOKEN = (
    '{"access_token": "ACCESS", "expires_in": 3600, "scope": "webservice", "userDetails": {}}'
)
PAYAM_SEND = (
    '[{"customerId": "r-989120000000", "mobile": "989120000000", "serverId": "41000001"}, '
    '{"customerId": "r-98912", "mobile": "98912", "errorCode": "E43", '
    '"description": "شماره گیرنده نامعتبر است"}]'
)
PAYAM_STATUS = (
    '[{"customerId": "r-0", "serverId": "41000001", "totalParts": 1, '
    '"totalDeliveredParts": 1, "totalUnDeliveredParts": 0, "totalUnKnownParts": 0, '
    '"status": "Send Successfully"}]'
)
PAYAM_MO = (
    '[{"body": "سلام", "id": 479, "from": "989120000000", "date": "2026-11-20 12:19:00", '
    '"to": "98200012345"}]'
)


def payam(bodies: Bodies, seen: list[httpx.Request] | None = None) -> PayamSmsClient:
    return PayamSmsClient(
        "payam",
        "https://www.payamsms.com",
        client_id="id",
        client_secret="secret",
        system_name="s",
        username="u",
        password="p",
        lines=("98200012345",),
        transport=transport({"/auth/oauth/token": PAYAM_TOKEN, **bodies}, seen),
    )


async def test_payam_login_balance_and_send_by_customer_id() -> None:
    seen: list[httpx.Request] = []
    client = payam(
        {
            "/accounting/webservice/balance": "123456",
            "/panel/webservice/sendMultipleWithSrc": PAYAM_SEND,
        },
        seen,
    )
    assert (await client.balance()).credit == 123456
    result = await client.send(
        OutgoingSms("98200012345", ("989120000000", "98912"), "x", reference="r")
    )
    assert [(i.number, i.outcome, i.message_id, i.error) for i in result.items] == [
        ("989120000000", Outcome.ACCEPTED, "41000001", None),
        ("98912", Outcome.FAILED, None, "E43"),
    ]
    login = seen[0]
    assert login.headers["authorization"] == "Basic aWQ6c2VjcmV0"
    assert b"grant_type=password" in login.content and b"scope=webservice" in login.content
    assert all(r.headers["authorization"] == "Bearer ACCESS" for r in seen[1:])


async def test_payam_status_mo_and_a_request_level_e_code() -> None:
    client = payam(
        {
            "/report/webservice/status": PAYAM_STATUS,
            "/report/webservice/mo": PAYAM_MO,
            "/accounting/webservice/balance": (400, '{"errorCode": "E4", "description": ""}'),
        }
    )
    [report] = await client.deliveries(["41000001"])
    assert (report.message_id, report.state, report.raw) == (
        "41000001",
        DeliveryState.DELIVERED,
        "Send Successfully 1/1",
    )
    page = await client.fetch_inbound(None)
    assert [(m.provider_id, m.sender, m.text, m.line) for m in page.messages] == [
        ("98200012345/479", "989120000000", "سلام", "98200012345")
    ]
    assert json.loads(page.cursor or "") == {"98200012345": 479}
    with pytest.raises(AuthFailed):
        await client.balance()
