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
        lines.append(f"| {r.figure} | {r.ceiling} | {r.measured} | {r.ratio:.2f} | {r.target} | "
                     f"{'yes' if r.met else '**no**'} |")  # fmt: skip
    notes = [f"- **{r.figure}**: {r.note}" for r in rows if r.note]
    if notes:
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"
