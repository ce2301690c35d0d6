"""The bridge's one HTTP app (docs/spec.md §7): Telegram webhook, provider relays, /healthz, /metrics.

Each endpoint verifies, parses, stores and only then answers: a relay gets its 2xx after the SMS
are committed, so a provider that sees a 2xx may forget the message.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from telegram import Update
from telegram.ext import Application

from providers.base import InboundSms, ProviderProtocolError, SmsProvider
from storage.db import Database
from storage.events import EventsRepo
from storage.outbox import OutboxRepo
from storage.sends import SendsRepo

from .bridge import Bridge
from .config import AmootAccount, Config
from .metrics import CONTENT_TYPE, Metrics, State
from .outbox import Outbox
from .workers import Workers

log = logging.getLogger("smsbridge.web")
MAX_BODY = 1 << 20  # a body larger than 1 MiB is not an SMS, nor a Telegram update
MAX_CONNECTIONS = 512  # beyond this many open connections, new requests get 503
HEALTH_EVERY = 5.0  # seconds between real database checks behind /healthz
RELAY_ROUTE = "/relay/{account}/{secret}/{kind}"
# RELAY_ROUTE, matched by hand (a Starlette path parameter is [^/]+ too)
_RELAY_PATH = re.compile(r"/relay/(?P<account>[^/]+)/(?P<secret>[^/]+)/(?P<kind>[^/]+)")


class BadBody(Exception):
    def __init__(self, status: int, reason: str) -> None:
        self.status, self.reason = status, reason

    def response(self) -> Response:
        """The 4xx; after a body left unread (413) the connection is closed, not kept."""
        headers = {"connection": "close"} if self.status == 413 else None
        return JSONResponse({"error": self.reason}, self.status, headers=headers)


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, read no further than ``limit`` bytes (413 past it, before reading the rest)."""
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > limit:
        raise BadBody(413, "the body is too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadBody(413, "the body is too large")
        chunks.append(chunk)
    return b"".join(chunks)


def decode_json(text: str) -> Any:
    """JSON, or 400: undecodable, or nested deeper than Python can follow."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadBody(400, "the body is not valid JSON") from exc


def relay_items(raw: bytes, content_type: str) -> list[dict[str, Any]]:
    """A relay body as items with lower-cased keys: a JSON object, a JSON array of objects, or a
    form. Only the items' own keys are read (their fields are flat)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadBody(400, "the body is not UTF-8") from exc
    stripped = text.strip()
    if "json" in content_type or stripped[:1] in ("{", "["):
        body = decode_json(stripped)
        items = body if isinstance(body, list) else [body]
        if not items or not all(isinstance(i, dict) for i in items):
            raise BadBody(422, "expected a JSON object or an array of objects")
        return [{str(k).lower(): v for k, v in i.items()} for i in items]
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
    providers: Mapping[str, SmsProvider]
    on_delivery: Callable[[list[int]], None]
    workers: Workers
    events: EventsRepo | None = None  # set when webhooks are configured
    _db_checked: tuple[float, bool] = (0.0, False)

    def app(self) -> ASGIApp:
        """Starlette routes every endpoint, except a relay POST: the one request that comes in
        thousands (a provider flushing a backlog) goes straight to its handler. Starlette's
        middleware and routing cost about as much per request as the handler itself
        (bench/README.md); what they would add to a relay, a 500 for an exception, is kept."""
        routed = Starlette(
            routes=[
                Route("/telegram", self.telegram, methods=["POST"]),
                Route(RELAY_ROUTE, self.relay, methods=["POST"]),
                Route("/healthz", self.healthz, methods=["GET"]),
                Route("/metrics", self.prometheus, methods=["GET"]),
            ]
        )

        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            match = _RELAY_PATH.fullmatch(scope["path"]) if scope["type"] == "http" else None
            if match is None or scope["method"] != "POST":
                return await routed(scope, receive, send)
            scope["path_params"] = match.groupdict()
            try:
                response = await self.relay(Request(scope, receive))
            except Exception:
                log.exception("relay request failed")
                response = PlainTextResponse("Internal Server Error", 500)
            await response(scope, receive, send)

        return asgi

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
            data = decode_json((await read_body(request)).decode("utf-8", errors="replace"))
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise BadBody(400, "not a Telegram update")
            update = Update.de_json(data, self.application.bot)
        except BadBody as exc:
            return exc.response()
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
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
        try:
            raw = await read_body(request)
            items = relay_items(raw, request.headers.get("content-type", ""))
            if kind == "inbound":
                return await self._relay_inbound(account, items)
            return await self._relay_delivery(account, items)
        except BadBody as exc:
            return exc.response()
        except ProviderProtocolError as exc:
            return JSONResponse({"error": exc.detail}, 422)

    async def _relay_inbound(self, account: AmootAccount, items: list[dict[str, Any]]) -> Response:
        from providers.amootsms import parse_inbound_item  # loaded with an AmootSMS account

        messages: list[InboundSms] = [parse_inbound_item(account.name, i) for i in items]
        new = await self.bridge.ingest(account.name, messages, "relay")  # committed here
        # JSONResponse's bytes, spelled out: this answer is the hot path of a backlog's flush
        answer = f'{{"stored":{len(new)},"duplicates":{len(messages) - len(new)}}}'
        return Response(answer, media_type="application/json")

    async def _relay_delivery(self, account: AmootAccount, items: list[dict[str, Any]]) -> Response:
        from providers.amootsms import parse_delivery_item  # loaded with an AmootSMS account

        reports = [parse_delivery_item(account.name, i, account.delivery_codes) for i in items]
        updates = [(r.message_id, r.state.value, r.raw) for r in reports]
        changed = await self.sends.update_delivery(account.name, updates)  # edits queued with it
        if changed:
            self.on_delivery(changed)
        return JSONResponse({"updated": len(changed)})

    # ------------------------------------------------------------------ health and metrics

    async def healthz(self, request: Request) -> Response:
        """Database, Telegram and every worker by name, with each worker's last success. The
        database is written to at most every few seconds, whoever asks how often."""
        checked_at, writable = self._db_checked
        if time.monotonic() - checked_at >= HEALTH_EVERY:
            writable = await self.db.writable()
            self._db_checked = (time.monotonic(), writable)
        checks: dict[str, str] = {
            "database": "ok" if writable else "not writable",
            "telegram": "ok" if self.application.running else "not running",
        }
        checks |= self.workers.health()
        standing_by = self.workers.standing_by()
        if not self.outbox.alive and "outbox" not in standing_by:
            checks["outbox"] = "stopped"
        healthy = all(v == "ok" for v in checks.values())
        body: dict[str, object] = {
            "status": "ok" if healthy else "degraded",
            "checks": checks,
            "last_success": self.workers.last_success(),
        }
        if self.workers.leases.shared:  # which of the once-only jobs another replica runs now
            body |= {"replica": self.workers.leases.me, "standing_by": standing_by}
        return JSONResponse(body, 200 if healthy else 503)

    async def _webhook_backlogs(self) -> dict[str, int]:
        """Each webhook endpoint's events still to deliver."""
        if self.events is None:
            return {}
        return {c.url: await self.events.backlog(c.last_id) for c in await self.events.cursors()}

    async def prometheus(self, request: Request) -> Response:
        depth, oldest = await self.outbox_repo.depth()
        state = State(
            outbox_depth=depth,
            outbox_oldest=oldest,
            outbox_dead=await self.outbox_repo.dead(),
            unknown_sends=await self.sends.count_unknown(),
            workers=self.workers.times(),
            tokens={name: p.token_expiry() for name, p in self.providers.items()},
            webhooks=await self._webhook_backlogs(),
        )
        self.metrics.refresh(state, time.time())
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE)
