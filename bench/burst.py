"""Figure 3: a burst of 1,000 SMS for one group chat through Telegram's 20 messages a minute."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

from bot.ratelimit import TelegramPacer, Window
from sandbox.telegram import TelegramSim

from .loadgen import load
from .results import Row
from .stage import stage

SMS = 1000
SCALE = 20  # Telegram's minute becomes 3 s: the run is short, the arithmetic the same
GROUP = -1001


async def burst(tmp: Path) -> list[Row]:
    window = 60.0 / SCALE
    tg = TelegramSim(group_limit=(20, window))
    pacer = TelegramPacer(group=Window(20, window))
    async with stage(tmp, [GROUP], tg=tg, pacer=pacer) as st:
        result = await load(st.relay_url, SMS, 1)
        started = result["started"]  # the first relay POST (the load generator's clock is ours)
        texts = {f"bench sms {n}" for n in range(1, SMS + 1)}
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline:
            shown = {
                line.strip()
                for e in tg.events
                if e.kind == "send"
                for line in e.message.get("text", "").split("\n")
            }
            if texts <= shown:
                break
            await asyncio.sleep(0.02)
        visible = max(e.at for e in tg.events if e.kind == "send") - started
        sent = [e for e in tg.events if e.kind == "send"]
    floor_messages = math.ceil(sum(len(e.message.get("html") or "") for e in sent) / 4096)
    floor = floor_messages * window / 20  # the fewest messages, at the group rate
    naive = SMS * window / 20
    ratio = visible / floor
    note = (
        f"time scale ×{SCALE} (20 messages per {window:g} s instead of per 60 s); "
        f"{result['ok']} relays accepted; {len(sent)} messages sent, floor {floor_messages}; "
        f"{tg.count_429} answers 429, {tg.violations} requests inside a retry window; "
        f"naive (one message per SMS) {naive:.0f} s → speed-up ×{naive / visible:.0f}"
    )
    return [
        Row(
            "Burst of 1,000 SMS to a group, until all visible",
            f"{floor:.1f} s floor",
            f"{visible:.1f} s",
            ratio,
            "≤ 1.10, no 429",
            ratio <= 1.1 and tg.count_429 == 0 and texts <= shown,
            note,
        ),
    ]
