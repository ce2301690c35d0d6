"""The bridge and its stand-ins on loopback, configured for one benchmark."""

from __future__ import annotations

import contextlib
import gc
import resource
import statistics
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.app import Running, running
from bot.config import load_config
from bot.ratelimit import TelegramPacer
from httpserve import serving as serve
from sandbox.amootsms import AmootSim
from sandbox.configs import config
from sandbox.telegram import TelegramSim

from .loadgen import percentile, relay_body

__all__ = [
    "RELAY_SECRET",
    "Stage",
    "median",
    "peak_rss_mb",
    "percentile",
    "relay_body",
    "stage",
    "started_like_the_bridge",
]

RELAY_SECRET = "benchrelaysecret0001"
ADMIN = 1


@dataclass
class Stage:
    tg: TelegramSim
    tg_url: str
    amoot: AmootSim
    bridge: Running

    @property
    def relay_url(self) -> str:
        return f"{self.bridge.web_url}/relay/amoot/{RELAY_SECRET}/inbound"


@contextlib.asynccontextmanager
async def stage(
    tmp: Path,
    chats: Sequence[int],
    *,
    tg: TelegramSim | None = None,
    pacer: TelegramPacer | None = None,
) -> AsyncIterator[Stage]:
    """One AmootSMS account (relays on, no polling) whose line ``Lk`` is routed to ``chats[k]``."""
    tg = tg or TelegramSim()
    amoot = AmootSim(lines=tuple(f"L{k}" for k in range(len(chats))))
    for chat in chats:
        tg.private_chat(chat) if chat > 0 else tg.group(chat)
    async with serve(tg.app) as tg_url, serve(amoot.app) as amoot_url:
        urls = {"tg": tg_url, "amoot": amoot_url}
        text = config(
            urls,
            tg.token,
            use=["amoot"],
            telegram={"language": "en"},
            storage={"path": "bench.db"},
            logging={"level": "ERROR"},
            access={"admins": [ADMIN]},
            account_options={
                "amoot": {
                    "lines": [f"L{k}" for k in range(len(chats))],
                    "poll_interval": 0,
                    "relay_secret": RELAY_SECRET,
                }
            },
            routes=[
                {"account": "amoot", "line": f"L{k}", "chat_id": chat}
                for k, chat in enumerate(chats)
            ],
        )
        path = tmp / "config.toml"
        path.write_text(text, encoding="utf-8")
        async with running(load_config(path), pacer=pacer) as bridge:
            yield Stage(tg, tg_url, amoot, bridge)


def started_like_the_bridge() -> None:
    """What the bridge does once it has started (bot/app.py): freeze what starting made, so
    that full collections walk only what came after. A figure that runs bridge code without
    ``running()`` calls this before it measures, or it would measure a collector the bridge
    does not have (measured: 0.1–0.2 s of a 10,000-recipient send)."""
    gc.freeze()


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024
