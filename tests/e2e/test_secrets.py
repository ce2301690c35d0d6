"""No secret from the config appears in any log line, at DEBUG, while the bridge works."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot import logs
from bot.__main__ import _relay
from bot.app import running
from bot.config import load_config
from sandbox.amootsms import DEFAULT_TOKEN
from tests.conftest import ADMIN, RELAY_SECRET, world


@contextlib.contextmanager
def logging_to(log_file: Path) -> Iterator[None]:
    """Whatever ``logs.setup`` does inside the block is undone after it (pytest's own handlers
    come back)."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        yield
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


async def test_debug_logs_never_contain_a_secret(tmp_path: Path) -> None:
    log_file = tmp_path / "bridge.log"
    with logging_to(log_file):
        async with world(tmp_path, start_bridge=False) as w:
            config = load_config(w.config_path)
            logs.setup("DEBUG", str(log_file), config.secrets())
            # the token also reaches the log through PTB's own DEBUG lines
            logging.getLogger("telegram").setLevel(logging.DEBUG)
            async with running(config):
                await w.tg.send(ADMIN, ADMIN, "/balance")
                await w.tg.wait_text(ADMIN, "Rial")
                w.amoot.fail_next("token_expired", method="AccountStatus")
                await w.tg.send(ADMIN, ADMIN, "/balance")
                await w.tg.wait_text(ADMIN, "expired")
    text = log_file.read_text(encoding="utf-8")
    assert "Bot API URL" in text and "***" in text  # PTB did log the URL, redacted
    assert w.tg.token not in text
    assert DEFAULT_TOKEN not in text


async def test_every_library_logs_through_the_redactor_into_the_configured_file(
    tmp_path: Path,
) -> None:
    """Was: uvicorn's own error log bypassed the redactor and the configured log file, and outside
    text with a line break could forge a log line."""
    log_file = tmp_path / "bridge.log"
    with logging_to(log_file):
        async with world(tmp_path, start_bridge=False) as w:
            config = load_config(w.config_path)
            logs.setup("INFO", str(log_file), config.secrets())
            async with running(config) as bridge:
                host, port = bridge.web_url.removeprefix("http://").split(":")
                reader, writer = await asyncio.open_connection(host, int(port))
                writer.write(f"NOT HTTP {RELAY_SECRET}\r\n\r\n".encode())  # uvicorn logs it
                await reader.read()
                writer.close()
                logging.getLogger("smsbridge.test").warning(
                    "sender %s", "Bank\n2026-12-02 10:00:00 ERROR smsbridge: forged"
                )
    text = log_file.read_text(encoding="utf-8")
    assert "Invalid HTTP request" in text  # uvicorn's line, in our file
    assert RELAY_SECRET not in text
    assert "sender Bank\\n2026-12-02" in text
    assert not any(line.startswith("2026-12-02 10:00:00 ERROR") for line in text.splitlines())


async def test_relay_list_never_prints_the_relay_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was: ``smsbridge relay list`` printed each registered URL with its secret."""
    async with world(tmp_path, start_bridge=False) as w:
        text = w.config_path.read_text(encoding="utf-8").replace(
            "[server]\nport = 0\n",
            '[server]\nport = 0\npublic_url = "https://bridge.example.com"\n',
        )
        w.config_path.write_text(text, encoding="utf-8")
        config = load_config(w.config_path)
        assert await _relay(config, "register", "amoot") == 0
        assert await _relay(config, "list", "amoot") == 0
    out = capsys.readouterr().out
    assert "https://bridge.example.com/relay/amoot/***/inbound" in out
    assert RELAY_SECRET not in out and len(w.amoot.hooks["inbound"]) == 1


async def test_json_logs_are_one_object_a_line_with_fields_and_no_secret(tmp_path: Path) -> None:
    log_file = tmp_path / "bridge.log"
    with logging_to(log_file):
        async with world(tmp_path, start_bridge=False) as w:
            config = load_config(w.config_path)
            logs.setup("DEBUG", str(log_file), config.secrets(), "json")
            async with running(config) as bridge:
                async with httpx.AsyncClient() as http:
                    item = {
                        "MessageID": 4711,
                        "Mobile": "09125556666",
                        "MessageText": "hi",
                        "LineNumber": "10001234",
                    }
                    url = f"{bridge.web_url}/relay/amoot/{RELAY_SECRET}/inbound"
                    assert (await http.post(url, json=item)).status_code == 200
                await w.tg.wait_text(ADMIN, "hi")
                logging.getLogger("smsbridge.test").warning("a\nforged line %s", DEFAULT_TOKEN)
    lines = log_file.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    stored = next(e for e in entries if e["message"].startswith("1 new SMS for amoot"))
    assert stored["account"] == "amoot" and isinstance(stored["sms_id"], int)
    forged = next(e for e in entries if e["logger"] == "smsbridge.test")
    assert forged["message"] == "a\\nforged line ***"
    text = "\n".join(lines)
    assert w.tg.token not in text and DEFAULT_TOKEN not in text and RELAY_SECRET not in text
