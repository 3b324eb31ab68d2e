"""`sensorbot demo`: a newcomer types commands and sees answers, charts and files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_answers_in_the_terminal_and_saves_charts(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sensorbot", "demo"], cwd=tmp_path, text=True, timeout=120,
        input="/latest\n/history\n1\n/export attic 6h\n/freeze attic\n/alerts\n",
        capture_output=True)

    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert re.search(r"bot> Attic: -?\d+(\.\d+)? °C", out)
    assert "[1] Attic" in out
    chart = Path(re.search(r"\[photo saved to (.+\.png)\]", out)[1])
    assert chart.read_bytes().startswith(b"\x89PNG")
    csv_file = Path(re.search(r"\[document saved to (.+\.csv)\]", out)[1])
    assert csv_file.read_text().startswith("timestamp_ms,local_time,value\n")
    assert "Pipe-freeze protection on Attic" in out
    assert "Bye." in out
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing left in the working directory
