"""One row per figure, and the RESULTS.md table they make."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Row:
    figure: str
    ceiling: str
    measured: str
    ratio: float
    target: str
    met: bool
    note: str = ""


def table(rows: Sequence[Row], seconds: float) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
        f"in {seconds:.0f} s. Every ratio compares two figures measured in the same run; the",
        "machines are shared and noisy, so absolute times vary between runs.",
        "",
        "| figure | ceiling | measured | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.figure} | {r.ceiling} | {r.measured} | {r.ratio:.2f} | {r.target} | "
            f"{'yes' if r.met else '**no**'} |"
        )
    notes = [f"- **{r.figure}**: {r.note}" for r in rows if r.note]
    if notes:
        lines += ["", "## Notes", "", *notes]
    missed = [
        text
        for prefixes, text in ANALYSIS.items()
        if any(r.figure.startswith(prefixes) and not r.met for r in rows)
    ]
    if missed:
        lines += ["", "## Where a target is missed", "", "\n\n".join(missed)]
    return "\n".join(lines) + "\n"


# What profiling found behind each figure (bench/README.md has the commands and more), what was
# changed in the product, and what is left. Shown for the figures this run missed.
ANALYSIS: dict[tuple[str, ...], str] = {
    ("Relay intake (", "Relay p99"): """\
**Relay intake.** The figure's note gives the stages of a relay's answer, measured in this run with
the later ones switched off. A fixed answer runs at the bare endpoint's rate, and decoding and
validating the SMS costs 10–20 % more. Storing and committing is what remains.

Fixed earlier:
- the socket's `TCP_NODELAY` (an answer waited 40 ms for a delayed ACK);
- a group commit with multi-row statements shared by concurrent requests;
- one index seek per chat for the outbox's heads;
- a 0.5 ms switch interval for the SQLite thread.

Fixed for issue 16:
- relay POSTs skip Starlette's middleware and router, which cost as much as the handler;
- `gc.freeze()` after the start: a full collection was a ≈ 0.1 s pause inside the p99;
- reads take one trip to the SQLite thread instead of two;
- an account's name, opt-out keywords and counter are looked up once;
- the answer's JSON is written directly.

Measured, and no gain, so left out:
- the whole batch in one trip to the SQLite thread;
- a second, read-only connection for reads;
- multi-row INSERTs for the index and outbox rows;
- no outbox wake-up;
- uvloop;
- other switch intervals.

A batch with only its INSERT (no FTS, outbox or event rows) reaches ≈ 0.47 against ≈ 0.42 for
the whole batch. `synchronous=NORMAL`, which the durability promise forbids, gains ≈ 8 %. The cost
is committing from the event loop: the hand-offs to the SQLite thread and back, and each request
waiting for a commit cycle. At 16 connections a request still waits ≈ 12 ms. Closing the gap
would take a writer outside the event loop's process. The p99 is the commit cycle a request waits
behind at 64 in flight.""",
    ("Bulk",): """\
**Bulk send.** The request count is the minimum for every provider: 100 × 100 under AmootSMS's
cap, one contact-group call for sms.ir, 40 × 250 for PayamSMS. The ceiling replays the very same
bodies with a bare client that only encodes them and decodes the answers. The client also builds
each recipient's item (PayamSMS: its own `customerId`), validates every answer item, and matches
it to its recipient by number or `customerId`, never by position.

Half of the client's extra time was the garbage collector walking the simulator's and the start's
objects. The bridge freezes what starting made, and so now does this figure
(`stage.started_like_the_bridge`). Also reduced: key folding and text validators without a call
per scalar; the status pattern compiled once; 0-prefixed numbers on the fast path. What is left
is the per-recipient bookkeeping that makes a partly failed batch report exactly which numbers
failed. sms.ir's figure is one request of a few tens of milliseconds: its ratio is mostly noise.""",
    ("Burst",): """\
**Burst.** The clock starts at the first relay POST, as the load generator reports it. The floor
is the fewest messages that can hold the SMS, at the group's rate. A 429 here used to come from
the pacer counting a call from when it started, while Telegram counts from when it arrives: a
first message held up by the busy loop arrived late, and the call after a full window went early.
The pacer now stamps each call again when it ends.""",
    ("Start",): """\
**Start.** The figure's note gives, in this run, the part of the time to ready that is starting
Python and importing what the bridge runs on (0.64–0.65 s in the runs for issue 16). Measured
apart: python-telegram-bot ≈ 0.25 s and pydantic ≈ 0.15 s of it, then httpx, uvicorn and the
three provider modules. The rest is the first HTTP client, the database and Telegram's `getMe`.

Fixed:
- every HTTP client shares one TLS context: each had read the CA bundle, ≈ 60 ms and 1.3 MB, five
  times;
- provider answer models build their validators when first used;
- `importlib.metadata` is loaded only for `--version`.

On the quieter machine that filed issue 16 the same start took 0.85 s before these changes. This
run's bare relay endpoint, a measure of the machine, is in the relay figure.""",
    ("Idle RSS",): """\
**Idle RSS.** The figure's note splits it, in this run, into what importing the code the bridge
runs on takes and what the running bridge adds. Most of it is the imports: code objects and
classes of the libraries (measured apart: asyncio and ssl ≈ 9 MB, python-telegram-bot ≈ 14 MB,
pydantic ≈ 7 MB, uvicorn and Starlette ≈ 3 MB, the three provider modules ≈ 4 MB). Sharing one
TLS context saved ≈ 5 MB; a provider's module is now loaded only when an account uses it, which
this three-account figure cannot show. Returning freed heap to the system (`malloc_trim`) gained
nothing.""",
    ("Relay intake with 1M", "/inbox with", "/report with", "/search"): """\
**The database after a year.** These ratios compare two short runs in the same process, one on
an empty file and one on a file with 1M SMS (396 MB). During issue 16 they moved run to run, for
the same code: 0.95–1.66 for relay intake. The commit before issue 16, measured in the same hour,
gave 1.40. The absolute rates rose on both files: 2,400–2,800/s with 1M stored, against
1,300/s for that commit. A faster empty run leaves more of the ratio to the page reads of a file
larger than the cache.""",
}
