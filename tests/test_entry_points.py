"""Every entry point logs the same way and starts with clear words (issue 9 "The first hour")."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sensorbot.demo.emulator import BotApiEmulator
from storage.models import AlertRule, ChatLink, Reading, RuleKind, RuleSpec
from storage.sqlite import SQLiteStore
from tests.support.dynalite import free_port
from tests.support.waiting import wait_until


def sensorbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sensorbot", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", ["api", "run"])
def test_a_taken_api_port_is_one_sentence_and_exit_status_2(tmp_path, command):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        (tmp_path / "config.toml").write_text(
            f'[telegram]\ntoken = "123:abc"\n[api]\nport = {port}\n', encoding="utf-8")
        (tmp_path / "config.toml").chmod(0o600)  # no warning about who can read it

        result = sensorbot(command, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"Port {port} is in use (is sensorbot already running?); set [api] port in the config "
        "file (or SENSORBOT_API__PORT) to a free one."]


def test_a_port_out_of_range_on_the_command_line_is_one_sentence_and_exit_2(tmp_path):
    result = sensorbot("api", "--port", "99999", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "--port: Input should be less than or equal to 65535 (e.g. sensorbot api --port 8080)"]


def test_a_taken_port_from_the_flag_names_the_flag_not_the_config_file(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]

        result = sensorbot("api", "--port", str(port), cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"Port {port} is in use (is sensorbot already running?); give --port a free one."]


@pytest.mark.parametrize(("given", "says"), [
    (["--host", "999.1.1.1"], "--host '999.1.1.1' is not an address of this machine; give "
                              '--host one, such as "127.0.0.1"'),
    ([], "[api] host '999.1.1.1' is not an address of this machine; set [api] host in the "
         "config file (or SENSORBOT_API__HOST) to one"),
])
def test_a_host_not_of_this_machine_names_where_it_came_from(tmp_path, given, says):
    if not given:
        (tmp_path / "config.toml").write_text('[api]\nhost = "999.1.1.1"\n', encoding="utf-8")

    result = sensorbot("api", *given, cwd=tmp_path)

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(says)


def test_run_logs_the_api_url_and_keeps_the_scheduler_quiet(tmp_path):
    port = free_port()
    now = time.time_ns() // 1_000_000
    store = SQLiteStore(tmp_path / "sensorbot.db")  # an alert sent again every cycle
    store.put_alert_rule(AlertRule("u1", "r1", "attic", RuleSpec(RuleKind.BELOW, 3, repeat_s=1),
                                   now))
    store.put_chat_link(ChatLink(77, "u1", now))
    store.write_readings("u1", [Reading("attic", now - 1000, 1.5)], now_ms=now)
    store.close()
    with BotApiEmulator() as emulator:
        config = tmp_path / "config.toml"
        config.write_text(f'[telegram]\ntoken = "{emulator.token}"\nbase_url = '
                          f'"{emulator.base_url}"\n[api]\nport = {port}\n'
                          "[alerts]\ncheck_interval_seconds = 1\n", encoding="utf-8")
        process = subprocess.Popen([sys.executable, "-m", "sensorbot", "--config", str(config),
                                    "run"], cwd=tmp_path, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            emulator.wait_for(lambda c: c.method == "setMyCommands", timeout=30)
            wait_until(lambda: [c.method for c in emulator.calls].count("sendMessage") >= 3,
                       what="three alert cycles")
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)

    assert process.returncode == 0, output
    assert f"INFO sensorbot: the HTTP API listens on http://127.0.0.1:{port}\n" in output
    assert "sensorbot is running as @" in output
    assert "apscheduler" not in output and "Running job" not in output
    assert "HTTP Request" not in output  # httpx's line per Telegram call


def test_alerts_check_logs_in_the_common_format(tmp_path, emulator):
    now = time.time_ns() // 1_000_000
    store = SQLiteStore(tmp_path / "cron.db")
    store.put_alert_rule(AlertRule("u1", "r1", "attic", RuleSpec(RuleKind.BELOW, 3), now))
    store.put_chat_link(ChatLink(77, "u1", now))
    store.write_readings("u1", [Reading("attic", now - 1000, 1.5)], now_ms=now)
    store.close()
    (tmp_path / "config.toml").write_text(
        f'[telegram]\ntoken = "{emulator.token}"\nbase_url = "{emulator.base_url}"\n'
        '[storage]\nsqlite_path = "cron.db"\n', encoding="utf-8")
    emulator.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")

    result = sensorbot("alerts", "check", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert " INFO sensorbot.alerts: chat 77 blocked the bot; marked inactive\n" in result.stderr
    assert "HTTP Request" not in result.stderr


LAMBDA_RUNTIME = """
import logging, sys
root = logging.getLogger()
if sys.argv[1] == "lambda":  # the AWS runtime installs a handler before importing ours
    root.addHandler(logging.StreamHandler(sys.stdout))
    root.setLevel(logging.WARNING)
import sensorbot.lambdas
print(len(root.handlers), root.level, logging.getLogger("apscheduler.scheduler").level,
      logging.getLogger("httpx").getEffectiveLevel())
logging.getLogger("sensorbot.api").info("cold start")
"""


@pytest.mark.parametrize("runtime", ["lambda", "plain"])
def test_the_lambda_module_sets_logging_up_once(runtime):
    result = subprocess.run([sys.executable, "-c", LAMBDA_RUNTIME, runtime],
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "1 20 0 30"  # one handler, INFO, chatter at WARNING
    assert "cold start" in result.stdout + result.stderr


def test_the_api_socket_sends_answers_without_waiting_for_acks():
    """Without TCP_NODELAY on accepted connections every answer waited ~40 ms (Nagle and
    delayed ACKs): the listener sets it, and accepted connections inherit it."""
    import socket

    from core.config import ApiSettings
    from sensorbot.runner import listen

    server = listen(ApiSettings(host="127.0.0.1", port=0))
    client = socket.create_connection(server.getsockname()[:2])
    accepted, _ = server.accept()
    try:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        for sock in (accepted, client, server):
            sock.close()


def test_a_failing_part_is_started_again_not_silently_lost(caplog):
    import asyncio

    from sensorbot.runner import supervise

    runs: list[int] = []

    async def flaky(stop: asyncio.Event) -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("a fault nobody expected")

    asyncio.run(supervise(flaky, asyncio.Event(), "the part"))

    assert len(runs) == 2
    assert "the part failed; it starts again in 1 s" in caplog.text


def test_a_part_in_its_own_thread_never_holds_up_the_main_loop():
    import asyncio
    import threading

    from sensorbot.runner import in_own_thread

    seen: dict[str, object] = {}

    async def blocking(stop: asyncio.Event) -> None:
        seen["thread"] = threading.current_thread().name
        time.sleep(1.0)  # a write that blocks its loop
        await stop.wait()
        seen["stopped"] = True

    async def main() -> float:
        stop = asyncio.Event()
        part = asyncio.create_task(in_own_thread(blocking, stop, "mqtt"))
        worst, last = 0.0, time.monotonic()
        for _ in range(30):  # the main loop ticks every 20 ms meanwhile
            await asyncio.sleep(0.02)
            now = time.monotonic()
            worst, last = max(worst, now - last), now
        stop.set()
        await asyncio.wait_for(part, 5)
        return worst

    worst = asyncio.run(main())

    assert seen == {"thread": "mqtt", "stopped": True}
    assert worst < 0.5
