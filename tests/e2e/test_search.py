"""/search: inbound and sent SMS by words (however the letters and digits were typed) or by
number, newest first, paged by buttons; a hit shows the SMS again, ready to be answered."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ADMIN, World, eventually, preview_of

pytestmark = pytest.mark.both_backends  # the same journeys on SQLite and PostgreSQL

CUSTOMER = "09125553333"


async def _say(w: World, text: str, expect: str, user: int = ADMIN) -> dict[str, Any]:
    after = len(w.tg.events)
    await w.tg.send(user, user, text)
    return await w.tg.wait_text(user, expect, after=after)


async def test_words_in_any_script_find_inbound_and_sent_sms(w: World) -> None:
    w.payam.inject_inbound(CUSTOMER, "سفارش ۱۲۳ من كجاست؟ مي‌خواهم بدانم")  # Arabic ك and ي
    await w.tg.wait_text(ADMIN, "كجاست")
    preview = await preview_of(w, ADMIN, f"/send payam: {CUSTOMER} سفارش 123 فردا می‌رسد")
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await eventually(lambda: w.payam.sent(), what="the send")
    found = await _say(w, "/search کجاست ۱۲۳", "newest first")  # Persian ک, Persian digits
    assert "📥" in found["text"] and "كجاست" in found["text"] and "📤" not in found["text"]
    found = await _say(w, "/search میخواهم", "newest first")  # typed without the joiner
    assert "📥" in found["text"]
    both = await _say(w, "/search سفارش 123", "newest first")
    assert both["text"].index("📤") < both["text"].index("📥")  # the send is newer
    by_number = await _say(w, "/search 0912 555 3333", "newest first")
    assert "📤" in by_number["text"] and "📥" in by_number["text"]
    await _say(w, "/search nothing-like-this", "No SMS matches")


async def test_hits_page_by_buttons_and_a_hit_can_be_answered(w: World) -> None:
    for n in range(12):
        w.payam.inject_inbound(f"0912555{n:04d}", f"parcel question {n}")
    await w.tg.wait_text(ADMIN, "parcel question 11", timeout=15)
    await _say(w, "/search", "What should I look for?")
    first = await _say(w, "parcel", "page 1")
    assert "parcel question 11" in first["text"] and "parcel question 1\n" not in first["text"]
    buttons = [b for row in first["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons[-1]["text"] == "▶"
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, first["message_id"], len(buttons) - 1)
    second = await w.tg.wait_text(ADMIN, "page 2", after=after)
    assert "parcel question 0" in second["text"] and "parcel question 1" in second["text"]
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, second["message_id"], 0)  # the 11th hit: question 1
    shown = await w.tg.wait_text(ADMIN, "parcel question 1", after=after)
    assert "Answer" in str(shown["reply_markup"])
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, shown["message_id"], 0)  # Answer
    prompt = await w.tg.wait_text(ADMIN, "Write your answer to", after=after)
    assert w.tg.other_markup[(ADMIN, prompt["message_id"])]["force_reply"] is True
    after = len(w.tg.events)
    await w.tg.send(ADMIN, ADMIN, "It ships today", reply_to=prompt["message_id"])
    preview = await w.tg.wait_text(ADMIN, "Send preview", after=after)
    assert "0912 555 0001" in preview["text"] and "It ships today" in preview["text"]
    after = len(w.tg.events)  # a reply to the hit itself answers too
    await w.tg.send(ADMIN, ADMIN, "Or tomorrow", reply_to=shown["message_id"])
    preview = await w.tg.wait_text(ADMIN, "Send preview", after=after)
    assert "0912 555 0001" in preview["text"]


async def test_a_viewer_finds_only_what_their_chat_was_shown(w: World) -> None:
    viewer = 3004
    await _say(w, f"/users add {viewer} viewer", "now has the role")
    w.tg.private_chat(viewer)
    w.payam.inject_inbound(CUSTOMER, "private matter for the admin chat")
    await w.tg.wait_text(ADMIN, "private matter")
    await _say(w, "/search private matter", "No SMS matches", user=viewer)
    found = await _say(w, "/search private matter", "newest first")
    assert "private matter" in found["text"]


async def test_in_persian_the_search_answers_in_persian(w: World) -> None:
    await _say(w, "/lang fa", "فارسی شد")
    w.payam.inject_inbound(CUSTOMER, "بسته من رسید")
    await w.tg.wait_text(ADMIN, "بسته من رسید")
    found = await _say(w, "/search بسته", "تازه‌ترین‌ها")
    assert "۱. 📥" in found["text"] and "از ⁦۰۹۱۲ ۵۵۵ ۳۳۳۳⁩" in found["text"]
    await _say(w, "/search ناموجود", "پیدا نشد")
