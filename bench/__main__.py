"""``python -m bench``: every figure, then ``bench/RESULTS.md``."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from .bulk import bulk
from .burst import burst
from .file_send import file_send
from .footprint import footprint
from .million import million
from .relay import relay_intake, sms_to_chat_latency
from .replicas import failover, postgres_intake
from .results import Row, table

FIGURES: list[Callable[[Path], Awaitable[list[Row]]]] = [
    relay_intake,
    sms_to_chat_latency,
    burst,
    bulk,
    file_send,
    footprint,
    million,
    postgres_intake,
    failover,
]


async def main(only: set[str]) -> list[Row]:
    rows: list[Row] = []
    for figure in FIGURES:
        if only and figure.__name__ not in only:
            continue
        print(f"… {figure.__name__}", flush=True)
        with tempfile.TemporaryDirectory(prefix="smsbridge-bench-") as tmp:
            for row in await figure(Path(tmp)):
                print(
                    f"  {row.figure}: {row.measured} vs {row.ceiling} → {row.ratio:.2f} "
                    f"(target {row.target}) {'ok' if row.met else 'MISSED'}",
                    flush=True,
                )
                if row.note:
                    print(f"    {row.note}", flush=True)
                rows.append(row)
    return rows


if __name__ == "__main__":
    started = time.perf_counter()
    only = set(sys.argv[1:])
    rows = asyncio.run(main(only))
    if not only:
        out = Path(__file__).with_name("RESULTS.md")
        out.write_text(table(rows, time.perf_counter() - started), encoding="utf-8")
        print(f"wrote {out}")
