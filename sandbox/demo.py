"""`smsbridge demo`: the Bot API stand-in, the three provider simulators and the bridge, in a terminal.

Type a line to send it to the bot as the admin. ``!sms [account:]<number> <text>`` makes a
customer text one of the account's lines (accounts: amoot, payam; sms.ir White SMS has no inbound),
``!press <n>`` presses button n (1-based) of the bot's last message with buttons, ``!reply <text>``
replies to the last forwarded SMS, ``!file [path] [caption]`` sends the bot a CSV or XLSX list (no
path: a sample customer list with a few bad rows), ``!quit`` (or end of input) exits. The bot's messages print as
they arrive. Works with piped input: each line waits until the bot has answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from httpserve import serving_all

from . import files
from ._common import FaultySim
from .amootsms import AmootSim
from .configs import config
from .payamsms import PayamSim
from .smsir import SmsirSim
from .telegram import Event, TelegramSim

ADMIN = 100
BridgeStarter = Callable[[Path], contextlib.AbstractAsyncContextManager[Any]]
# sms.ir White SMS reaches only phonebook contacts: the demo's phonebook.
CONTACTS = ("09121234567", "09125550000", "09351112233")


@dataclass
class Sims:
    amoot: AmootSim
    smsir: SmsirSim
    payam: PayamSim

    def inject(self, account: str, number: str, text: str) -> str:
        """A customer texts the account; returns the line it went to."""
        sim: FaultySim | None = {"amoot": self.amoot, "smsir": self.smsir, "payam": self.payam}.get(
            account
        )
        line = sim.inbound_line() if sim is not None else None
        if sim is None or line is None:
            raise ValueError(f"account {account!r} cannot receive SMS here (try amoot or payam)")
        sim.inject_inbound(number, text, line)
        return line


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
    def __init__(self, tg: TelegramSim, sims: Sims) -> None:
        self.tg, self.sims = tg, sims
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
            account = match.group(1) or "amoot"
            try:
                line_no = self.sims.inject(account, match.group(2), match.group(3))
            except ValueError as exc:
                print(f"!sms: {exc}")
                return True
            print(f"(a customer at {match.group(2)} sends an SMS to {account} line {line_no})")
            await self.settle(5.0)
        elif line.startswith("!press"):
            message = self.state.get("last")
            parts = line.split()
            if message is None or len(parts) != 2 or not parts[1].isdigit():
                print("usage: !press <n> — after a message with buttons")
                return True
            try:
                await self.tg.press(ADMIN, ADMIN, message["message_id"], int(parts[1]) - 1)
            except IndexError:
                print(f"!press: the bot's last message with buttons has no button {parts[1]} now")
                return True
            await self.settle(5.0, quiet=1.0)
        elif line == "!file" or line.startswith("!file "):
            await self.send_file(line[len("!file") :].strip())
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

    async def send_file(self, args: str) -> None:
        """``!file`` sends a sample list; ``!file path [caption]`` sends a file of yours."""
        path, _, caption = args.partition(" ")
        if path:
            try:
                data = await asyncio.to_thread(_read, path)
            except OSError as exc:
                print(f"!file: {exc.strerror or exc}: {path}")
                return
            name = Path(path).name
        else:
            name, data = "customers.xlsx", sample_list()
            print(f"(a sample list: {', '.join(files.HEADER)}; 12 customers, 2 bad rows, 1 repeat)")
        print(f"(you send the bot {name}, {len(data):,} bytes)")
        await self.tg.send_document(ADMIN, ADMIN, name, data, caption.strip() or None)
        await self.settle(10.0, quiet=1.0)


def _read(path: str) -> bytes:
    return Path(path).expanduser().read_bytes()


def sample_list() -> bytes:
    """The demo's customer list: a dozen customers, a landline, a row without a number, a repeat."""
    rows = files.customers(12)
    rows[4:4] = [("021 8877 6655", "Office", "A-0"), (None, "Nobody", "A-00")]
    rows.append(rows[0])
    return files.xlsx(rows)


async def _lines() -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        yield line


async def run(start_bridge: BridgeStarter, lang: str = "en") -> None:
    tg = TelegramSim()
    sims = Sims(AmootSim(), SmsirSim(), PayamSim())
    for number in CONTACTS:
        sims.smsir.add_contact(number)
    tg.user(ADMIN, "Admin")
    tg.private_chat(ADMIN)
    with tempfile.TemporaryDirectory(prefix="smsbridge-demo-") as tmp:
        apps = [tg.app, sims.amoot.app, sims.smsir.app, sims.payam.app]
        async with serving_all(apps) as (tg_url, amoot_url, smsir_url, payam_url):
            path = Path(tmp) / "config.toml"
            urls = {"tg": tg_url, "amoot": amoot_url, "smsir": smsir_url, "payam": payam_url}
            text = config(
                urls,
                tg.token,
                telegram={"language": lang},
                storage={"path": "demo.db"},
                access={"admins": [ADMIN]},
                account_options={"amoot": {"poll_interval": 1}, "payam": {"poll_interval": 1}},
                routes=[
                    {"account": "amoot", "chat_id": ADMIN},
                    {"account": "payam", "chat_id": ADMIN},
                ],
            )
            path.write_text(text, encoding="utf-8")
            async with start_bridge(path):
                terminal = Terminal(tg, sims)
                print(__doc__.split("\n\n", 1)[1].strip() if __doc__ else "", flush=True)
                print(
                    "Try: /balance · /send 09121234567 hello · !press 1 · !sms 09125550000 hi "
                    "· !reply thanks · /send payam: 09121234567 salam · /send smsir: group:1 hi "
                    "· !sms payam:09125550000 hello · !file (then !press 1 and a text with {name})\n",
                    flush=True,
                )
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
