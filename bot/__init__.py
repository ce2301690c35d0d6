"""The Telegram bot: the bridge's process, its commands, its HTTP endpoints and its workers."""

import sys

# httpx imports its command-line tool with itself (click, and pygments where it is installed),
# only to offer ``httpx.main``, which the bridge never calls: ~25 ms and up to 4 MB of every
# start (bench/README.md). A module set to None in sys.modules is one that cannot be imported,
# and httpx leaves its tool out when it cannot be.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
