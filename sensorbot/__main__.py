from __future__ import annotations

from sensorbot.cli import main

raise SystemExit(main())
