"""Figure 5: a real ``smsbridge run`` process with three accounts polling: start to ready, idle
memory, and memory after 10,000 inbound SMS."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

from httpserve import free_port, serving_all
from sandbox.amootsms import AmootSim
from sandbox.configs import config as sandbox_config
from sandbox.payamsms import PayamSim
from sandbox.smsir import SmsirSim
from sandbox.telegram import TelegramSim

from .loadgen import load
from .results import Row
from .stage import RELAY_SECRET

INBOUND = 10_000
ROOT = str(Path(__file__).resolve().parents[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# What a run with the three accounts imports, for the breakdown of start and memory
_IMPORTS = (
    "import bot.__main__, bot.app, providers.amootsms, providers.payamsms, providers.smsir; "
    "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmRSS:')))"
)


async def _imports_only() -> tuple[float, float]:
    """Seconds and MB of a process that only imports what the bridge runs on: the part of the
    start and of the idle memory that is loading code (medians of three)."""
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _IMPORTS,
            env=dict(os.environ, PYTHONPATH=ROOT),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        runs.append((time.perf_counter() - started, int(out) / 1024))
    runs.sort()
    return runs[1]


async def footprint(tmp: Path) -> list[Row]:
    tg, amoot, smsir, payam = TelegramSim(), AmootSim(), SmsirSim(), PayamSim()
    tg.group(-1001)
    port = free_port()
    async with serving_all([tg.app, amoot.app, smsir.app, payam.app]) as (
        tg_url,
        amoot_url,
        smsir_url,
        payam_url,
    ):
        config = tmp / "config.toml"
        urls = {"tg": tg_url, "amoot": amoot_url, "smsir": smsir_url, "payam": payam_url}
        config.write_text(
            sandbox_config(
                urls,
                tg.token,
                server={"port": port},
                storage={"path": "footprint.db"},
                access={"admins": [1]},
                account_options={
                    "amoot": {"poll_interval": 1, "relay_secret": RELAY_SECRET},
                    "payam": {"poll_interval": 1},
                },
                routes=[{"account": "amoot", "chat_id": -1001}],
            ),
            encoding="utf-8",
        )
        base = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(config),
            env=dict(os.environ, PYTHONPATH=ROOT),
            stdout=asyncio.subprocess.DEVNULL,
        )
        try:
            async with httpx.AsyncClient() as http:
                for _ in range(1000):  # up to ~10 s
                    try:
                        if (await http.get(f"{base}/healthz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.01)
            ready = time.perf_counter() - started
            await asyncio.sleep(3)
            idle = _rss_mb(proc.pid)
            await load(f"{base}/relay/amoot/{RELAY_SECRET}/inbound", INBOUND, 1)
            await asyncio.sleep(3)
            loaded = _rss_mb(proc.pid)
        finally:
            proc.terminate()
            await proc.wait()
    import_s, import_mb = await _imports_only()
    return [
        Row(
            "Start to ready (3 accounts, polling on)",
            "1 s target",
            f"{ready:.2f} s",
            ready / 1,
            "≤ 1.00",
            ready <= 1,
            f"from process start until /healthz answers 200; of which starting Python and "
            f"importing what it runs on: {import_s:.2f} s (a process that only imports, this run)",
        ),
        Row(
            "Idle RSS",
            "60 MB target",
            f"{idle:.0f} MB",
            idle / 60,
            "≤ 1.00",
            idle <= 60,
            f"of which {import_mb:.0f} MB after importing what it runs on (a process that only "
            f"imports, this run); the rest is the running bridge's own",
        ),
        Row(
            f"RSS after {INBOUND:,} inbound SMS",
            f"{idle:.0f} MB idle",
            f"{loaded:.0f} MB",
            loaded / idle,
            "≤ 1.20",
            loaded / idle <= 1.2,
            "relayed over 64 connections and forwarded to one group chat",
        ),
    ]
