"""Buttons act only on what the presser may touch: callback data is written by the client, so a
press with data the bot did not offer in that chat is refused, whatever it names."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from providers.base import OutgoingSms
from providers.payamsms import PayamSmsClient
from providers.timeutil import now_tehran
from sandbox.payamsms import DEFAULT_LOGIN
from tests.conftest import ADMIN, GROUP, OPERATOR, PAYAM_LINE, STRANGER, World, eventually

pytestmark = pytest.mark.both_backends  # the same journeys on SQLite and PostgreSQL

FORGED = [
    "snd:ok:1",
    "snd:ok2:1",
    "snd:no:1",
    "flow:payam",
    "pat:amoot:1002",
    "sch:payam:4100000001",
    "rt:amoot::here",
    "usr:4242:admin",
    "lang:fa",
    "rep:1",
]


async def _answer_after(w: World, before: int) -> dict[str, Any]:
    await eventually(lambda: len(w.tg.callback_answers) > before, what="an answer to the press")
    return w.tg.callback_answers[before]


async def _schedule_outside(w: World) -> str:
    """A message scheduled in the provider's panel (or by another tool), not by the bridge."""
    client = PayamSmsClient("panel", w.urls["payam"], lines=(PAYAM_LINE,), **DEFAULT_LOGIN)
    later = now_tehran() + timedelta(days=1)
    result = await client.send(OutgoingSms(PAYAM_LINE, ("989121234567",), "panel", send_at=later))
    await client.aclose()
    return result.items[0].message_id or ""


@pytest.mark.parametrize("data", FORGED)
async def test_every_kind_of_button_refuses_data_the_bot_did_not_offer(w: World, data: str) -> None:
    """Was: any operator could cancel any scheduled PayamSMS message from any chat with forged
    ``sch:payam:<serverId>`` data (and the other buttons trusted their data too)."""
    server_id = await _schedule_outside(w)
    await w.tg.send(ADMIN, ADMIN, "/send amoot:public 09121234567 not by a forged press")
    preview = await w.tg.wait_text(ADMIN, "Send preview")
    data = data.replace("4100000001", server_id)
    before = len(w.tg.callback_answers)
    await w.tg.press_data(ADMIN, ADMIN, preview["message_id"], data)
    assert "not valid" in str((await _answer_after(w, before)).get("text"))
    # the same data signed for another chat is refused here too
    await w.tg.send(ADMIN, GROUP, "/lang")
    offered = await w.tg.wait_text(GROUP, "language")
    copied = w.tg.button(GROUP, offered["message_id"], 0)
    before = len(w.tg.callback_answers)
    await w.tg.press_data(ADMIN, ADMIN, preview["message_id"], copied)
    await _answer_after(w, before)
    await asyncio.sleep(0.2)
    assert w.amoot.outgoing == []
    assert not any(m.cancelled for m in w.payam.messages)
    assert w.bridge is not None
    assert await w.bridge.services.access.role(STRANGER) is None
    assert await w.bridge.services.access.language(ADMIN) is None
    assert w.bridge.services.bridge.routes() == [
        (a.account, a.line or "", a.chat_id) for a in w.bridge.config.routes
    ]


async def test_only_an_admin_cancels_what_was_scheduled_elsewhere(w: World) -> None:
    await _schedule_outside(w)
    await w.tg.send(ADMIN, ADMIN, f"/users add {OPERATOR} operator")
    await w.tg.wait_text(ADMIN, "now has the role")
    w.tg.private_chat(OPERATOR)
    await w.tg.send(OPERATOR, OPERATOR, "/schedule")
    listing = await w.tg.wait_text(OPERATOR, "Scheduled sends")
    before = len(w.tg.callback_answers)
    await w.tg.press(OPERATOR, OPERATOR, listing["message_id"], 0)
    assert "only an admin" in str((await _answer_after(w, before)).get("text"))
    assert not w.payam.messages[0].cancelled
    await w.tg.send(ADMIN, ADMIN, "/schedule")
    listing = await w.tg.wait_text(ADMIN, "Scheduled sends")
    before = len(w.tg.callback_answers)
    await w.tg.press(ADMIN, ADMIN, listing["message_id"], 0)
    assert "was cancelled" in str((await _answer_after(w, before)).get("text"))
    assert w.payam.messages[0].cancelled


async def test_a_stranger_pressing_again_and_again_is_refused_and_audited_once(w: World) -> None:
    await w.tg.send(ADMIN, GROUP, "/lang")
    offered = await w.tg.wait_text(GROUP, "language")
    w.tg.user(STRANGER)
    before = len(w.tg.callback_answers)
    for _ in range(5):
        await w.tg.press(STRANGER, GROUP, offered["message_id"], 0)
    await eventually(lambda: len(w.tg.callback_answers) >= before + 5, what="five answers")
    answers = w.tg.callback_answers[before:]
    assert len(answers) == 5  # every press is answered: no spinner
    assert sum(1 for a in answers if a.get("text")) == 1  # one refusal a minute
    assert w.bridge is not None
    rows = await w.bridge.db.fetchall("SELECT action FROM audit WHERE user_id = ?", (STRANGER,))
    assert [r[0] for r in rows] == ["unauthorized"]
    assert await w.bridge.services.access.language(GROUP) is None
