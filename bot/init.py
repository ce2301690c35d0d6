"""``smsbridge init``: a first config from a few questions — the bot token, the admin's Telegram
id, one or more accounts — each account reached as ``smsbridge check`` does before it is kept,
written with comments and mode 600. Answers may be piped. A secret is never echoed: typed at a
terminal it is read without echo, and nothing printed repeats it."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import TypeAdapter, ValidationError

from providers.base import ProviderError

from .app import account_facts
from .config import Account, ConfigError, load_config

PROVIDERS = ("amootsms", "smsir", "payamsms")
DEFAULT_NAMES = {"amootsms": "amoot", "smsir": "smsir", "payamsms": "payam"}


@dataclass(frozen=True)
class Question:
    key: str
    prompt: str
    default: str = ""
    secret: bool = False


# What each provider needs, in the order asked (docs/spec.md §6).
QUESTIONS: dict[str, tuple[Question, ...]] = {
    "amootsms": (
        Question("base_url", "base URL", "https://portal.amootsms.com/rest"),
        Question("token", "panel API token", secret=True),
        Question("lines", "lines, comma-separated", "public"),
    ),
    "smsir": (
        Question("base_url", "base URL", "https://api.sms.ir/users/v1"),
        Question("api_key", "UserApiKey", secret=True),
        Question("secret_key", "SecretKey", secret=True),
    ),
    "payamsms": (
        Question("base_url", "base URL", "https://www.payamsms.com"),
        Question("client_id", "client id", secret=True),
        Question("client_secret", "client secret", secret=True),
        Question("system_name", "system name (organisation)"),
        Question("username", "username", secret=True),
        Question("password", "password", secret=True),
        Question("lines", "lines with 98, comma-separated"),
    ),
}


class Aborted(Exception):
    """The questions ran out (end of input) or the person gave up."""


@dataclass
class Prompter:
    """Asks on ``out`` and reads answers from ``inp``; secrets without echo at a terminal."""

    inp: TextIO = field(default_factory=lambda: sys.stdin)
    out: TextIO = field(default_factory=lambda: sys.stdout)
    hidden: Callable[[str], str] = getpass.getpass

    def ask(self, prompt: str, default: str = "", secret: bool = False) -> str:
        shown = f"{prompt} [{default}]: " if default else f"{prompt}: "
        if secret and self.inp.isatty():
            answer = self.hidden(shown)
        else:
            self.out.write(shown)
            self.out.flush()
            line = self.inp.readline()
            if not line:
                raise Aborted(f"no answer to “{prompt}”")
            answer = line.rstrip("\n")
            if not self.inp.isatty():
                self.out.write("\n")  # piped: end the prompt's line (the answer is not echoed)
        return answer.strip() or default


def run(path: str, prompter: Prompter | None = None) -> int:
    """The whole conversation; 0 when the config was written."""
    p = prompter or Prompter()
    target = Path(path)
    if target.exists():
        p.out.write(f"{target} exists: init never overwrites a config; name another --config\n")
        return 2
    try:
        answers = _conversation(p)
    except Aborted as exc:
        p.out.write(f"\nnothing written: {exc}\n")
        return 2
    text = render(answers)
    partial = target.with_name(f".{target.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    try:
        load_config(partial)  # the file must be one the bridge accepts, as written
    except ConfigError as exc:
        partial.unlink()
        p.out.write(f"nothing written, the answers do not make a valid config:\n{exc}\n")
        return 2
    os.replace(partial, target)
    p.out.write(
        f"wrote {target} (mode 600). Next: smsbridge check --config {target}, "
        f"then smsbridge run --config {target}\n"
    )
    return 0


def _conversation(p: Prompter) -> dict[str, Any]:
    p.out.write("smsbridge init: a first config. Secrets are not shown as you type them.\n")
    token = _required(p, "Telegram bot token (from @BotFather)", secret=True)
    admin = _required(p, "your Telegram user id (the bot's /start shows it)")
    while not admin.lstrip("-").isdigit():
        admin = _required(p, "a Telegram user id is a number; your Telegram user id")
    accounts: list[dict[str, Any]] = []
    while True:
        first = not accounts
        choice = p.ask(
            f"provider of {'an' if first else 'another'} account "
            f"({', '.join(PROVIDERS)}{'' if first else '; empty to finish'})"
        ).lower()
        if not choice and not first:
            break
        if choice not in PROVIDERS:
            p.out.write(f"  one of {', '.join(PROVIDERS)}, please\n")
            continue
        account = _account(p, choice, {a["name"] for a in accounts})
        if account is not None:
            accounts.append(account)
    database = p.ask("database file", "smsbridge.db")
    return {"token": token, "admin": int(admin), "accounts": accounts, "database": database}


def _account(p: Prompter, provider: str, taken: set[str]) -> dict[str, Any] | None:
    default = DEFAULT_NAMES[provider]
    name = p.ask("  account name", default if default not in taken else "").lower()
    while not name or name in taken:
        name = p.ask("  account name (unique; letters, digits, - and _)").lower()
    raw: dict[str, Any] = {"name": name, "provider": provider}
    for q in QUESTIONS[provider]:
        answer = _required(p, f"  {q.prompt}", q.default, q.secret)
        raw[q.key] = (
            [x.strip() for x in answer.split(",") if x.strip()] if q.key == "lines" else answer
        )
    try:
        account = TypeAdapter(Account).validate_python(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in exc.errors()
        )
        p.out.write(f"  not kept: {problems}\n")
        return None
    p.out.write(f"  checking {name}… ")
    p.out.flush()
    try:
        p.out.write(f"ok, {asyncio.run(account_facts(account))}\n")
    except ProviderError as exc:
        p.out.write(f"FAILED — {exc}\n")
        if p.ask("  keep it anyway? (y/N)", "n").lower() not in ("y", "yes"):
            return None
    return raw


def _required(p: Prompter, prompt: str, default: str = "", secret: bool = False) -> str:
    while True:
        answer = p.ask(prompt, default, secret)
        if answer:
            return answer


def _toml(value: Any) -> str:
    """A TOML value: JSON's strings, numbers and arrays are TOML's too."""
    return json.dumps(value, ensure_ascii=False)


def render(answers: dict[str, Any]) -> str:
    """The config file, commented; every key of docs/spec.md §6 not asked keeps its default."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# smsbridge configuration, written by `smsbridge init` on {when}.",
        "# Every key is described in docs/spec.md §6 and config.example.toml. This file holds",
        "# secrets: keep it mode 600. Secrets may come from the environment instead",
        "# (SMSBRIDGE_TELEGRAM_TOKEN, SMSBRIDGE_ACCOUNT_<NAME>_<KEY>).",
        "",
        "[telegram]",
        f"token = {_toml(answers['token'])}",
        'mode = "polling"                      # "polling" | "webhook"',
        'language = "fa"                       # "fa" | "en": default language of chats',
        "",
        "[server]                              # relays, Telegram webhook, /healthz, /metrics",
        'host = "127.0.0.1"',
        "port = 8080",
        "",
        "[storage]",
        f"path = {_toml(answers['database'])}  # relative paths are relative to this file",
        "keep_days = 0                         # 0: keep everything; else (at least 7) days",
        "",
        "[logging]",
        'level = "INFO"                        # DEBUG | INFO | WARNING | ERROR',
        'format = "text"                       # "text" | "json"',
        "",
        "[access]",
        f"admins = [{answers['admin']}]  # Telegram user ids; everyone else is added with /users",
        "bulk_confirm_threshold = 50           # above this many recipients: a second confirm",
        "daily_quota = 1000                    # SMS recipients per operator per day",
    ]
    for account in answers["accounts"]:
        lines += ["", "[[accounts]]"]
        lines += [f"{key} = {_toml(value)}" for key, value in account.items()]
    lines += [
        "",
        "# Inbound SMS of a line go to a chat: add [[routes]] here, or use /route in the chat.",
        "# [[routes]]",
        '# account = "amoot"',
        "# chat_id = -1001234567890",
        "",
    ]
    return "\n".join(lines)
