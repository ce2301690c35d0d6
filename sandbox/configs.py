"""Configs for a bridge that talks to the stand-ins: the demo, the tests and the benchmarks each
write one, from the same accounts, in the contract's keys (``docs/spec.md`` §6)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .amootsms import DEFAULT_TOKEN
from .payamsms import DEFAULT_LOGIN
from .smsir import DEFAULT_API_KEY, DEFAULT_SECRET_KEY

PAYAM_LINE = "98200012345"
AMOOT_DELIVERY_CODES = {"0": "queued", "35": "sent", "1": "delivered", "2": "failed"}


def accounts(urls: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """One account per stand-in whose URL is given (keyed by its name), with the stand-ins'
    credentials."""
    login = DEFAULT_LOGIN
    every: dict[str, dict[str, Any]] = {
        "amoot": {
            "name": "amoot",
            "provider": "amootsms",
            "base_url": urls.get("amoot", ""),
            "token": DEFAULT_TOKEN,
            "lines": ["public", "10001234"],
            "delivery_codes": AMOOT_DELIVERY_CODES,
        },
        "smsir": {
            "name": "smsir",
            "provider": "smsir",
            "base_url": urls.get("smsir", "") + "/users/v1",
            "api_key": DEFAULT_API_KEY,
            "secret_key": DEFAULT_SECRET_KEY,
        },
        "payam": {
            "name": "payam",
            "provider": "payamsms",
            "base_url": urls.get("payam", ""),
            "client_id": login["client_id"],
            "client_secret": login["client_secret"],
            "system_name": login["system_name"],
            "username": login["username"],
            "password": login["password"],
            "lines": [PAYAM_LINE],
        },
    }
    return {name: account for name, account in every.items() if name in urls}


def config(
    urls: Mapping[str, str],
    tg_token: str,
    *,
    use: Sequence[str] = ("amoot", "smsir", "payam"),
    account_options: Mapping[str, Mapping[str, Any]] | None = None,
    routes: Sequence[Mapping[str, Any]] = (),
    **tables: Mapping[str, Any],
) -> str:
    """The TOML of a bridge on the stand-ins at ``urls`` (keys ``tg``, ``amoot``, ``smsir``,
    ``payam``): the accounts in ``use``, each with its ``account_options``; ``tables`` add to or
    replace the keys of ``[telegram]``, ``[server]``, ``[storage]``, ``[logging]``, ``[access]``."""
    options = account_options or {}
    defaults: dict[str, dict[str, Any]] = {
        "telegram": {"token": tg_token, "base_url": urls["tg"] + "/bot"},
        "server": {"port": 0},
        "storage": {"path": "bridge.db"},
        "logging": {"level": "WARNING"},
        "access": {},
    }
    for name, values in tables.items():
        defaults[name] = {**defaults.get(name, {}), **values}
    if "url" in defaults["storage"]:  # PostgreSQL instead of the SQLite file
        defaults["storage"].pop("path", None)
    every = accounts(urls)
    parts = [_table(name, values) for name, values in defaults.items()]
    parts += [_table("[accounts]", every[name] | dict(options.get(name, {}))) for name in use]
    parts += [_table("[routes]", dict(route)) for route in routes]
    return "\n".join(parts)


def _table(name: str, values: Mapping[str, Any]) -> str:
    lines = [f"[{name}]"]
    lines += [f"{key} = {_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    """A TOML value: strings, numbers and booleans as JSON writes them (valid TOML), lists as
    arrays, mappings as inline tables (keys quoted)."""
    if isinstance(value, Mapping):
        return (
            "{ " + ", ".join(f"{json.dumps(str(k))} = {_value(v)}" for k, v in value.items()) + " }"
        )
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
