"""PayamSMS specifics: the OAuth2 token, 250-item chunks, per-item results, customerId recovery,
the mo cursor, scheduled messages, and E-codes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from providers.base import (
    AuthFailed,
    InsufficientCredit,
    Outcome,
    OutgoingSms,
    ProviderRejected,
    ProviderUnavailable,
)
from providers.payamsms import find_error
from providers.timeutil import now_tehran

from .harness import GOOD, Harness, harness

LINE = "98200012345"


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    async with harness("payamsms") as value:
        yield value


def calls(h: Harness, method: str) -> list[object]:
    return [call.body for call in h.sim.calls(method)]


@pytest.mark.parametrize("method", ["sendMultipleWithSrc", "sendMultipleWithSrcBody", "send"])
async def test_bulk_is_chunked_at_250_with_every_method(h: Harness, method: str) -> None:
    client = h.make(send_method=method)
    many = tuple(f"98912{i:07d}" for i in range(600))
    result = await client.send(OutgoingSms(LINE, many, "bulk", reference="b1"))
    assert len(calls(h, method)) == 3 and all(i.ok for i in result.items)
    assert len(h.sent()) == 600
    assert {m.customer_id for m in h.sim.messages} == {f"b1-{n}" for n in many}


async def test_a_partly_failed_batch_names_exactly_the_failed_numbers(h: Harness) -> None:
    result = await h.client.send(OutgoingSms(LINE, (GOOD, "98912", "989123333333"), "hi"))
    assert [(i.number, i.ok, i.error) for i in result.items] == [
        (GOOD, True, None),
        ("98912", False, "E43"),
        ("989123333333", True, None),
    ]


async def test_a_500_is_never_followed_by_a_resend(h: Harness) -> None:
    """Whether PayamSMS refuses a repeated customerId is not documented: nothing is resent."""
    h.sim.fail_next("http_500", method="sendMultipleWithSrc")
    result = await h.client.send(OutgoingSms(LINE, (GOOD,), "once", reference="r9"))
    assert result.items[0].outcome is Outcome.UNKNOWN
    assert h.sim.messages == [] and len(calls(h, "sendMultipleWithSrc")) == 1


async def test_a_message_is_found_by_customer_id_only_once_status_shows_it(h: Harness) -> None:
    h.sim.fail_next("accept_then_500", method="sendMultipleWithSrc")
    started = now_tehran()
    sms = OutgoingSms(LINE, (GOOD,), "once", reference="r7")
    result = await h.client.send(sms)
    assert result.items[0].outcome is Outcome.UNKNOWN
    found = await h.client.find_sent(sms, started)  # not visible to status yet
    assert found is not None and found.items[0].error == "absent"
    h.clock.advance(h.sim.status_delay)
    found = await h.client.find_sent(sms, started)
    assert found is not None and found.items[0].message_id == h.sim.messages[0].server_id
    assert len(h.sim.messages) == 1 and len(calls(h, "sendMultipleWithSrc")) == 1


async def test_a_failed_look_up_is_an_error_not_an_outcome(h: Harness) -> None:
    sms = OutgoingSms(LINE, (GOOD,), "once", reference="r8")
    h.sim.fail_next("http_500", method="status")
    with pytest.raises(ProviderUnavailable):
        await h.client.find_sent(sms, now_tehran())


@pytest.mark.parametrize("fault", ["http_403", "e4"])
async def test_no_permission_is_auth_failed(h: Harness, fault: str) -> None:
    await h.client.balance()
    h.sim.fail_next(fault, method="balance")
    with pytest.raises(AuthFailed):
        await h.client.balance()
    h.sim.fail_next(fault, method="sendMultipleWithSrc")
    with pytest.raises(AuthFailed):
        await h.client.send(OutgoingSms(LINE, (GOOD,), "hi"))
    assert h.sim.messages == []


async def test_the_token_is_reused_and_a_401_logs_in_once(h: Harness) -> None:
    await h.client.balance()
    await h.client.balance()
    assert h.sim.logins == 1
    h.sim.fail_next("token_expired", method="balance")
    await h.client.balance()
    assert h.sim.logins == 2
    h.sim.fail_next("token_expired", count=2, method="balance")
    with pytest.raises(AuthFailed):
        await h.client.balance()


async def test_a_repeat_login_returns_the_same_token_and_never_extends_it() -> None:
    async with harness("payamsms", token_lifetime=100) as h:
        other = h.make()
        await h.client.balance()
        h.clock.advance(60)
        await other.balance()  # logs in again: same token, 40 s left
        assert other.token_expiry() - now_tehran() < timedelta(seconds=41)
        h.clock.advance(45)  # both clients now hold a dead token: each logs in once
        await h.client.balance()
        await other.balance()
        assert h.sim.logins == 4


async def test_login_encodings_and_wrong_password(h: Harness) -> None:
    client = h.make(login_json=True)
    assert (await client.balance()).credit == h.sim.credit
    bad = h.make(password="nope")
    with pytest.raises(AuthFailed, match="password"):
        await bad.balance()


async def test_low_credit_is_insufficient_credit(h: Harness) -> None:
    """E6 comes per message; a request whose every message got it is the account's refusal."""
    h.sim.credit = 10
    with pytest.raises(InsufficientCredit) as refused:
        await h.client.send(OutgoingSms(LINE, (GOOD,), "hi"))
    assert refused.value.code == "E6"
    h.sim.credit = h.sim.part_price  # enough for one of two: the other is refused alone
    result = await h.client.send(OutgoingSms(LINE, (GOOD, "989123333333"), "hi"))
    assert [(i.ok, i.error) for i in result.items] == [(True, None), (False, "E6")]
    h.sim.credit = 10
    with pytest.raises(InsufficientCredit):
        await h.client.send_otp(GOOD, "1234")


async def test_otp_is_a_generated_code_by_plain_send(h: Harness) -> None:
    otp = await h.client.send_otp(GOOD, None, 6)
    assert otp.code and len(otp.code) == 6 and otp.message_id
    assert h.sent() == [(GOOD, f"کد تأیید شما: {otp.code}")]


async def test_scheduled_messages_are_listed_and_cancelled(h: Harness) -> None:
    later = now_tehran() + timedelta(hours=3)
    result = await h.client.send(OutgoingSms(LINE, (GOOD,), "later", send_at=later))
    server_id = result.items[0].message_id
    listed = await h.client.scheduled(now_tehran(), now_tehran() + timedelta(days=1))
    assert [(s.message_id, s.number, s.text) for s in listed] == [(server_id, GOOD, "later")]
    assert h.sim.messages[0].send_at == later.replace(tzinfo=None, microsecond=0)
    credit = h.sim.credit
    assert await h.client.cancel_scheduled(server_id) is True
    assert h.sim.credit > credit
    assert await h.client.cancel_scheduled(server_id) is False  # no longer waiting
    assert await h.client.scheduled(now_tehran(), now_tehran() + timedelta(days=1)) == []


async def test_inbound_uses_the_id_cursor_only_and_keeps_lines_apart(h: Harness) -> None:
    h.sim.inject_inbound("09125556666", "on the first line", line=LINE)
    h.sim.inject_inbound("09125557777", "on the second line", line="98200067890")
    page = await h.client.fetch_inbound(None)
    assert {(m.line, m.text) for m in page.messages} == {
        (LINE, "on the first line"),
        ("98200067890", "on the second line"),
    }
    assert len({m.provider_id for m in page.messages}) == 2  # ids are per line on the wire
    assert not any(m.read for m in h.sim.inbox)  # never the form that marks messages read
    assert all(call.params.get("id") is not None for call in h.sim.calls("mo"))


async def test_inbound_pages_of_90_say_more_is_waiting(h: Harness) -> None:
    for i in range(95):
        h.sim.inject_inbound("09125556666", f"m{i}", line=LINE)
    first = await h.client.fetch_inbound(None)
    assert len(first.messages) == 90 and first.more
    second = await h.client.fetch_inbound(first.cursor)
    assert [m.text for m in second.messages] == [f"m{i}" for i in range(90, 95)]


async def test_status_lookup_unknown_ids_and_e_codes(h: Harness) -> None:
    assert await h.client.deliveries(["123"]) == []  # E305: none known
    with pytest.raises(ProviderRejected, match="invalid"):
        await h.client.deliveries(["not-a-number"])  # E8
    assert find_error({"error": "invalid_grant", "error_description": "E5"}) == ("E5", "")
    assert find_error({"errorCode": "E107", "description": "x"}) == ("E107", "x")
    assert find_error("<html>") is None
