"""/export: a sensor's readings as CSV, written off the event loop.

A range may hold millions of readings (1.5 M made a 67 MB CSV). They are read in pages and
written to temporary files in a worker thread, so the HTTP API sharing the event loop keeps
answering and memory stays flat. A CSV over PLAIN_LIMIT is gzip-compressed, and cut into parts
that each stay under Telegram's 50 MB upload limit.
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, cast
from zoneinfo import ZoneInfo

from storage.base import Store
from storage.models import Reading
from storage.rollup import hourly_history

PAGE = 5_000
PLAIN_LIMIT = 10 * 2**20  # larger CSVs are sent gzip-compressed
PART_LIMIT = 45 * 2**20  # Telegram takes 50 MB from a bot; room for the multipart framing
HEADER = ["timestamp_ms", "local_time", "value"]
HOURLY_HEADER = ["timestamp_ms", "local_time", "n", "min", "max", "mean"]


def pages(store: Store, user_id: str, sensor_id: str, start_ms: int, end_ms: int, *,
          now_ms: int, page: int = PAGE) -> Iterator[list[Reading]]:
    """The range, ascending, `page` readings at a time."""
    while start_ms <= end_ms:
        found = store.read_range(user_id, sensor_id, start_ms, end_ms, now_ms=now_ms, limit=page)
        if found:
            yield found
        if len(found) < page:
            return
        start_ms = found[-1].timestamp + 1


@dataclass
class ExportFiles:
    """What /export sends: one CSV, or gzip parts. `folder` is removed by close()."""

    folder: Path
    stem: str
    count: int = 0
    parts: list[Path] = field(default_factory=list)
    compressed: bool = False
    header: list[str] = field(default_factory=lambda: HEADER)
    row_word: str = "reading"  # what a row is, in the caption
    _raw: io.BufferedWriter | None = field(default=None, init=False, repr=False)
    _text: IO[str] | None = field(default=None, init=False, repr=False)

    def write(self, readings: list[Reading], zone: ZoneInfo) -> None:
        self.write_rows([(r.timestamp, local_time(r.timestamp, zone), repr(r.value))
                         for r in readings])

    def write_rows(self, rows: list[tuple[object, ...]]) -> None:
        if self._text is None:
            self._open_part()
        assert self._text is not None
        csv.writer(self._text, lineterminator="\n").writerows(rows)
        self.count += len(rows)
        self._text.flush()
        assert self._raw is not None
        size = self._raw.tell()
        if not self.compressed and size > PLAIN_LIMIT:
            self._compress_so_far()
        elif self.compressed and size > PART_LIMIT:
            self._finish_part()

    def finish(self) -> list[Path]:
        self._finish_part()
        return self.parts

    def close(self) -> None:
        self._finish_part()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _open_part(self) -> None:
        path = self.folder / f"part{len(self.parts) + 1}.csv{'.gz' if self.compressed else ''}"
        self.parts.append(path)
        self._raw = path.open("wb")
        binary = cast(IO[bytes], gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6)) \
            if self.compressed else self._raw
        self._text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
        csv.writer(self._text, lineterminator="\n").writerow(self.header)

    def _finish_part(self) -> None:
        if self._text is None:
            return
        self._text.close()  # closes the gzip stream too (it writes the trailer)
        assert self._raw is not None
        self._raw.close()
        self._text = self._raw = None

    def _compress_so_far(self) -> None:
        """The plain CSV became too big to send as it is: gzip what is written and go on."""
        self._finish_part()
        plain = self.parts.pop()
        self.compressed = True
        self._open_part()
        assert self._text is not None
        with plain.open(encoding="utf-8") as source:
            source.readline()  # the header is written already
            shutil.copyfileobj(source, self._text, 2**20)
        plain.unlink()

    def named_parts(self) -> list[tuple[Path, str]]:
        """Each part with the file name the user sees."""
        suffix = ".csv.gz" if self.compressed else ".csv"
        if len(self.parts) == 1:
            return [(self.parts[0], self.stem + suffix)]
        return [(path, f"{self.stem}.part{i}of{len(self.parts)}{suffix}")
                for i, path in enumerate(self.parts, 1)]


def local_time(ms: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, zone).isoformat(timespec="seconds")


def write_export(store: Store, user_id: str, sensor_id: str, start_ms: int, end_ms: int, *,
                 now_ms: int, zone: ZoneInfo, stem: str) -> ExportFiles:
    """Every reading of the range into temporary files; blocking: run it in a worker thread.
    The caller close()s the result once sent."""
    files = ExportFiles(Path(tempfile.mkdtemp(prefix="sensorbot-export-")), stem)
    try:
        for page in pages(store, user_id, sensor_id, start_ms, end_ms, now_ms=now_ms,
                          page=PAGE):
            files.write(page, zone)
        files.finish()
    except BaseException:
        files.close()
        raise
    return files


def without_float_noise(mean: float) -> str:
    """A mean as its readings would write it: 8.06, not the sum's 8.059999999999999."""
    return repr(float(f"{mean:.12g}"))


def write_hourly_export(store: Store, user_id: str, sensor_id: str, start_ms: int, end_ms: int,
                        *, now_ms: int, zone: ZoneInfo, stem: str) -> ExportFiles:
    """The range's hourly statistics (`timestamp_ms` is the hour's start) into a temporary
    file; blocking: run it in a worker thread. The caller close()s the result once sent."""
    history = hourly_history(store, user_id, sensor_id, start_ms, end_ms, now_ms=now_ms)
    files = ExportFiles(Path(tempfile.mkdtemp(prefix="sensorbot-export-")), stem,
                        header=HOURLY_HEADER, row_word="hour")
    try:
        if history.hours:
            files.write_rows([(h.hour, local_time(h.hour, zone), h.n, repr(h.minimum),
                               repr(h.maximum), without_float_noise(h.mean))
                              for h in history.hours])
        files.finish()
    except BaseException:
        files.close()
        raise
    return files
