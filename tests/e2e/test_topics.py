"""A forum supergroup whose route asks for topics: each correspondent gets a topic of their own,
and what is typed in that topic goes to them as SMS."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import running
from bot.config import load_config
from tests.conftest import ADMIN, PAYAM_LINE, world

pytestmark = pytest.mark.both_backends  # the same journeys on SQLite and PostgreSQL

FORUM = -100777


async def test_each_correspondent_gets_a_topic_and_the_topic_answers_them(tmp_path: Path) -> None:
    async with world(tmp_path, start_bridge=False) as w:
        w.tg.group(FORUM, "Support", forum=True)
        with w.config_path.open("a", encoding="utf-8") as config:
            config.write(f'\n[[routes]]\naccount = "payam"\nchat_id = {FORUM}\ntopics = true\n')
        async with running(load_config(w.config_path)):
            w.payam.inject_inbound("09125556666", "first from ali")
            first = await w.tg.wait_text(FORUM, "first from ali")
            w.payam.inject_inbound("09125557777", "hello from sara")
            other = await w.tg.wait_text(FORUM, "hello from sara")
            w.payam.inject_inbound("09125556666", "ali again")
            again = await w.tg.wait_text(FORUM, "ali again")
            assert first["message_thread_id"] == again["message_thread_id"]
            assert other["message_thread_id"] != first["message_thread_id"]
            names = {
                thread: t["name"] for (chat, thread), t in w.tg.topics.items() if chat == FORUM
            }
            assert names == {
                first["message_thread_id"]: "0912 555 6666",
                other["message_thread_id"]: "0912 555 7777",
            }

            await w.tg.send(ADMIN, FORUM, "we call you soon", thread_id=first["message_thread_id"])
            preview = await w.tg.wait_text(FORUM, "Send preview")
            assert preview["message_thread_id"] == first["message_thread_id"]
            assert "0912 555 6666" in preview["text"]
            await w.tg.press(ADMIN, FORUM, preview["message_id"], 0)
            await w.tg.wait_text(FORUM, "Result of send")
            assert [(m.mobile, m.body, m.sender) for m in w.payam.messages] == [
                ("9125556666", "we call you soon", PAYAM_LINE)
            ]
