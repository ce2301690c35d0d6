"""A burst of SMS for one chat is packed into digest messages instead of waiting minutes, and each
SMS in a digest can still be answered."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, GROUP, World

pytestmark = [
    pytest.mark.telegram_scale(1),
    pytest.mark.both_backends,
]  # about pacing itself: real time


async def _burst(w: World, count: int) -> list[str]:
    texts = [f"order question {i:02d}" for i in range(count)]
    for i, text in enumerate(texts):
        w.amoot.inject_inbound(f"0912555{i:04d}", text, line="public")
    return texts


async def test_a_burst_reaches_a_group_in_a_few_messages_in_order_without_429(w: World) -> None:
    texts = await _burst(w, 30)
    await w.tg.wait_text(GROUP, texts[-1], timeout=20)
    messages = [m["text"] for m in w.tg.bot_messages(GROUP)]
    joined = "\n".join(messages)
    assert all(t in joined for t in texts)
    assert [joined.index(t) for t in texts] == sorted(joined.index(t) for t in texts)
    assert len(messages) <= 3  # one per SMS would take 90 s at 20 messages a minute
    assert w.tg.count_429 == 0 and w.tg.violations == 0


async def test_an_sms_in_a_digest_is_answered_by_its_number(w: World) -> None:
    await _burst(w, 5)
    digest = await w.tg.wait_text(GROUP, "#5")
    await w.tg.send(ADMIN, GROUP, "thanks", reply_to=digest["message_id"])
    ask = await w.tg.wait_text(GROUP, "Start your reply with the SMS's number")
    assert "#1" in ask["text"]
    await w.tg.send(ADMIN, GROUP, "#3 we ship today", reply_to=digest["message_id"])
    preview = await w.tg.wait_text(GROUP, "Send preview")
    assert "Reply to" in preview["text"] and "0912 555 0002" in preview["text"]
    await w.tg.press(ADMIN, GROUP, preview["message_id"], 0)
    await w.tg.wait_text(GROUP, "message id")
    assert [(s.mobile, s.text) for s in w.amoot.outgoing] == [("9125550002", "we ship today")]
