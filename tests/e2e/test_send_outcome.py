"""The outcome of a send is true (the rule: ``providers/outcome.py``): a send that may have gone out
is never shown as "not sent", never sent twice, gets looked up, and never stays "sending"."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.app import running
from bot.config import load_config
from tests.conftest import ADMIN, TIMING, World, scrape, world

pytestmark = pytest.mark.both_backends  # the same journeys on SQLite and PostgreSQL

QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


async def _preview(w: World, command: str) -> dict[str, Any]:
    after = len(w.tg.events)
    await w.tg.send(ADMIN, ADMIN, command)
    return await w.tg.wait_text(ADMIN, "Send preview", after=after)


async def _result(w: World, preview: dict[str, Any], contains: str = "Result of send") -> str:
    event = await w.tg.wait_for(
        lambda e: (
            e.message["message_id"] == preview["message_id"]
            and contains in e.message.get("text", "")
        ),
        timeout=15,
    )
    return str(event.message["text"])


async def _state(w: World, send_id: int = 1) -> tuple[str, list[str]]:
    assert w.bridge is not None
    row = await w.bridge.db.fetchone("SELECT state FROM sends WHERE id = ?", (send_id,))
    states = await w.bridge.db.fetchall(
        "SELECT state FROM send_recipients WHERE send_id = ? ORDER BY rowid", (send_id,)
    )
    assert row is not None
    return str(row[0]), [str(r[0]) for r in states]


async def test_payam_lost_answer_and_failed_look_up_say_may_have_been_sent(w: World) -> None:
    """Was: ProviderUnavailable from the status look-up escaped and the send read "❌ Not sent"."""
    w.payam.fail_next("accept_then_500", method="sendMultipleWithSrc")
    w.payam.fail_next("http_500", count=3, method="status")
    preview = await _preview(w, "/send payam: 09121234567 only once")
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    result = await _result(w, preview)
    assert "may have been sent" in result and "Not sent" not in result
    assert await _state(w) == ("unknown", ["unknown"])
    # the look-ups fail, then PayamSMS knows the message: the same chat message is edited
    await _result(w, preview, w.payam.messages[0].server_id)
    assert (await _state(w))[0] == "sent"
    assert len(w.payam.messages) == 1 and len(w.payam.calls("sendMultipleWithSrc")) == 1


async def test_smsir_lost_answer_and_failed_sent_list_say_may_have_been_sent(w: World) -> None:
    """Was: GetLastSentMessagesFromLastId failing let ProviderUnavailable escape: "❌ Not sent"."""
    w.smsir.add_contact("09121234567")
    w.smsir.fail_next("accept_then_500", method="Message/Send")
    w.smsir.fail_next("http_500", method="Message/GetLastSentMessagesFromLastId")
    preview = await _preview(w, "/send smsir: 09121234567 only once")
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    result = await _result(w, preview)
    assert "may have been sent" in result and "Not sent" not in result
    await _result(w, preview, "message id")  # found in the sent list later, not sent again
    assert (await _state(w))[0] == "sent"
    assert w.smsir.sent() == [("989121234567", "only once")]


async def test_amoot_server_error_in_a_200_is_unknown_and_reported_as_such(w: World) -> None:
    """Was: ``ServerError`` inside a 200 mapped to "unavailable" and the send to "failed"."""
    w.amoot.fail_next("server_error", method="SendSimple")
    preview = await _preview(w, "/send amoot:public 09121234567 maybe")
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    result = await _result(w, preview)
    assert "may have been sent" in result and "Not sent" not in result
    assert await _state(w) == ("unknown", ["unknown"])
    after = len(w.tg.events)
    await w.tg.send(ADMIN, ADMIN, "/report")
    listing = await w.tg.wait_text(ADMIN, "Latest sends", after=after)
    assert "unknown" in listing["text"] and "❔" in listing["text"]
    assert (await scrape(w))[("smsbridge_unknown_sends", ())] == 1  # what operators alert on


async def test_a_send_executes_whatever_telegram_answers_the_button(w: World) -> None:
    """Was: ``answerCallbackQuery`` 400 after the claim left the send ``sending`` for ever."""
    preview = await _preview(w, "/send amoot:public 09121234567 after a restart")
    w.tg.fail_next += [
        (400, "answerCallbackQuery", QUERY_TOO_OLD),
        (400, "editMessageText", "Bad Request: message can't be edited"),
    ]
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await _result(w, preview, "message id")  # the outbox edits it when Telegram lets it
    assert [s.text for s in w.amoot.outgoing] == ["after a restart"]
    assert (await _state(w))[0] == "sent"


async def test_a_send_interrupted_during_the_provider_call_becomes_unknown(
    tmp_path: Path,
) -> None:
    """Was: a crash during the provider call left the send ``sending`` with no ids, quota used
    and no word to the person."""
    async with world(tmp_path) as w:
        preview = await _preview(w, "/send amoot:public 09121234567 interrupted")
        assert w.bridge is not None
        async with w.bridge.db.transaction() as conn:  # as a killed process leaves it
            await conn.execute("UPDATE sends SET state = 'sending', confirmed_at = created_at")
            await conn.execute("UPDATE send_recipients SET state = 'sending'")
    async with world(tmp_path, start_bridge=False) as w2:
        config_path = w2.config_path
        w2.tg.messages = w.tg.messages  # the chat as it was
        async with running(load_config(config_path), timing=TIMING) as bridge:
            w2.bridge = bridge
            await _result(w2, preview, "may have been sent")
            assert await _state(w2) == ("unknown", ["unknown"])


async def test_the_bulk_second_confirmation_cannot_be_skipped(w: World) -> None:
    """Was: two quick presses of the first Confirm sent a bulk send without its second
    confirmation (the armed keyboard reused ``snd:ok``)."""
    numbers = " ".join(f"0912555{n:04d}" for n in range(4))  # above the threshold of 3
    preview = await _preview(w, f"/send payam: {numbers} bulk")
    first = w.tg.button(ADMIN, preview["message_id"], 0)
    await w.tg.press_data(ADMIN, ADMIN, preview["message_id"], first)
    await w.tg.press_data(ADMIN, ADMIN, preview["message_id"], first)  # a double tap
    await _result(w, preview, "Confirm again")
    await asyncio.sleep(0.5)
    assert w.payam.messages == []
    assert any("second confirmation" in str(a.get("text")) for a in w.tg.callback_answers)
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await _result(w, preview)
    assert len(w.payam.messages) == 4
