"""Every inbound SMS reaches its chat, whatever its sender or text: outside strings are escaped
everywhere they are shown, and a message Telegram refuses is posted again in a form it accepts —
or, when its chat is gone, given to the admins — never left unseen."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.app import running
from bot.config import load_config
from tests.conftest import (
    ADMIN,
    GROUP,
    RELAY_SECRET,
    TIMING,
    Live,
    World,
    eventually,
    live_world,
    scrape,
    world,
)

pytestmark = pytest.mark.both_backends  # the same journeys on SQLite and PostgreSQL

_IDS = itertools.count(8_800_001)
FORUM = -100777


async def relay(w: World, sender: str, text: str, line: str = "10001234") -> httpx.Response:
    assert w.bridge is not None
    item = {"MessageID": next(_IDS), "Mobile": sender, "MessageText": text, "LineNumber": line}
    async with httpx.AsyncClient() as http:  # JSON escapes, as any provider may write them
        return await http.post(
            f"{w.bridge.web_url}/relay/amoot/{RELAY_SECRET}/inbound",
            content=json.dumps(item),
            headers={"content-type": "application/json"},
            timeout=10,
        )


async def _shown(w: World, chat: int, *parts: str, timeout: float = 10.0) -> dict[str, Any]:
    event = await w.tg.wait_for(
        lambda e: (
            e.message["chat"]["id"] == chat and all(p in e.message.get("text", "") for p in parts)
        ),
        timeout,
    )
    return event.message


@pytest.mark.parametrize(
    "sender", ["<b>Bank", "AT&T", "<a href='http://evil.example'>click</a>", "Bank</b>", "&amp;"]
)
async def test_a_sender_that_looks_like_markup_is_shown_verbatim(w: World, sender: str) -> None:
    """Was: acknowledged 200, then refused by Telegram and never shown (or shown as a link)."""
    response = await relay(w, sender, "your code is 1234")
    assert response.status_code == 200
    shown = await _shown(w, GROUP, sender, "your code is 1234")
    assert "<a " not in w.tg.markup.get((GROUP, shown["message_id"]), shown.get("html", ""))
    assert w.bridge is not None  # the message's link is written once Telegram has answered
    outbox = w.bridge.services.outbox
    await eventually(lambda: outbox.link(GROUP, shown["message_id"]), what="the link")
    after = len(w.tg.events)
    await w.tg.send(ADMIN, GROUP, "/inbox 1")
    await _shown(w, GROUP, "Latest SMS", sender)
    assert len(w.tg.events) > after


async def test_a_message_telegram_will_not_parse_is_posted_as_plain_text(w: World) -> None:
    w.tg.fail_next.append((400, "sendMessage", "Bad Request: can't parse entities: tag <x>"))
    await relay(w, "09125556666", "plain fallback")
    shown = await _shown(w, ADMIN, "plain fallback")
    assert "0912 555 6666" in shown["text"]
    await w.tg.send(ADMIN, ADMIN, "noted", reply_to=shown["message_id"])
    await _shown(w, ADMIN, "Reply to")  # the plain message still answers the sender


async def test_an_sms_too_long_for_one_message_is_split_and_every_part_answers(w: World) -> None:
    text = "\n".join(f"line {n:04d} " + "x" * 60 for n in range(90))  # about 6,500 characters
    await relay(w, "09125556666", text)
    first = await _shown(w, ADMIN, "line 0000")
    last = await _shown(w, ADMIN, "line 0089")
    assert first["message_id"] != last["message_id"]
    await w.tg.send(ADMIN, ADMIN, "got it all", reply_to=last["message_id"])
    await _shown(w, ADMIN, "Reply to")


async def test_a_chat_the_bot_was_removed_from_hands_the_sms_to_the_admins(w: World) -> None:
    w.tg.fail_next.append((403, "sendMessage", "Forbidden: bot was kicked from the group"))
    await relay(w, "09125556666", "nobody in the group sees this", line="public")
    notice = await _shown(w, ADMIN, "would not take this SMS", "nobody in the group sees this")
    assert str(GROUP) in notice["text"]
    assert (await scrape(w))[("smsbridge_outbox_dead", ())] == 1  # what operators alert on


async def test_a_topic_that_is_gone_falls_back_to_the_main_thread(tmp_path: Path) -> None:
    async with world(tmp_path, start_bridge=False) as w:
        w.tg.group(FORUM, "Support", forum=True)
        with w.config_path.open("a", encoding="utf-8") as config:
            config.write(f'\n[[routes]]\naccount = "payam"\nchat_id = {FORUM}\ntopics = true\n')
        async with running(load_config(w.config_path), timing=TIMING):
            w.payam.inject_inbound("09125556666", "first")
            first = await _shown(w, FORUM, "first")
            w.tg.topics.clear()  # the topic was deleted
            w.payam.inject_inbound("09125556666", "after the topic")
            shown = await _shown(w, FORUM, "after the topic")
            assert "message_thread_id" not in shown and first.get("message_thread_id")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_world(tmp_path_factory.mktemp("shown"), scale=20) as value:
        yield value


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sender=st.text(st.characters(codec="utf-8"), min_size=1, max_size=30),
    text=st.text(st.characters(codec="utf-8"), min_size=1, max_size=300),
)
@example(sender="<b>Bank", text="<i>unclosed & stray < >")
@example(sender="0912 555 6666", text="\ud800 lone surrogate")
@example(sender="Bank\nfake: line", text="   ")
def test_any_sender_and_text_through_the_relay_is_visible_in_the_chat(
    live: Live, sender: str, text: str
) -> None:
    async def check() -> None:
        response = await relay(live.w, sender, text)
        if response.status_code != 200:  # refused at the door (422: no text): never stored
            assert response.status_code in (400, 422), response.text
            return
        await _shown(live.w, ADMIN, _visible(text))

    live.run(check(), timeout=30)


def _visible(text: str) -> str:
    """What of a text a chat shows: Telegram trims the message; a lone surrogate is replaced."""
    cleaned = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return cleaned.strip()[:200]
