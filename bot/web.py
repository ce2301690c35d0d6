"""The bridge's one HTTP app (SPEC §7): Telegram webhook, provider relays, /healthz, /metrics.

Each endpoint verifies, parses, stores and only then answers: a relay gets its 2xx after the SMS
are committed, so a provider that sees a 2xx may forget the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

from providers._wire import lower_keys
from providers.amootsms import parse_delivery_item, parse_inbound_item
from providers.base import InboundSms, ProviderProtocolError
from storage.db import Database
from storage.inbound import OutboxRepo
from storage.sends import SendRow, SendsRepo

from .bridge import Bridge
from .config import AmootAccount, Config
from .metrics import Metrics
from .outbox import Outbox

log = logging.getLogger("smsbridge.web")
MAX_BODY = 1 << 20  # a relay body larger than 1 MiB is not an SMS


class BadBody(Exception):
    def __init__(self, status: int, reason: str) -> None:
        self.status, self.reason = status, reason


def relay_items(raw: bytes, content_type: str) -> list[dict[str, Any]]:
    """A relay body as lower-cased items: a JSON object, a JSON array of objects, or a form."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadBody(400, "the body is not UTF-8") from exc
    stripped = text.strip()
    if "json" in content_type or stripped[:1] in ("{", "["):
        try:
            body = json.loads(stripped)
        except ValueError as exc:
            raise BadBody(400, "the body is not valid JSON") from exc
        items = body if isinstance(body, list) else [body]
        if not items or not all(isinstance(i, dict) for i in items):
            raise BadBody(422, "expected a JSON object or an array of objects")
        return [lower_keys(i) for i in items]
    fields = parse_qsl(stripped, keep_blank_values=True)
    if not fields:
        raise BadBody(400, "the body is empty")
    return [{k.lower(): v for k, v in fields}]


@dataclass
class Web:
    config: Config
    db: Database
    bridge: Bridge
    sends: SendsRepo
    outbox_repo: OutboxRepo
    outbox: Outbox
    application: Application  # type: ignore[type-arg]
    metrics: Metrics
    on_delivery: Callable[[SendRow], Awaitable[None]] | None = None

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/telegram", self.telegram, methods=["POST"]),
                Route("/relay/{account}/{secret}/{kind}", self.relay, methods=["POST"]),
                Route("/healthz", self.healthz, methods=["GET"]),
                Route("/metrics", self.prometheus, methods=["GET"]),
            ]
        )

    # ------------------------------------------------------------------ Telegram webhook

    async def telegram(self, request: Request) -> Response:
        expected = self.config.telegram.webhook_secret.get_secret_value()
        given = request.headers.get("x-telegram-bot-api-secret-token", "")
        if (
            self.config.telegram.mode != "webhook"
            or not expected
            or not hmac.compare_digest(given.encode(), expected.encode())
        ):
            return JSONResponse({"error": "forbidden"}, 403)
        try:
            data = json.loads(await request.body())
            update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("undecodable Telegram update: %s", exc)
            return JSONResponse({"error": "undecodable update"}, 400)
        await self.application.update_queue.put(update)
        return JSONResponse({"ok": True})

    # ------------------------------------------------------------------ relays

    def _relay_account(self, name: str, secret: str) -> AmootAccount | None:
        account = self.config.account(name.lower())
        if not isinstance(account, AmootAccount) or account.relay_secret is None:
            return None
        expected = account.relay_secret.get_secret_value().lower().encode()
        return account if hmac.compare_digest(secret.lower().encode(), expected) else None

    async def relay(self, request: Request) -> Response:
        params = request.path_params
        account = self._relay_account(params["account"], params["secret"])
        kind = params["kind"].lower()
        if account is None or kind not in ("inbound", "delivery"):
            return JSONResponse({"error": "not found"}, 404)
        raw = await request.body()
        try:
            if len(raw) > MAX_BODY:
                raise BadBody(413, "the body is too large")
            items = relay_items(raw, request.headers.get("content-type", ""))
            if kind == "inbound":
                return await self._relay_inbound(account, items)
            return await self._relay_delivery(account, items)
        except BadBody as exc:
            return JSONResponse({"error": exc.reason}, exc.status)
        except ProviderProtocolError as exc:
            return JSONResponse({"error": exc.detail}, 422)

    async def _relay_inbound(self, account: AmootAccount, items: list[dict[str, Any]]) -> Response:
        messages: list[InboundSms] = [parse_inbound_item(account.name, i) for i in items]
        new = await self.bridge.ingest(account.name, messages, "relay")  # committed here
        return JSONResponse({"stored": len(new), "duplicates": len(messages) - len(new)})

    async def _relay_delivery(self, account: AmootAccount, items: list[dict[str, Any]]) -> Response:
        reports = [parse_delivery_item(account.name, i, account.delivery_codes) for i in items]
        updates = [(r.message_id, r.state.value, r.raw) for r in reports]
        changed = await self.sends.update_delivery(account.name, updates)
        if changed and self.on_delivery is not None:
            for send_id in await self.sends.sends_with_messages(
                account.name, [u[0] for u in updates]
            ):
                row = await self.sends.get(send_id)
                if row is not None:
                    await self.on_delivery(row)
        return JSONResponse({"updated": changed})

    # ------------------------------------------------------------------ health and metrics

    async def healthz(self, request: Request) -> Response:
        checks: dict[str, str] = {
            "database": "ok" if await self.db.writable() else "not writable",
            "outbox": "ok" if self.outbox.alive else "stopped",
            "telegram": "ok" if self.application.running else "not running",
        }
        for name, alive in self.bridge.pollers_alive.items():
            checks[f"poll:{name}"] = "ok" if alive else "stopped"
        healthy = all(v == "ok" for v in checks.values())
        body = {"status": "ok" if healthy else "degraded", "checks": checks}
        return JSONResponse(body, 200 if healthy else 503)

    async def prometheus(self, request: Request) -> Response:
        depth, oldest = await self.outbox_repo.depth()
        gauges = [
            ("smsbridge_outbox_depth", "Telegram messages waiting in the outbox.", float(depth)),
            ("smsbridge_outbox_oldest_age_seconds", "Age of the oldest waiting message.",
             0.0 if oldest is None else max(0.0, time.time() - oldest)),
        ]  # fmt: skip
        return PlainTextResponse(
            self.metrics.render(gauges), media_type="text/plain; version=0.0.4"
        )


class _Server(uvicorn.Server):
    # `smsbridge run` owns SIGINT/SIGTERM and stops the whole bridge in order.
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: Starlette, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``app`` in this event loop until the block ends; yields the base URL it listens on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # answers are not held back
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2)  # fmt: skip
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the HTTP server stopped before it started")
            await asyncio.sleep(0.01)
        bound = sock.getsockname()[1]
        yield f"http://{'[' + host + ']' if family == socket.AF_INET6 else host}:{bound}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()
