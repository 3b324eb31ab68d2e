"""`python -m sensorbot`, and the `sensorbot` console script."""

from __future__ import annotations

import os
import sys

from sensorbot.lean import without_docstrings


def entry() -> int:
    """A long-running command starts again without docstrings, before anything is loaded (the
    same process: its pid, signals and output stay). Ctrl-C while the modules still load
    leaves quietly too (exit 130, like a shell)."""
    try:
        again = without_docstrings(sys.argv[1:])
        if again is not None:
            os.execv(again[0], again)  # noqa: S606 - this interpreter, its own arguments
        from sensorbot.cli import main

        return main()
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(entry())
