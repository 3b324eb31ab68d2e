"""The HTTP examples of the README and docs/, run as pasted against a live `sensorbot api`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from storage.models import Reading
from storage.sqlite import SQLiteStore
from tests.support.docs import answers, block_with, curl_blocks, make_project, run_block

# heating.md's way to a backtest's files: curl's answers go to jq, not to the screen.
BACKTEST = "backtest --indoor attic_30d.csv --outdoor garden_30d.csv"
# The blocks the tests here and in tests/ingest look at closely, by a route only they use;
# every other block with a curl, on any page, is run by the last test.
LOOKED_AT_CLOSELY = ("/api/v3/readings", "/api/v1/ruuvi", BACKTEST)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def test_the_api_pages_http_examples_work_as_pasted(project):
    result = run_block(project, block_with("/api/v3/readings"))

    assert result.returncode == 0, result.stderr
    got = answers(result.stdout)
    assert [path for _, path, _ in got] == [
        "/api/v1/sensor/ruuvi%2Ftemperature/measurement", "/api/v2/sensor/attic/measurement",
        "/api/v2/sensor/attic/measurement", "/api/v2/sensor/attic/series", "/api/v3/readings",
        "/api/v3/sensors", "/api/v3/sensors/attic/readings", "/healthz"]
    assert all(200 <= status < 300 for status, _, _ in got), got
    bodies = [body for _, _, body in got]
    assert [item["value"] for item in bodies[3]] == [20.9, 21.5]
    assert bodies[4] == {"stored": 2}
    latest = {sensor["sensor"]: sensor["last_value"] for sensor in bodies[5]}
    assert latest == {"ruuvi/temperature": 21.3, "attic": 21.5, "cellar": 4.0, "sauna": 71.5}
    assert [reading["value"] for reading in bodies[6]["readings"]] == [20.9, 21.5]


def test_the_heating_pages_backtest_example_pages_through_the_api_as_pasted(project):
    """More readings than one page holds, a reading per 10 min over 12 days."""
    now = time.time_ns() // 1_000_000
    attic = [Reading("attic", now - i * 600_000, 8.0 + i % 3 / 10) for i in range(1, 1729)]
    garden = [Reading("garden", now - i * 3_600_000, -5.0) for i in range(1, 289)]
    store = SQLiteStore(project / "sensorbot.db")
    store.write_readings("summer-cottage", attic + garden, now_ms=now)
    store.close()

    result = run_block(project, block_with(BACKTEST), prelude="set -euo pipefail\n")

    assert result.returncode == 0, result.stderr
    assert (project / "attic_30d.csv").read_text().count("\n") == 1728
    assert "replayed 1728 readings" in result.stderr
    assert "288 outdoor readings" in result.stderr


def test_it_finds_the_examples_on_every_page():
    assert block_with("/api/v3/readings") and block_with("/api/v1/ruuvi")


@pytest.mark.parametrize("block", [
    block for block in curl_blocks() if not any(route in block for route in LOOKED_AT_CLOSELY)])
def test_every_other_curl_example_in_the_docs_works_as_pasted(project, block):
    result = run_block(project, block)

    assert result.returncode == 0, result.stderr
    got = answers(result.stdout)
    assert got and all(200 <= status < 300 for status, _, _ in got), got
