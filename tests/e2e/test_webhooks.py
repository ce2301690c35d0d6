"""Webhooks: every SMS event reaches a real loopback receiver, signed (the documented check tells
a forgery), in order, after the receiver was down, and after the bridge was killed mid-burst —
duplicates only with the same id."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.app import running
from bot.config import load_config
from httpserve import serving
from tests.conftest import (
    ADMIN,
    RELAY_SECRET,
    ROOT,
    TIMING,
    World,
    bridge_process,
    eventually,
    free_port,
    preview_of,
    world,
)

pytestmark = pytest.mark.both_backends  # the same journeys on SQLite and PostgreSQL

SECRET = "webhook-secret-0123456789"


def documented_check() -> Callable[..., bool]:
    """The verification example of docs/webhooks.md, run as written."""
    text = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S)
    assert code is not None
    scope: dict[str, Any] = {}
    exec(code.group(1), scope)
    check: Callable[..., bool] = scope["genuine"]
    return check


@dataclass
class Receiver:
    genuine: Callable[..., bool] = field(default_factory=documented_check)
    down: bool = False
    taken: list[dict[str, Any]] = field(default_factory=list)  # bodies answered 2xx, in order
    forged: int = 0

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        if not self.genuine(SECRET, request.headers, body):
            self.forged += 1
            return Response(status_code=401)
        if self.down:
            return Response(status_code=503)
        self.taken.append(json.loads(body))
        return Response(status_code=204)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.taken if e["type"] == kind]


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])
    async with serving(app, "127.0.0.1", 0) as url:
        yield receiver, url + "/hook"


def _with_webhook(w: World, url: str, extra: str = "") -> None:
    with w.config_path.open("a", encoding="utf-8") as config:
        config.write(f'\n[[webhooks]]\nurl = "{url}"\nsecret = "{SECRET}"\n{extra}')


async def test_every_kind_of_event_arrives_signed_and_in_order(tmp_path: Path) -> None:
    async with receiving() as (receiver, url), world(tmp_path, start_bridge=False) as w:
        _with_webhook(w, url)
        async with running(load_config(w.config_path), timing=TIMING) as bridge:
            w.bridge = bridge
            w.payam.inject_inbound("09125551111", "where is my order?")
            w.payam.inject_inbound("09125552222", "لغو")
            preview = await preview_of(w, ADMIN, "/send payam: 09125551111 it ships today")
            await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
            await eventually(lambda: receiver.of("send"), timeout=15, what="the send event")
            w.payam.advance(60)  # the SMS reaches the handset: a delivery report
            await eventually(lambda: receiver.of("delivery"), timeout=15, what="a delivery event")
        kinds = {e["type"] for e in receiver.taken}
        assert kinds == {"inbound", "optout", "send", "delivery"}
        ids = [e["id"] for e in receiver.taken]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        inbound = receiver.of("inbound")[0]
        assert inbound["data"]["sender"] == "989125551111"
        assert inbound["data"]["text"] == "where is my order?" and inbound["account"] == "payam"
        optout = receiver.of("optout")[0]["data"]
        assert optout["number"] == "989125552222" and optout["opted_out"] is True
        sent = receiver.of("send")[0]["data"]
        assert sent["state"] == "sent" and sent["accepted"] == 1
        assert receiver.forged == 0
    # the documented check refuses a forgery and a replay of an old capture
    check = documented_check()
    body = json.dumps(receiver.taken[0]).encode()
    assert not check(SECRET, {"X-Smsbridge-Timestamp": "1", "X-Smsbridge-Signature": "x"}, body)


async def test_a_receiver_down_for_a_while_gets_everything_after_in_order(tmp_path: Path) -> None:
    async with receiving() as (receiver, url), world(tmp_path, start_bridge=False) as w:
        _with_webhook(w, url, 'events = ["inbound"]\naccounts = ["payam"]\n')
        async with running(load_config(w.config_path), timing=TIMING) as bridge:
            w.bridge = bridge
            receiver.down = True
            for n in range(20):
                w.payam.inject_inbound(f"0912555{n:04d}", f"sms {n}")
                w.amoot.inject_inbound("09125550000", f"not for this endpoint {n}")
                await asyncio.sleep(0.1)
            await w.tg.wait_text(ADMIN, "sms 19", timeout=15)
            await asyncio.sleep(1.0)
            assert receiver.taken == []
            async with httpx.AsyncClient() as http:
                health = (await http.get(bridge.web_url + "/healthz")).json()
                metrics = (await http.get(bridge.web_url + "/metrics")).text
            assert "webhook:1" in health["checks"]
            assert f'smsbridge_webhook_backlog{{endpoint="{url}"}}' in metrics
            receiver.down = False
            await eventually(lambda: len(receiver.taken) >= 20, timeout=30, what="the backlog")
        assert [e["data"]["text"] for e in receiver.taken] == [f"sms {n}" for n in range(20)]


async def test_sigkill_mid_burst_loses_no_event_and_repeats_only_with_the_same_id(
    tmp_path: Path,
) -> None:
    async with receiving() as (receiver, url), world(tmp_path, start_bridge=False) as w:
        w.tg.group_limit = (1000, 60.0)
        port = free_port()
        text = w.config_path.read_text(encoding="utf-8").replace("port = 0", f"port = {port}")
        w.config_path.write_text(text.replace('level = "DEBUG"', 'level = "WARNING"'), "utf-8")
        _with_webhook(w, url, 'events = ["inbound"]\n')
        base = f"http://127.0.0.1:{port}"
        acked: list[str] = []
        for kill in range(2):
            async with (
                bridge_process(w.config_path, base) as proc,
                httpx.AsyncClient(timeout=2) as http,
            ):
                for n in range(40):
                    body = {
                        "MessageID": 900_000 + kill * 100 + n,
                        "Mobile": "09125550000",
                        "MessageText": f"burst {kill}-{n}",
                        "LineNumber": "10001234",
                    }
                    with contextlib.suppress(httpx.HTTPError):
                        answer = await http.post(
                            f"{base}/relay/amoot/{RELAY_SECRET}/inbound", json=body
                        )
                        if answer.status_code == 200:
                            acked.append(str(body["MessageText"]))
                    if n == 25:
                        proc.send_signal(signal.SIGKILL)
                        await proc.wait()
                        break
        async with bridge_process(w.config_path, base):

            def all_in() -> bool:
                return set(acked) <= {e["data"]["text"] for e in receiver.taken}

            await eventually(all_in, timeout=30, what="every event")
        by_id: dict[int, dict[str, Any]] = {}
        for event in receiver.taken:
            assert by_id.setdefault(event["id"], event) == event  # a repeat is the same event
        ids = [e["id"] for e in receiver.taken]
        assert all(a <= b for a, b in itertools.pairwise(ids))  # in order


async def test_the_cli_lists_endpoints_and_replays_the_log(tmp_path: Path) -> None:
    async with receiving() as (receiver, url), world(tmp_path, start_bridge=False) as w:
        _with_webhook(w, url)
        async with running(load_config(w.config_path), timing=TIMING) as bridge:
            w.bridge = bridge
            w.payam.inject_inbound("09125551111", "first")
            await eventually(lambda: receiver.taken, timeout=15, what="the event")
            command = [sys.executable, "-m", "bot", "webhooks"]
            listing = await asyncio.to_thread(
                subprocess.run,
                [*command, "list", "--config", str(w.config_path)],
                capture_output=True,
                text=True,
                cwd=w.config_path.parent,
                env={"PYTHONPATH": str(ROOT)},
            )
            assert f"{url}: at event" in listing.stdout and "0 waiting, ok" in listing.stdout
            replay = await asyncio.to_thread(
                subprocess.run,
                [*command, "replay", "--config", str(w.config_path), "--since", "2000-01-01"],
                capture_output=True,
                text=True,
                cwd=w.config_path.parent,
                env={"PYTHONPATH": str(ROOT)},
            )
            assert "1 endpoint(s) will send again" in replay.stdout, replay.stderr
            await eventually(lambda: len(receiver.taken) >= 2, timeout=15, what="the replay")
        assert receiver.taken[0] == receiver.taken[1]  # the same event, the same id
