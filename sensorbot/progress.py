"""A long command's progress on stderr: one line rewritten in place on a terminal; in a log or
a pipe, where a carriage return would run every update into one endless line, whole lines
now and then, and always the last."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

EVERY_S = 5.0  # in a log: often enough to see it move, seldom enough to read


class ProgressLine:
    """Progress lines to `stream`, from any thread."""

    def __init__(self, stream: TextIO, *, terminal: bool | None = None,
                 every_s: float = EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.terminal = stream.isatty() if terminal is None else terminal
        self.every_s = every_s
        self.clock = clock
        self._latest: str | None = None
        self._written: str | None = None
        self._written_at: float | None = None
        self._lock = threading.Lock()

    def show(self, line: str) -> None:
        """The latest progress: on a terminal at once; in a log when `every_s` has passed
        since the last line written."""
        with self._lock:
            self._latest = line
            if self.terminal:
                self._rewrite(line)
                return
            now = self.clock()
            if self._written_at is None or now - self._written_at >= self.every_s:
                self._write_line(line)
                self._written_at = now

    def finish(self, line: str | None = None) -> None:
        """The final progress (`line`, else the latest shown) as a whole line, once."""
        with self._lock:
            final = line if line is not None else self._latest
            if final is None:
                return
            if self.terminal:
                self._rewrite(final)
                self.stream.write("\n")
                self.stream.flush()
            elif final != self._written:
                self._write_line(final)
            self._latest = None

    def _rewrite(self, line: str) -> None:
        # Spaces wipe what a longer previous line left at the end.
        spare = max(0, len(self._written or "") - len(line))
        self.stream.write("\r" + line + " " * spare)
        self.stream.flush()
        self._written = line

    def _write_line(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()
        self._written = line
