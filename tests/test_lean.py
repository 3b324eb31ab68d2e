"""What `sensorbot run` keeps out of memory: DynamoDB's client on SQLite, and the extras of its
libraries that it never uses."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sensorbot.lean import unused_extras_hidden, without_docstrings
from tests.support.dynalite import free_port

NEVER_IMPORTED = ("boto3", "botocore", "cryptography", "pydantic.v1", "httpx._main", "rich",
                  "websockets", "watchfiles")
# Runs the command as the console script does, then names the modules it imported.
IMPORTED_BY_RUN = ("import sys; from sensorbot.__main__ import entry; code = entry(); "
                   "print(code, *(name for name, m in sys.modules.items() if m is not None))")


def run_refused_by_telegram(script: str, folder: Path, emulator: Any) -> list[str]:
    """`sensorbot run` on SQLite under `script`, up to Telegram refusing its token (once all
    is built): what the script printed, word by word."""
    config = folder / "config.toml"
    config.write_text(f'[telegram]\ntoken = "999:WRONG"\nbase_url = "{emulator.base_url}"\n'
                      f'[storage]\nsqlite_path = "s.db"\n[api]\nport = {free_port()}\n',
                      encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", script, "run", "--config", str(config)],
                            cwd=folder, capture_output=True, text=True, timeout=60)
    assert result.stdout, result.stderr
    return result.stdout.split()


def test_run_on_sqlite_imports_neither_boto3_nor_unused_extras(tmp_path, emulator):
    code, *modules = run_refused_by_telegram(IMPORTED_BY_RUN, tmp_path, emulator)

    assert code == "2"  # Telegram refused the token, after all was built
    assert {"telegram", "fastapi", "uvicorn", "ingest.http.app"} <= set(modules)
    assert set(NEVER_IMPORTED).isdisjoint(modules)


def test_hidden_extras_read_as_not_installed_and_come_back_afterwards():
    name = "json.tool"  # a module no test imports
    sys.modules.pop(name, None)

    with unused_extras_hidden((name, "json")), pytest.raises(ImportError):
        import json.tool

    import json.tool  # noqa: F401

    assert sys.modules[name] is not None
    assert sys.modules["json"] is not None  # imported before: never hidden


# Runs the command as the console script does, then says how many objects it froze.
FROZEN_BY = ("import gc; from sensorbot.__main__ import entry; code = entry(); "
             "print(code, gc.get_freeze_count())")


def test_run_freezes_what_start_up_built(tmp_path, emulator):
    code, frozen = run_refused_by_telegram(FROZEN_BY, tmp_path, emulator)

    assert code == "2"
    assert int(frozen) > 50_000  # modules, the bot and the API: the collector skips them


# As FROZEN_BY, and says whether Telegram's library was loaded.
FROZEN_WITHOUT_THE_BOT = ("import gc, sys; from sensorbot.__main__ import entry; code = entry(); "
                          "print(code, 'telegram' in sys.modules, gc.get_freeze_count())")


def test_the_api_freezes_what_start_up_built_and_leaves_the_bot_out(tmp_path):
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\nsqlite_path = "s.db"\n[api]\nport = {port}\n',
                      encoding="utf-8")
    server = subprocess.Popen([sys.executable, "-c", FROZEN_WITHOUT_THE_BOT, "api", "--config",
                               str(config)],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        wait_until_answering(port)
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)

    code, with_telegram, frozen = out.split()
    assert code == "0", err
    assert with_telegram == "False"  # the API alone starts without the bot's library
    assert int(frozen) > 50_000


def wait_until_answering(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# Draws a chart with the extras hidden and warnings as errors; says whether 3D axes loaded.
CHART_WITHOUT_3D = """
import sys
from zoneinfo import ZoneInfo
from sensorbot.lean import unused_extras_hidden, without_docstrings
from storage.models import Reading
with unused_extras_hidden():
    from bot.chart import render_png
    png = render_png([Reading("attic", 1_700_000_000_000 + i * 60_000, i / 10) for i in range(99)],
                     title="Attic", unit="°C", zone=ZoneInfo("UTC"))
print(png[:4] == b"\\x89PNG", sys.modules.get("mpl_toolkits.mplot3d") is not None)
"""


def test_charts_are_drawn_without_matplotlibs_3d_axes_and_without_a_warning():
    result = subprocess.run([sys.executable, "-W", "error", "-c", CHART_WITHOUT_3D],
                            capture_output=True, text=True, timeout=120)

    assert result.stdout.split() == ["True", "False"], result.stderr


# Frees a large block (which raises glibc's own threshold), then says whether a 200 KiB block
# is mapped on its own.
MAPPED_ALONE = """
import ctypes
from sensorbot.lean import return_large_blocks
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in "arena ordblks smblks hblks hblkhd usmblks "
                "fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype, libc.malloc.restype = Info, ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
if "{fixed}" == "True":
    return_large_blocks()
libc.free(libc.malloc(4 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(200 << 10)
print(libc.mallinfo2().hblks - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize(("fixed", "mapped"), [(True, "1"), (False, "0")])
def test_large_blocks_are_mapped_alone_so_that_they_go_back_when_freed(fixed, mapped):
    result = subprocess.run([sys.executable, "-c", MAPPED_ALONE.format(fixed=fixed)],
                            capture_output=True, text=True, timeout=60)

    assert result.stdout.strip() == mapped, result.stderr


@pytest.mark.parametrize(("args", "again"), [
    (["run"], True), (["api", "--port", "8080"], True), (["--config", "c.toml", "run"], True),
    (["--config=c.toml", "api"], True), (["--config", "run"], False), (["check"], False),
    (["demo"], False), ([], False)])
def test_only_the_long_running_commands_start_again_without_docstrings(args, again):
    argv = without_docstrings(args) if sys.flags.optimize < 2 else None

    assert (argv is not None) == again
    if argv is not None:
        assert argv[:2] == [sys.executable, "-OO"]
        assert argv[2:] == sys.orig_argv[1:]


# Runs the command as the console script does; says whether docstrings were left out.
OPTIMIZED = ("import sys; from sensorbot.__main__ import entry; code = entry(); "
             "print(code, sys.flags.optimize, entry.__doc__ is None)")


def test_run_runs_without_docstrings(tmp_path, emulator):
    code, optimize, undocumented = run_refused_by_telegram(OPTIMIZED, tmp_path, emulator)

    assert (code, optimize, undocumented) == ("2", "2", "True")
