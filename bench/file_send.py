"""A personalised list of 10,000 rows (XLSX, ``سلام {name}، سفارش {order}…``) on each provider that
sends a text per number: the bridge's own path from the file's bytes — read, planned, a draft with
its recipients stored, confirmed, sent request by request with each request's recipients marked
before it leaves and recorded after (SQLite, synchronous=FULL) — against a bare client replaying
the very same request bodies to a fresh simulator.

Each provider runs in a process of its own (``python -m bench.file_send PROVIDER`` prints JSON),
so that its peak memory is its own."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bot import sheets
from bot.app import build_provider
from bot.config import load_config
from bot.sending import SendService
from httpserve import serving as serve
from sandbox import files
from sandbox.amootsms import DEFAULT_TOKEN, AmootSim
from sandbox.configs import config
from sandbox.payamsms import PayamSim
from storage.db import Database
from storage.sends import ClaimStatus, SendsRepo

from .bulk import payam_headers
from .results import Row
from .stage import median, peak_rss_mb, started_like_the_bridge

ROWS = 10_000
TEXT = "سلام {name}، سفارش {order} ارسال شد و فردا می‌رسد."
ACCOUNTS = {"amootsms": "amoot", "payamsms": "payam"}
METHOD = {"amootsms": "SendPeerToPeer", "payamsms": "sendMultipleWithSrc"}
PATH = {"amootsms": "/SendPeerToPeer", "payamsms": "/panel/webservice/sendMultipleWithSrc"}
MINIMUM = {"amootsms": ROWS // 100, "payamsms": ROWS // 250}
REPEATS = 3


def _sim(provider: str) -> AmootSim | PayamSim:
    return AmootSim(credit=10**12) if provider == "amootsms" else PayamSim(credit=10**12)


async def _bridge_send(provider: str, url: str, data: bytes, tmp: Path) -> dict[str, float]:
    """The file's bytes to the last recorded answer, through the bridge's own code; seconds per
    stage."""
    account = ACCOUNTS[provider]
    path = tmp / "config.toml"
    text = config(
        {"tg": "http://127.0.0.1:9", "amoot": url, "smsir": url, "payam": url},
        "1:x",
        use=(account,),
        storage={"path": str(tmp / "bench.db")},
        access={"admins": [1], "daily_quota": 10 * ROWS},
    )
    path.write_text(text, encoding="utf-8")
    cfg = load_config(path)
    db = await Database.open(cfg.storage.path)
    client = build_provider(cfg.accounts[0])
    try:
        service = SendService(cfg, {account: client}, SendsRepo(db))
        times: dict[str, float] = {}
        started = time.perf_counter()
        table = sheets.read_table("customers.xlsx", data)
        plan = sheets.plan(table, sheets.number_columns(table)[0], TEXT)
        times["read"] = time.perf_counter() - started
        started = time.perf_counter()
        draft = await service.prepare_file(
            user_id=1, chat_id=1, target=f"{account}:", plan=plan, text=TEXT, file_name="c"
        )
        claim = await service.claim(draft.id, 1, draft.reach, chat_id=1)
        if claim.status is ClaimStatus.ARMED:
            claim = await service.claim(draft.id, 1, draft.reach, second=True, chat_id=1)
        assert claim.row is not None, claim.status
        times["prepare"] = time.perf_counter() - started
        started = time.perf_counter()
        final, _error = await service.execute(claim.row)
        times["send"] = time.perf_counter() - started
        times["ok"] = sum(1 for r in final.recipients if r.message_id)
        return times
    finally:
        await client.aclose()
        await db.close()


async def _bare_send(provider: str, url: str, sent: list[Any]) -> float:
    """The same request bodies, one after another, from a bare client that encodes each body
    and decodes each answer (any client's share of the work)."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        if provider == "amootsms":
            headers = {"Authorization": DEFAULT_TOKEN}
        else:
            headers = await payam_headers(http)
        started = time.perf_counter()
        for body in sent:
            response = await http.post(PATH[provider], json=body, headers=headers)
            response.raise_for_status()
            response.json()
        return time.perf_counter() - started


async def run(provider: str) -> dict[str, Any]:
    """The bridge and the bare replay alternately, each against a fresh simulator; medians."""
    data = files.xlsx(files.customers(ROWS))
    stages: list[dict[str, float]] = []
    bare: list[float] = []
    for _ in range(REPEATS):
        sim = _sim(provider)
        with tempfile.TemporaryDirectory(prefix="smsbridge-bench-file-") as tmp:
            async with serve(sim.app) as url:
                stages.append(await _bridge_send(provider, url, data, Path(tmp)))
        sent = [call.body for call in sim.calls(METHOD[provider])]
        async with serve(_sim(provider).app) as url:
            bare.append(await _bare_send(provider, url, sent))
    return {
        "provider": provider,
        "requests": len(sent),
        "ok": stages[-1]["ok"],
        "read": median([s["read"] for s in stages]),
        "prepare": median([s["prepare"] for s in stages]),
        "seconds": median([s["send"] for s in stages]),
        "bare_seconds": median(bare),
        "peak_rss_mb": peak_rss_mb(),
        "file_kb": len(data) / 1024,
    }


async def file_send(tmp: Path) -> list[Row]:
    rows = []
    for provider in ACCOUNTS:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.file_send", provider, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        r = json.loads(out)
        ratio = r["seconds"] / r["bare_seconds"]
        met = r["requests"] == MINIMUM[provider] and r["ok"] == ROWS and r["peak_rss_mb"] <= 150
        note = (
            f"{r['requests']} send requests (minimum {MINIMUM[provider]}), {r['ok']} personalised "
            f"SMS accepted; before sending: reading the {r['file_kb']:.0f} KB XLSX and planning "
            f"{r['read']:.2f} s, the draft with its 10,000 recipients stored and confirmed "
            f"{r['prepare']:.2f} s; peak RSS {r['peak_rss_mb']:.0f} MB (bridge code and "
            "simulator in one process)"
        )
        rows.append(
            Row(
                f"Personalised file 10,000 — {provider}",
                f"{r['bare_seconds']:.2f} s bare replay",
                f"{r['seconds']:.2f} s",
                ratio,
                "minimum requests, ≤ 150 MB (ratio reported)",
                met,
                note,
            )
        )
    return rows


if __name__ == "__main__":
    started_like_the_bridge()
    print(json.dumps(asyncio.run(run(sys.argv[1]))))
