"""sms.ir White SMS specifics: contacts only, groups, the token's life, free-text delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers.base import (
    AuthFailed,
    DeliveryState,
    InvalidRecipient,
    Outcome,
    OutgoingSms,
    ProviderProtocolError,
)
from providers.smsir import DELIVERY_STATES, delivery_state
from providers.timeutil import now_tehran

from .harness import GOOD, Harness, harness

STRANGER = "989124444444"


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    async with harness("smsir") as value:
        yield value


async def test_a_number_that_is_not_a_contact_is_refused_with_that_reason(h: Harness) -> None:
    h.accept(GOOD)
    audience = await h.client.audience([GOOD, STRANGER, "group:1", "group:99"])
    assert audience.accepted == (GOOD, "group:1")
    assert audience.refused == (("group:99", "unknown_group"), (STRANGER, "not_contact"))
    result = await h.client.send(OutgoingSms("", (GOOD, STRANGER), "hi"))
    assert [(i.number, i.ok, i.error) for i in result.items] == [
        (GOOD, True, None),
        (STRANGER, False, "not_contact"),
    ]
    assert h.sent() == [(GOOD, "hi")]
    with pytest.raises(InvalidRecipient):
        await h.client.send(OutgoingSms("", (STRANGER,), "hi"))


async def test_groups_count_distinct_contacts_and_send_to_all(h: Harness) -> None:
    h.sim.add_contact("09121111111", group_id=1)
    h.sim.add_contact("09121111111", group_id=2)
    h.sim.add_contact("09123333333", group_id=2)
    audience = await h.client.audience(["group:1", "group:2"])
    assert audience.count == 2
    result = await h.client.send(OutgoingSms("", ("group:2",), "team"))
    assert result.items[0].ok and result.campaign_id
    assert sorted(h.sent()) == [("989121111111", "team"), ("989123333333", "team")]
    body = h.sim.requests[-1].body
    assert body["ContactGroupIds"] == [2] and body["ContactRelationIds"] == []


async def test_new_contacts_wait_before_they_can_be_reached(h: Harness) -> None:
    h.sim.add_contact(GOOD, wait=600)
    assert (await h.client.audience([GOOD])).count == 0  # the preview knows nobody is reachable
    result = await h.client.send(OutgoingSms("", (GOOD,), "too early"))
    # refused with CanContinueInCaseOfError: not proof that nothing went out, so unknown
    assert [(i.outcome, i.error) for i in result.items] == [(Outcome.UNKNOWN, "4")]
    assert h.sent() == []


async def test_a_refused_send_is_never_retried_and_its_sent_part_is_found(h: Harness) -> None:
    """With ``CanContinueInCaseOfError`` sms.ir may send part and still answer failure: the send
    is not repeated (not even after a new token) and the sent list tells who got it."""
    h.accept(GOOD)
    h.sim.add_contact(STRANGER, wait=600)
    started = now_tehran()
    sms = OutgoingSms("", (GOOD, STRANGER), "part of it")
    result = await h.client.send(sms)
    assert [i.outcome for i in result.items] == [Outcome.UNKNOWN, Outcome.UNKNOWN]
    assert len(h.sim.calls("Message/Send")) == 1
    assert h.sent() == [(GOOD, "part of it")]
    found = await h.client.find_sent(sms, started)
    assert found is not None
    assert [(i.number, i.outcome, i.error) for i in found.items] == [
        (GOOD, Outcome.ACCEPTED, None),
        (STRANGER, Outcome.FAILED, "not_in_batch"),
    ]
    assert found.campaign_id == h.sim.batches[0].batch_key


async def test_the_sent_list_cannot_tell_two_sends_of_the_same_text_apart(h: Harness) -> None:
    h.accept(GOOD)
    started = now_tehran()
    sms = OutgoingSms("", (GOOD,), "same text")
    await h.client.send(sms)
    await h.client.send(sms)
    assert await h.client.find_sent(sms, started) is None


async def test_send_by_mobile_numbers_only_behind_the_flag(h: Harness) -> None:
    client = h.make(send_by_mobile_numbers=True)
    with pytest.raises(ProviderProtocolError, match="404"):  # not in the seed, nor the simulator
        await client.send(OutgoingSms("", (STRANGER,), "hi"))
    async with harness("smsir", send_by_mobile_numbers=True) as flagged:
        client = flagged.make(send_by_mobile_numbers=True)
        assert (await client.audience([STRANGER])).refused == ()
        result = await client.send(OutgoingSms("", (STRANGER,), "hi"))
        assert result.items[0].ok and flagged.sent() == [(STRANGER, "hi")]


async def test_the_token_is_renewed_before_thirty_minutes(h: Harness) -> None:
    await h.client.balance()
    h.clock.advance(26 * 60)
    await h.client.balance()
    calls = [call.method for call in h.sim.requests]
    assert calls.count("Token/GetToken") == 2
    assert len(h.sim.tokens) == 2


async def test_a_token_refused_in_a_200_is_renewed_once_not_in_a_loop(h: Harness) -> None:
    await h.client.balance()
    h.sim.tokens.clear()  # the provider forgot every token
    assert (await h.client.balance()).credit == h.sim.credit
    h.sim.fail_next("token_expired", count=5)
    with pytest.raises(AuthFailed):
        await h.client.balance()
    calls = [call.method for call in h.sim.requests]
    assert calls.count("Token/GetToken") == 3


async def test_a_dead_token_whatever_its_message_is_renewed_once() -> None:
    async with harness("smsir", token_lifetime=5) as h:  # a stand-in with short tokens
        await h.client.balance()
        h.clock.advance(6)
        h.sim.drafts = ["x"]
        assert await h.client.drafts() == ["x"]
        calls = [call.method for call in h.sim.requests]
        assert calls.count("Token/GetToken") == 2


async def test_http_401_is_handled_like_a_dead_token() -> None:
    async with harness("smsir", auth_status=401) as h:
        await h.client.balance()
        h.sim.tokens.clear()
        assert (await h.client.balance()).credit == h.sim.credit


async def test_delivery_keeps_the_raw_text_and_classifies_it(h: Harness) -> None:
    h.accept(GOOD)
    result = await h.client.send(OutgoingSms("", (GOOD,), "hi"))
    reports = await h.client.deliveries([], result.campaign_id)
    assert [(r.number, r.state, r.raw) for r in reports] == [
        (GOOD, DeliveryState.QUEUED, "در صف ارسال")
    ]
    assert delivery_state("نرسیده به گوشی", DELIVERY_STATES) is DeliveryState.FAILED
    assert delivery_state("پیام به گوشی رسیده به گوشی", DELIVERY_STATES) is DeliveryState.DELIVERED
    assert delivery_state("something new", DELIVERY_STATES) is DeliveryState.UNKNOWN


async def test_delivery_pages_through_large_batches(h: Harness) -> None:
    numbers = tuple(f"98912{i:07d}" for i in range(120))
    h.accept(*numbers)
    result = await h.client.send(OutgoingSms("", ("group:1",), "bulk"))
    reports = await h.client.deliveries([], result.campaign_id)
    assert {r.number for r in reports} == set(numbers)
    pages = h.sim.calls("Message/GetSentMessagesMobileNumbers")
    assert len(pages) == 3


async def test_balance_shows_expiry_and_drafts_are_stored_texts(h: Harness) -> None:
    balance = await h.client.balance()
    assert balance.expires is not None and balance.currency == ""
    assert await h.client.drafts() == h.sim.drafts
