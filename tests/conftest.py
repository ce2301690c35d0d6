"""Shared fixtures: the simulators and the bridge on loopback, on real SQLite files."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import Running, running
from bot.config import load_config
from sandbox._serve import serve
from sandbox.amootsms import DEFAULT_TOKEN, AmootSim
from sandbox.telegram import TelegramSim

ADMIN = 1001
OPERATOR = 1002
STRANGER = 4242
GROUP = -100555


@dataclass
class World:
    tg: TelegramSim
    amoot: AmootSim
    amoot_url: str
    tg_url: str
    config_path: Path
    bridge: Running | None = None


def write_config(path: Path, tg_url: str, amoot_url: str, tg_token: str, extra: str = "") -> Path:
    path.write_text(
        f"""
[telegram]
token = "{tg_token}"
base_url = "{tg_url}/bot"
language = "en"

[storage]
path = "bridge.db"

[logging]
level = "DEBUG"

[access]
admins = [{ADMIN}]
bulk_confirm_threshold = 3
daily_quota = 20

[[accounts]]
name = "amoot"
provider = "amootsms"
base_url = "{amoot_url}"
token = "{DEFAULT_TOKEN}"
lines = ["public", "10001234"]
poll_interval = 0.2
delivery_codes = {{ 0 = "queued", 35 = "sent", 1 = "delivered", 2 = "failed" }}

[[routes]]
account = "amoot"
line = "10001234"
chat_id = {ADMIN}

[[routes]]
account = "amoot"
chat_id = {GROUP}
{extra}
""",
        encoding="utf-8",
    )
    return path


@contextlib.asynccontextmanager
async def world(tmp_path: Path, start_bridge: bool = True) -> AsyncIterator[World]:
    tg = TelegramSim()
    amoot = AmootSim()
    async with serve(tg.app) as tg_url, serve(amoot.app) as amoot_url:
        tg.private_chat(ADMIN)
        tg.group(GROUP)
        path = write_config(tmp_path / "config.toml", tg_url, amoot_url, tg.token)
        w = World(tg, amoot, amoot_url, tg_url, path)
        if not start_bridge:
            yield w
            return
        async with running(load_config(path)) as bridge:
            w.bridge = bridge
            yield w


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async with world(tmp_path) as value:
        yield value
