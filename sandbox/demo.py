"""`smsbridge demo`: the Bot API stand-in, the AmootSMS simulator and the bridge, with a terminal chat.

Type a line to send it to the bot as the admin. ``!sms <number> <text>`` injects an inbound SMS,
``!press <n>`` presses button n (1-based) of the bot's last message with buttons, ``!reply <text>``
replies to the last forwarded SMS, ``!quit`` (or end of input) exits. The bot's messages print as
they arrive. Works with piped input: each line waits until the bot has answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from ._serve import serve
from .amootsms import DEFAULT_TOKEN, AmootSim
from .telegram import Event, TelegramSim

ADMIN = 100
BridgeStarter = Callable[[Path], contextlib.AbstractAsyncContextManager[Any]]
CONFIG = """
[telegram]
token = "{token}"
base_url = "{tg}/bot"
language = "{lang}"

[storage]
path = "demo.db"

[logging]
level = "WARNING"

[access]
admins = [{admin}]

[[accounts]]
name = "amoot"
provider = "amootsms"
base_url = "{amoot}"
token = "{amoot_token}"
lines = ["public", "10001234"]
poll_interval = 1
delivery_codes = {{ 0 = "queued", 35 = "sent", 1 = "delivered", 2 = "failed" }}

[[routes]]
account = "amoot"
chat_id = {admin}
"""


def _show(event: Event, buttons_index: dict[str, Any]) -> str:
    message = event.message
    label = "bot" if event.kind == "send" else "bot (edited)"
    lines = [f"{label} ▸ " + message.get("text", "").replace("\n", "\n      ")]
    buttons = [b for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]
    if buttons:
        buttons_index["last"] = message
        lines.append("      " + "  ".join(f"[{i}] {b['text']}" for i, b in enumerate(buttons, 1)))
    return "\n".join(lines)


class Terminal:
    def __init__(self, tg: TelegramSim, amoot: AmootSim) -> None:
        self.tg, self.amoot = tg, amoot
        self.seen = 0
        self.state: dict[str, Any] = {}

    def flush(self) -> int:
        """Print the bot's new messages and edits; returns how many there were."""
        new = self.tg.events[self.seen :]
        for event in new:
            if event.message["chat"]["id"] == ADMIN:
                if "📩" in event.message.get("text", ""):
                    self.state["sms"] = event.message
                print(_show(event, self.state), flush=True)
        self.seen += len(new)
        return len(new)

    async def settle(self, first_within: float, quiet: float = 0.6) -> None:
        """Wait for the bot to answer (up to ``first_within`` s), then until it is quiet."""
        deadline = asyncio.get_running_loop().time() + first_within
        got = 0
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
            got += self.flush()
            if got:
                break
        idle = 0.0
        while idle < quiet:
            await asyncio.sleep(0.1)
            idle = 0.0 if self.flush() else idle + 0.1

    async def handle(self, line: str) -> bool:
        line = line.strip()
        if not line:
            return True
        if line in ("!quit", "!exit"):
            return False
        if line.startswith("!sms "):
            match = re.match(r"!sms\s+(?:(\w+):)?(\S+)\s+(.+)", line)
            if not match:
                print("usage: !sms [account:]<number> <text>")
                return True
            try:
                self.amoot.inject_inbound(match.group(2), match.group(3), line="10001234")
            except ValueError as exc:
                print(f"!sms: {exc}")
                return True
            print(f"(a customer at {match.group(2)} sends an SMS to line 10001234)")
            await self.settle(5.0)
        elif line.startswith("!press"):
            message = self.state.get("last")
            parts = line.split()
            if message is None or len(parts) != 2 or not parts[1].isdigit():
                print("usage: !press <n> — after a message with buttons")
                return True
            await self.tg.press(ADMIN, ADMIN, message["message_id"], int(parts[1]) - 1)
            await self.settle(5.0, quiet=1.0)
        elif line.startswith("!reply "):
            sms = self.state.get("sms")
            if sms is None:
                print("!reply: no forwarded SMS yet; try !sms 09121234567 hello")
                return True
            await self.tg.send(ADMIN, ADMIN, line[len("!reply ") :], reply_to=sms["message_id"])
            await self.settle(5.0)
        else:
            await self.tg.send(ADMIN, ADMIN, line)
            await self.settle(5.0)
        return True


async def _lines() -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        yield line


async def run(start_bridge: BridgeStarter, lang: str = "en") -> None:
    tg, amoot = TelegramSim(), AmootSim()
    tg.user(ADMIN, "Admin")
    tg.private_chat(ADMIN)
    with tempfile.TemporaryDirectory(prefix="smsbridge-demo-") as tmp:
        async with serve(tg.app) as tg_url, serve(amoot.app) as amoot_url:
            path = Path(tmp) / "config.toml"
            path.write_text(
                CONFIG.format(token=tg.token, tg=tg_url, amoot=amoot_url, admin=ADMIN,
                              amoot_token=DEFAULT_TOKEN, lang=lang),
                encoding="utf-8",
            )  # fmt: skip
            async with start_bridge(path):
                terminal = Terminal(tg, amoot)
                print(__doc__.split("\n\n", 1)[1].strip() if __doc__ else "", flush=True)
                print("Try: /balance · /send 09121234567 hello · !press 1 · !sms 09125550000 hi "
                      "· !reply thanks\n", flush=True)  # fmt: skip
                interactive = sys.stdin.isatty()
                if interactive:
                    print("you ▸ ", end="", flush=True)
                async for line in _lines():
                    if not interactive and line.strip():
                        print(f"you ▸ {line.strip()}", flush=True)
                    if not await terminal.handle(line):
                        break
                    if interactive:
                        print("you ▸ ", end="", flush=True)
                terminal.flush()
    print("demo finished", flush=True)


def main(start_bridge: BridgeStarter) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(start_bridge))
    return 0
