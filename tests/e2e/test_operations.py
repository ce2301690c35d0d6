"""Running it for a year: a real `smsbridge run` process reloads its config on SIGHUP without
dropping anything and says what needs a restart; a backup taken under load holds everything
committed before it and restores; one bridge per database file."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.__main__ import main
from bot.app import running
from bot.config import load_config
from storage import files
from tests.conftest import (
    ADMIN,
    GROUP,
    RELAY_SECRET,
    TIMING,
    World,
    bridge_process,
    eventually,
    free_port,
    preview_of,
    run_command,
    world,
)


def _serve_on_a_port(w: World, log_file: Path) -> str:
    port = free_port()
    text = w.config_path.read_text(encoding="utf-8").replace("port = 0", f"port = {port}")
    text = text.replace('level = "DEBUG"', f'level = "WARNING"\nfile = "{log_file}"')
    w.config_path.write_text(text, encoding="utf-8")
    return f"http://127.0.0.1:{port}"


async def test_sighup_applies_routes_admins_and_level_and_names_what_needs_a_restart(
    tmp_path: Path,
) -> None:
    async with world(tmp_path, start_bridge=False) as w:
        log_file = tmp_path / "bridge.log"
        base = _serve_on_a_port(w, log_file)
        async with bridge_process(w.config_path, base) as proc:
            w.payam.inject_inbound("09125550001", "before the reload")
            await w.tg.wait_text(ADMIN, "before the reload")
            text = w.config_path.read_text(encoding="utf-8")
            text = text.replace('level = "WARNING"', 'level = "INFO"')
            text = text.replace("admins = [1001]", "admins = [1001, 7777]")
            text = text.replace("poll_interval = 0.2", "poll_interval = 0.3", 1)  # an account
            text += f'\n[[routes]]\naccount = "payam"\nchat_id = {GROUP}\n'
            w.config_path.write_text(text, encoding="utf-8")
            os.kill(proc.pid, signal.SIGHUP)
            line = await eventually(
                lambda: next((ln for ln in _lines(log_file) if "config reloaded" in ln), None),
                what="the reload's log line",
            )
            assert "routes, access, logging.level" in line
            assert "needs a restart: accounts" in line
            w.payam.inject_inbound("09125550002", "after the reload")
            await w.tg.wait_text(GROUP, "after the reload")  # the new route, without a restart
            await w.tg.wait_text(ADMIN, "after the reload")
            # a broken file is refused and the bridge goes on with what it had
            w.config_path.write_text("this is [not toml", encoding="utf-8")
            os.kill(proc.pid, signal.SIGHUP)
            await eventually(
                lambda: any("reload refused" in ln for ln in _lines(log_file)),
                what="the refusal",
            )
            w.payam.inject_inbound("09125550003", "still running")
            await w.tg.wait_text(GROUP, "still running")
            assert proc.returncode is None


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


async def test_a_backup_under_load_holds_every_committed_sms_and_restores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "backup.db"
    async with world(tmp_path, start_bridge=False) as w:
        config_file = str(w.config_path)
        config = load_config(w.config_path)
        async with running(config, timing=TIMING) as bridge:
            acked: list[int] = []
            burst = asyncio.create_task(_relays(bridge.web_url, acked))
            await eventually(lambda: len(acked) >= 50, what="the first 50 relays")
            before = list(acked)  # committed before the backup starts
            code = await asyncio.to_thread(main, ["backup", "--config", config_file, str(copy)])
            assert code == 0 and "integrity ok" in capsys.readouterr().out
            await eventually(lambda: len(acked) >= len(before) + 20, what="relays after it")
            burst.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await burst
            # a restore under a running bridge is refused, and changes nothing
            assert main(["restore", "--config", config_file, str(copy)]) == 1
            assert "in use by a running smsbridge" in capsys.readouterr().err
        stored = _provider_ids(Path(config.storage.path))
        assert {str(n) for n in acked} <= stored
        in_copy = _provider_ids(copy)
        assert {str(n) for n in before} <= in_copy and len(in_copy) < len(stored)
        assert main(["backup", "--config", config_file, str(copy)]) == 1  # never overwrites
        assert "exists" in capsys.readouterr().err
        assert main(["restore", "--config", config_file, str(copy)]) == 0
        kept = capsys.readouterr().out.split("kept as ")[1].strip()
        assert _provider_ids(Path(config.storage.path)) == in_copy
        assert _provider_ids(Path(kept)) == stored  # what it replaced is still there
        async with running(load_config(w.config_path), timing=TIMING) as bridge:
            await w.tg.send(ADMIN, ADMIN, "/inbox")
            await w.tg.wait_text(ADMIN, f"restored sms {before[-1]}")


async def test_a_second_bridge_on_the_same_database_is_refused(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        with pytest.raises(files.InUse):
            async with running(load_config(w.config_path), timing=TIMING):
                pass
        assert w.bridge is not None and (await w.bridge.db.writable())


async def test_a_port_in_use_is_named_and_the_bridge_does_not_start(tmp_path: Path) -> None:
    """Was: a traceback ending in ``OSError: [Errno 98] Address already in use``, exit code 1."""
    async with world(tmp_path, start_bridge=False) as w:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            text = w.config_path.read_text(encoding="utf-8").replace("port = 0", f"port = {port}")
            text = text.replace('level = "DEBUG"', 'level = "WARNING"')  # as an operator runs it
            w.config_path.write_text(text, encoding="utf-8")
            proc = await run_command(w.config_path, stderr=asyncio.subprocess.PIPE)
            _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    said = stderr.decode()
    assert proc.returncode == 2, said
    # the last word is one sentence naming the port, not the end of a traceback
    assert said.rstrip().splitlines()[-1].startswith(f"not started: 127.0.0.1:{port} is in use")
    assert "Traceback" not in said and "Errno" not in said, said


async def _relays(base: str, acked: list[int]) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        for n in itertools.count(1):
            item = {
                "MessageID": n,
                "Mobile": "09125550000",
                "MessageText": f"restored sms {n}",
                "LineNumber": "10001234",
            }
            response = await http.post(f"{base}/relay/amoot/{RELAY_SECRET}/inbound", json=item)
            if response.status_code == 200:
                acked.append(n)


def _provider_ids(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {r[0] for r in conn.execute("SELECT provider_id FROM inbound")}


async def test_retention_prunes_what_is_old_keeps_what_is_needed_and_answers_old_replies(
    tmp_path: Path,
) -> None:
    async with world(tmp_path, start_bridge=False) as w:
        text = w.config_path.read_text(encoding="utf-8")
        w.config_path.write_text(
            text.replace('path = "bridge.db"', 'path = "bridge.db"\nkeep_days = 30')
        )
        async with running(load_config(w.config_path), timing=TIMING) as bridge:
            db = bridge.db
            old = await _shown_relay(w, bridge.web_url, 1, "from last year")
            new = await _shown_relay(w, bridge.web_url, 2, "from today")
            for text in ("from last year", "from today"):  # the amoot route to the group too:
                await w.tg.wait_text(GROUP, text)  # an SMS still waiting for a chat is kept
            preview = await _preview(w, "/send amoot:public 09121234567 an old send")
            await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
            await eventually(lambda: w.amoot.outgoing, what="the send")
            preview = await _preview(w, "/send amoot:public 09121234568 still unknown")
            w.amoot.fail_next("accept_then_500", method="SendSimple")
            await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
            await w.tg.wait_text(ADMIN, "may have been sent")
            long_ago = "2020-01-01T00:00:00+00:00"
            async with db.transaction() as conn:
                await conn.execute(
                    "UPDATE inbound SET stored_at = ? WHERE provider_id = '1'", (long_ago,)
                )
                await conn.execute("UPDATE sends SET created_at = ?", (long_ago,))
                await conn.execute("UPDATE audit SET at = ?", (long_ago,))
            pruned = await bridge.retention.prune()
            assert (pruned.inbound, pruned.sends) == (1, 1)  # the unknown send stays
            assert pruned.audit >= 2
            states = [r[0] for r in await db.fetchall("SELECT state FROM sends")]
            assert states == ["unknown"]
            texts = [r[0] for r in await db.fetchall("SELECT text FROM inbound")]
            assert texts == ["from today"]
            after = len(w.tg.events)
            await w.tg.send(ADMIN, ADMIN, "thanks", reply_to=old["message_id"])
            told = await w.tg.wait_text(ADMIN, "older than the 30 days", after=after)
            assert "Use /send" in told["text"]
            await w.tg.send(ADMIN, ADMIN, "thanks", reply_to=new["message_id"])
            await w.tg.wait_text(ADMIN, "Send preview", after=after)  # today's still answers


async def _preview(w: World, command: str) -> dict[str, Any]:
    return await preview_of(w, ADMIN, command)


async def _shown_relay(w: World, base: str, n: int, text: str) -> dict[str, Any]:
    item = {"MessageID": n, "Mobile": "09125550000", "MessageText": text, "LineNumber": "10001234"}
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{base}/relay/amoot/{RELAY_SECRET}/inbound", json=item)
    assert response.status_code == 200
    return await w.tg.wait_text(ADMIN, text)
