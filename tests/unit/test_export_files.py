"""/export's files: CSV in the chat's zone, gzip past a size, parts under Telegram's limit."""

from __future__ import annotations

import csv
import gzip
import io
from zoneinfo import ZoneInfo

import pytest

from bot import export
from bot.export import ExportFiles
from storage.models import Reading

HELSINKI = ZoneInfo("Europe/Helsinki")
T0 = 1_800_000_000_000  # 2027-01-15 10:00 in Helsinki


def rows_of(path, compressed: bool) -> list[list[str]]:
    data = gzip.decompress(path.read_bytes()) if compressed else path.read_bytes()
    return list(csv.reader(io.StringIO(data.decode())))


def test_it_writes_one_csv_with_local_times(tmp_path):
    files = ExportFiles(tmp_path, "attic")
    files.write([Reading("attic", T0, 1.5), Reading("attic", T0 + 60_000, -0.25)], HELSINKI)
    [(path, name)] = (files.finish(), files.named_parts())[1]

    assert name == "attic.csv"
    assert rows_of(path, False) == [["timestamp_ms", "local_time", "value"],
                                    [str(T0), "2027-01-15T10:00:00+02:00", "1.5"],
                                    [str(T0 + 60_000), "2027-01-15T10:01:00+02:00", "-0.25"]]


def test_past_the_plain_limit_it_compresses_and_splits_each_part_with_its_header(
        tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(export, "PLAIN_LIMIT", 2_000)
    monkeypatch.setattr(export, "PART_LIMIT", 3_000)
    files = ExportFiles(tmp_path, "dense")
    readings = [Reading("dense", T0 + i * 1000, i / 7) for i in range(6_000)]
    for start in range(0, len(readings), 500):
        files.write(readings[start:start + 500], HELSINKI)
    files.finish()
    named = files.named_parts()

    assert files.compressed and len(named) > 1
    assert named[0][1] == f"dense.part1of{len(named)}.csv.gz"
    parts = [rows_of(path, True) for path, _ in named]
    assert all(part[0] == ["timestamp_ms", "local_time", "value"] for part in parts)
    assert [int(row[0]) for part in parts for row in part[1:]] == \
        [r.timestamp for r in readings]
    files.close()
    assert not tmp_path.exists()
