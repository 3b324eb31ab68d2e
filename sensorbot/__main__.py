"""`python -m sensorbot`, and the `sensorbot` console script."""

from __future__ import annotations

import sys


def entry() -> int:
    """Ctrl-C while the modules still load leaves quietly too (exit 130, like a shell)."""
    try:
        from sensorbot.cli import main

        return main()
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(entry())
