"""Background work never dies quietly: a locked database or a provider's garbage is logged, backed
off from and outlived; /healthz says which worker is failing and since when."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from typing import Any

import httpx

from tests.conftest import ADMIN, GROUP, World, eventually


def hold_write_lock(path: str, seconds: float) -> threading.Thread:
    """Another process's write transaction on the bridge's database, for ``seconds``."""
    started = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        started.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
        conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    started.wait(5)
    return thread


async def _health(w: World) -> dict[str, Any]:
    assert w.bridge is not None
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{w.bridge.web_url}/healthz", timeout=20)
    body = response.json()
    assert isinstance(body, dict)
    return body


async def test_a_database_locked_for_seconds_loses_nothing_handed_out(w: World) -> None:
    """Was: ``database is locked`` ended the poller for good, and the page RecieveNewMessages had
    already handed out was lost."""
    assert w.bridge is not None
    # The reconciler's first pass at start must be over, or it may be the one that stores the
    # SMS once the lock goes (nothing lost either way, but this test is about the poller).
    await eventually(lambda: w.amoot.calls("RecieveMessages"), what="the first reconcile")
    await asyncio.sleep(0.5)
    holder = hold_write_lock(w.bridge.db.path, 7.0)
    w.amoot.inject_inbound("09125550001", "sent while the database was locked", line="10001234")
    # the poller fetched it: the provider will not hand it out again
    await eventually(lambda: w.amoot.inbound[-1].read, what="the hand-out")
    await asyncio.to_thread(holder.join)
    # (a polled AmootSMS SMS names no line: it goes to the routes for every line)
    shown = await w.tg.wait_text(GROUP, "sent while the database was locked", timeout=20)
    assert "0912 555 0001" in shown["text"]
    rows = await w.bridge.db.fetchall("SELECT source FROM inbound")
    assert [r[0] for r in rows] == ["poll"]  # kept and stored by the poller, not reconciled
    w.amoot.inject_inbound("09125550002", "and polling goes on", line="10001234")
    await w.tg.wait_text(GROUP, "and polling goes on", timeout=20)


async def test_garbage_from_a_provider_is_outlived_and_shown_in_healthz(w: World) -> None:
    w.payam.fail_next("garbage", count=30, method="mo")

    async def degraded() -> dict[str, Any] | None:  # three intervals of failure
        body = await _health(w)
        return body if body["checks"]["poll:payam"] != "ok" else None

    body = await eventually(degraded, every=0.1, what="degraded")
    assert body["status"] == "degraded"
    assert "no success since" in body["checks"]["poll:payam"]
    assert "ProviderProtocolError" in body["checks"]["poll:payam"]
    w.payam._pending.clear()  # the provider recovers
    w.payam.inject_inbound("09125550003", "after the garbage")
    await w.tg.wait_text(ADMIN, "after the garbage", timeout=30)

    async def healthy() -> bool:
        return bool((await _health(w))["status"] == "ok")

    await eventually(healthy, every=0.1, what="ok again")
