"""`benchmarks/heating_worst.py`: the worst cases of any seed block of sets 4 and 5."""

from __future__ import annotations

from benchmarks.heating_worst import firsts, jobs


def test_a_seed_outside_the_default_block_is_read_in_its_own_block() -> None:
    assert firsts(400_000, [800_024], None) == [400_000, 800_000]
    assert firsts(400_000, None, None) == [400_000]
    assert firsts(400_000, [800_024], 700_000) == [700_000]
    # its mode is its place in its block: set 4's first 90 are full failures, then partial
    modes = {args[1]: args[2] for _, args in jobs(["4"], [800_024, 800_115])}
    assert modes[800_024] == "failure"
    assert modes[800_115] == "partial"
    assert modes[400_024] == "failure"
    # set 5: 108 full failures, then partial
    modes = {args[1]: args[2] for _, args in jobs(["5"], [900_116])}
    assert modes[900_107] == "failure"
    assert modes[900_116] == "partial"
