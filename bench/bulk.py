"""Figure 4: one text to 10,000 recipients on each provider's simulator.

Each provider runs in a process of its own (``python -m bench.bulk PROVIDER`` prints JSON), so
that its peak memory is its own. The ceiling is the simulator's own service time: the same
requests, built in advance, sent by a bare HTTP client to a fresh simulator."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from httpserve import serving as serve
from providers.amootsms import AmootSmsClient
from providers.base import OutgoingSms
from providers.payamsms import PayamSmsClient
from providers.smsir import SmsirClient
from sandbox.amootsms import DEFAULT_TOKEN, AmootSim
from sandbox.payamsms import DEFAULT_LOGIN, PayamSim
from sandbox.smsir import DEFAULT_API_KEY, DEFAULT_SECRET_KEY, SmsirSim

from .results import Row
from .stage import median, peak_rss_mb, started_like_the_bridge

RECIPIENTS = 10_000
NUMBERS = tuple(f"98912{n:07d}" for n in range(RECIPIENTS))
TEXT = "Our shop is open late tonight: 20% off everything until 22:00."
MINIMUM = {"amootsms": RECIPIENTS // 100, "smsir": 1, "payamsms": RECIPIENTS // 250}
SEND_METHODS = {
    "amootsms": "SendSimple",
    "smsir": "Message/Send",
    "payamsms": "sendMultipleWithSrc",
}


def _sim(provider: str) -> Any:
    if provider == "amootsms":
        return AmootSim(credit=10**12)
    if provider == "smsir":
        sim = SmsirSim(credit=10**9)
        for number in NUMBERS:
            sim.add_contact("0" + number[2:], group_id=1)
        return sim
    return PayamSim(credit=10**12)


async def _client_send(provider: str, url: str) -> tuple[float, Any]:
    if provider == "amootsms":
        client: Any = AmootSmsClient("a", url, DEFAULT_TOKEN)
        sms = OutgoingSms("public", NUMBERS, TEXT)
    elif provider == "smsir":
        client = SmsirClient("s", url + "/users/v1", DEFAULT_API_KEY, DEFAULT_SECRET_KEY)
        await client.balance()  # the token first, as in a running bridge
        sms = OutgoingSms("", ("group:1",), TEXT)
    else:
        client = PayamSmsClient("p", url, lines=("98200012345",), **DEFAULT_LOGIN)
        await client.balance()
        sms = OutgoingSms("98200012345", NUMBERS, TEXT, reference="bulk")
    started = time.perf_counter()
    result = await client.send(sms)
    seconds = time.perf_counter() - started
    await client.aclose()
    return seconds, result


async def _bare_send(provider: str, url: str, sent: list[Any]) -> float:
    """The same request bodies, one after another, from a bare client: the simulator's time plus
    the JSON encoding and decoding no client can skip."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        if provider == "amootsms":
            headers = {"Authorization": DEFAULT_TOKEN}
            bodies = [("/SendSimple", body) for body in sent]
        elif provider == "smsir":
            token = await http.post(
                "/users/v1/Token/GetToken",
                json={"UserApiKey": DEFAULT_API_KEY, "SecretKey": DEFAULT_SECRET_KEY},
            )
            headers = {"x-sms-ir-secure-token": token.json()["TokenKey"]}
            bodies = [("/users/v1/Message/Send", body) for body in sent]
        else:
            headers = await payam_headers(http)
            bodies = [("/panel/webservice/sendMultipleWithSrc", body) for body in sent]
        started = time.perf_counter()
        for path, body in bodies:  # encoding each body and decoding each answer: any client's
            response = await http.post(path, json=body, headers=headers)
            response.raise_for_status()
            response.json()
        return time.perf_counter() - started


async def payam_headers(http: httpx.AsyncClient) -> dict[str, str]:
    """A PayamSMS simulator's bearer token, logged in as the bridge does."""
    login = DEFAULT_LOGIN
    token = await http.post(
        "/auth/oauth/token",
        auth=(login["client_id"], login["client_secret"]),
        data={
            "systemName": login["system_name"],
            "username": login["username"],
            "password": login["password"],
            "scope": "webservice",
            "grant_type": "password",
        },
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


REPEATS = 5


async def run(provider: str) -> dict[str, Any]:
    """Client and bare replay alternately, each against a fresh simulator; medians."""
    client_times, bare_times = [], []
    for _ in range(REPEATS):
        sim = _sim(provider)
        async with serve(sim.app) as url:
            seconds, result = await _client_send(provider, url)
            sent = [call.body for call in sim.calls(SEND_METHODS[provider])]
        fresh = _sim(provider)
        async with serve(fresh.app) as url:
            bare_times.append(await _bare_send(provider, url, sent))
        client_times.append(seconds)
    ok = sum(1 for item in result.items if item.ok)
    return {
        "provider": provider,
        "requests": len(sent),
        "ok": ok,
        "seconds": median(client_times),
        "bare_seconds": median(bare_times),
        "peak_rss_mb": peak_rss_mb(),
    }


async def bulk(tmp: Path) -> list[Row]:
    rows = []
    for provider in ("amootsms", "smsir", "payamsms"):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.bulk", provider, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        r = json.loads(out)
        ratio = r["seconds"] / r["bare_seconds"]
        reached = RECIPIENTS if provider != "smsir" else r["ok"] and RECIPIENTS
        met = (
            r["requests"] == MINIMUM[provider]
            and ratio <= 1.3
            and r["peak_rss_mb"] <= 150
            and reached == RECIPIENTS
        )
        note = (
            f"{r['requests']} send requests (minimum {MINIMUM[provider]}), "
            f"{r['ok']} recipients accepted"
            + (" (one contact group of 10,000)" if provider == "smsir" else "")
            + f", peak RSS {r['peak_rss_mb']:.0f} MB (client and simulator in one process)"
        )
        rows.append(
            Row(
                f"Bulk send 10,000 — {provider}",
                f"{r['bare_seconds']:.2f} s simulator",
                f"{r['seconds']:.2f} s",
                ratio,
                "≤ 1.30, minimum requests, ≤ 150 MB",
                met,
                note,
            )
        )
    return rows


if __name__ == "__main__":
    started_like_the_bridge()
    print(json.dumps(asyncio.run(run(sys.argv[1]))))
