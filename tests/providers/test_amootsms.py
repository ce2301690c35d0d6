"""The AmootSMS client against the simulator over real HTTP, and its parsers on recorded bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from providers.amootsms import AmootSmsClient, decode
from providers.base import (
    AuthFailed,
    DeliveryState,
    InsufficientCredit,
    InvalidRecipient,
    OutgoingSms,
    ProviderProtocolError,
    ProviderRejected,
    ProviderUnavailable,
    RelayKind,
)
from providers.timeutil import now_tehran
from sandbox._serve import serve
from sandbox.amootsms import DEFAULT_TOKEN, AmootSim

CODES = {0: DeliveryState.QUEUED, 35: DeliveryState.SENT, 1: DeliveryState.DELIVERED,
         2: DeliveryState.FAILED}  # fmt: skip
A, B = "989121111111", "989122222222"


@pytest.fixture
async def sim_client() -> AsyncIterator[tuple[AmootSim, AmootSmsClient]]:
    sim = AmootSim(hang_seconds=2, undeliverable=("09122222222",))
    async with serve(sim.app) as url:
        client = AmootSmsClient("amoot", url, DEFAULT_TOKEN, delivery_codes=CODES)
        yield sim, client
        await client.aclose()


async def test_balance_reads_credit_tariffs_and_lines(sim_client) -> None:
    sim, client = sim_client
    balance = await client.balance()
    assert (balance.credit, balance.currency) == (sim.credit, "rial")
    assert balance.tariffs["base_fa"] == 1000 and "10001234" in balance.lines


async def test_send_charges_credit_and_matches_ids_by_number(sim_client) -> None:
    sim, client = sim_client
    before = sim.credit
    result = await client.send(OutgoingSms("10001234", (A, B), "سلام"))
    assert [i.number for i in result.items] == [A, B] and all(i.ok for i in result.items)
    assert {i.message_id for i in result.items} == {str(s.message_id) for s in sim.sent}
    assert sim.credit == before - 2 * 1000
    # the wire form the page documents: 10 digits, token only in the header
    method, params = sim.requests[-1]
    assert method == "SendSimple" and params["mobiles"] == [["9121111111", "9122222222"]]


async def test_send_is_chunked_under_the_recipient_cap(sim_client) -> None:
    sim, client = sim_client
    sim.recipient_cap = 2
    client.chunk_size = 2
    many = tuple(f"98912000000{i}" for i in range(5))
    result = await client.send(OutgoingSms("public", many, "hi"))
    assert len([r for r in sim.requests if r[0] == "SendSimple"]) == 3
    assert all(i.ok for i in result.items)


async def test_blacklisted_number_fails_alone(sim_client) -> None:
    sim, client = sim_client
    sim.blacklist = {"9122222222"}
    result = await client.send(OutgoingSms("public", (A, B), "hi"))
    assert [(i.number, i.ok, i.error) for i in result.items] == [
        (A, True, None), (B, False, "Mobile_Invalid")]  # fmt: skip


async def test_scheduled_send_carries_tehran_wall_clock_time(sim_client) -> None:
    sim, client = sim_client
    later = now_tehran() + timedelta(hours=2)
    await client.send(OutgoingSms("public", (A,), "later", send_at=later))
    assert sim.sent[0].send_at == later.replace(tzinfo=None, microsecond=0)
    assert sim.delivery_type(sim.sent[0]) == 0


async def test_p2p_with_the_documented_leading_zero_quirk(sim_client) -> None:
    sim, client = sim_client
    sim.leading_zero_quirk = True
    result = await client.send_p2p("public", [(A, "one"), (B, "two")])
    assert all(i.ok for i in result.items)
    assert sorted(s.text for s in sim.sent) == ["one", "two"]


async def test_otp_pattern_and_pattern_list(sim_client) -> None:
    sim, client = sim_client
    otp = await client.send_otp(A, "4821", 4)
    assert otp.code == "4821" and otp.message_id
    generated = await client.send_otp(A, None, 6)
    assert generated.code and len(generated.code) == 6
    patterns = await client.patterns()
    assert [p.variables for p in patterns] == [("code",), ("name", "order")]
    result = await client.send_pattern("1002", A, ["Ali", "77"], line="10001234")
    assert result.items[0].ok and sim.sent[-1].text == "سلام Ali، سفارش 77 ثبت شد"
    with pytest.raises(ProviderRejected, match="comma"):
        await client.send_pattern("1002", A, ["a,b", "1"])


async def test_price_is_a_bare_number_and_negative_is_an_error(sim_client) -> None:
    _sim, client = sim_client
    assert await client.estimate_price(OutgoingSms("public", (A, B), "hello")) == 10000
    with pytest.raises(ProviderRejected):
        await client.estimate_price(OutgoingSms("nope", (A,), "hello"))


async def test_delivery_moves_through_configured_codes(sim_client) -> None:
    sim, client = sim_client
    result = await client.send(OutgoingSms("public", (A, B), "hi"))
    ids = [i.message_id or "" for i in result.items]
    assert {r.state for r in await client.deliveries(ids)} == {DeliveryState.QUEUED}
    sim.advance(10)
    states = {r.message_id: r.state for r in await client.deliveries(ids)}
    assert states == {ids[0]: DeliveryState.DELIVERED, ids[1]: DeliveryState.FAILED}
    by_campaign = await client.campaign_deliveries(result.campaign_id or "")
    assert {r.number for r in by_campaign} == {A, B}


async def test_inbound_is_handed_out_once_and_recoverable_by_range(sim_client) -> None:
    sim, client = sim_client
    sim.inject_inbound("09125556666", "hello", line="10001234")
    first = (await client.fetch_inbound()).messages
    assert [(m.sender, m.text, m.line) for m in first] == [("989125556666", "hello", None)]
    assert (await client.fetch_inbound()).messages == ()
    found = await client.inbound_between(
        now_tehran() - timedelta(minutes=5), now_tehran() + timedelta(minutes=1), "10001234"
    )
    assert [(m.provider_id, m.line) for m in found] == [(first[0].provider_id, "10001234")]


async def test_relay_register_is_idempotent_and_lists_lowercase(sim_client) -> None:
    sim, client = sim_client
    first = await client.relay_register(RelayKind.INBOUND, "http://127.0.0.1:9/Relay/A/abc")
    sim.hooks["inbound"][0].active = False
    again = await client.relay_register(RelayKind.INBOUND, "http://127.0.0.1:9/relay/a/abc")
    assert first.id == again.id and sim.hooks["inbound"][0].active
    assert [h.url for h in await client.relay_list(RelayKind.INBOUND)] == [
        "http://127.0.0.1:9/relay/a/abc"]  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "error"),
    [("token_expired", AuthFailed), ("server_error", ProviderUnavailable),
     ("http_500", ProviderUnavailable), ("garbage", ProviderProtocolError)],
)  # fmt: skip
async def test_faults_map_onto_the_error_tree(sim_client, fault: str, error: type) -> None:
    sim, client = sim_client
    sim.fail_next(fault)
    with pytest.raises(error):
        await client.patterns()


async def test_wrong_token_low_credit_and_bad_numbers(sim_client) -> None:
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
