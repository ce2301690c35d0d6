"""The TOML config of docs/spec.md §6 as pydantic models: unknown keys, missing keys and placeholders refused."""

from __future__ import annotations

import functools
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from providers.base import DeliveryState

from .optouts import DEFAULT_OPTOUT

# Values of config.example.toml that must be replaced before a real start.
PLACEHOLDERS = frozenset({"…", "...", "123456:ABC-DEF"})
NAME = r"^[a-z0-9_-]+$"


class ConfigError(Exception):
    """The config cannot be used; ``str()`` names the file, the key path and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TelegramConfig(_Strict):
    token: SecretStr
    mode: Literal["polling", "webhook"] = "polling"
    base_url: str = "https://api.telegram.org/bot"
    proxy: str = ""
    webhook_url: str = ""
    webhook_secret: SecretStr = SecretStr("")
    language: Literal["fa", "en"] = "fa"

    @model_validator(mode="after")
    def _webhook(self) -> TelegramConfig:
        if self.mode == "webhook":
            if not self.webhook_url:
                raise ValueError('mode = "webhook" needs webhook_url (the public URL of /telegram)')
            if not self.webhook_secret.get_secret_value():
                raise ValueError('mode = "webhook" needs a non-empty webhook_secret')
        return self


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = ""


REPLY_WINDOW_DAYS = 7  # the shortest keep_days: last week's SMS can always be answered


class StorageConfig(_Strict):
    path: str = "smsbridge.db"  # SQLite: one bridge on one machine (the default)
    # PostgreSQL, shared by several replicas: postgresql://user@host:port/database
    url: str = ""
    password: SecretStr = SecretStr("")  # or in the URL, or SMSBRIDGE_STORAGE_PASSWORD
    keep_days: int = Field(0, ge=0)  # 0: keep everything; else prune older rows daily
    # replicas: a dead replica's once-only jobs move to another within 4/3 of this (bot/leases.py)
    lease_seconds: float = Field(6.0, ge=0.5, le=120.0)

    @property
    def target(self) -> str:
        """What ``Database.open`` opens: the URL when there is one, else the SQLite file."""
        return self.url or self.path

    @property
    def shared(self) -> bool:
        return bool(self.url)

    @model_validator(mode="after")
    def _one_backend(self) -> StorageConfig:
        if self.url and "path" in self.model_fields_set:
            raise ValueError("set path (SQLite) or url (PostgreSQL), not both")
        if self.url and not self.url.startswith(("postgresql://", "postgres://")):
            raise ValueError("url must be a postgresql:// URL (for SQLite, set path instead)")
        return self

    @model_validator(mode="after")
    def _window(self) -> StorageConfig:
        if 0 < self.keep_days < REPLY_WINDOW_DAYS:
            raise ValueError(
                f"keep_days must be 0 (keep everything) or at least {REPLY_WINDOW_DAYS}, "
                "so that last week's SMS can still be answered"
            )
        return self


class LoggingConfig(_Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: str = ""
    format: Literal["text", "json"] = "text"  # json: one object per line, for a log shipper


class AccessConfig(_Strict):
    admins: list[int] = Field(default_factory=list)
    bulk_confirm_threshold: int = Field(50, ge=1)
    daily_quota: int = Field(1000, ge=0)


class _Account(_Strict):
    name: Annotated[str, Field(pattern=NAME)]
    base_url: str
    lines: list[str] = Field(default_factory=list)
    default_line: str | None = None
    proxy: str = ""
    low_credit_alert: float = Field(0, ge=0)
    currency: Literal["rial", "toman", ""] = ""
    # An SMS whose whole text is one of these (digits, letter forms and spaces aside) opts its
    # sender out of this account's sends; an opt-in keyword takes them back (bot/optouts.py).
    optout_keywords: list[str] = Field(default_factory=lambda: list(DEFAULT_OPTOUT))
    optin_keywords: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _default_line(self) -> _Account:
        if self.default_line is not None and self.default_line not in self.lines:
            raise ValueError(f"default_line {self.default_line!r} is not one of lines {self.lines}")
        return self

    @property
    def line(self) -> str | None:
        """The line used when a command names none."""
        return self.default_line or (self.lines[0] if self.lines else None)

    def secrets(self) -> list[str]:
        return [v.get_secret_value() for v in self.__dict__.values() if isinstance(v, SecretStr)]


class AmootAccount(_Account):
    provider: Literal["amootsms"]
    base_url: str = "https://portal.amootsms.com/rest"
    token: SecretStr
    poll_interval: float = Field(30, ge=0)
    relay_secret: SecretStr | None = None
    currency: Literal["rial", "toman", ""] = "rial"
    # DeliveryType codes are undocumented (docs/providers.md A10): map the codes you know.
    delivery_codes: dict[int, DeliveryState] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _relay_secret(self) -> AmootAccount:
        secret = self.relay_secret.get_secret_value() if self.relay_secret else None
        if (
            secret is not None
            and secret not in PLACEHOLDERS
            and not re.fullmatch(r"[a-z0-9]{16,}", secret)
        ):
            raise ValueError(
                "relay_secret must be at least 16 characters of a-z and 0-9 "
                "(AmootSMS lower-cases registered URLs)"
            )
        return self


class SmsirAccount(_Account):
    provider: Literal["smsir"]
    base_url: str = "https://api.sms.ir/users/v1"
    api_key: SecretStr
    secret_key: SecretStr
    send_by_mobile_numbers: bool = False
    poll_interval: float = Field(0, ge=0)
    delivery_statuses: dict[str, DeliveryState] = Field(default_factory=dict)


class PayamAccount(_Account):
    provider: Literal["payamsms"]
    base_url: str = "https://www.payamsms.com"
    client_id: SecretStr
    client_secret: SecretStr
    system_name: str
    username: SecretStr
    password: SecretStr
    poll_interval: float = Field(30, ge=0)
    # sendMultipleWithSrcBody's recipient shape is lost from the document (docs/providers.md P4): the
    # default repeats the text per item with sendMultipleWithSrc.
    send_method: Literal["sendMultipleWithSrc", "sendMultipleWithSrcBody", "send"] = (
        "sendMultipleWithSrc"
    )
    login_json: bool = False  # the token endpoint takes a form body unless this is set (P2)

    @model_validator(mode="after")
    def _has_line(self) -> PayamAccount:
        if not self.lines:
            raise ValueError("a PayamSMS account needs at least one line (sender with 98)")
        return self


Account = Annotated[AmootAccount | SmsirAccount | PayamAccount, Field(discriminator="provider")]


class RouteConfig(_Strict):
    account: str
    line: str | None = None
    chat_id: int
    topics: bool = False  # in a forum supergroup: a topic of its own for each correspondent


EventType = Literal["inbound", "delivery", "send", "optout"]
EVENT_TYPES: tuple[EventType, ...] = ("inbound", "delivery", "send", "optout")


class WebhookConfig(_Strict):
    """An outside system that gets SMS events (docs/webhooks.md): signed, retried, in order."""

    url: str = Field(pattern=r"^https?://")
    secret: SecretStr = Field(min_length=16)
    events: list[EventType] = Field(default_factory=lambda: list(EVENT_TYPES))
    accounts: list[str] = Field(default_factory=list)  # empty: every account
    lines: list[str] = Field(default_factory=list)  # empty: every line
    proxy: str = ""


class Config(_Strict):
    telegram: TelegramConfig
    server: ServerConfig = ServerConfig()
    storage: StorageConfig = StorageConfig()
    logging: LoggingConfig = LoggingConfig()
    access: AccessConfig = AccessConfig()
    accounts: list[Account] = Field(min_length=1)
    routes: list[RouteConfig] = Field(default_factory=list)
    webhooks: list[WebhookConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        names = [a.name for a in self.accounts]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"account names must be unique: {', '.join(duplicates)}")
        for index, route in enumerate(self.routes):
            account = next((a for a in self.accounts if a.name == route.account), None)
            if account is None:
                raise ValueError(f"routes[{index}]: no account named {route.account!r}")
            if route.line is not None and route.line not in account.lines:
                raise ValueError(
                    f"routes[{index}]: line {route.line!r} is not one of {account.name}'s lines"
                )
        for index, hook in enumerate(self.webhooks):
            unknown = [a for a in hook.accounts if a not in names]
            if unknown:
                raise ValueError(f"webhooks[{index}]: no account named {', '.join(unknown)}")
        urls = [h.url for h in self.webhooks]
        if len(set(urls)) != len(urls):
            raise ValueError("webhooks: each url once (an endpoint's place in the log is its url)")
        return self

    def account(self, name: str) -> AmootAccount | SmsirAccount | PayamAccount | None:
        return self._by_name.get(name)

    @functools.cached_property
    def _by_name(self) -> dict[str, AmootAccount | SmsirAccount | PayamAccount]:
        # looked up on every relay request; a frozen config never changes it
        return {a.name: a for a in self.accounts}

    def secrets(self) -> list[str]:
        """Every secret value in the config, for the log redaction filter."""
        found = [
            self.telegram.token.get_secret_value(),
            self.telegram.webhook_secret.get_secret_value(),
        ]
        for account in self.accounts:
            found.extend(account.secrets())
        found += [h.secret.get_secret_value() for h in self.webhooks]
        found.append(self.storage.password.get_secret_value())
        if self.storage.url:
            found.append(urlsplit(self.storage.url).password or "")
        return [s for s in found if s]


# ----------------------------------------------------------------------------------- reloading

# What a running bridge takes from a re-read config (SIGHUP); anything else needs a restart.
RELOADABLE = ("routes", "access", "logging.level")
_RESTART = (
    "telegram",
    "server",
    "storage",
    "accounts",
    "webhooks",
    "logging.file",
    "logging.format",
)


def apply_reload(config: Config, new: Config) -> tuple[list[str], list[str]]:
    """Take from ``new`` what can change while the bridge runs, into ``config`` itself (every part
    of the bridge holds that one object, and reads it on each use); returns the keys that changed
    and were applied, and those that changed but only take effect after a restart."""
    applied: list[str] = []
    for key in RELOADABLE:
        section, _, field = key.partition(".")
        owner_old, owner_new = (
            (config, new) if not field else (getattr(config, section), getattr(new, section))
        )
        name = field or section
        if getattr(owner_old, name) != getattr(owner_new, name):
            # The models are frozen so that nothing else changes them; this is the one place.
            object.__setattr__(owner_old, name, getattr(owner_new, name))
            applied.append(key)
    restart = [key for key in _RESTART if _value(config, key) != _value(new, key)]
    return applied, restart


def _value(config: Config, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


# ----------------------------------------------------------------------------------- loading


def load_config(
    path: str | Path, *, env: dict[str, str] | None = None, strict: bool = True
) -> Config:
    """Read, override from the environment, validate. ``strict`` refuses example placeholders."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    _apply_env(raw, os.environ if env is None else env)
    if strict:
        problems = _placeholders(raw)
        if problems:
            raise ConfigError(
                "\n".join(
                    f"{path}: {key}: still the example placeholder; set a real value"
                    for key in problems
                )
            )
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, raw, exc)) from None
    storage = Path(config.storage.path)
    if not storage.is_absolute():
        storage = (path.parent / storage).resolve()
    return config.model_copy(
        update={"storage": config.storage.model_copy(update={"path": str(storage)})}, deep=True
    )


def _env_value(text: str) -> Any:
    """An environment value as TOML when it parses as one (numbers, lists, booleans), else text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_env(raw: dict[str, Any], env: Any) -> None:
    telegram = raw.setdefault("telegram", {})
    if isinstance(telegram, dict):
        if env.get("SMSBRIDGE_TELEGRAM_TOKEN"):
            telegram["token"] = env["SMSBRIDGE_TELEGRAM_TOKEN"]
        if env.get("SMSBRIDGE_TELEGRAM_WEBHOOK_SECRET"):
            telegram["webhook_secret"] = env["SMSBRIDGE_TELEGRAM_WEBHOOK_SECRET"]
    storage = raw.setdefault("storage", {})
    if isinstance(storage, dict) and env.get("SMSBRIDGE_STORAGE_PASSWORD"):
        storage["password"] = env["SMSBRIDGE_STORAGE_PASSWORD"]
    hooks = raw.get("webhooks", [])
    for position, hook in enumerate(hooks if isinstance(hooks, list) else [], 1):
        secret = env.get(f"SMSBRIDGE_WEBHOOK_{position}_SECRET")
        if isinstance(hook, dict) and secret:
            hook["secret"] = secret
    accounts = raw.get("accounts", [])
    if not isinstance(accounts, list):
        return
    for account in accounts:
        if not isinstance(account, dict) or not isinstance(account.get("name"), str):
            continue
        prefix = "SMSBRIDGE_ACCOUNT_" + account["name"].upper().replace("-", "_") + "_"
        for key, value in env.items():
            if key.startswith(prefix) and value != "":
                field = key[len(prefix) :].lower()
                secret_like = field in _SECRET_KEYS
                account[field] = value if secret_like else _env_value(value)


_SECRET_KEYS = frozenset(
    {
        "token",
        "api_key",
        "secret_key",
        "client_id",
        "client_secret",
        "username",
        "password",
        "relay_secret",
        "system_name",
    }
)


def _placeholders(raw: Any, prefix: str = "") -> list[str]:
    found: list[str] = []
    items: list[tuple[str, Any]]
    if isinstance(raw, dict):
        items = [(f"{prefix}.{k}" if prefix else str(k), v) for k, v in raw.items()]
    else:
        items = [(f"{prefix}[{i}]", v) for i, v in enumerate(raw)]
    for key, value in items:
        if isinstance(value, dict | list):
            found.extend(_placeholders(value, key))
        elif isinstance(value, str) and value.strip() in PLACEHOLDERS:
            found.append(key)
    return found


def _describe(path: Path, raw: dict[str, Any], exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = list(error["loc"])
        parts: list[str] = []
        node: Any = raw
        for item in loc:
            if isinstance(item, int):
                parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
                node = node[item] if isinstance(node, list) and item < len(node) else None
                if (
                    isinstance(node, dict)
                    and "name" in node
                    and parts
                    and parts[-1].startswith("accounts")
                ):
                    parts[-1] += f" ({node['name']})"
            elif isinstance(node, dict) and item in node:
                parts.append(str(item))
                node = node[item]
            elif item in ("amootsms", "smsir", "payamsms"):
                continue  # the discriminator's tag, not a key of the file
            else:
                parts.append(str(item))
                node = None
        key = ".".join(parts) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] == "union_tag_invalid":
            message = 'provider must be "amootsms", "smsir" or "payamsms"'
        elif error["type"] == "union_tag_not_found":
            message = "provider is missing"
        lines.append(f"{path}: {key}: {message}")
    return "\n".join(lines)
