"""`sensorbot backtest`: files as /export writes them, the output lines, unreadable files."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import alerts.heating
from alerts.heating import HeatingEvent, Prediction
from bot.export import write_export
from sensorbot.cli import main
from storage.models import Reading
from storage.sqlite import SQLiteStore
from tests.support.common import NOW_MS

MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000


def exported(tmp_path: Path, readings: list[Reading]) -> Path:
    """The readings as the bot's /export writes them (`timestamp_ms,local_time,value`)."""
    tmp_path.mkdir(exist_ok=True)
    now = max(NOW_MS, readings[-1].timestamp)
    store = SQLiteStore(tmp_path / "export.db")
    store.write_readings("u", readings, now_ms=now)
    files = write_export(store, "u", readings[0].sensor, 0, now, now_ms=now,
                         zone=ZoneInfo("Europe/Helsinki"), stem="attic")
    target = tmp_path / "attic.csv"
    target.write_bytes(files.parts[0].read_bytes())
    files.close()
    return target


@pytest.fixture
def replayed(monkeypatch) -> list[tuple[list[Reading], list[Reading]]]:
    """A stand-in for the watch's replay: a warning at the first reading below 5, a recovery
    at the next one above 7.5; it records what it was given."""
    seen: list[tuple[list[Reading], list[Reading]]] = []

    def replay(indoor: Sequence[Reading], outdoor: Sequence[Reading] = ()
               ) -> Iterator[HeatingEvent]:
        seen.append((list(indoor), list(outdoor)))
        firing = False
        for r in sorted(indoor, key=lambda r: r.timestamp):
            if not firing and r.value < 5:
                firing = True
                yield HeatingEvent("heating_failed", r.timestamp, r.value, 8.0,
                                   Prediction(r.timestamp + 11 * HOUR, r.timestamp + 8 * HOUR,
                                              r.timestamp + 15 * HOUR, -0.7, -14.0,
                                              "forecast"))
            elif firing and r.value >= 7.5:
                firing = False
                yield HeatingEvent("heating_back", r.timestamp, r.value, 8.0)

    monkeypatch.setattr(alerts.heating, "replay", replay)
    return seen


def series(values: list[float], sensor: str = "attic") -> list[Reading]:
    start = NOW_MS - len(values) * 10 * MIN
    return [Reading(sensor, start + i * 10 * MIN, v) for i, v in enumerate(values)]


def test_it_replays_an_export_and_prints_one_json_line_a_transition(tmp_path, capsys, replayed):
    path = exported(tmp_path, series([8.0] * 10 + [4.5, 4.0, 8.1]))

    assert main(["backtest", "--indoor", str(path)]) == 0

    out, err = capsys.readouterr()
    failed, back = [json.loads(line) for line in out.splitlines()]
    warned_at = NOW_MS - 3 * 10 * MIN
    assert failed == {"t": warned_at, "event": "heating_failed", "value": 4.5, "level": 8.0,
                      "eta_ms": warned_at + 11 * HOUR, "eta_low_ms": warned_at + 8 * HOUR,
                      "eta_high_ms": warned_at + 15 * HOUR}
    assert back == {"t": NOW_MS - 10 * MIN, "event": "heating_back", "value": 8.1}
    assert "replayed 13 readings" in err and "1 heating warning, 1 recovery" in err
    assert [r.value for r in replayed[0][0]] == [8.0] * 10 + [4.5, 4.0, 8.1]


def test_it_reads_plain_two_column_csv_gzip_and_an_outdoor_file(tmp_path, capsys, replayed):
    indoor = tmp_path / "indoor.csv.gz"
    with gzip.open(indoor, "wt") as handle:
        handle.write("timestamp_ms,value\n" + "".join(
            f"{r.timestamp},{r.value}\n" for r in series([8.0, 7.9, 8.1])))
    outdoor = tmp_path / "outdoor.csv"
    outdoor.write_text("".join(f"{r.timestamp},{r.value}\n" for r in series([-3.0, -4.5])))

    assert main(["backtest", "--indoor", str(indoor), "--outdoor", str(outdoor)]) == 0

    out, err = capsys.readouterr()
    assert out == ""
    assert "0 heating warnings, 0 recoveries" in err and "2 outdoor readings" in err
    assert [r.value for r in replayed[0][1]] == [-3.0, -4.5]


@pytest.mark.parametrize(("content", "problem"), [
    ("timestamp_ms,value\n1800000000000,8.0\n1800000600000,warm\n",
     "line 3: value 'warm' is not a number"),
    ("1800000000000,8.0\nyesterday,8.0\n", "line 2: timestamp 'yesterday' is not epoch"),
    ("1800000000000,8.0,1,2\n", "line 1: expected timestamp_ms,value"),
    ("1800000000000,nan\n", "line 1: value 'nan' is not a finite number"),
    ("timestamp_ms,local_time,n,min,max,mean\n1800000000000,2027-01-15T08:00:00+00:00,60,7.5,"
     "8.1,7.8\n", "line 2: this is an hourly export (/export past 48 h"),
    # a spreadsheet's CSV where the decimal mark is a comma: the first line is no header
    ("1800000000000;8,0\n1800000600000;7,9\n", "line 1: its fields are separated by ';'"),
    ("timestamp_ms;value\n1800000000000;8.0\n", "line 1: its fields are separated by ';'"),
])
def test_a_file_it_cannot_read_is_one_line_naming_the_file_and_line(tmp_path, capsys,
                                                                    content, problem):
    path = tmp_path / "bad.csv"
    path.write_text(content)

    assert main(["backtest", "--indoor", str(path)]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"{path}: {problem}" + err.split(problem, 1)[1]
    assert len(err.strip().splitlines()) == 1


def test_a_byte_order_mark_is_not_taken_for_a_header(tmp_path, capsys, replayed):
    """A spreadsheet saves UTF-8 CSV with a BOM: its first reading must not go as a header."""
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(
        f"{r.timestamp},{r.value}\r\n" for r in series([8.0, 7.9, 8.1])).encode())

    assert main(["backtest", "--indoor", str(path)]) == 0

    assert [r.value for r in replayed[0][0]] == [8.0, 7.9, 8.1]


def test_a_missing_file_or_broken_gzip_is_named_too(tmp_path, capsys):
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"not gzip at all")

    assert main(["backtest", "--indoor", str(tmp_path / "gone.csv")]) == 2
    assert main(["backtest", "--indoor", str(tmp_path / "gone.csv"), "--outdoor",
                 str(broken)]) == 2

    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all(f"{tmp_path}/gone.csv: cannot be read" in line
                                   for line in lines)
    assert main(["backtest", "--indoor", str(broken)]) == 2
    assert f"{broken}: cannot be read" in capsys.readouterr().err


def test_the_watch_itself_warns_once_on_an_exported_failure_with_its_eta(tmp_path, capsys):
    """No stand-in: a simulated building whose heating fails on its sixth day, exported as the
    bot's /export writes it, indoor and outdoor."""
    from tests.support.heating import Building, simulate

    building = Building(days=7, fail_at=5.5 * 24, tau_h=30.0, outside=-12.0)
    indoor, outdoor = simulate(building)
    indoor_file = exported(tmp_path / "in", indoor)
    outdoor_file = exported(tmp_path / "out", outdoor)

    assert main(["backtest", "--indoor", str(indoor_file), "--outdoor",
                 str(outdoor_file)]) == 0

    out, err = capsys.readouterr()
    [warning] = [json.loads(line) for line in out.splitlines()]
    failed_at = indoor[0].timestamp + int(5.5 * DAY)
    assert warning["event"] == "heating_failed"
    assert failed_at < warning["t"] < failed_at + 3 * HOUR
    assert warning["eta_low_ms"] <= warning["eta_ms"] <= warning["eta_high_ms"]
    assert warning["eta_ms"] > warning["t"]
    assert "1 heating warning, 0 recoveries" in err


def test_a_file_shorter_than_the_watchs_learning_says_it_cannot_tell(tmp_path, capsys):
    """The chat's longest readings export is 48 h: "0 heating warnings" alone would read as
    "it would not have warned", when the watch was still learning."""
    path = exported(tmp_path, series([8.0] * 287 + [4.0]))  # 48 h, a failure at the end

    assert main(["backtest", "--indoor", str(path)]) == 0

    _, err = capsys.readouterr()
    assert "0 heating warnings" in err
    assert "learns for 3 days before it can warn" in err
    assert "Backtest your own readings" in err


def test_weeks_of_timestamps_in_seconds_are_named_as_seconds(tmp_path, capsys):
    """Three weeks in seconds read as half an hour of milliseconds in 1970: "the watch learns
    for 3 days" would send the user looking for more readings rather than at the unit."""
    path = tmp_path / "seconds.csv"
    path.write_text("".join(f"{1_767_225_600 + i * 300},8.0\n" for i in range(21 * 288)))

    assert main(["backtest", "--indoor", str(path)]) == 0

    err = capsys.readouterr().err
    assert "timestamps look like seconds" in err
    assert "learns for" not in err
    assert "e.g. 1769039700000,7.9" in err


def test_a_file_long_enough_says_nothing_of_learning(tmp_path, capsys, replayed):
    path = exported(tmp_path, series([8.0] * 3 * 24 * 6 + [4.0]))

    assert main(["backtest", "--indoor", str(path)]) == 0

    assert "learns for" not in capsys.readouterr().err


def test_fahrenheit_readings_are_watched_in_celsius_and_printed_in_fahrenheit(
        tmp_path, capsys, replayed):
    path = exported(tmp_path, series([46.4] * 10 + [40.1, 39.2, 46.6]))  # 8, 4.5, 4, 8.1 °C

    assert main(["backtest", "--indoor", str(path), "--unit", "°F"]) == 0

    out, _ = capsys.readouterr()
    failed, back = [json.loads(line) for line in out.splitlines()]
    assert [round(r.value, 2) for r in replayed[0][0]][-3:] == [4.5, 4.0, 8.11]
    assert (failed["value"], failed["level"], back["value"]) == (40.1, 46.4, 46.6)


@pytest.mark.parametrize("unit", ["F", "degF", "ºF"])
def test_fahrenheit_spelled_as_unit_accepts_it_is_fahrenheit(tmp_path, capsys, replayed, unit):
    path = exported(tmp_path, series([46.4] * 10 + [40.1, 39.2, 46.6]))

    assert main(["backtest", "--indoor", str(path), "--unit", unit]) == 0

    assert [round(r.value, 2) for r in replayed[0][0]][-3:] == [4.5, 4.0, 8.11]


def test_a_unit_that_is_not_a_temperature_is_refused_not_replayed_as_celsius(
        tmp_path, capsys, replayed):
    path = exported(tmp_path, series([46.4] * 10))

    with pytest.raises(SystemExit) as exited:
        main(["backtest", "--indoor", str(path), "--unit", "K"])

    assert exited.value.code == 2
    assert "'K' is not a temperature unit; e.g. --unit °F" in capsys.readouterr().err
    assert replayed == []
