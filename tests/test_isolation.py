"""No test reads the user's world: a ./config.toml with a bot token in the folder pytest runs
from, or SENSORBOT_* / TELEGRAM_BOT_TOKEN in the environment, as after "Running it for real"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
HOSTILE_CONFIG = '[telegram]\ntoken = "123:FROM-THE-USERS-FILE"\n[api]\nport = 1111\n'
HOSTILE_ENV = {"SENSORBOT_API__PORT": "2222", "TELEGRAM_BOT_TOKEN": "456:FROM-THE-USERS-ENV",
               "sensorbot_alerts__timezone": "Europe/Helsinki"}
SHOW_SETTINGS = ("from core.config import load_settings; s = load_settings(); "
                 "print(s.telegram.token or '-', s.api.port, s.alerts.timezone)")


def test_a_test_sees_the_built_in_defaults_in_and_out_of_process():
    settings = load_settings()
    child = subprocess.run([sys.executable, "-c", SHOW_SETTINGS], capture_output=True,
                           text=True, check=True, timeout=60)

    assert not Path("config.toml").exists()
    assert not [name for name in os.environ if name.upper().startswith("SENSORBOT_")]
    assert (settings.telegram.token, settings.api.port, settings.alerts.timezone) == (
        "", 8080, "UTC")
    assert child.stdout.split() == ["-", "8080", "UTC"]


def test_the_suite_ignores_a_users_config_file_and_environment(tmp_path):
    (tmp_path / "config.toml").write_text(HOSTILE_CONFIG, encoding="utf-8")
    probe = f"{Path(__file__)}::test_a_test_sees_the_built_in_defaults_in_and_out_of_process"

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
         probe], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        # no plugins (xdist, hypothesis, schemathesis): the probe needs none, and they cost 3 s
        env={**os.environ, **HOSTILE_ENV, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})

    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout
