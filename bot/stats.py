"""/stats as a picture: SMS per day — sent, delivered, not delivered or unknown, inbound, and the
cost where providers gave one — one PNG readable on a phone (large type, four colours, a legend).

In a Persian chat every label is Persian, digits Persian, dates Jalali. matplotlib (3.11 and
later) shapes text itself: Persian is joined and laid out right to left as it is given, so labels
go in as they are written — a reshaper and a bidi pass on top would reverse them again (measured:
they did). DejaVu Sans, which matplotlib ships, has every Persian letter. matplotlib is imported
only here, only when asked.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path

import jdatetime

from storage.stats import Day

from . import render

FONT = "DejaVu Sans"
SIZE = (12, 7)  # inches, at DPI: 1200 × 700 pixels
DPI = 100
COLOURS = {"sent": "#4C72B0", "delivered": "#55A868", "failed": "#C44E52", "inbound": "#8172B2"}


def font_path() -> Path:
    from matplotlib import font_manager

    return Path(font_manager.findfont(FONT, fallback_to_default=False))


def _day_label(lang: str, day: date) -> str:
    if lang == "fa":
        return render.digits(lang, jdatetime.date.fromgregorian(date=day).strftime("%m/%d"))
    return day.strftime("%m-%d")


def labels(lang: str, title: str) -> list[str]:
    """Every text the chart draws except the tick numbers (for tests: the glyphs it needs)."""
    names = [render.t(lang, f"stats.{k}") for k in (*COLOURS, "cost")]
    return [title, *names]


def chart(lang: str, days: Mapping[str, Day], first: date, count: int, title: str) -> bytes:
    """The PNG of ``count`` days from ``first`` (Tehran dates)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    dates = [first + timedelta(days=n) for n in range(count)]
    series = {
        "sent": [days.get(d.isoformat(), Day()).sent for d in dates],
        "delivered": [days.get(d.isoformat(), Day()).delivered for d in dates],
        "failed": [
            days.get(d.isoformat(), Day()).failed + days.get(d.isoformat(), Day()).unknown
            for d in dates
        ],
        "inbound": [days.get(d.isoformat(), Day()).inbound for d in dates],
    }
    costs = [days.get(d.isoformat(), Day()).cost for d in dates]
    figure = Figure(figsize=SIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.8 / len(series)
    for index, (key, values) in enumerate(series.items()):
        offsets = [n - 0.4 + width * (index + 0.5) for n in range(count)]
        axes.bar(
            offsets,
            values,
            width,
            color=COLOURS[key],
            label=render.t(lang, f"stats.{key}"),
        )
    every = max(1, count // 10)  # at most about ten dates under the axis
    axes.set_xticks(range(0, count, every))
    axes.set_xticklabels([_day_label(lang, dates[n]) for n in range(0, count, every)])
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: render.number(lang, v)))
    axes.set_title(title, fontsize=20, family=FONT)
    axes.grid(axis="y", alpha=0.3)
    handles, names = axes.get_legend_handles_labels()
    if any(costs):
        twin = axes.twinx()
        (line,) = twin.plot(
            range(count),
            costs,
            color="#333333",
            marker="o",
            linewidth=2,
            label=render.t(lang, "stats.cost"),
        )
        twin.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: render.number(lang, v)))
        twin.tick_params(labelsize=14)
        handles.append(line)
        names.append(line.get_label())
    axes.legend(handles, names, fontsize=14, loc="upper left", prop={"family": FONT, "size": 14})
    axes.tick_params(labelsize=14)
    for text in (*axes.get_xticklabels(), *axes.get_yticklabels()):
        text.set_fontfamily(FONT)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def totals(days: Sequence[Day]) -> Day:
    total = Day()
    for d in days:
        total.sent += d.sent
        total.delivered += d.delivered
        total.failed += d.failed
        total.unknown += d.unknown
        total.inbound += d.inbound
        total.cost += d.cost
    return total
