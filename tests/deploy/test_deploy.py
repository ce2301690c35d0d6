"""What an operator installs beside the package (deploy/): the systemd unit passes
``systemd-analyze verify`` and the alert rules pass ``promtool check rules`` and their own unit
tests. Each is skipped, saying why, where its tool is missing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed here (.ci/run installs it where it can)")
    return found


def test_the_systemd_unit_verifies_clean(tmp_path: Path) -> None:
    tool = _tool("systemd-analyze")
    unit = (DEPLOY / "systemd" / "smsbridge.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/smsbridge/bin/smsbridge run" in unit
    # verify wants the program to exist: point it at this environment's smsbridge
    here = Path(sys.executable).parent / "smsbridge"
    copy = tmp_path / "smsbridge.service"
    copy.write_text(unit.replace("/opt/smsbridge/bin/smsbridge", str(here)), encoding="utf-8")
    result = subprocess.run([tool, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout + result.stderr, result.stderr


def test_the_alert_rules_load_and_pass_their_unit_tests() -> None:
    tool = _tool("promtool")
    rules = DEPLOY / "prometheus"
    check = subprocess.run(
        [tool, "check", "rules", "alerts.yml"], cwd=rules, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    unit = subprocess.run(
        [tool, "test", "rules", "alerts_test.yml"], cwd=rules, capture_output=True, text=True
    )
    assert unit.returncode == 0 and "SUCCESS" in unit.stdout, unit.stdout + unit.stderr
