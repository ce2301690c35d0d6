"""The AmootSMS client against the simulator over real HTTP, and its parsers on recorded bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from providers.amootsms import AmootSmsClient, decode, price_error
from providers.base import (
    AuthFailed,
    DeliveryState,
    InsufficientCredit,
    InvalidRecipient,
    Outcome,
    OutgoingSms,
    ProviderProtocolError,
    ProviderRejected,
    ProviderUnavailable,
    RelayKind,
    Unreachable,
)
from providers.timeutil import now_tehran
from sandbox.amootsms import AmootSim
from tests.conftest import free_port

from .harness import BAD, GOOD, harness

A, B = GOOD, BAD  # B is never delivered
SimClient = tuple[AmootSim, AmootSmsClient]


@pytest.fixture
async def sim_client() -> AsyncIterator[tuple[AmootSim, AmootSmsClient]]:
    async with harness("amootsms", hang_seconds=2) as h:
        yield h.sim, h.client


async def test_balance_reads_credit_tariffs_and_lines(sim_client: SimClient) -> None:
    sim, client = sim_client
    balance = await client.balance()
    assert (balance.credit, balance.currency) == (sim.credit, "rial")
    assert balance.tariffs["base_fa"] == 1000 and "10001234" in balance.lines


async def test_send_charges_credit_and_matches_ids_by_number(sim_client: SimClient) -> None:
    sim, client = sim_client
    before = sim.credit
    result = await client.send(OutgoingSms("10001234", (A, B), "سلام"))
    assert [i.number for i in result.items] == [A, B] and all(i.ok for i in result.items)
    assert {i.message_id for i in result.items} == {str(s.message_id) for s in sim.outgoing}
    assert sim.credit == before - 2 * 1000
    # the wire form the page documents: 10 digits, token only in the header
    call = sim.requests[-1]
    assert call.method == "SendSimple" and call.params.all("Mobiles") == [
        ["9121111111", "9122222222"]
    ]


async def test_send_is_chunked_under_the_recipient_cap(sim_client: SimClient) -> None:
    sim, client = sim_client
    sim.recipient_cap = 2
    client.chunk_size = 2
    many = tuple(f"98912000000{i}" for i in range(5))
    result = await client.send(OutgoingSms("public", many, "hi"))
    assert len(sim.calls("SendSimple")) == 3
    assert all(i.ok for i in result.items)


async def test_blacklisted_number_fails_alone(sim_client: SimClient) -> None:
    sim, client = sim_client
    sim.blacklist = {"9122222222"}
    result = await client.send(OutgoingSms("public", (A, B), "hi"))
    assert [(i.number, i.ok, i.error) for i in result.items] == [
        (A, True, None),
        (B, False, "Mobile_Invalid"),
    ]


async def test_scheduled_send_carries_tehran_wall_clock_time(sim_client: SimClient) -> None:
    sim, client = sim_client
    later = now_tehran() + timedelta(hours=2)
    await client.send(OutgoingSms("public", (A,), "later", send_at=later))
    assert sim.outgoing[0].send_at == later.replace(tzinfo=None, microsecond=0)
    assert sim.delivery_type(sim.outgoing[0]) == 0


async def test_p2p_with_the_documented_leading_zero_quirk(sim_client: SimClient) -> None:
    sim, client = sim_client
    sim.leading_zero_quirk = True
    result = await client.send_p2p("public", [(A, "one"), (B, "two")])
    assert all(i.ok for i in result.items)
    assert sorted(s.text for s in sim.outgoing) == ["one", "two"]


async def test_otp_pattern_and_pattern_list(sim_client: SimClient) -> None:
    sim, client = sim_client
    otp = await client.send_otp(A, "4821", 4)
    assert otp.code == "4821" and otp.message_id
    generated = await client.send_otp(A, None, 6)
    assert generated.code and len(generated.code) == 6
    patterns = await client.patterns()
    assert [p.variables for p in patterns] == [("code",), ("name", "order")]
    result = await client.send_pattern("1002", A, ["Ali", "77"], line="10001234")
    assert result.items[0].ok and sim.outgoing[-1].text == "سلام Ali، سفارش 77 ثبت شد"
    with pytest.raises(ProviderRejected, match="comma"):
        await client.send_pattern("1002", A, ["a,b", "1"])


async def test_price_is_a_bare_number_and_negative_is_an_error(sim_client: SimClient) -> None:
    sim, client = sim_client
    assert await client.estimate_price(OutgoingSms("public", (A, B), "hello")) == 10000
    with pytest.raises(ProviderRejected, match="line does not exist"):
        await client.estimate_price(OutgoingSms("nope", (A,), "hello"))
    sim.tokens.clear()  # a bad token: a negative number too, never a price of 0 (A18)
    with pytest.raises(AuthFailed, match="does not exist"):
        await client.estimate_price(OutgoingSms("public", (A,), "hello"))


@pytest.mark.parametrize(
    ("raw", "error", "code"),
    [
        (-1, AuthFailed, "User_NotExists"),
        (-17, InvalidRecipient, "Mobiles_Empty"),
        (-201, AuthFailed, "Token_NotExists"),
        (-999, ProviderRejected, "-999"),
    ],
)
def test_a_negative_price_is_a_status_code_of_either_sign_never_success(
    raw: int, error: type, code: str
) -> None:
    found = price_error("amoot", raw)
    assert type(found) is error and found.code == code


async def test_a_later_chunk_whose_answer_is_lost_is_unknown_and_the_rest_still_go(
    sim_client: SimClient,
) -> None:
    sim, client = sim_client
    sim.recipient_cap = client.chunk_size = 2
    sim.fail_next("accept_then_500", method="SendSimple", after=1)  # the second chunk's answer
    many = tuple(f"98912000000{i}" for i in range(5))
    result = await client.send(OutgoingSms("public", many, "hi"))
    assert [i.outcome for i in result.items] == [Outcome.ACCEPTED] * 2 + [Outcome.UNKNOWN] * 2 + [
        Outcome.ACCEPTED
    ]
    assert len(sim.outgoing) == 5  # the provider did send the second chunk


@pytest.mark.parametrize("fault", ["server_error", "http_500", "garbage", "accept_then_garbage"])
async def test_a_send_without_a_clear_answer_is_unknown_never_failed(
    sim_client: SimClient, fault: str
) -> None:
    sim, client = sim_client
    sim.fail_next(fault, method="SendSimple")
    result = await client.send(OutgoingSms("public", (A, B), "hi"))
    assert [i.outcome for i in result.items] == [Outcome.UNKNOWN, Outcome.UNKNOWN]
    assert len(sim.calls("SendSimple")) == 1  # never repeated


async def test_a_send_that_never_left_is_failed() -> None:
    client = AmootSmsClient("amoot", f"http://127.0.0.1:{free_port()}", "token")
    with pytest.raises(Unreachable):
        await client.send(OutgoingSms("public", (A,), "hi"))
    await client.aclose()


@pytest.mark.parametrize(
    ("status_style", "payload_key", "otp_shape"),
    [
        ("int", "Data", "array"),
        ("bool", "ReturnValue", "object"),
        ("title", "ReturnValue", "array"),
    ],
)
async def test_every_documented_status_and_payload_shape_is_read(
    status_style: str, payload_key: str, otp_shape: str
) -> None:
    """A5, A6, A11: ``Status`` as a Title, an int or a bool; ``Data`` or ``ReturnValue``; the OTP
    answer as an object or an array of one."""
    options = {"status_style": status_style, "payload_key": payload_key, "otp_shape": otp_shape}
    async with harness("amootsms", **options) as h:
        assert (await h.client.balance()).credit == h.sim.credit
        result = await h.client.send(OutgoingSms("public", (A, B), "hi"))
        assert all(i.ok for i in result.items)
        otp = await h.client.send_otp(A, "4821", 4)
        assert otp.message_id
        reports = await h.client.deliveries([i.message_id or "" for i in result.items])
        assert len(reports) == 2
        assert [p.id for p in await h.client.patterns()] == ["1001", "1002"]
        h.sim.inject_inbound("09125556666", "hello", line="10001234")
        assert [m.text for m in (await h.client.fetch_inbound()).messages] == ["hello"]
        h.sim.blacklist = {"9122222222"}
        result = await h.client.send(OutgoingSms("public", (A, B), "hi"))
        assert [i.ok for i in result.items] == [True, False]


async def test_delivery_moves_through_configured_codes(sim_client: SimClient) -> None:
    sim, client = sim_client
    result = await client.send(OutgoingSms("public", (A, B), "hi"))
    ids = [i.message_id or "" for i in result.items]
    assert {r.state for r in await client.deliveries(ids)} == {DeliveryState.QUEUED}
    sim.advance(10)
    states = {r.message_id: r.state for r in await client.deliveries(ids)}
    assert states == {ids[0]: DeliveryState.DELIVERED, ids[1]: DeliveryState.FAILED}
    by_campaign = await client.campaign_deliveries(result.campaign_id or "")
    assert {r.number for r in by_campaign} == {A, B}


async def test_inbound_is_handed_out_once_and_recoverable_by_range(sim_client: SimClient) -> None:
    sim, client = sim_client
    sim.inject_inbound("09125556666", "hello", line="10001234")
    first = (await client.fetch_inbound()).messages
    assert [(m.sender, m.text, m.line) for m in first] == [("989125556666", "hello", None)]
    assert (await client.fetch_inbound()).messages == ()
    found = await client.inbound_between(
        now_tehran() - timedelta(minutes=5), now_tehran() + timedelta(minutes=1), "10001234"
    )
    assert [(m.provider_id, m.line) for m in found] == [(first[0].provider_id, "10001234")]


async def test_relay_register_is_idempotent_and_lists_lowercase(sim_client: SimClient) -> None:
    sim, client = sim_client
    first = await client.relay_register(RelayKind.INBOUND, "http://127.0.0.1:9/Relay/A/abc")
    sim.hooks["inbound"][0].active = False
    again = await client.relay_register(RelayKind.INBOUND, "http://127.0.0.1:9/relay/a/abc")
    assert first.id == again.id and sim.hooks["inbound"][0].active
    assert [h.url for h in await client.relay_list(RelayKind.INBOUND)] == [
        "http://127.0.0.1:9/relay/a/abc"
    ]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("token_expired", AuthFailed),
        ("server_error", ProviderUnavailable),
        ("http_500", ProviderUnavailable),
        ("garbage", ProviderProtocolError),
    ],
)
async def test_faults_map_onto_the_error_tree(
    sim_client: SimClient, fault: str, error: type
) -> None:
    sim, client = sim_client
    sim.fail_next(fault)
    with pytest.raises(error):
        await client.patterns()


async def test_wrong_token_low_credit_and_bad_numbers(sim_client: SimClient) -> None:
    sim, client = sim_client
    sim.credit = 10
    with pytest.raises(InsufficientCredit):
        await client.send(OutgoingSms("public", (A,), "hi"))
    with pytest.raises(InvalidRecipient):
        await client.send(OutgoingSms("public", ("98912",), "hi"))
    sim.tokens.clear()
    with pytest.raises(AuthFailed, match="does not exist"):
        await client.patterns()


def test_decode_repairs_leading_zero_numbers_only_when_needed() -> None:
    assert decode("x", b'{"Number": 09120000000}') == {"Number": "09120000000"}
    assert decode("x", b'"Success"') == "Success"
    with pytest.raises(ProviderProtocolError):
        decode("x", b"<html>")


async def test_the_cancellation_list_is_asked_one_number_at_a_time(sim_client: SimClient) -> None:
    """IsBlackList_ByCancelation takes one mobile and one line (form fields); ``OTP`` lets the
    server pick its OTP line; a line the account lacks is refused by its own code."""
    sim, client = sim_client
    sim.cancel_reception("0" + A[2:], "10001234")
    assert await client.cancelled("10001234", [A, B]) == {A: True, B: False}
    assert await client.cancelled("public", [A]) == {A: False}  # another line's list
    calls = sim.calls("IsBlackList_ByCancelation")
    assert [(c.params.text("Mobile"), c.params.text("LineNumber")) for c in calls[:2]] == [
        ("0" + A[2:], "10001234"),
        ("0" + B[2:], "10001234"),
    ]
    assert await client.cancelled("OTP", [B]) == {B: False}
    with pytest.raises(ProviderRejected) as refused:
        await client.cancelled("30001111", [A])
    assert refused.value.code == "LineNumber_NotExist"
    # the list is the operator's: a send from that line does not reach the number
    result = await client.send(OutgoingSms("10001234", (A, B), "hello"))
    assert [i.ok for i in result.items] == [False, True]
