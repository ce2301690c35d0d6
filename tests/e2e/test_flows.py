"""Guided flows: /send without arguments asks for each missing piece with buttons and questions,
in either language, and a restart in the middle resumes at the same step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.app import running
from bot.config import load_config
from tests.conftest import ADMIN, World, eventually, world

pytestmark = pytest.mark.both_backends  # the same journeys on SQLite and PostgreSQL


async def _says(w: World, text: str, expect: str, user: int = ADMIN) -> dict[str, Any]:
    after = len(w.tg.events)
    await w.tg.send(user, ADMIN, text)
    event = await w.tg.wait_for(
        lambda e: e.message["chat"]["id"] == ADMIN and expect in e.message.get("text", ""),
        after=after,
    )
    return event.message


async def test_send_by_tapping_account_then_numbers_then_text(w: World) -> None:
    question = await _says(w, "/send", "Which account")
    buttons = [b["text"] for row in question["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["amoot (amootsms)", "smsir (smsir)", "payam (payamsms)"]
    await w.tg.press(ADMIN, ADMIN, int(question["message_id"]), 2)  # payam
    await w.tg.wait_text(ADMIN, "Send the recipients")
    await _says(w, "hello there", "found no number")
    await _says(w, "0912 123 4567, 09125550000", "Now send the SMS text")
    preview = await _says(w, "Your order has shipped", "Send preview")
    assert "payam" in str(preview["text"]) and "Recipients (2)" in str(preview["text"])
    await w.tg.press(ADMIN, ADMIN, int(preview["message_id"]), 0)
    await w.tg.wait_text(ADMIN, "Result of send")
    assert sorted(m.mobile for m in w.payam.messages) == ["9121234567", "9125550000"]


async def test_the_flow_only_asks_what_is_missing_and_cancel_leaves_it(w: World) -> None:
    await _says(w, "/send amoot:public 09121234567", "Now send the SMS text")
    await _says(w, "/cancel", "You left the current flow")
    await _says(w, "/lang fa", "فارسی")
    await _says(w, "/send amoot:", "شماره گیرنده‌ها")
    preview = await _says(w, "09121234567 سلام از ربات", "پیش‌نمایش")
    assert "سلام از ربات" in str(preview["text"])
    assert not w.amoot.outgoing


async def test_a_restart_in_the_middle_of_a_flow_resumes_at_the_same_step(tmp_path: Path) -> None:
    async with world(tmp_path, start_bridge=False) as w:
        config = load_config(w.config_path)
        async with running(config):
            question = await _says(w, "/send", "Which account")
            await w.tg.press(ADMIN, ADMIN, int(question["message_id"]), 0)
            await w.tg.wait_text(ADMIN, "Send the recipients")
        async with running(config):  # a new process would find the same SQLite file
            await _says(w, "09121234567", "Now send the SMS text")
            preview = await _says(w, "after the restart", "Send preview")
            assert "amoot" in str(preview["text"])


async def test_otp_asks_for_the_number_when_it_is_missing(w: World) -> None:
    await _says(w, "/otp", "Which number should get the code")
    answer = await _says(w, "09121234567 5555", "sent to")
    assert "5555" in str(answer["text"])
    assert [s.text for s in w.amoot.outgoing if s.mobile == "9121234567"]


async def test_route_and_user_roles_by_tapping(w: World) -> None:
    question = await _says(w, "/route", "Which line")
    labels = [b["text"] for row in question["reply_markup"]["inline_keyboard"] for b in row]
    assert "payam:98200012345" in labels
    await w.tg.press(ADMIN, ADMIN, int(question["message_id"]), labels.index("payam:98200012345"))
    await eventually(  # the same message now offers here / off
        lambda: (
            "here" in str(w.tg.messages[(ADMIN, int(question["message_id"]))].get("reply_markup"))
        ),
        what="the here / off buttons",
    )
    await w.tg.press(ADMIN, ADMIN, int(question["message_id"]), 0)
    await w.tg.wait_text(ADMIN, "now come to this chat")
    assert ("payam", "98200012345", ADMIN) in w.bridge.services.bridge.routes()  # type: ignore[union-attr]
    question = await _says(w, "/users add 5005", "Which role for user")
    await w.tg.press(ADMIN, ADMIN, int(question["message_id"]), 1)  # operator
    await w.tg.wait_text(ADMIN, "now has the role")
    assert await w.bridge.services.access.role(5005) == "operator"  # type: ignore[union-attr]


async def test_pattern_by_tapping_then_number_and_values(w: World) -> None:
    listing = await _says(w, "/pattern", "Patterns of account amoot")
    labels = [b["text"] for row in listing["reply_markup"]["inline_keyboard"] for b in row]
    await w.tg.press(
        ADMIN,
        ADMIN,
        int(listing["message_id"]),
        next(i for i, label in enumerate(labels) if label.startswith("1002")),
    )
    await w.tg.wait_text(ADMIN, "send the number, then the values")
    await _says(w, "09121234567 Sara 12", "Pattern 1002 sent")
    assert w.amoot.outgoing[-1].text == "سلام Sara، سفارش 12 ثبت شد"


async def test_a_message_that_does_not_fit_the_step_gets_an_answer(w: World) -> None:
    """Was: text typed where buttons were offered, or a sticker, got silence."""
    await _says(w, "/send", "Which account")
    await _says(w, "hello there", "Which account")  # not an account: the question again
    await _says(w, "payam", "Send the recipients")  # an account's name is taken as typed
    after = len(w.tg.events)
    await w.tg.send_sticker(ADMIN, ADMIN)
    await w.tg.wait_for(lambda e: "Send the recipients" in e.message.get("text", ""), after=after)
    await _says(w, "09121234567", "Now send the SMS text")
    await _says(w, "hi from the flow", "Send preview")
    await _says(w, "/otp", "Which number")
    await _says(w, "not a number", "not a mobile number")  # asked again, the flow goes on
    await _says(w, "09121234567 4821", "sent to")
    await _says(w, "/pattern", "Patterns of account amoot")
    await _says(w, "1002 please", "Tap one of the pattern buttons")
    assert w.payam.messages == []  # the /send flow ended at its preview
    assert [s.method for s in w.amoot.outgoing] == ["SendQuickOTP"]  # and the OTP went once


async def test_a_refused_text_leaves_the_flow_at_its_step(w: World) -> None:
    """Was: the flow forgot its answers before the preview, and the next message met silence."""
    await _says(w, "/send payam: 09121234567", "Now send the SMS text")
    refusal = await _says(w, "س" * 2200, "at most 32")  # 33 parts: PayamSMS refuses, by name
    assert "33 parts" in refusal["text"]
    preview = await _says(w, "short enough", "Send preview")
    assert "short enough" in preview["text"] and "0912 123 4567" in preview["text"]
