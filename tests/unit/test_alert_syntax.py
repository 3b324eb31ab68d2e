"""/alert's grammar and the freeze preset's limits, without a bot."""

from __future__ import annotations

import pytest

from alerts.rules import BadRule, freeze_preset
from bot.alert_syntax import parse_alert, parse_number
from core.formatting import BadArgument
from storage.models import RuleKind, RuleSpec


def test_it_parses_every_option_of_a_threshold_rule():
    spec = parse_alert(["below", "3", "for", "10m", "clear", "4.5", "repeat", "2h"])

    assert spec == RuleSpec(RuleKind.BELOW, 3.0, for_s=600, clear=4.5, repeat_s=7200)


def test_it_parses_a_stale_rule_and_a_comma_decimal():
    assert parse_alert(["stale", "1h"]) == RuleSpec(RuleKind.STALE, stale_s=3600)
    assert parse_alert(["above", "30,5"]).threshold == 30.5


@pytest.mark.parametrize(("words", "problem"), [
    ([], "Say below, above, stale or heating"),
    (["under", "3"], "Say below, above, stale or heating"),
    (["below"], "Below needs a number"),
    (["below", "x"], "'x' is not a number"),
    (["below", "nan"], "not a finite number"),
    (["below", "3", "for"], "'for' needs a value"),
    (["below", "3", "when", "5"], "I don't know 'when'"),
    (["below", "3", "clear", "2"],
     "Clear 2 must be above the threshold 3, where the value is back to normal (e.g. clear 4)"),
    (["above", "30", "clear", "30"],
     "Clear 30 must be below the threshold 30, where the value is back to normal (e.g. clear 29)"),
    (["above", "1e9"], "beyond ±100000"),
    (["stale"], "Stale takes one duration"),
    (["stale", "soon"], "not a duration"),
])
def test_it_says_what_was_wrong_with_an_example(words, problem):
    with pytest.raises(BadArgument) as error:
        parse_alert(words)

    assert problem in str(error.value)
    if "duration" not in problem:
        assert "e.g. /alert attic below 3" in str(error.value)


def test_the_freeze_preset_is_below_for_ten_minutes_an_hour_of_silence_and_the_heating_watch():
    below, stale, watch = freeze_preset(2.0)

    assert (below.kind, below.threshold, below.for_s, below.clear_level) == \
        (RuleKind.BELOW, 2.0, 600, 3.0)
    assert (stale.kind, stale.stale_s, stale.always_rings) == (RuleKind.STALE, 3600, True)
    assert (watch.kind, watch.always_rings) == (RuleKind.HEATING, True)


def test_heating_takes_no_settings():
    assert parse_alert(["heating"]).kind is RuleKind.HEATING
    with pytest.raises(BadArgument, match="Heating takes nothing more"):
        parse_alert(["heating", "5"])


def test_the_freeze_preset_refuses_an_absurd_threshold_and_takes_one_at_the_limit():
    with pytest.raises(BadRule, match="threshold of 1e"):
        freeze_preset(1e9)
    assert freeze_preset(99_999.5)[0].clear_level == 100_000.5


def test_a_number_must_be_finite():
    assert parse_number("-1.5") == -1.5


def test_a_number_copied_from_the_bots_own_text_reads_back():
    """The chat shows a true minus (−5); pasted back into /alert it is still minus five."""
    assert parse_number("\u22125") == -5.0
    assert parse_alert(["below", "\u22125"]).threshold == -5.0
    with pytest.raises(BadArgument):
        parse_number("inf")
