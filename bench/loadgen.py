"""A load generator in a process of its own: ``python -m bench.loadgen URL N C FIRST_ID``.

POSTs N relay bodies over C concurrent keep-alive connections and prints one JSON line:
requests, 2xx answers, seconds, latency percentiles in milliseconds, and ``started`` (the
``time.perf_counter()`` of its first request: on Linux a clock every process shares). It speaks
HTTP/1.1 on raw asyncio streams: a pooled client library spends more time managing 64
connections than the server spends answering them, and would measure itself. It imports nothing
but the standard library, so it starts in a few tens of milliseconds (a burst's clock runs
from its first request, not from the spawn)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from urllib.parse import urlsplit


def relay_body(n: int, line: str = "L0", text: str | None = None) -> dict[str, object]:
    return {
        "MessageID": 10_000_000 + n,
        "Mobile": f"0912{n % 10_000_000:07d}",
        "MessageText": text or f"bench sms {n}",
        "LineNumber": line,
    }


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def _connection(
    host: str, port: int, path: str, numbers: list[int], latencies: list[float], statuses: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for n in numbers:
            body = json.dumps(relay_body(n)).encode()
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            started = time.perf_counter()
            writer.write(head.encode() + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses.append(int(status_line.split()[1]))
    finally:
        writer.close()


CONNECTIONS = 64


async def load(
    url: str, total: int, first: int, connections: int = CONNECTIONS
) -> dict[str, float]:
    """Run the load generator in a process of its own; its JSON answer."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.loadgen",
        url,
        str(total),
        str(connections),
        str(first),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    return dict(json.loads(out))


async def main(url: str, total: int, concurrency: int, first: int) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    numbers = list(range(first, first + total))
    latencies: list[float] = []
    statuses: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(
            _connection(host, port, parts.path, numbers[k::concurrency], latencies, statuses)
            for k in range(concurrency)
        )
    )
    seconds = time.perf_counter() - started
    ok = sum(1 for s in statuses if 200 <= s < 300)
    return {
        "requests": total,
        "started": started,
        "ok": ok,
        "seconds": seconds,
        "rps": ok / seconds,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


if __name__ == "__main__":
    url, total, concurrency, first = sys.argv[1], *map(int, sys.argv[2:5])
    print(json.dumps(asyncio.run(main(url, total, concurrency, first))))
