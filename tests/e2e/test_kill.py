"""SIGKILL the bridge (a real `smsbridge run` process) again and again during a burst of relayed
and polled SMS: every SMS whose relay got a 2xx, and every polled one, reaches its chat, with at
most one duplicate per kill."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import httpx

from tests.conftest import (
    ADMIN,
    GROUP,
    RELAY_SECRET,
    World,
    bridge_process,
    eventually,
    free_port,
    world,
)

KILLS = 3


async def _relay_burst(base: str, start: int, count: int, acked: list[str]) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        for n in range(start, start + count):
            text = f"relayed sms {n}"
            body = {
                "MessageID": 800_000 + n,
                "Mobile": "09125550000",
                "MessageText": text,
                "LineNumber": "10001234",
            }
            with contextlib.suppress(httpx.HTTPError):
                response = await http.post(f"{base}/relay/amoot/{RELAY_SECRET}/inbound", json=body)
                if response.status_code == 200:
                    acked.append(text)
            await asyncio.sleep(0.01)


async def test_sigkill_during_bursts_loses_nothing_acknowledged_or_polled(tmp_path: Path) -> None:
    async with world(tmp_path, start_bridge=False) as w:
        # Each restarted process starts with a fresh pacer; Telegram's group budget (20/min) would
        # then hold the backlog for a minute. Pacing has its own tests: here only loss counts.
        w.tg.group_limit = (1000, 60.0)
        port = free_port()
        text = w.config_path.read_text(encoding="utf-8").replace("port = 0", f"port = {port}")
        w.config_path.write_text(text.replace('level = "DEBUG"', 'level = "WARNING"'), "utf-8")
        base = f"http://127.0.0.1:{port}"
        acked: list[str] = []
        polled: list[str] = []
        for kill in range(KILLS):
            async with bridge_process(w.config_path, base) as proc:
                burst = asyncio.create_task(_relay_burst(base, kill * 100, 60, acked))
                for n in range(10):
                    text = f"polled sms {kill}-{n}"
                    (w.amoot if n % 2 else w.payam).inject_inbound("09125550001", text, line=None)
                    polled.append(text)
                    await asyncio.sleep(0.03)
                await asyncio.sleep(0.2 + 0.15 * kill)
                proc.send_signal(signal.SIGKILL)
                await proc.wait()
                await burst
        async with bridge_process(w.config_path, base):
            await _all_arrive(w, acked, polled)
        assert len(acked) >= KILLS  # the relays did get answers before each kill
        for chat in (GROUP, ADMIN):  # at most one repeated message per kill in each chat
            assert _repeated_messages(w, chat, set(acked) | set(polled)) <= KILLS


def _count(w: World, text: str) -> int:
    """How many times ``text`` reached a chat, as a line of its own (single SMS or digest)."""
    return max(
        sum(
            1
            for m in w.tg.bot_messages(chat)
            for line in m["text"].split("\n")
            if line.strip() == text
        )
        for chat in (GROUP, ADMIN)
    )


def _repeated_messages(w: World, chat: int, texts: set[str]) -> int:
    """Messages of a chat that show an SMS an earlier message already showed (a message sent
    just before a kill, whose delivery the killed process could not record)."""
    seen: set[str] = set()
    repeated = 0
    for message in w.tg.bot_messages(chat):
        shown = {line.strip() for line in message["text"].split("\n")} & texts
        repeated += bool(shown & seen)
        seen |= shown
    return repeated


async def _all_arrive(w: World, acked: list[str], polled: list[str]) -> None:
    wanted = set(acked) | set(polled)
    try:
        await eventually(lambda: all(_count(w, t) for t in wanted), timeout=30, every=0.05)
    except AssertionError:
        missing = sorted(t for t in wanted if not _count(w, t))
        raise AssertionError(f"{len(missing)} SMS never reached a chat: {missing[:5]}") from None
