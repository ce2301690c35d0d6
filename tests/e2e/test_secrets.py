"""No secret from the config appears in any log line, at DEBUG, while the bridge works."""

from __future__ import annotations

import logging
from pathlib import Path

from bot import logs
from bot.app import running
from bot.config import load_config
from sandbox.amootsms import DEFAULT_TOKEN
from tests.conftest import ADMIN, world


async def test_debug_logs_never_contain_a_secret(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    log_file = tmp_path / "bridge.log"
    try:
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
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    text = log_file.read_text(encoding="utf-8")
    assert "Bot API URL" in text and "***" in text  # PTB did log the URL, redacted
    assert w.tg.token not in text
    assert DEFAULT_TOKEN not in text
