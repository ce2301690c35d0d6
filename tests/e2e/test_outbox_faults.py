"""Telegram down, then up; Telegram answering 429: nothing lost, order kept, no request inside a
retry window."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, World

pytestmark = pytest.mark.telegram_scale(1)  # about pacing itself: real time


def _texts_in(w: World, chat: int, wanted: list[str]) -> list[str]:
    shown = [m["text"] for m in w.tg.bot_messages(chat)]
    return [t for s in shown for t in wanted if t in s]


async def test_telegram_5xx_delays_but_loses_nothing_and_keeps_order(w: World) -> None:
    w.tg.fail_next = [(500, "sendMessage"), (502, "sendMessage"), (503, "sendMessage")]
    wanted = [f"while telegram was down {i}" for i in range(3)]
    for text in wanted:
        w.payam.inject_inbound("09125550000", text)
    await w.tg.wait_text(ADMIN, wanted[-1], timeout=30)
    assert _texts_in(w, ADMIN, wanted) == wanted  # each once, in order
    assert w.tg.fail_next == []  # the outbox did meet all three failures
    sends = [m for m, _params in w.tg.calls if m == "sendMessage"]
    assert len(sends) >= len(wanted) + 3  # and retried past them


async def test_429s_are_honoured_per_chat_with_nothing_lost(w: World) -> None:
    w.tg.private_limit = (1, 2.0)  # Telegram stricter than the pacer expects: it answers 429
    wanted = [f"storm {i}" for i in range(4)]
    for text in wanted:
        w.payam.inject_inbound("09125550000", text)
    await w.tg.wait_text(ADMIN, wanted[-1], timeout=30)
    assert _texts_in(w, ADMIN, wanted) == wanted
    assert w.tg.count_429 >= 1  # the storm happened
    assert w.tg.violations == 0  # and no request went to the chat inside its retry window
