"""/export: pages read in a worker thread, plain CSV when small, gzip parts when large."""

from __future__ import annotations

import csv
import gzip
import io

import pytest

import bot.export
from bot.export import pages
from storage.models import Reading
from storage.sqlite import SQLiteStore
from tests.support.common import NOW_MS

DENSE = 30_000


def rows_of(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))


def test_it_reads_a_range_in_pages_that_join_up_exactly(tmp_path):
    store = SQLiteStore(tmp_path / "pages.db")
    store.write_readings("u", [Reading("s", NOW_MS - i * 1000, i) for i in range(50)],
                         now_ms=NOW_MS)

    found = list(pages(store, "u", "s", NOW_MS - 45_000, NOW_MS, now_ms=NOW_MS, page=7))

    assert [len(p) for p in found] == [7] * 6 + [4]
    assert [r for p in found for r in p] == store.read_range("u", "s", NOW_MS - 45_000, NOW_MS,
                                                            now_ms=NOW_MS)


def test_an_export_of_an_empty_range_says_so_and_sends_no_file(world):
    [answer] = world.linked_chat().say("/export attic 2020-01-01")

    assert answer.method == "sendMessage"
    assert "No readings from attic on 2020-01-01" in answer.text


def test_a_large_export_is_compressed_and_split_under_the_upload_limit(world, monkeypatch):
    monkeypatch.setattr(bot.export, "PAGE", 1000)
    monkeypatch.setattr(bot.export, "PLAIN_LIMIT", 100_000)
    monkeypatch.setattr(bot.export, "PART_LIMIT", 60_000)
    world.store.write_readings("alice", [Reading("dense", NOW_MS - i * 1000, (i % 997) / 7)
                                         for i in range(DENSE)], now_ms=NOW_MS)
    chat = world.linked_chat()

    start = len(world.emulator.calls)
    [first] = chat.say("/export dense 24h")
    parts = int(first.text.rsplit(" of ", 1)[1])
    documents = chat.wait(start, replies=parts)

    assert parts > 1
    names = [d.files["document"][0] for d in documents]
    assert names == [f"dense_24h.part{i}of{parts}.csv.gz" for i in range(1, parts + 1)]
    tables = [rows_of(gzip.decompress(d.files["document"][1])) for d in documents]
    assert all(table[0] == ["timestamp_ms", "local_time", "value"] for table in tables)
    assert all(len(d.files["document"][1]) <= 60_000 + 20_000 for d in documents)
    exported = [(int(r[0]), float(r[2])) for table in tables for r in table[1:]]
    stored = world.store.read_range("alice", "dense", NOW_MS - 86_400_000, NOW_MS,
                                    now_ms=NOW_MS)
    assert exported == [(r.timestamp, r.value) for r in stored]
    assert f"{DENSE:,} readings · gzip-compressed CSV · part 1 of {parts}" in first.text


def test_a_middling_export_is_one_gzip_file(world, monkeypatch):
    monkeypatch.setattr(bot.export, "PAGE", 1000)
    monkeypatch.setattr(bot.export, "PLAIN_LIMIT", 100_000)
    world.store.write_readings("alice", [Reading("dense", NOW_MS - i * 1000, i / 8)
                                         for i in range(DENSE)], now_ms=NOW_MS)

    [document] = world.linked_chat().say("/export dense 24h")

    name, content = document.files["document"]
    assert name == "dense_24h.csv.gz"
    assert len(rows_of(gzip.decompress(content))) == DENSE + 1


@pytest.mark.parametrize("sensor", ["a/b:c.d", "x" * 64])
def test_export_file_names_are_safe_whatever_the_sensor_id(world, sensor):
    world.store.write_readings("alice", [Reading(sensor, NOW_MS, 1.0)], now_ms=NOW_MS)

    [document] = world.linked_chat().say(f"/export {sensor} 2026-01-01..2027-01-15")

    name = document.files["document"][0]
    assert name.endswith("_2026-01-01_2027-01-15.csv")
    assert "/" not in name and ":" not in name and len(name) < 100
