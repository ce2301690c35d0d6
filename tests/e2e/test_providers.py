"""Every command against accounts of all three providers, through the Bot API stand-in."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.__main__ import _check
from bot.app import running
from bot.config import load_config
from tests.conftest import ADMIN, PAYAM_LINE, World, world


async def _confirm(w: World, chat: int, command: str) -> tuple[str, str]:
    """Send ``command``, press Confirm on its preview; (preview text, result text)."""
    await w.tg.send(ADMIN, chat, command)
    preview = await w.tg.wait_text(chat, "Send preview")
    await w.tg.press(ADMIN, chat, preview["message_id"], 0)
    done = await w.tg.wait_for(
        lambda e: (
            e.message["message_id"] == preview["message_id"]
            and "Result of send" in e.message.get("text", "")
        )
    )
    return preview["text"], done.message["text"]


async def test_balance_shows_every_account_in_its_own_unit(w: World) -> None:
    await w.tg.send(ADMIN, ADMIN, "/balance")
    message = await w.tg.wait_text(ADMIN, "payam")
    text = message["text"]
    assert "amoot (amootsms): 5,000,000 Rial (500,000 Toman)" in text
    assert "smsir (smsir): 10,000 (unit not stated by the provider)" in text
    assert "Account expires" in text
    assert "payam (payamsms): 2,000,000 (unit not stated by the provider)" in text


async def test_payam_send_carries_the_stored_reference_as_customer_id(w: World) -> None:
    _preview, result = await _confirm(w, ADMIN, "/send payam: 09121234567 سلام دوست من")
    assert [(m.mobile, m.body, m.sender) for m in w.payam.messages] == [
        ("9121234567", "سلام دوست من", PAYAM_LINE)
    ]
    assert w.payam.messages[0].server_id in result
    assert w.bridge is not None
    row = await w.bridge.db.fetchone("SELECT reference FROM sends ORDER BY id DESC LIMIT 1")
    assert row is not None and w.payam.messages[0].customer_id == f"{row['reference']}-989121234567"


async def test_payam_500_after_accepting_is_unknown_then_found_by_customer_id(w: World) -> None:
    w.payam.fail_next("accept_then_500", method="sendMultipleWithSrc")
    await w.tg.send(ADMIN, ADMIN, "/send payam: 09121234567 once only")
    preview = await w.tg.wait_text(ADMIN, "Send preview")
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    result = (
        await w.tg.wait_for(
            lambda e: (
                e.message["message_id"] == preview["message_id"]
                and "Result of send" in e.message["text"]
            )
        )
    ).message["text"]
    assert "may have been sent" in result and "Not sent" not in result
    assert "check /report 1 before sending again" in result
    # the look-up by customerId finds it and the same message is edited: never sent twice
    edited = await w.tg.wait_for(
        lambda e: (
            e.kind == "edit"
            and e.message["message_id"] == preview["message_id"]
            and "message id" in e.message["text"]
        ),
        timeout=15,
    )
    assert w.payam.messages[0].server_id in edited.message["text"]
    assert [m.body for m in w.payam.messages] == ["once only"]


async def test_smsir_refuses_non_contacts_by_name_and_sends_to_contacts(w: World) -> None:
    w.smsir.add_contact("09121234567")
    preview, result = await _confirm(w, ADMIN, "/send smsir: 09121234567 09129999999 hi team")
    assert "0912 999 9999 will not be sent: not in account smsir's phonebook" in _plain(preview)
    assert w.smsir.sent() == [("989121234567", "hi team")]
    assert "Campaign" in result
    await w.tg.send(ADMIN, ADMIN, "/send smsir: 09129999999 hi")
    refusal = await w.tg.wait_text(ADMIN, "No recipient can be sent to")
    assert "phonebook" in refusal["text"]


async def test_contact_groups_only_where_the_provider_has_them(w: World) -> None:
    w.smsir.add_contact("09121234567", group_id=2)
    w.smsir.add_contact("09123334444", group_id=2)
    await _confirm(w, ADMIN, "/send smsir: group:2 to the team")
    assert sorted(n for n, _t in w.smsir.sent()) == ["989121234567", "989123334444"]
    await w.tg.send(ADMIN, ADMIN, "/send payam: group:2 hi")
    refusal = await w.tg.wait_text(ADMIN, "No recipient can be sent to")
    assert "account payam cannot send to contact groups" in refusal["text"]


async def test_payam_inbound_is_polled_into_the_chat_and_answered_from_its_line(w: World) -> None:
    w.payam.inject_inbound("09125556666", "پیامک مشتری پیام")
    forwarded = await w.tg.wait_text(ADMIN, "پیامک مشتری پیام")
    assert PAYAM_LINE in _plain(forwarded["text"]) and "(payam)" in forwarded["text"]
    await w.tg.send(ADMIN, ADMIN, "thanks", reply_to=forwarded["message_id"])
    preview = await w.tg.wait_text(ADMIN, "Reply to")
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await w.tg.wait_text(ADMIN, "Result of send")
    assert [(m.mobile, m.body, m.sender) for m in w.payam.messages] == [
        ("9125556666", "thanks", PAYAM_LINE)
    ]
    assert not any(m.read for m in w.payam.inbox)  # the cursor form only, never "unread"


async def test_payam_cursor_survives_restarts_and_old_history_stays_out(tmp_path: Path) -> None:
    async with world(tmp_path, start_bridge=False) as w:
        w.payam.inject_inbound("09125550001", "from last week")
        w.payam.inbox[0].date -= timedelta(days=7)
        config = load_config(w.config_path)
        async with running(config):
            w.payam.inject_inbound("09125550002", "before restart")
            await w.tg.wait_text(ADMIN, "before restart")
        mo_calls = len(w.payam.calls("mo"))
        async with running(config):
            w.payam.inject_inbound("09125550003", "after restart")
            await w.tg.wait_text(ADMIN, "after restart")
        texts = [m["text"] for m in w.tg.bot_messages(ADMIN)]
        assert sum("before restart" in t for t in texts) == 1
        assert not any("from last week" in t for t in texts)
        first_after = w.payam.calls("mo")[mo_calls]
        assert first_after.params.get("id") == str(
            w.payam.inbox[1].id
        )  # resumed from the stored cursor


async def test_check_reports_credit_and_token_status(
    w: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _check(load_config(w.config_path)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("amoot (amootsms): ok, credit 5,000,000 rial")
    assert out[1].startswith("smsir (smsir): ok, credit 10,000, account expires")
    assert "token valid until" in out[1] and "token valid until" in out[2]


def _plain(text: str) -> str:
    """Without the bidi isolates that keep numbers left-to-right in Persian text."""
    return text.replace("\u2066", "").replace("\u2069", "")


@pytest.mark.parametrize("account", ["amoot", "smsir", "payam"])
async def test_the_send_message_is_edited_live_as_delivery_reports_arrive(
    w: World, account: str
) -> None:
    sims = {"amoot": w.amoot, "smsir": w.smsir, "payam": w.payam}
    sims[account].undeliverable = {"9129999999"}
    w.smsir.add_contact("09121234567")
    w.smsir.add_contact("09129999999")
    _preview, result = await _confirm(w, ADMIN, f"/send {account}: 09121234567 09129999999 hi")
    assert "queued" in result
    final = await w.tg.wait_for(
        lambda e: (
            "not delivered" in e.message.get("text", "")
            and "— delivered" in e.message.get("text", "")
        ),
        timeout=15,
    )
    text = _plain(final.message["text"])
    assert "✅ 0912 123 4567" in text and "❌ 0912 999 9999" in text
