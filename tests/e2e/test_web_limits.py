"""The HTTP server holds up against bad clients: bodies are limited while they are read, deep or
odd JSON gets a 4xx, a client that never finishes its request is cut off, /healthz does not write
on every call, and a relay answers right after its commit whatever Telegram does."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import ADMIN, RELAY_SECRET, TIMING, World


def _address(w: World) -> tuple[str, int]:
    assert w.bridge is not None
    url = urlsplit(w.bridge.web_url)
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


async def _raw(
    w: World,
    request: bytes,
    *,
    then: bytes = b"",
    wait: float = 5.0,
    unsent: list[int] | None = None,
) -> bytes:
    """Send ``request`` (and ``then``, as long as the server reads); what came back (empty when
    the server reset the connection because the rest of the body was never read). ``unsent``
    gets the bytes of ``then`` the server never took."""
    reader, writer = await asyncio.open_connection(*_address(w))
    writer.write(request)
    try:
        while then:
            writer.write(then[: 1 << 16])
            then = then[1 << 16 :]
            await writer.drain()
            if unsent is not None:
                unsent[:] = [len(then)]
        return await asyncio.wait_for(reader.read(), wait)
    except ConnectionError:
        return b""  # the server stopped reading and closed: it has answered
    finally:
        writer.close()


def _relay_path() -> str:
    return f"/relay/amoot/{RELAY_SECRET}/inbound"


async def test_a_body_over_the_limit_is_refused_before_it_is_read(w: World) -> None:
    """Was: a 100 MiB relay POST was read whole before its 413; /telegram had no limit at all."""
    declared = (
        f"POST {_relay_path()} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 << 20}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = await _raw(w, declared)
    assert answer.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 5
    chunked = (
        f"POST {_relay_path()} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"10000\r\n" + b"[" * 0x10000 + b"\r\n"
    unsent = [0]
    answer = await _raw(w, chunked, then=chunk * 1600, unsent=unsent)  # 100 MiB, no length
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413")
    assert unsent[0] > 50 << 20  # not read to its end: most of it never left here
    telegram = (
        b"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n"
        b"X-Telegram-Bot-Api-Secret-Token: x\r\n\r\n"
    )
    assert (await _raw(w, telegram)).startswith(b"HTTP/1.1 4")


@pytest.mark.parametrize(
    "body", [b"[" * 100_000, b'{"a":' * 900 + b"1" + b"}" * 900, b"[" * 50 + b"]" * 50, b"\xff\xfe"]
)
async def test_deep_or_odd_json_to_a_relay_is_a_4xx(w: World, body: bytes) -> None:
    """Was: ``[``×100 000 or 900 nested objects raised RecursionError: a 500."""
    assert w.bridge is not None
    async with httpx.AsyncClient() as http:
        response = await http.post(
            w.bridge.web_url + _relay_path(),
            content=body,
            headers={"content-type": "application/json"},
        )
    assert 400 <= response.status_code < 500, response.text
    assert await w.bridge.db.fetchall("SELECT id FROM inbound") == []


async def test_a_webhook_body_that_is_not_an_update_is_a_4xx(tmp_path: object, w: World) -> None:
    """Was: ``1`` or ``[]`` posted to /telegram raised inside the handler: a 500."""
    assert w.bridge is not None
    w.bridge.config.telegram.__dict__["mode"] = "webhook"  # the endpoint as webhook mode serves it
    w.bridge.config.telegram.__dict__["webhook_secret"] = type(
        w.bridge.config.telegram.webhook_secret
    )("hook-secret-123")
    headers = {"x-telegram-bot-api-secret-token": "hook-secret-123"}
    async with httpx.AsyncClient() as http:
        for body in (b"1", b"[]", b'"x"', b"{}", b'{"update_id": "x"}', b"[" * 100_000):
            response = await http.post(
                w.bridge.web_url + "/telegram", content=body, headers=headers
            )
            assert response.status_code == 400, (body[:20], response.text)


async def test_a_client_that_never_finishes_its_request_is_cut_off(w: World) -> None:
    """Was: a connection with half a request stayed open indefinitely."""
    reader, writer = await asyncio.open_connection(*_address(w))
    writer.write(f"POST {_relay_path()} HTTP/1.1\r\nHost: x\r\nContent-Le".encode())
    started = time.monotonic()
    closed = await asyncio.wait_for(reader.read(), TIMING.request_deadline + 5)
    assert closed == b"" and time.monotonic() - started < TIMING.request_deadline + 2
    writer.close()
    # a whole request still gets its answer, and a kept-alive connection its deadline again
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{w.bridge.web_url}/healthz")).status_code == 200  # type: ignore[union-attr]


async def test_healthz_checks_the_database_at_most_every_few_seconds(w: World) -> None:
    """Was: every unauthenticated /healthz opened a write transaction and an fsync."""
    assert w.bridge is not None
    async with httpx.AsyncClient() as http:
        await http.get(f"{w.bridge.web_url}/healthz")
        before = w.bridge.db.commits
        for _ in range(50):
            assert (await http.get(f"{w.bridge.web_url}/healthz")).status_code == 200
    assert w.bridge.db.commits - before <= 3  # was one write each: 50


async def test_a_delivery_relay_answers_after_its_commit_whatever_telegram_does(w: World) -> None:
    """Was: the relay edited Telegram messages inside the request and could answer 500 after the
    commit."""
    assert w.bridge is not None
    await w.tg.send(ADMIN, ADMIN, "/send amoot:10001234 09121234567 hello")
    preview = await w.tg.wait_text(ADMIN, "Send preview")
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await w.tg.wait_text(ADMIN, "message id")
    message_id = w.amoot.outgoing[0].message_id
    w.tg.fail_next += [(500, "editMessageText")] * 3
    report = {"MessageID": message_id, "DeliveryType": 1, "Number": "9121234567"}
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{w.bridge.web_url}/relay/amoot/{RELAY_SECRET}/delivery", json=report
        )
    assert response.status_code == 200 and response.json()["updated"] == 1
    await w.tg.wait_for(
        lambda e: (
            e.message["message_id"] == preview["message_id"]
            and "— delivered" in e.message.get("text", "")
        ),
        timeout=30,
    )
