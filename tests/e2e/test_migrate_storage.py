"""``smsbridge migrate-storage``: a deployment that ran on SQLite moves to PostgreSQL and goes on
there as if nothing happened — its SMS found, old messages answerable, old buttons working, new
rows numbered after the old — and the command refuses what would lose or mix data."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.__main__ import main
from bot.app import running
from bot.config import load_config
from sandbox import postgres
from tests.conftest import ADMIN, TIMING, World, eventually, preview_of, world, write_config

CUSTOMER = "09125553333"


async def _say(w: World, text: str, expect: str, **kwargs: Any) -> dict[str, Any]:
    after = len(w.tg.events)
    await w.tg.send(ADMIN, ADMIN, text, **kwargs)
    return await w.tg.wait_text(ADMIN, expect, after=after)


async def test_a_deployment_moves_from_sqlite_to_postgresql_and_goes_on(
    tmp_path: Path, pg_cluster: postgres.Cluster
) -> None:
    url = pg_cluster.create_database("moved")
    async with world(tmp_path, start_bridge=False) as w:
        config = load_config(w.config_path)
        sqlite_path = config.storage.path
        args = ["migrate-storage", "--from", f"sqlite:{sqlite_path}", "--to", url]
        async with running(config, timing=TIMING) as bridge:
            w.bridge = bridge
            w.payam.inject_inbound(CUSTOMER, "سفارش ۱۲۳ من كجاست؟")
            forwarded = await w.tg.wait_text(ADMIN, "كجاست")
            await _say(w, "/contacts add 09125553333 Sara #vip", "was added")
            preview = await preview_of(w, ADMIN, f"/send payam: {CUSTOMER} on its way")
            await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
            await eventually(lambda: w.payam.sent(), what="the send")
            later = await preview_of(w, ADMIN, f"/send payam: {CUSTOMER} kept for later")
            # a running bridge holds its file: nothing is copied from under it
            assert await asyncio.to_thread(main, args) == 1
        assert await asyncio.to_thread(main, args) == 0
        assert await asyncio.to_thread(main, args) == 1  # into a database with data: refused
        path = write_config(w.config_path, w.urls, w.tg.token, storage={"url": url})
        async with running(load_config(path), timing=TIMING) as bridge:
            w.bridge = bridge
            found = await _say(w, "/search کجاست", "newest first")  # indexed afresh
            assert "كجاست" in found["text"]
            assert "Sara" in (await _say(w, "/inbox", "كجاست"))["text"]
            # the old forwarded SMS is answered, and the old preview's button still sends
            reply = await _say(w, "thanks", "Reply to", reply_to=forwarded["message_id"])
            assert "0912 555 3333" in reply["text"]
            assert "Send preview #3" in reply["text"]  # numbered after the moved sends
            await w.tg.press(ADMIN, ADMIN, later["message_id"], 0)
            await eventually(lambda: len(w.payam.sent()) == 2, what="the kept preview sent")
            w.payam.inject_inbound(CUSTOMER, "a new one")
            await w.tg.wait_text(ADMIN, "a new one")
