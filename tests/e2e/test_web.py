"""The HTTP server of docs/spec.md §7 over real loopback HTTP: relays, health, metrics, the Telegram webhook."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from bot.app import running
from bot.config import load_config
from bot.web import BadBody, relay_items
from providers.amootsms import parse_inbound_item
from providers.base import ProviderProtocolError
from tests.conftest import ADMIN, GROUP, RELAY_SECRET, World, eventually, free_port, scrape, world

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"

ITEM = {
    "MessageID": 5550001,
    "Mobile": "09125556666",
    "MessageText": "from a relay",
    "ReceiveDateTime": "2026-11-22T10:00:00",
    "LineNumber": "10001234",
}


def relay_url(
    w: World, kind: str = "inbound", secret: str = RELAY_SECRET, account: str = "amoot"
) -> str:
    assert w.bridge is not None
    return f"{w.bridge.web_url}/relay/{account}/{secret}/{kind}"


async def stored(w: World) -> list[str]:
    assert w.bridge is not None
    rows = await w.bridge.db.fetchall("SELECT provider_id FROM inbound ORDER BY id")
    return [r[0] for r in rows]


async def test_a_relayed_sms_is_committed_before_the_2xx_and_forwarded_once(w: World) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(relay_url(w, secret=RELAY_SECRET.upper()), json=ITEM)
        assert response.status_code == 200 and response.json()["stored"] == 1
        assert await stored(w) == ["5550001"]  # already in SQLite when the 200 left
        again = await http.post(relay_url(w), json=[ITEM])
        assert again.status_code == 200 and again.json() == {"stored": 0, "duplicates": 1}
    forwarded = await w.tg.wait_text(GROUP, "from a relay")
    assert "10001234" in forwarded["text"]
    await w.tg.wait_text(ADMIN, "from a relay")  # the line's own route
    group = [m for m in w.tg.bot_messages(GROUP) if "from a relay" in m["text"]]
    assert len(group) == 1


async def test_form_bodies_and_any_key_case_are_accepted(w: World) -> None:
    form = {k.upper(): str(v) for k, v in ITEM.items()} | {"MESSAGEID": "5550002"}
    async with httpx.AsyncClient() as http:
        response = await http.post(relay_url(w), data=form)
    assert response.status_code == 200
    assert await stored(w) == ["5550002"]


async def test_wrong_secret_unknown_account_and_non_pushing_account_are_404(w: World) -> None:
    async with httpx.AsyncClient() as http:
        for url in (
            relay_url(w, secret="wrong" + RELAY_SECRET),
            relay_url(w, account="nobody"),
            relay_url(w, account="payam"),
            relay_url(w, kind="other"),
        ):
            response = await http.post(url, json=ITEM)
            assert response.status_code == 404
    assert await stored(w) == []


async def test_bad_bodies_are_4xx_and_an_array_is_stored_all_or_nothing(w: World) -> None:
    async with httpx.AsyncClient() as http:
        assert (await http.post(relay_url(w), content=b"{not json")).status_code == 400
        assert (await http.post(relay_url(w), content=b"\xff\xfe")).status_code == 400
        assert (await http.post(relay_url(w), json=[1, 2])).status_code == 422
        no_sender = {"MessageID": 9, "MessageText": "x"}
        response = await http.post(relay_url(w), json=[ITEM, no_sender])
        assert response.status_code == 422
    assert await stored(w) == []


async def test_a_relayed_delivery_report_updates_the_send_and_its_message(w: World) -> None:
    await w.tg.send(ADMIN, ADMIN, "/send 09121234567 hi")
    preview = await w.tg.wait_text(ADMIN, "Send preview")
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await w.tg.wait_text(ADMIN, "message id")
    message_id = w.amoot.outgoing[0].message_id
    async with httpx.AsyncClient() as http:
        report = {"MessageID": message_id, "DeliveryType": 1, "Mobile": "09121234567"}
        response = await http.post(relay_url(w, "delivery"), json=report)
    assert response.status_code == 200 and response.json()["updated"] == 1
    await w.tg.wait_for(lambda e: "— delivered" in e.message.get("text", ""))


async def test_healthz_and_metrics(w: World) -> None:
    assert w.bridge is not None
    async with httpx.AsyncClient() as http:
        await http.post(relay_url(w), json=ITEM)
        health = await http.get(f"{w.bridge.web_url}/healthz")
        assert health.status_code == 200
        body = health.json()
        workers = [
            "outbox",
            "credit",
            "delivery",
            "unknown-sends",
            "retention",
            *(f"{kind}:{a}" for a in ("amoot", "smsir", "payam") for kind in ("poll", "reconcile")),
        ]
        assert body["checks"] == {"database": "ok", "telegram": "ok"} | dict.fromkeys(
            ["outbox", *workers], "ok"
        )
        assert set(body["last_success"]) == set(workers)
        await w.tg.send(ADMIN, ADMIN, "/balance")
        await w.tg.wait_text(ADMIN, "payam")
        text = (await http.get(f"{w.bridge.web_url}/metrics")).text
    # the names of the contract (docs/spec.md §7), written by prometheus_client
    assert 'smsbridge_inbound_sms_total{account="amoot",source="relay"} 1.0' in text
    assert "smsbridge_outbox_depth " in text and "smsbridge_outbox_oldest_age_seconds" in text
    assert 'smsbridge_provider_request_seconds_bucket{account="payam"' in text
    assert "smsbridge_telegram_429_total" in text
    assert "process_resident_memory_bytes" in text and "python_info" in text
    # and what operators alert on (deploy/prometheus/alerts.yml)
    samples = await eventually(lambda: _with_credit(w), what="the credit watch's first reading")
    assert samples[("smsbridge_credit", (("account", "amoot"),))] == w.amoot.credit
    assert samples[("smsbridge_credit_alert_threshold", (("account", "amoot"),))] == 100_000
    assert samples[("smsbridge_account_expiry_timestamp_seconds", (("account", "smsir"),))] > 0
    for account in ("smsir", "payam"):  # the accounts that log in
        expiry = samples[("smsbridge_token_expiry_timestamp_seconds", (("account", account),))]
        assert time.time() < expiry < time.time() + 2 * 3600
    running_workers = ["outbox", "credit", "poll:amoot", "poll:payam", "reconcile:amoot"]
    for worker in running_workers:
        last_ok = samples[
            ("smsbridge_worker_last_success_timestamp_seconds", (("worker", worker),))
        ]
        assert time.time() - 60 < last_ok <= time.time()
        assert samples[("smsbridge_worker_interval_seconds", (("worker", worker),))] > 0
    ended = ("smsbridge_worker_interval_seconds", (("worker", "poll:smsir"),))
    assert ended not in samples  # sms.ir receives nothing: its poller ended, nothing to alert on
    assert samples[("smsbridge_unknown_sends", ())] == 0
    families = {f.name for f in text_string_to_metric_families(text)}
    for name in set(re.findall(r"smsbridge_\w+", ALERTS.read_text(encoding="utf-8"))):
        family = re.sub(r"_(total|count|sum|bucket)$", "", name)
        assert family in families, f"alerts.yml names {name}, which /metrics does not expose"
    assert samples[("smsbridge_outbox_dead", ())] == 0
    w.bridge.outbox.alive = False  # as if the outbox task had died
    async with httpx.AsyncClient() as http:
        health = await http.get(f"{w.bridge.web_url}/healthz")
    assert health.status_code == 503 and health.json()["checks"]["outbox"] == "stopped"


async def _with_credit(w: World) -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
    samples = await scrape(w)
    return samples if ("smsbridge_credit", (("account", "payam"),)) in samples else None


async def test_webhook_mode_takes_updates_only_with_the_secret(tmp_path: Path) -> None:
    async with world(tmp_path, start_bridge=False) as w:
        port = free_port()
        text = w.config_path.read_text(encoding="utf-8")
        text = text.replace(
            'language = "en"',
            'language = "en"\nmode = "webhook"\n'
            f'webhook_url = "http://127.0.0.1:{port}/telegram"\n'
            'webhook_secret = "hook-secret-123"',
        )
        w.config_path.write_text(text.replace("port = 0", f"port = {port}"), encoding="utf-8")
        async with running(load_config(w.config_path)) as bridge:
            assert w.tg.webhook["url"] == f"http://127.0.0.1:{port}/telegram"
            await w.tg.send(ADMIN, ADMIN, "/start")
            await w.tg.wait_text(ADMIN, "Your role: admin")
            async with httpx.AsyncClient() as http:
                update = {
                    "update_id": 999,
                    "message": {
                        "message_id": 1,
                        "date": 0,
                        "chat": {"id": ADMIN, "type": "private"},
                        "text": "/start",
                    },
                }
                forged = await http.post(f"{bridge.web_url}/telegram", json=update)
                wrong = await http.post(
                    f"{bridge.web_url}/telegram",
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": "nope"},
                )
            assert forged.status_code == 403 and wrong.status_code == 403


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=12), inner, max_size=6)
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
    ),
    st.sampled_from(["application/json", "application/x-www-form-urlencoded", ""]),
)
def test_any_relay_body_is_a_4xx_or_whole_items_never_a_crash(body: bytes, ctype: str) -> None:
    """What the relay endpoint does before it stores: only BadBody or ProviderProtocolError
    (4xx) may come out, and every item that passes has an id, a sender and a text."""
    try:
        items = relay_items(body, ctype)
        parsed = [parse_inbound_item("amoot", i) for i in items]
    except (BadBody, ProviderProtocolError):
        return
    assert parsed and all(p.provider_id and p.sender and p.text is not None for p in parsed)


async def test_concurrent_relays_share_commits(w: World) -> None:
    assert w.bridge is not None
    before = w.bridge.db.commits

    async def post(http: httpx.AsyncClient, n: int) -> int:
        body = ITEM | {"MessageID": 6_000_000 + n, "MessageText": f"burst {n}"}
        return (await http.post(relay_url(w), json=body)).status_code

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64)) as http:
        statuses = await asyncio.gather(*(post(http, n) for n in range(64)))
    assert statuses == [200] * 64
    assert len(await stored(w)) == 64
    inbound_commits = w.bridge.db.commits - before
    assert inbound_commits < 64  # one fsync served many relay requests


async def test_a_relay_the_database_cannot_take_is_a_5xx_and_stored_when_sent_again(
    w: World,
) -> None:
    """A provider that hears a 5xx sends the SMS again: with the database locked past the busy
    timeout (by a connection of its own, as another process would hold it), the relay is answered
    500 with nothing stored, and the same SMS sent again once the lock is gone is stored, and
    reaches the group, once."""
    assert w.bridge is not None
    locker = sqlite3.connect(w.bridge.db.path, timeout=0)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            refused = await http.post(relay_url(w), json=ITEM)
    finally:
        locker.rollback()
        locker.close()
    assert refused.status_code == 500
    assert await stored(w) == []
    async with httpx.AsyncClient() as http:
        again = await http.post(relay_url(w), json=ITEM)
    assert again.status_code == 200 and again.json() == {"stored": 1, "duplicates": 0}
    assert await stored(w) == ["5550001"]
    await w.tg.wait_text(GROUP, "from a relay")
    await asyncio.sleep(0.5)  # a second forward, had the refused relay left one queued
    assert len([m for m in w.tg.bot_messages(GROUP) if "from a relay" in m["text"]]) == 1
