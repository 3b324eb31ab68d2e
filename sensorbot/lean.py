"""Optional extras of our dependencies that sensorbot never uses, kept out of the processes
that run for months (`sensorbot run`, `sensorbot api`).

Each is imported by a library only because it happens to be installed, and costs memory for
as long as the process lives. Hidden while the command runs, they read as not installed; the
libraries then go without the feature, as they do wherever the package is missing.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

LONG_RUNNING = frozenset({"run", "api"})  # processes that live for months

UNUSED_EXTRAS = (
    "cryptography",  # python-telegram-bot's Telegram Passport decryption: ~8 MB
    "httpx._main",  # httpx's command-line client, with rich, pygments and click: ~3.5 MB
    "pydantic.v1",  # FastAPI's check whether a response model is a pydantic 1 model: ~2.5 MB
    "watchfiles",  # uvicorn's --reload
    "mpl_toolkits.mplot3d",  # matplotlib's 3D axes, which charts never draw: ~1 MB
)
# What a library says when it goes without a hidden extra: expected, so not shown.
SAID_WITHOUT = {"mpl_toolkits.mplot3d": "Unable to import Axes3D"}
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter numbers
M_ARENA_MAX = -8
LARGE_BLOCK_BYTES = 128 * 1024


def without_docstrings(args: Sequence[str]) -> list[str] | None:
    """The command line that runs this process again without docstrings (`python -OO`), when
    `args` (sensorbot's own) name a long-running command on a POSIX system; else None.

    Docstrings are a third of the code of the libraries a bot loads, held for months and read
    by nobody: without them `sensorbot run` holds ~5 MB less idle, ~9 MB less after charts.
    -OO drops `assert` statements too, which sensorbot uses only to narrow types."""
    if (sys.flags.optimize >= 2 or os.name != "posix" or not sys.executable
            or command_of(args) not in LONG_RUNNING):
        return None
    return [sys.executable, "-OO", *sys.orig_argv[1:]]


def command_of(args: Sequence[str]) -> str | None:
    """The command `args` name, past a `--config PATH` given before it."""
    rest = iter(args)
    for arg in rest:
        if arg == "--config":
            next(rest, None)
        elif not arg.startswith("--config="):
            return arg
    return None


def share_heap_arenas(arenas: int = 2) -> None:
    """glibc gives threads that allocate at once heap arenas of their own, and memory freed in
    one is seldom given back: the API's writers, the charts, Telegram's and the alert cycle's
    threads share two (~4 MB less after a few charts). Elsewhere than glibc, nothing."""
    _mallopt(M_ARENA_MAX, arenas)


def return_large_blocks(threshold: int = LARGE_BLOCK_BYTES) -> None:
    """Blocks of `threshold` bytes or more are mapped on their own and go back to the system
    when freed. glibc starts at 128 KiB too, but raises the bar to the size of any such block
    freed (a chart's 2.9 MB of pixels, say): later ones then land in the heap, which keeps
    what it grew by. Fixed: ~2.5 MB less at idle, ~1 MB after charts. Elsewhere than glibc,
    nothing."""
    _mallopt(M_MMAP_THRESHOLD, threshold)


def _mallopt(parameter: int, value: int) -> None:
    """glibc's mallopt; elsewhere than glibc, nothing."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(parameter, value)


@contextmanager
def unused_extras_hidden(names: tuple[str, ...] = UNUSED_EXTRAS) -> Iterator[None]:
    """Within the block, importing one of `names` fails as if it were not installed (unless
    it was imported already); afterwards it can be imported again."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
        if name in SAID_WITHOUT:
            warnings.filterwarnings("ignore", message=SAID_WITHOUT[name], category=UserWarning)
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


def freeze_startup_heap() -> None:
    """What start-up built (modules, the app, its routes and their schemas) lives as long as
    the process: frozen, it is no longer walked by the cycle collector, whose full collections
    took ~0.35 ms of the ~2.7 ms of CPU the API spends on a batch of 500 readings. Garbage is
    collected first, so none of it is kept for good."""
    gc.collect()
    gc.freeze()
