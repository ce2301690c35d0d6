"""From a clean checkout to a working command: the wheel installs into a fresh virtualenv outside
the checkout and runs from there (nothing read from the source tree); `smsbridge init` writes a
config from piped answers that `smsbridge check` accepts against the stand-ins."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.amootsms import DEFAULT_TOKEN
from sandbox.payamsms import DEFAULT_LOGIN
from sandbox.smsir import DEFAULT_API_KEY, DEFAULT_SECRET_KEY
from tests.conftest import world

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smsbridge command of a wheel built from this checkout, in a virtualenv of its own."""
    where = tmp_path_factory.mktemp("install")
    wheels, venv = where / "wheels", where / "venv"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT)], check=True)
    (wheel,) = wheels.glob("smsbridge-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), *pip[1:], "install", str(wheel)], check=True, cwd=where
    )
    return venv / "bin" / "smsbridge"


def _outside() -> dict[str, str]:
    """An environment that cannot see the checkout: no PYTHONPATH, run from elsewhere."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def test_the_wheel_runs_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    env = _outside()
    version = subprocess.run(
        [str(installed), "--version"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("smsbridge 0.")
    demo = subprocess.run(
        [str(installed), "demo"],
        cwd=tmp_path,
        env=env,
        input="/balance\n!sms 09125550000 hello from the wheel\n!file\n!press 1\nHi {name}\n!press 2\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    assert "Account credit" in demo.stdout and "hello from the wheel" in demo.stdout
    assert "Rows read: 15 — valid recipients: 12" in demo.stdout  # the sample list, read
    where = subprocess.run(
        [str(installed.parent / "python"), "-c", "import bot, storage; print(bot.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "site-packages" in where.stdout and str(ROOT) not in where.stdout


async def test_init_writes_a_config_that_check_accepts(installed: Path, tmp_path: Path) -> None:
    async with world(tmp_path, start_bridge=False) as w:
        home = tmp_path / "etc"
        home.mkdir()
        config = home / "config.toml"  # beside the world's own
        login = DEFAULT_LOGIN
        answers = [
            w.tg.token,
            "not a number",
            "1001",
            "amootsms",
            "",  # name: amoot
            w.urls["amoot"],
            DEFAULT_TOKEN,
            "public, 10001234",
            "smsir",
            "",
            w.urls["smsir"] + "/users/v1",
            DEFAULT_API_KEY,
            "a wrong secret",  # the check fails …
            "n",  # … and the account is not kept
            "smsir",
            "",
            w.urls["smsir"] + "/users/v1",
            DEFAULT_API_KEY,
            DEFAULT_SECRET_KEY,
            "payamsms",
            "",
            w.urls["payam"],
            login["client_id"],
            login["client_secret"],
            login["system_name"],
            login["username"],
            login["password"],
            "98200012345",
            "",  # no more accounts
            "",  # database: smsbridge.db
        ]
        env = _outside()
        init = await _run(installed, ["init", "--config", str(config)], "\n".join(answers), env)
        assert init.returncode == 0, init.stdout + init.stderr
        assert "checking smsir… FAILED" in init.stdout and "checking payam… ok" in init.stdout
        for secret in (w.tg.token, DEFAULT_TOKEN, DEFAULT_SECRET_KEY, login["password"]):
            assert secret not in init.stdout + init.stderr  # never echoed
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        text = config.read_text(encoding="utf-8")
        assert text.count("[[accounts]]") == 3 and "a wrong secret" not in text
        check = await _run(installed, ["check", "--config", str(config)], "", env)
        assert check.returncode == 0, check.stdout + check.stderr
        assert [line.split(":")[0] for line in check.stdout.splitlines()] == [
            "amoot (amootsms)",
            "smsir (smsir)",
            "payam (payamsms)",
        ]
        again = await _run(installed, ["init", "--config", str(config)], "", env)
        assert again.returncode == 2 and "never overwrites" in again.stdout


async def _run(
    command: Path, args: list[str], answers: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The installed command in another process (the stand-ins answer it from this loop)."""
    proc = await asyncio.create_subprocess_exec(
        str(command),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(answers.encode() + b"\n"), 120)
    assert proc.returncode is not None
    return subprocess.CompletedProcess(args, proc.returncode, out.decode(), err.decode())
