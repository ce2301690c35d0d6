"""Running it for a year: a real `smsbridge run` process reloads its config on SIGHUP without
dropping anything, and says what needs a restart."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.conftest import ADMIN, GROUP, World, bridge_process, eventually, free_port, world


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
