"""The config contract of docs/spec.md §6: the example parses; mistakes are named by file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
MINIMAL = """
[telegram]
token = "42:real"
[[accounts]]
name = "amoot"
provider = "amootsms"
token = "t0ken-value"
"""


def test_example_parses_and_its_placeholders_are_refused_in_strict_mode() -> None:
    config = load_config(EXAMPLE, strict=False, env={})
    assert [a.name for a in config.accounts] == ["amoot", "smsir", "payam"]
    with pytest.raises(ConfigError) as info:
        load_config(EXAMPLE, env={})
    assert "accounts[0].token: still the example placeholder" in str(info.value)
    assert "telegram.token" in str(info.value)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("colour = 1", "accounts[0] (amoot).colour: unknown key"),
        ('relay_secret = "Short"', "relay_secret must be at least 16"),
        ('lines = ["a"]\ndefault_line = "b"', "default_line 'b' is not one of"),
    ],
)
def test_mistakes_name_the_file_and_key(tmp_path: Path, extra: str, expected: str) -> None:
    path = _write(tmp_path, MINIMAL + extra)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(path) in str(info.value) and expected in str(info.value)


def test_missing_token_and_unknown_provider(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace('token = "42:real"', "").replace("amootsms", "kave"))
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "telegram.token: required key is missing" in str(info.value)
    assert 'provider must be "amootsms"' in str(info.value)


def test_environment_wins_and_storage_is_relative_to_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL)
    config = load_config(
        path,
        env={
            "SMSBRIDGE_TELEGRAM_TOKEN": "99:env",
            "SMSBRIDGE_ACCOUNT_AMOOT_TOKEN": "from-env",
            "SMSBRIDGE_ACCOUNT_AMOOT_POLL_INTERVAL": "5",
        },
    )
    assert config.telegram.token.get_secret_value() == "99:env"
    account = config.accounts[0]
    assert account.token.get_secret_value() == "from-env"  # type: ignore[union-attr]
    assert account.poll_interval == 5
    assert config.storage.path == str(tmp_path / "smsbridge.db")
    assert "from-env" not in repr(config)  # secrets never print


@pytest.mark.parametrize(
    ("storage", "expected"),
    [
        ('path = "a.db"\nurl = "postgresql://u@h/db"', "set path (SQLite) or url (PostgreSQL)"),
        ('url = "mysql://u@h/db"', "url must be a postgresql:// URL"),
        ('url = "postgresql://u@h/db"\nlease_seconds = 0.1', "lease_seconds"),
    ],
)
def test_storage_is_one_backend_or_the_other(tmp_path: Path, storage: str, expected: str) -> None:
    path = _write(tmp_path, MINIMAL + "\n[storage]\n" + storage)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert expected in str(info.value)


def test_a_postgresql_password_comes_from_the_environment_and_is_redacted(tmp_path: Path) -> None:
    text = MINIMAL + '\n[storage]\nurl = "postgresql://bridge:in-url-pw@db:5432/sms"\n'
    config = load_config(_write(tmp_path, text), env={"SMSBRIDGE_STORAGE_PASSWORD": "env-pw"})
    assert config.storage.shared and config.storage.target.startswith("postgresql://")
    assert config.storage.password.get_secret_value() == "env-pw"
    assert {"env-pw", "in-url-pw"} <= set(config.secrets())  # the log filter hides both


def test_a_configuration_loads_only_the_providers_it_uses(tmp_path: Path) -> None:
    """Each provider's module is a few MB and tens of milliseconds of the start: a bridge with
    one sms.ir account builds its client without loading AmootSMS's or PayamSMS's."""
    path = _write(
        tmp_path,
        '[telegram]\ntoken = "42:real"\n[[accounts]]\nname = "s"\nprovider = "smsir"\n'
        'api_key = "key-value"\nsecret_key = "secret-value"\n',
    )
    script = (
        "import sys, bot.__main__, bot.app, bot.web, bot.render\n"
        "from bot.config import load_config\n"
        f"config = load_config({str(path)!r})\n"
        "[bot.app.build_provider(a) for a in config.accounts]\n"
        "print(sorted(m for m in sys.modules if m.startswith('providers.')))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=root, check=True
    )
    loaded = done.stdout
    assert "providers.smsir" in loaded
    assert "providers.amootsms" not in loaded and "providers.payamsms" not in loaded
