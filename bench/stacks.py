"""``python -m bench.stacks FILE [--under NAME] [--top N]``: where a py-spy profile spent its time.

Reads py-spy's ``--format raw`` output (one line per distinct stack: ``frame;frame;… count``)
and prints, for the samples whose stack passes through a frame named like ``NAME`` (all when
not given), each function's share inclusive of what it called and its own share — the table a
flame graph shows, readable on a machine with no screen (bench/README.md).
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path


def function(frame: str) -> str:
    """``Web.relay (bot/web.py:188)`` → ``Web.relay (web.py)``: one row per function."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    return f"{name} ({path.rsplit('/', 1)[-1]})" if path else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--under", default="", help="only stacks through a frame with this name")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in args.file.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [function(f) for f in stack.split(";")]
        if args.under and not any(args.under in f for f in frames):
            continue
        total += int(count)
        for name in set(frames):
            inclusive[name] += int(count)
        own[frames[-1]] += int(count)
    print(f"{total} samples" + (f" through {args.under!r}" if args.under else ""))
    for title, table in (("inclusive", inclusive), ("own", own)):
        print(f"--- {title}")
        for name, count in table.most_common(args.top):
            print(f"{100 * count / max(total, 1):5.1f} %  {name}")


if __name__ == "__main__":
    main()
