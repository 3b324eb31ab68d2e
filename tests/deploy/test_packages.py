"""Each Lambda entry point runs without what its zip leaves out (deploy/package.py), and
imports its dependencies during Lambda's init phase only when Lambda names it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy.package import FUNCTIONS, requirements
from sensorbot.demo.emulator import BotApiEmulator

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
# distribution left out of a zip → the modules that would come with it
MODULES = {"matplotlib": ["matplotlib", "numpy", "PIL"], "python-telegram-bot": ["telegram"],
           "fastapi": ["fastapi", "starlette"], "mangum": ["mangum"],
           "python-multipart": ["multipart", "python_multipart"], "orjson": ["orjson"]}

RUN = """
import json, sys
blocked = json.loads(sys.argv[2])
sys.modules.update({name: None for name in blocked})  # importing one now fails
from sensorbot import lambdas
preloaded = sorted(m for m in ("ingest.http.app", "sensorbot.scheduled", "sensorbot.webhook")
                   if m in sys.modules)
response = getattr(lambdas, sys.argv[1])(json.loads(sys.stdin.read()), None)
print(json.dumps({"preloaded": preloaded, "response": response}))
"""


def run(handler: str, function: str, call: dict[str, Any], environment: dict[str, str],
        *, lambda_env: bool = True) -> dict[str, Any]:
    blocked = [m for distribution in FUNCTIONS[function][1] for m in MODULES[distribution]]
    env = {**os.environ, **environment}
    if lambda_env:
        env["_HANDLER"] = f"sensorbot.lambdas.{handler}"
    result = subprocess.run([sys.executable, "-c", RUN, handler, json.dumps(blocked)],
                            input=json.dumps(call), capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def health_check() -> dict[str, Any]:
    call = json.loads((EVENTS / "function_url_get.json").read_text(encoding="utf-8"))
    call.update(rawPath="/healthz", rawQueryString="", queryStringParameters=None)
    call["requestContext"]["http"].update(method="GET", path="/healthz")
    return call  # type: ignore[no-any-return]


def test_it_leaves_matplotlib_out_of_the_api_and_alert_zips_only() -> None:
    assert not any(r.startswith("matplotlib") for r in requirements(FUNCTIONS["api"][1]))
    assert not any(r.startswith("matplotlib") for r in requirements(FUNCTIONS["alerts"][1]))
    assert any(r.startswith("matplotlib") for r in requirements(FUNCTIONS["bot"][1]))
    assert not any(r.startswith(("boto3", "uvicorn")) for f in FUNCTIONS
                   for r in requirements(FUNCTIONS[f][1]))


def test_the_api_handler_runs_without_telegram_or_matplotlib(tmp_path: Path) -> None:
    env = {"SENSORBOT_STORAGE__SQLITE_PATH": str(tmp_path / "api.db")}

    found = run("api_handler", "api", health_check(), env)

    assert found["response"]["statusCode"] == 200
    assert found["preloaded"] == ["ingest.http.app"]


@pytest.mark.parametrize(("handler", "function"), [("alerts_handler", "alerts"),
                                                   ("bot_handler", "bot")])
def test_the_telegram_handlers_run_without_what_their_zips_leave_out(
        tmp_path: Path, emulator: BotApiEmulator, handler: str, function: str) -> None:
    env = {"SENSORBOT_STORAGE__SQLITE_PATH": str(tmp_path / "bot.db"),
           "SENSORBOT_TELEGRAM__BASE_URL": emulator.base_url, "TELEGRAM_BOT_TOKEN": emulator.token,
           "SENSORBOT_TELEGRAM__WEBHOOK_SECRET": "s3cret"}
    update = {"update_id": 1, "message": {
        "message_id": 1, "date": 1800000000, "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "is_bot": False, "first_name": "A"}, "text": "/help",
        "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
    call = {"headers": {"x-telegram-bot-api-secret-token": "s3cret"}, "body": json.dumps(update)}
    if handler == "alerts_handler":
        call = json.loads((EVENTS / "eventbridge_scheduled.json").read_text(encoding="utf-8"))

    found = run(handler, function, call, env)

    expected = {"alerts_handler": ["sensorbot.scheduled"],
                "bot_handler": ["sensorbot.webhook"]}
    assert set(expected[handler]) <= set(found["preloaded"])
    assert "ingest.http.app" not in found["preloaded"]
    if handler == "bot_handler":
        assert found["response"]["statusCode"] == 200
        assert emulator.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 5)
    else:
        assert found["response"]["rules"] == 0


def test_importing_the_entry_points_outside_lambda_imports_nothing_heavy(tmp_path: Path) -> None:
    env = {"SENSORBOT_STORAGE__SQLITE_PATH": str(tmp_path / "api.db")}

    found = run("api_handler", "api", health_check(), env, lambda_env=False)

    assert found["preloaded"] == []
