"""deploy/prune.py leaves what charts use: a chart draws from a pruned copy of matplotlib,
numpy and Pillow (this machine's builds, pruned as the bot's zip is), and the zip stays within
its budgets."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from deploy.package import over_budget
from deploy.prune import KEPT_FONTS, prune, remove_unloaded_libraries

ROOT = Path(__file__).resolve().parents[2]
CHART_DISTRIBUTIONS = ("matplotlib", "numpy", "pillow", "fonttools", "kiwisolver", "cycler",
                       "python-dateutil", "pyparsing", "packaging", "contourpy", "six")
DRAW = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]  # -I -S: no other site-packages
from zoneinfo import ZoneInfo
import matplotlib
from bot.chart import Threshold, render_png
from storage.models import Reading
readings = [Reading("attic", 1_800_000_000_000 + i * 60_000, 20 + (i % 7) / 3) for i in range(3000)]
png = render_png(readings, title="attic $5 – 24 h", unit="°C", zone=ZoneInfo("Europe/Helsinki"),
                 thresholds=[Threshold(3.0, "alert below 3 °C")])
print(json.dumps({"png": png[:8].hex(), "size": len(png), "matplotlib": matplotlib.__file__,
                  "fonts": sorted({f.fname.rsplit("/", 1)[1]  # not the system's
                                   for f in matplotlib.font_manager.fontManager.ttflist
                                   if f.fname.startswith(sys.argv[1])})}))
"""


def copy_distribution(name: str, target: Path) -> None:
    distribution = importlib.metadata.distribution(name)
    for file in distribution.files or []:
        source = Path(str(distribution.locate_file(file)))
        if source.is_file() and ".." not in file.parts:
            (target / file).parent.mkdir(parents=True, exist_ok=True)
            try:  # prune only removes files, so a link is as good as a copy, and quicker
                os.link(source, target / file)
            except OSError:  # another file system
                shutil.copy2(source, target / file)


def test_a_chart_draws_from_the_chart_libraries_as_pruned(tmp_path):
    site = tmp_path / "site"
    for name in CHART_DISTRIBUTIONS:
        copy_distribution(name, site)

    prune(site)
    result = subprocess.run([sys.executable, "-I", "-S", "-c", DRAW, str(site), str(ROOT)],
                            env={"MPLCONFIGDIR": str(tmp_path / "mpl"), "PATH": "/usr/bin"},
                            capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode == 0, result.stderr[-3000:]
    drawn = json.loads(result.stdout)
    assert drawn["png"] == "89504e470d0a1a0a" and drawn["size"] > 10_000
    assert drawn["matplotlib"].startswith(str(site))
    assert set(drawn["fonts"]) <= KEPT_FONTS
    assert sorted(p.name for p in (site / "fontTools").rglob("*.py")) == [
        "__init__.py", "__init__.py", "agl.py", "loggingTools.py", "textTools.py"]
    assert not list(site.rglob("tests")) and not list(site.rglob("*.pyi"))
    assert sorted(p.name for p in (site / "matplotlib" / "backends").glob("*.py")) == [
        "__init__.py", "backend_agg.py", "registry.py"]


def test_a_bundled_library_goes_only_when_nothing_kept_loads_it(tmp_path):
    libs = tmp_path / "pillow.libs"
    libs.mkdir()
    (tmp_path / "_imaging.so").write_bytes(b"\0libtiff-1.so.6\0")
    (libs / "libtiff-1.so.6").write_bytes(b"\0libtiff-1.so.6\0libzstd-2.so.1\0")  # its soname
    (libs / "libzstd-2.so.1").write_bytes(b"\0libzstd-2.so.1\0")
    (libs / "libfreetype-3.so.6").write_bytes(b"\0libfreetype-3.so.6\0libpng-4.so.16\0")
    (libs / "libpng-4.so.16").write_bytes(b"\0libpng-4.so.16\0")

    remove_unloaded_libraries(tmp_path)

    assert sorted(p.name for p in libs.iterdir()) == ["libtiff-1.so.6", "libzstd-2.so.1"]


def test_a_zip_over_its_budget_fails_the_build_with_a_sentence():
    mib = 2**20

    assert over_budget("bot", 32 * mib, 100 * mib) is None
    assert "dist/bot.zip is over its budget of 40 MiB zipped" in over_budget(
        "bot", 41 * mib, 100 * mib)
    assert over_budget("bot", 32 * mib, 151 * mib) is not None
