"""A long command's progress: rewritten in place on a terminal, whole lines in a log."""

from __future__ import annotations

import io

from sensorbot.progress import ProgressLine


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_in_a_log_it_writes_whole_lines_every_few_seconds_and_always_the_last():
    log, clock = io.StringIO(), Ticks()
    progress = ProgressLine(log, terminal=False, every_s=5, clock=clock)

    for second in range(12):
        clock.now = second
        progress.show(f"deleted {second} of 12")
    progress.finish("deleted 12 of 12")

    assert "\r" not in log.getvalue()
    assert log.getvalue().splitlines() == ["deleted 0 of 12", "deleted 5 of 12",
                                           "deleted 10 of 12", "deleted 12 of 12"]


def test_in_a_log_the_last_line_shown_is_not_written_twice():
    log, clock = io.StringIO(), Ticks()
    progress = ProgressLine(log, terminal=False, clock=clock)

    progress.show("scanned 41 items")
    progress.finish()

    assert log.getvalue() == "scanned 41 items\n"


def test_on_a_terminal_it_rewrites_one_line_and_ends_it():
    screen = io.StringIO()
    progress = ProgressLine(screen, terminal=True)

    progress.show("deleted 1 of 2, 1,000 readings")
    progress.show("deleted 2 of 2, 9 readings")
    progress.finish()

    assert screen.getvalue() == ("\rdeleted 1 of 2, 1,000 readings"
                                 "\rdeleted 2 of 2, 9 readings    \rdeleted 2 of 2, 9 readings\n")


def test_without_progress_it_writes_nothing():
    log = io.StringIO()

    ProgressLine(log, terminal=False).finish()

    assert log.getvalue() == ""
