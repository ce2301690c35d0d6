"""Figures for PostgreSQL and replicas: relay intake on SQLite, on PostgreSQL with one replica
and with two, in the same run (each a real `smsbridge run` process, the load from processes of
their own); and fail-over: from the SIGKILL of the replica that polls to the first poll by the
other, against the poll interval."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx

from httpserve import free_port, serving
from sandbox import postgres
from sandbox.amootsms import AmootSim
from sandbox.configs import config
from sandbox.telegram import TelegramSim

from .loadgen import CONNECTIONS, load
from .results import Row
from .stage import RELAY_SECRET, median

REQUESTS = 4000
ROUNDS = 3
POLL_INTERVAL = 2.0  # seconds, the fail-over figure's job interval
LEASE = 3.0  # seconds, its [storage] lease_seconds
KILLS = 3
GROUP = -1001


def _config(urls: dict[str, str], tg: TelegramSim, port: int, storage: dict[str, object]) -> str:
    return config(
        urls,
        tg.token,
        use=["amoot"],
        telegram={"language": "en"},
        server={"port": port},
        storage=storage,
        logging={"level": "ERROR"},
        access={"admins": [1]},
        account_options={
            "amoot": {"lines": ["L0"], "poll_interval": POLL_INTERVAL, "relay_secret": RELAY_SECRET}
        },
        routes=[{"account": "amoot", "chat_id": GROUP}],
    )


@contextlib.asynccontextmanager
async def _replica(path: Path, port: int) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """One `smsbridge run` process on ``port``, ready (its /healthz answered 200)."""
    base = f"http://127.0.0.1:{port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(path)
    )
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(400):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        yield proc, base
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()


async def _intake(bases: Sequence[str], first: int) -> float:
    """Committed answers per second, the load split evenly over ``bases``."""
    share, connections = REQUESTS // len(bases), CONNECTIONS // len(bases)
    runs = await asyncio.gather(
        *(
            load(
                f"{base}/relay/amoot/{RELAY_SECRET}/inbound", share, first + k * share, connections
            )
            for k, base in enumerate(bases)
        )
    )
    if any(r["ok"] != r["requests"] for r in runs):
        raise AssertionError(f"not every relay was acknowledged: {runs}")
    return sum(r["ok"] for r in runs) / max(r["seconds"] for r in runs)


async def _measure(tmp: Path, name: str, storage: dict[str, object], replicas: int) -> float:
    tg = TelegramSim(group_limit=(10**6, 60.0), global_limit=(10**6, 1.0))
    amoot = AmootSim(lines=("L0",))
    tg.group(GROUP)
    async with (
        serving(tg.app, "127.0.0.1", 0) as tg_url,
        serving(amoot.app, "127.0.0.1", 0) as am,
        contextlib.AsyncExitStack() as stack,
    ):
        bases = []
        for k in range(replicas):
            path = tmp / f"{name}-{k}.toml"
            port = free_port()
            path.write_text(_config({"tg": tg_url, "amoot": am}, tg, port, storage), "utf-8")
            _proc, base = await stack.enter_async_context(_replica(path, port))
            bases.append(base)
        await _intake(bases, 1)  # warm up
        return median([await _intake(bases, 10_000 * (r + 1)) for r in range(ROUNDS)])


async def postgres_intake(tmp: Path) -> list[Row]:
    why = postgres.available()
    if why is not None:
        return [Row("Relay intake on PostgreSQL", "SQLite", f"not measured: {why}", 0, "—", True)]
    with postgres.cluster(durable=True) as server:
        sqlite = await _measure(tmp, "sqlite", {"path": str(tmp / "bench.db")}, 1)
        one = await _measure(tmp, "pg1", {"url": server.create_database("one")}, 1)
        two = await _measure(tmp, "pg2", {"url": server.create_database("two")}, 2)
    note = (
        f"each a `smsbridge run` process (two behind an even split of the load: {CONNECTIONS} "
        f"connections in all), {ROUNDS} rounds of {REQUESTS} relays, medians; PostgreSQL 15 on "
        "the same 2-core machine with fsync on (synchronous_commit on), every 2xx after its "
        f"commit; SQLite {sqlite:,.0f}/s with synchronous=FULL. A second replica adds no "
        "throughput here, nor is it meant to: writes take one advisory lock (the promises of "
        "SQLite's single writer, kept), and the two cores are shared by PostgreSQL, both "
        "replicas and the load generator. Replicas are for staying up; each still groups the "
        "relays that arrive together into one commit"
    )
    return [
        Row(
            "Relay intake on PostgreSQL, 1 replica",
            f"{sqlite:,.0f}/s SQLite",
            f"{one:,.0f}/s",
            one / sqlite,
            "reported",
            True,
            note,
        ),
        Row(
            "Relay intake on PostgreSQL, 2 replicas",
            f"{sqlite:,.0f}/s SQLite",
            f"{two:,.0f}/s",
            two / sqlite,
            "reported",
            True,
        ),
    ]


async def failover(tmp: Path) -> list[Row]:
    why = postgres.available()
    if why is not None:
        return [Row("Fail-over", "poll interval", f"not measured: {why}", 0, "—", True)]
    times: list[float] = []
    with postgres.cluster() as server:
        url = server.create_database("failover")
        tg, amoot = TelegramSim(), AmootSim(lines=("L0",))
        tg.group(GROUP)
        async with (
            serving(tg.app, "127.0.0.1", 0) as tg_url,
            serving(amoot.app, "127.0.0.1", 0) as am,
            contextlib.AsyncExitStack() as stack,
        ):
            live: dict[str, asyncio.subprocess.Process] = {}
            storage = {"url": url, "lease_seconds": LEASE}
            for k in range(2 + KILLS):  # two at first, then one back after each kill
                if k >= 2:
                    base = await _poller(list(live))
                    killed_at = time.monotonic()
                    live.pop(base).send_signal(signal.SIGKILL)
                    seen = len(amoot.requests)
                    while not _polled(amoot, seen):  # noqa: ASYNC110 (the stand-in has no event)
                        await asyncio.sleep(0.01)
                    times.append(time.monotonic() - killed_at)
                path, port = tmp / f"failover-{k}.toml", free_port()
                path.write_text(_config({"tg": tg_url, "amoot": am}, tg, port, storage), "utf-8")
                proc, base = await stack.enter_async_context(_replica(path, port))
                live[base] = proc
    took = median(times)
    return [
        Row(
            "Fail-over: SIGKILL of the polling replica to the other's first poll",
            f"{POLL_INTERVAL:.0f} s poll interval",
            f"{took:.1f} s",
            took / POLL_INTERVAL,
            "≤ 2.00 intervals",
            took <= 2 * POLL_INTERVAL,
            f"two replicas on PostgreSQL, lease_seconds = {LEASE:.0f} (a lease lasts that long; "
            f"renewed every third of it); {KILLS} kills, median; each: "
            + ", ".join(f"{t:.1f} s" for t in times),
        )
    ]


def _polled(amoot: AmootSim, since: int) -> bool:
    """The inbox polled since request number ``since`` (only a live replica can have)."""
    return any(c.method == "RecieveNewMessages" for c in amoot.requests[since:])


async def _poller(bases: Sequence[str]) -> str:
    """The replica that polls AmootSMS now."""
    async with httpx.AsyncClient() as http:
        while True:
            for base in bases:
                with contextlib.suppress(httpx.HTTPError):
                    health = (await http.get(f"{base}/healthz")).json()
                    if "poll:amoot" not in health.get("standing_by", ["poll:amoot"]):
                        return base
            await asyncio.sleep(0.1)
