"""Figures 1 and 2: relay intake against a bare endpoint, and SMS → chat latency at 10 SMS/s."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config import AmootAccount
from bot.web import Web
from httpserve import serving
from providers.amootsms import parse_inbound_item

from .loadgen import CONNECTIONS, load
from .results import Row
from .stage import RELAY_SECRET, Stage, median, percentile, relay_body, stage

REQUESTS = 5000
ROUNDS = 3


async def _bare(request: Request) -> JSONResponse:
    """The same POST answered without storing anything: the ceiling of this machine's HTTP."""
    json.loads(await request.body())
    return JSONResponse({"stored": 1, "duplicates": 0})


# The stages of a relay's answer, each measured with the ones after it switched off, in the
# same run as the full path: where the time goes (RESULTS.md shows them under the figure).
STAGES = {
    "answer": "routing, the secret and reading the body (a fixed answer)",
    "parse": "+ decoding the JSON and validating the SMS (nothing stored)",
}


@contextlib.contextmanager
def _stopping_at(stage: str | None) -> Iterator[None]:
    """The bridge's relay handler cut short after ``stage`` (None: the whole path)."""
    original = Web._relay_inbound

    async def cut(self: Web, account: AmootAccount, items: list[dict[str, Any]]) -> Response:
        parsed = [parse_inbound_item(account.name, i) for i in items] if stage == "parse" else []
        return Response(f'{{"stored":{len(parsed)},"duplicates":0}}', media_type="application/json")

    if stage is not None:
        Web._relay_inbound = cut  # type: ignore[method-assign]
    try:
        yield
    finally:
        Web._relay_inbound = original  # type: ignore[method-assign]


async def relay_intake(tmp: Path) -> list[Row]:
    bare = Starlette(routes=[Route("/relay", _bare, methods=["POST"])])
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in ("bare", *STAGES, "bridge")}
    async with stage(tmp, [-1001]) as st, serving(bare, "127.0.0.1", 0) as bare_url:
        await load(st.relay_url, 200, 0)  # warm both up
        await load(f"{bare_url}/relay", 200, 0)
        for round_no in range(ROUNDS):
            first = 1_000 + round_no * REQUESTS
            runs["bare"].append(await load(f"{bare_url}/relay", REQUESTS, first))
            for name in STAGES:
                with _stopping_at(name):
                    runs[name].append(await load(st.relay_url, REQUESTS, first))
            runs["bridge"].append(await load(st.relay_url, REQUESTS, first))
        rows = await st.bridge.db.fetchone("SELECT count(*) FROM inbound")
        stored = int(rows[0]) if rows else 0
    rps = {name: median([r["rps"] for r in results]) for name, results in runs.items()}
    bare_rps, bridge_rps = rps["bare"], rps["bridge"]
    p99 = median([r["p99_ms"] for r in runs["bridge"]])
    ok = all(r["ok"] == r["requests"] for r in runs["bridge"])
    stages = "; ".join(
        f"{what}: {rps[name]:,.0f}/s ({rps[name] / bare_rps:.2f})" for name, what in STAGES.items()
    )
    note = (
        f"{ROUNDS} rounds of {REQUESTS} POSTs over {CONNECTIONS} connections from a separate "
        f"process, medians; every 2xx followed a committed write (synchronous=FULL); "
        f"{stored} SMS stored; bare p99 {median([r['p99_ms'] for r in runs['bare']]):.1f} ms. "
        f"The bridge's stages, each with the later ones switched off: {stages}; "
        f"+ storing and committing (the whole path): {bridge_rps:,.0f}/s"
    )
    return [
        Row(
            "Relay intake (2xx/s)",
            f"{bare_rps:,.0f}/s bare endpoint",
            f"{bridge_rps:,.0f}/s",
            bridge_rps / bare_rps,
            "≥ 0.60",
            ok and bridge_rps / bare_rps >= 0.6,
            note,
        ),
        Row("Relay p99 latency", "50 ms target", f"{p99:.1f} ms", p99 / 50, "≤ 1.00", p99 <= 50),
    ]


CHATS = 20
PROBES = 200


async def sms_to_chat_latency(tmp: Path) -> list[Row]:
    chats = [10_000 + k for k in range(CHATS)]
    async with stage(tmp, chats) as st, httpx.AsyncClient() as http:
        sent: dict[str, float] = {}

        async def probe(n: int) -> None:
            text = f"latency probe {n}"
            sent[text] = time.perf_counter()
            body = relay_body(n, line=f"L{n % CHATS}", text=text)
            response = await http.post(st.relay_url, json=body)
            response.raise_for_status()

        tasks = []
        start = time.perf_counter()
        for n in range(PROBES):  # 10 SMS/s, spread over the routed chats
            await asyncio.sleep(max(0.0, start + n / 10 - time.perf_counter()))
            tasks.append(asyncio.create_task(probe(n)))
        await asyncio.gather(*tasks)
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            seen = {e.message.get("text", "").rsplit("\n", 1)[-1] for e in st.tg.events}
            if all(t in seen for t in sent):
                break
            await asyncio.sleep(0.05)
        arrived = {}
        for event in st.tg.events:
            text = event.message.get("text", "").rsplit("\n", 1)[-1]
            if text in sent and text not in arrived:
                arrived[text] = event.at - sent[text]
        floor = await _floor(st, http)
    latencies = [v * 1000 for v in arrived.values()]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    note = (
        f"{PROBES} relayed SMS at 10/s over {CHATS} routed private chats, all {len(arrived)} "
        f"arrived; the same run's floor (a 404 relay POST plus one sendMessage straight to the "
        f"stand-in) is {floor:.1f} ms"
    )
    return [
        Row(
            "SMS → chat latency p50",
            f"{floor:.1f} ms floor",
            f"{p50:.1f} ms",
            p50 / floor,
            "≤ 5.00",
            p50 <= 5 * floor and len(arrived) == PROBES,
            note,
        ),
        Row(
            "SMS → chat latency p99",
            "25 ms target",
            f"{p99:.1f} ms",
            p99 / 25,
            "≤ 1.00",
            p99 <= 25,
        ),
    ]


async def _floor(st: Stage, http: httpx.AsyncClient) -> float:
    """What no bridge can beat here: one HTTP POST in (answered 404 by the bridge's own server)
    and one sendMessage straight to the stand-in, each to a fresh chat; median of 50."""
    samples = []
    for n in range(50):
        st.tg.private_chat(20_000 + n)
        started = time.perf_counter()
        await http.post(st.relay_url.replace(RELAY_SECRET, "wrong"), json={})
        await http.post(
            f"{st.tg_url}/bot{st.tg.token}/sendMessage",
            data={"chat_id": 20_000 + n, "text": "floor"},
        )
        samples.append((time.perf_counter() - started) * 1000)
    return median(samples)
