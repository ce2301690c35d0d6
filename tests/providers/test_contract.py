"""The contract every provider client keeps, each against its own simulator over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from providers.base import (
    AuthFailed,
    Capability,
    DeliveryState,
    NotSupported,
    Outcome,
    OutgoingSms,
    ProviderProtocolError,
    ProviderUnavailable,
    RelayKind,
    SmsProvider,
)
from providers.timeutil import now_tehran

from .harness import BAD, GOOD, PROVIDERS, Harness, harness

OTHER = "989123333333"


@pytest.fixture(params=PROVIDERS)
async def h(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    async with harness(request.param) as value:
        yield value


async def test_balance_is_the_simulators_credit(h: Harness) -> None:
    balance = await h.client.balance()
    assert balance.credit == h.credit()
    assert balance.currency == ("rial" if h.name == "amootsms" else "")


async def test_send_reaches_exactly_the_recipients_and_costs_credit(h: Harness) -> None:
    numbers = h.accept(GOOD, OTHER)
    before = h.credit()
    result = await h.client.send(OutgoingSms(h.line, numbers, "سلام، سفارش شما آماده است"))
    assert [(i.number, i.ok) for i in result.items] == [(GOOD, True), (OTHER, True)]
    assert sorted(h.sent()) == sorted((n, "سلام، سفارش شما آماده است") for n in numbers)
    assert h.credit() < before


async def test_per_recipient_texts_where_supported(h: Harness) -> None:
    h.accept(GOOD, OTHER)
    call = h.client.send_p2p(h.line, [(GOOD, "one"), (OTHER, "two")])
    if Capability.SEND_P2P not in h.client.capabilities:
        with pytest.raises(NotSupported):
            await call
        return
    result = await call
    assert all(i.ok for i in result.items)
    assert sorted(h.sent()) == [(GOOD, "one"), (OTHER, "two")]


async def test_delivery_reports_move_to_final_states(h: Harness) -> None:
    h.accept(GOOD, BAD)
    result = await h.client.send(OutgoingSms(h.line, (GOOD, BAD), "hello"))
    ids = [i.message_id or "" for i in result.items]

    async def states() -> dict[str, DeliveryState]:
        reports = await h.client.deliveries(ids, result.campaign_id)
        by_id = dict(zip(ids, (GOOD, BAD), strict=True))
        return {by_id.get(r.message_id) or r.number or "": r.state for r in reports}

    assert not any(s.final for s in (await states()).values())
    h.advance(10)
    assert await states() == {GOOD: DeliveryState.DELIVERED, BAD: DeliveryState.FAILED}


async def test_inbound_arrives_once_through_the_cursor(h: Harness) -> None:
    if Capability.INBOUND_POLL not in h.client.capabilities:
        with pytest.raises(NotSupported):
            await h.client.fetch_inbound(None)
        return
    h.sim.inject_inbound("09125556666", "سلام، سفارشم کجاست؟")
    h.sim.inject_inbound("09125557777", "second")
    first = await h.client.fetch_inbound(None)
    assert [(m.sender, m.text) for m in first.messages] == [
        ("989125556666", "سلام، سفارشم کجاست؟"),
        ("989125557777", "second"),
    ]
    again = await h.client.fetch_inbound(first.cursor)
    assert again.messages == ()
    h.sim.inject_inbound("09125558888", "third")
    later = await h.client.fetch_inbound(again.cursor)
    assert [m.text for m in later.messages] == ["third"]


@pytest.mark.parametrize(
    ("fault", "error"),
    [("http_500", ProviderUnavailable), ("garbage", ProviderProtocolError)],
)
async def test_faults_map_onto_the_error_tree(h: Harness, fault: str, error: type) -> None:
    await h.client.balance()  # a token first, where there is one
    h.fail_next(fault, h.balance_method)
    with pytest.raises(error):
        await h.client.balance()


async def test_wrong_credentials_are_auth_failed(h: Harness) -> None:
    client = h.make(**{h.provider.secret: "wrong-secret-value"})
    with pytest.raises(AuthFailed) as caught:
        await client.balance()
    assert "wrong-secret-value" not in str(caught.value)


async def test_an_expired_token_is_renewed_or_refused_clearly(h: Harness) -> None:
    await h.client.balance()
    h.fail_next("token_expired", h.balance_method)
    if h.name == "amootsms":  # a panel token cannot be renewed by the client
        with pytest.raises(AuthFailed, match="expired"):
            await h.client.balance()
        return
    assert (await h.client.balance()).credit == h.credit()
    assert h.client.token_expiry() > now_tehran()


@pytest.mark.parametrize("fault", ["accept_then_hang", "accept_then_500", "accept_then_garbage"])
async def test_a_send_whose_answer_is_lost_is_unknown_never_resent_and_found_later(
    h: Harness, fault: str
) -> None:
    """The outcome rule (``providers/outcome.py``): a send that may have reached the provider is
    unknown, never failed and never repeated; where the provider keeps records that can be asked
    (sms.ir's sent list, PayamSMS's status by customerId), ``find_sent`` finds it later."""
    h.accept(GOOD, OTHER)
    client = h.make(timeout=1.0)
    h.fail_next(fault, h.send_method)
    started = now_tehran()
    sms = OutgoingSms(h.line, (GOOD, OTHER), "exactly once", reference="ref0001")
    result = await client.send(sms)
    assert [i.outcome for i in result.items] == [Outcome.UNKNOWN, Outcome.UNKNOWN]
    assert sorted(h.sent()) == [(GOOD, "exactly once"), (OTHER, "exactly once")]
    if Capability.FIND_SENT not in client.capabilities:  # AmootSMS: nothing to ask
        with pytest.raises(NotSupported):
            await client.find_sent(sms, started)
        return
    h.advance(5)  # PayamSMS shows a new message to status only after a while
    found = await client.find_sent(sms, started)
    assert found is not None and [i.ok for i in found.items] == [True, True]
    assert len(h.sent()) == 2  # looking up sent nothing


async def test_a_send_that_never_reached_the_provider_is_absent_from_its_records(
    h: Harness,
) -> None:
    """A 500 before the provider did anything: the client cannot tell, so the recipients are
    unknown; the provider's records then do not show the send (it stays unknown, not resent)."""
    h.accept(GOOD)
    h.fail_next("http_500", h.send_method)
    started = now_tehran()
    sms = OutgoingSms(h.line, (GOOD,), "not sent", reference="ref0002")
    result = await h.client.send(sms)
    assert result.items[0].outcome is Outcome.UNKNOWN and h.sent() == []
    if Capability.FIND_SENT in h.client.capabilities:
        h.advance(5)
        found = await h.client.find_sent(sms, started)
        assert found is not None and [(i.outcome, i.error) for i in found.items] == [
            (Outcome.UNKNOWN, "absent")
        ]
    assert h.sent() == []


def _calls(client: SmsProvider) -> dict[Capability, Callable[[], Awaitable[Any]]]:
    now = datetime.now()
    return {
        Capability.SEND_P2P: lambda: client.send_p2p("x", [(GOOD, "t")]),
        Capability.OTP: lambda: client.send_otp(GOOD, "1234"),
        Capability.PATTERN: lambda: client.patterns(),
        Capability.DRAFTS: lambda: client.drafts(),
        Capability.PRICE: lambda: client.estimate_price(OutgoingSms("x", (GOOD,), "t")),
        Capability.CANCEL_SCHEDULED: lambda: client.cancel_scheduled("1"),
        Capability.INBOUND_POLL: lambda: client.fetch_inbound(None),
        Capability.RELAY: lambda: client.relay_list(RelayKind.INBOUND),
        Capability.SCHEDULE: lambda: client.scheduled(now, now + timedelta(days=1)),
        Capability.FIND_SENT: lambda: client.find_sent(OutgoingSms("x", (GOOD,), "t"), now),
        Capability.CANCELLATIONS: lambda: client.cancelled("x", [GOOD]),
    }


async def test_every_missing_capability_raises_not_supported_by_name(h: Harness) -> None:
    missing = [c for c in _calls(h.client) if c not in h.client.capabilities]
    for capability in missing:
        if capability is Capability.SCHEDULE:
            continue  # listing scheduled sends belongs to CANCEL_SCHEDULED
        with pytest.raises(NotSupported) as caught:
            await _calls(h.client)[capability]()
        assert caught.value.capability in (capability, Capability.CANCEL_SCHEDULED)
        assert h.client.account in str(caught.value)
    C = Capability
    assert (
        set(missing)
        == {
            "amootsms": {C.DRAFTS, C.CANCEL_SCHEDULED, C.FIND_SENT},
            "smsir": {
                C.CANCELLATIONS,
                C.SEND_P2P,
                C.OTP,
                C.PATTERN,
                C.PRICE,
                C.CANCEL_SCHEDULED,
                C.INBOUND_POLL,
                C.RELAY,
                C.SCHEDULE,
            },
            "payamsms": {C.PATTERN, C.DRAFTS, C.PRICE, C.RELAY, C.CANCELLATIONS},
        }[h.name]
    )
