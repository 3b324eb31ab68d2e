"""sensorbot's composition package: the CLI, `run`, the demo and its Telegram emulator, the
Lambda entry points and the store factory. Wiring only; it is the one package that may import
every other, and none imports it."""

from __future__ import annotations

from core import __version__

__all__ = ["__version__"]
