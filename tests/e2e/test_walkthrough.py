"""The walking skeleton end to end: PTB against the Bot API stand-in, the real client against the
AmootSMS simulator, a real SQLite file."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, GROUP, STRANGER, World

pytestmark = pytest.mark.both_backends  # the same journeys on SQLite and PostgreSQL


async def test_unknown_user_is_refused_with_their_id_and_no_provider_call(w: World) -> None:
    w.tg.private_chat(STRANGER)
    await w.tg.send(STRANGER, STRANGER, "/start")
    message = await w.tg.wait_text(STRANGER, "not authorized")
    assert str(STRANGER) in message["text"]
    before = len(w.amoot.requests)
    await w.tg.send(STRANGER, STRANGER, "/send 09121234567 hi")
    await w.tg.send(STRANGER, STRANGER, "/balance")
    await w.tg.send(ADMIN, ADMIN, "/start")  # a later update, so the stranger's are processed
    await w.tg.wait_text(ADMIN, "Your role: admin")
    # nothing sent; the inbox polls and the credit watch's balance look-ups run in the
    # background, so /balance is shown unanswered by what the stranger saw: one refusal a
    # minute, not one per message
    background = {"AccountStatus", "RecieveNewMessages", "RecieveMessages"}
    assert [c.method for c in w.amoot.requests[before:] if c.method not in background] == []
    seen = [m["text"] for m in w.tg.bot_messages(STRANGER)]
    assert len(seen) == 1 and "not authorized" in seen[0]


async def test_balance_shows_the_sandbox_credit_in_rial_and_toman(w: World) -> None:
    await w.tg.send(ADMIN, ADMIN, "/balance")
    message = await w.tg.wait_text(ADMIN, "amoot")
    assert "5,000,000 Rial (500,000 Toman)" in message["text"]


async def test_send_preview_confirm_reaches_the_provider_once(w: World) -> None:
    await w.tg.send(ADMIN, ADMIN, "/send 0912 111 2222 +989123334444 0912abc Hello <b>&</b> world")
    preview = await w.tg.wait_text(ADMIN, "Send preview")
    text = preview["text"]
    assert "0912abc" in text and "Invalid" in text
    assert "Hello <b>&</b> world" in text  # shown verbatim, not interpreted
    assert "GSM-7" in text and "Estimated cost" in text
    assert not w.amoot.outgoing
    # two quick presses (a double tap): only one send may reach the provider
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    done = await w.tg.wait_text(ADMIN, "message id")
    sent = sorted(s.mobile for s in w.amoot.outgoing)
    assert sent == ["9121112222", "9123334444"]
    assert all(s.text == "Hello <b>&</b> world" for s in w.amoot.outgoing)
    for s in w.amoot.outgoing:
        assert str(s.message_id) in done["text"]
    assert "reply_markup" not in w.tg.messages[(ADMIN, preview["message_id"])]
    await w.tg.send(ADMIN, ADMIN, "/start")
    await w.tg.wait_text(ADMIN, "Your role")
    assert len(w.amoot.outgoing) == 2


async def test_inbound_sms_reaches_routed_chats_and_a_reply_goes_back_as_sms(w: World) -> None:
    w.amoot.inject_inbound("09125556666", "Is my order <ready>?", line="10001234")
    forwarded = await w.tg.wait_text(GROUP, "Is my order <ready>?")
    assert "0912 555 6666" in forwarded["text"]
    await w.tg.send(ADMIN, GROUP, "Yes, today", reply_to=forwarded["message_id"])
    preview = await w.tg.wait_text(GROUP, "Send preview")
    assert "Reply to" in preview["text"]
    await w.tg.press(ADMIN, GROUP, preview["message_id"], 0)
    await w.tg.wait_text(GROUP, "message id")
    assert [(s.mobile, s.text) for s in w.amoot.outgoing] == [("9125556666", "Yes, today")]


async def test_provider_token_error_reads_as_a_sentence(w: World) -> None:
    # (the credit watch may ask AccountStatus first: enough expired answers for both)
    w.amoot.fail_next("token_expired", count=3, method="AccountStatus")
    await w.tg.send(ADMIN, ADMIN, "/balance")
    message = await w.tg.wait_text(ADMIN, "amoot")
    assert "expired" in message["text"]
    assert "Error" not in message["text"] and "Traceback" not in message["text"]
