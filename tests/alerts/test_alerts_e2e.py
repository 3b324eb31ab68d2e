"""Alerts end to end: readings through the HTTP API, the bot's cycle, the emulator's chats."""

from __future__ import annotations

import time

from storage.models import Reading
from tests.support.alerts import AlertWorld
from tests.support.bot import ALICE_CHAT, BOB_CHAT
from tests.support.common import NOW_MS

GROUP = -7007
SUPERGROUP = -1001234567890
MIN = 60_000


def wait_alerts(world: AlertWorld, chat_id: int, count: int, after: int = 0,
                timeout: float = 15) -> list:
    deadline = time.monotonic() + timeout
    while True:
        found = world.alerts_to(chat_id, after)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_a_cold_reading_alerts_each_linked_chat_once_with_four_buttons(alert_world):
    world = alert_world
    chat = world.linked_chat()
    world.linked_chat(chat_id=GROUP)
    world.linked_chat("bob", BOB_CHAT)
    assert "Alert r" in chat.ask("/alert attic below 1")
    start = len(world.emulator.calls)

    world.post(0.5)

    [mine] = wait_alerts(world, ALICE_CHAT, 1, start)
    [group] = wait_alerts(world, GROUP, 1, start)
    world.wait_cycles(2)  # still one message per transition
    assert len(world.alerts_to(ALICE_CHAT, start)) == 1
    assert world.alerts_to(BOB_CHAT, start) == []
    assert mine.text.startswith("❄️ Alert: attic is 0.5 at 08:00, below 1")
    assert [b["text"] for b in mine.buttons] == ["Acknowledge", "Snooze 1h", "Snooze 8h",
                                                "Chart 24h"]
    assert group.text == mine.text


def test_freeze_is_all_a_user_types_and_recovery_reports_the_lowest(alert_world):
    world = alert_world
    chat = world.linked_chat()
    assert "Pipe-freeze protection on attic" in chat.ask("/freeze attic")
    start = len(world.emulator.calls)

    for minute, value in ((-12, 2.5), (-6, 1.2), (0, 1.8)):
        world.post(value, timestamp=NOW_MS + minute * MIN)
    [fired] = wait_alerts(world, ALICE_CHAT, 1, start)
    world.post(4.5, timestamp=NOW_MS + MIN)
    world.clock.now += MIN
    recovered = wait_alerts(world, ALICE_CHAT, 2, start)[1]

    assert fired.text.startswith("❄️ Pipe-freeze alert: attic is 1.8 at 08:00, below 3")
    # The seeded readings were below 3 °C for two hours already: the true start and lowest.
    assert "since 06:01 · lowest 0.81" in fired.text
    assert fired.params.get("disable_notification") in (None, False)
    assert recovered.text.startswith("✅ attic recovered after 2 h")
    assert "lowest 0.81" in recovered.text
    assert "reply_markup" not in recovered.params or not recovered.buttons


def test_the_buttons_acknowledge_snooze_and_chart(alert_world):
    world = alert_world
    chat = world.linked_chat()
    chat.ask("/alert attic below 1 repeat 30s")
    start = len(world.emulator.calls)
    world.post(0.5)
    [alert] = wait_alerts(world, ALICE_CHAT, 1, start)
    data = {b["text"]: b["callback_data"] for b in alert.buttons}

    mark = len(world.emulator.calls)
    world.emulator.press(alert, data["Acknowledge"], user_id=ALICE_CHAT)
    edited = world.emulator.wait_for(lambda c: c.method == "editMessageText", after=mark)
    world.emulator.press(alert, data["Chart 24h"], user_id=ALICE_CHAT)
    photo = world.emulator.wait_for(lambda c: c.method == "sendPhoto", after=mark)
    world.clock.now += 31_000
    world.wait_cycles(2)

    assert "Acknowledged by Tester" in edited.text
    assert [b["text"] for b in edited.buttons] == ["Chart 24h"]  # what still makes sense
    assert photo.files["photo"][1].startswith(b"\x89PNG")
    assert len(world.alerts_to(ALICE_CHAT, start)) == 1  # no reminder after acknowledging
    world.emulator.press(alert, data["Snooze 8h"], user_id=ALICE_CHAT)
    snoozed = world.emulator.wait_for(lambda c: c.method == "editMessageText"
                                      and "Snoozed" in c.text, after=mark)
    rule = world.store.list_alert_rules("alice")[0]
    assert rule.state.snoozed_until == world.clock.now + 8 * 3_600_000
    assert "Snoozed for 8 h" in snoozed.text
    assert [b["text"] for b in snoozed.buttons] == ["Acknowledge", "Chart 24h"]


def test_yesterdays_acknowledge_button_does_not_silence_todays_alert(alert_world):
    world = alert_world
    world.linked_chat().ask("/alert attic below 1 repeat 1m")
    start = len(world.emulator.calls)
    world.post(0.5)
    [old] = wait_alerts(world, ALICE_CHAT, 1, start)
    world.post(5.0, timestamp=NOW_MS + 1000)
    wait_alerts(world, ALICE_CHAT, 2, start)  # recovered
    world.clock.now += 2000
    world.post(0.4)
    wait_alerts(world, ALICE_CHAT, 3, start)  # a new incident

    mark = len(world.emulator.calls)
    world.emulator.press(old, old.buttons[0]["callback_data"], user_id=ALICE_CHAT)
    answer = world.emulator.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark)

    assert "over already" in answer.params.get("text", "")
    assert world.store.list_alert_rules("alice")[0].state.ack_by is None


def test_reminders_come_while_firing(alert_world):
    world = alert_world
    world.linked_chat().ask("/alert attic below 1 repeat 1m")
    start = len(world.emulator.calls)
    world.post(0.5)
    wait_alerts(world, ALICE_CHAT, 1, start)

    world.clock.now += 61_000
    alerts = wait_alerts(world, ALICE_CHAT, 2, start)

    assert "Reminder" in alerts[1].text


def test_a_stale_rule_fires_and_resolves(alert_world):
    world = alert_world
    chat = world.linked_chat()
    chat.ask("/alert attic stale 10m")
    start = len(world.emulator.calls)

    world.clock.now += 11 * MIN
    [silent] = wait_alerts(world, ALICE_CHAT, 1, start)
    world.post(2.2)
    back = wait_alerts(world, ALICE_CHAT, 2, start)[1]

    assert silent.text == "📵 No data from attic for 11 min (last 2 at 08:00)."
    assert back.text == "✅ attic is reporting again: 2.2 at 08:11."


def test_a_restart_between_fire_and_resolve_repeats_nothing_and_loses_nothing(alert_world):
    world = alert_world
    world.linked_chat().ask("/alert attic below 1")
    start = len(world.emulator.calls)
    world.post(0.5)
    wait_alerts(world, ALICE_CHAT, 1, start)
    world.bot.stop()
    # While the process is down the sensor's warm reading lands (say, via the Lambda API).
    world.store.write_readings("alice", [Reading("attic", NOW_MS + 2000, 3.0)], now_ms=NOW_MS)

    world.restart()
    alerts = wait_alerts(world, ALICE_CHAT, 2, start)
    world.wait_cycles(2)

    kinds = [a.text[0] for a in world.alerts_to(ALICE_CHAT, start)]
    assert kinds == ["❄", "✅"]
    assert alerts[1].text.startswith("✅ attic recovered")


def test_quiet_hours_send_silently_but_freeze_still_rings(alert_world):
    world = alert_world
    chat = world.linked_chat()
    assert "Quiet hours 07:00-09:00" in chat.ask("/quiet 07:00-09:00")
    chat.ask("/alert attic below 1")
    chat.ask("/freeze attic 2.5")  # the seeded readings have been below 2.5 for two hours
    start = len(world.emulator.calls)

    world.post(0.5)
    alerts = wait_alerts(world, ALICE_CHAT, 2, start)

    by_kind = {("freeze" if "Pipe-freeze" in a.text else "plain"): a for a in alerts}
    assert by_kind["plain"].params.get("disable_notification") is True
    assert by_kind["freeze"].params.get("disable_notification") in (None, False)


def test_a_429_is_waited_out_and_a_403_chat_does_not_stop_the_others(alert_world):
    world = alert_world
    world.linked_chat()
    world.linked_chat(chat_id=GROUP)
    world.chat(ALICE_CHAT).ask("/alert attic below 1")
    world.emulator.fail_next("sendMessage", 429, "Too Many Requests: retry after 1",
                             retry_after=1, chat_id=GROUP)
    world.emulator.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user",
                             chat_id=ALICE_CHAT)
    start = len(world.emulator.calls)

    world.post(0.5)
    [group] = wait_alerts(world, GROUP, 1, start)
    deadline = time.monotonic() + 10
    while world.store.get_chat_link(ALICE_CHAT).active and time.monotonic() < deadline:
        time.sleep(0.05)
    world.wait_cycles(1)

    assert group.text.startswith("❄️")
    assert world.store.get_chat_link(ALICE_CHAT).active is False
    assert world.alerts_to(ALICE_CHAT, start) == []
    assert len(world.alerts_to(GROUP, start)) == 1


def test_bad_alert_arguments_are_explained(alert_world):
    chat = alert_world.linked_chat()

    assert "below, above, stale or heating" in chat.ask("/alert attic sideways 3")
    assert "not a number" in chat.ask("/alert attic below cold")
    assert "no sensor 'cellar'" in chat.ask("/alert cellar below 3")
    assert "/freeze attic 5" in chat.ask("/freeze")
    assert "e.g. /delalert" in chat.ask("/delalert")
    assert "no alert 'r000000'" in chat.ask("/delalert r000000")
    assert "e.g. /quiet 22:00-07:00" in chat.ask("/quiet noon")
    assert "e.g. /quiet 22:00-07:00" in chat.ask("/quiet 22:00Z-07:00")
    assert "e.g. /snooze attic 2h" in chat.ask("/snooze attic")
    assert "at most 365 days, e.g. /snooze all 7d" in chat.ask("/snooze all 400d")
    assert "/delalert" in chat.ask("/snooze attic 366d")
    assert "-500 is below absolute zero (-273.15 °C). E.g. /freeze attic 5" in \
        chat.ask("/freeze attic -500")
    assert "No alert rules yet" in chat.ask("/alerts")


def test_alert_options_that_are_wrong_are_named_and_nothing_is_kept(alert_world):
    chat = alert_world.linked_chat()
    example = "e.g. /alert attic below 3 for 10m"

    answer = chat.ask("/alert attic below 3 extra")
    assert answer.startswith("I don't know 'extra': use for, clear or repeat") and example in answer
    answer = chat.ask("/alert attic below 3 for 10m for 20m")
    assert answer.startswith("'for' is given twice") and example in answer
    answer = chat.ask("/alert attic below 3 for 0m")
    assert answer.startswith("'0m' is no time at all") and example in answer
    answer = chat.ask("/alert attic stale -1h")
    assert answer.startswith("'-1h' is not a duration") and example in answer
    for words, name in (("below 3 for 9999d", "for"), ("above 30 repeat 400d", "repeat"),
                        ("stale 9999d", "stale")):
        answer = chat.ask(f"/alert attic {words}")
        assert answer.startswith(f"'{name}' is at most 365 days, not ") and example in answer
    assert alert_world.store.list_alert_rules("alice") == []
    assert "attic below 3 for 365 days" in chat.ask("/alert attic below 3 for 365d")


def test_an_alert_below_absolute_zero_on_a_temperature_sensor_is_refused(alert_world):
    chat = alert_world.linked_chat()
    store = alert_world.store

    store.update_sensor("alice", "attic", unit="°F", now_ms=alert_world.clock.now)
    assert chat.ask("/alert attic below -500").startswith(
        "-500 is below absolute zero (-459.67 °F); e.g. /alert attic below 3")
    store.update_sensor("alice", "attic", unit="°C", now_ms=alert_world.clock.now)
    assert chat.ask("/alert attic above -300 clear -301").startswith(
        "-300 is below absolute zero (-273.15 °C); e.g. /alert attic below 3")
    assert store.list_alert_rules("alice") == []
    assert "below −270 °C" in chat.ask("/alert attic below -270")
    store.update_sensor("alice", "attic", unit="dBm", now_ms=alert_world.clock.now)
    assert "below −500 dBm" in chat.ask("/alert attic below -500")  # not a temperature


def test_quiet_hours_say_which_time_is_wrong_and_keep_what_was_set(alert_world):
    chat = alert_world.linked_chat()
    example = ". Give a span or off, e.g. /quiet 22:00-07:00 or /quiet off"
    chat.ask("/quiet 23:00-06:00")

    assert chat.ask("/quiet 25:00-07:00") == f"25:00 is not a time of day (00:00 to 23:59){example}"
    assert chat.ask("/quiet 22:00-07:60") == f"07:60 is not a time of day (00:00 to 23:59){example}"
    assert chat.ask("/quiet 22:00-22:00") == (
        f"'22:00-22:00' starts and ends at once: quiet hours need a different end{example}")
    assert chat.ask("/quiet 22:00-07:00 now") == f"'now' is one word too many{example}"
    assert chat.ask("/quiet noon") == f"'noon' is not a time span{example}"
    assert alert_world.store.get_chat_link(ALICE_CHAT).quiet_hours == "23:00-06:00"
    assert chat.ask("/quiet 22:00 - 07:00").startswith("Quiet hours 22:00-07:00:")


def test_freeze_protection_above_boiling_is_refused(alert_world):
    chat = alert_world.linked_chat()

    assert chat.ask("/freeze attic 500") == (
        "500 is above boiling (100 °C): freeze protection warns of the cold. E.g. /freeze attic 5")
    alert_world.store.update_sensor("alice", "attic", unit="°F", now_ms=alert_world.clock.now)
    assert chat.ask("/freeze attic 400").startswith("400 is above boiling (212 °F)")
    assert alert_world.store.list_alert_rules("alice") == []
    assert "below 50 °F" in chat.ask("/freeze attic 50")
    assert "above 150 °F" in chat.ask("/alert attic above 150")  # a sauna's rule, not a freeze


def test_an_alert_follows_a_group_that_became_a_supergroup(alert_world):
    world = alert_world
    world.linked_chat(chat_id=GROUP).ask("/alert attic below 1")
    world.emulator.fail_next("sendMessage", 400,
                             "Bad Request: group chat was upgraded to a supergroup chat",
                             chat_id=GROUP, migrate_to_chat_id=SUPERGROUP)
    start = len(world.emulator.calls)

    world.post(0.5)
    [alert] = wait_alerts(world, SUPERGROUP, 1, start)

    assert alert.text.startswith("❄️ Alert: attic is 0.5")
    assert world.store.get_chat_link(GROUP) is None
    assert world.store.get_chat_link(SUPERGROUP).user_id == "alice"
    world.wait_cycles(1)  # later cycles: nothing more, to either id
    assert len(world.alerts_to(SUPERGROUP, start)) == 1
    assert world.alerts_to(GROUP, start) == []


def test_snooze_can_be_lifted_and_quiet_hours_can_be_read_back(alert_world):
    world = alert_world
    chat = world.linked_chat()
    chat.ask("/alert attic below 1")

    assert "Snoozed 1 alert for 2 h, until" in chat.ask("/snooze attic 2h")
    assert chat.ask("/snooze attic off") == "Snooze lifted from 1 alert."
    assert world.store.list_alert_rules("alice")[0].state.snoozed_until is None
    assert "at most 365 days" in chat.ask("/snooze all 366d")
    assert world.store.list_alert_rules("alice")[0].state.snoozed_until is None  # refused: kept
    assert " 2028 " in chat.ask("/snooze all 365d")  # a date a year off shows its year
    assert chat.ask("/quiet").startswith("Quiet hours are off.")
    chat.ask("/quiet 22:00-07:00")
    assert chat.ask("/quiet").startswith("Quiet hours are 22:00-07:00.")
    assert chat.ask("/quiet OFF") == "Quiet hours are off."


def test_a_press_on_one_phone_updates_the_alert_on_the_other_and_the_first_ack_stands(
        alert_world):
    world = alert_world
    chat = world.linked_chat()
    world.linked_chat(chat_id=GROUP)  # a second phone, or the family's group
    chat.ask("/alert attic below 1 repeat 30s")
    start = len(world.emulator.calls)
    world.post(0.5)
    [mine] = wait_alerts(world, ALICE_CHAT, 1, start)
    [theirs] = wait_alerts(world, GROUP, 1, start)
    ack = {b["text"]: b["callback_data"] for b in theirs.buttons}["Acknowledge"]
    wait_for_messages_remembered(world, 2)

    mark = len(world.emulator.calls)
    world.emulator.press(mine, ack, user_id=ALICE_CHAT, first_name="Anna")
    there = world.emulator.wait_for(lambda c: c.method == "editMessageReplyMarkup"
                                    and c.chat_id == GROUP, after=mark)
    told = world.emulator.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == GROUP,
                                   after=mark)
    second = len(world.emulator.calls)
    world.emulator.press(theirs, ack, user_id=GROUP, first_name="Ben")
    answer = world.emulator.wait_for(lambda c: c.method == "answerCallbackQuery",
                                     after=second)
    shown = world.emulator.wait_for(lambda c: c.method == "editMessageText"
                                    and c.chat_id == GROUP, after=second)

    assert int(there.params["message_id"]) == theirs.result["message_id"]
    assert [b["text"] for b in there.buttons] == ["Chart 24h"]  # no Acknowledge left there
    assert told.text == "✓ Acknowledged by Anna: no more reminders for this incident."
    assert told.params.get("disable_notification") is True
    assert answer.params["text"] == "Already acknowledged by Anna."
    assert "Acknowledged by Anna" in shown.text and "Ben" not in shown.text
    assert world.store.list_alert_rules("alice")[0].state.ack_by == "Anna"


def test_a_snooze_on_one_phone_updates_the_alert_on_the_other(alert_world):
    world = alert_world
    chat = world.linked_chat()
    world.linked_chat(chat_id=GROUP)
    chat.ask("/alert attic below 1")
    start = len(world.emulator.calls)
    world.post(0.5)
    [mine] = wait_alerts(world, ALICE_CHAT, 1, start)
    wait_alerts(world, GROUP, 1, start)
    wait_for_messages_remembered(world, 2)

    mark = len(world.emulator.calls)
    snooze = {b["text"]: b["callback_data"] for b in mine.buttons}["Snooze 1h"]
    world.emulator.press(mine, snooze, user_id=ALICE_CHAT, first_name="Anna")
    there = world.emulator.wait_for(lambda c: c.method == "editMessageReplyMarkup"
                                    and c.chat_id == GROUP, after=mark)
    told = world.emulator.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == GROUP,
                                   after=mark)

    assert [b["text"] for b in there.buttons] == ["Acknowledge", "Chart 24h"]
    assert told.text == "💤 Snoozed for 1 h by Anna."


def wait_for_messages_remembered(world: AlertWorld, count: int, timeout: float = 10) -> None:
    """The cycle records each chat's message right after sending it."""
    deadline = time.monotonic() + timeout
    while len(world.store.list_alert_rules("alice")[0].state.messages) < count:
        assert time.monotonic() < deadline
        time.sleep(0.05)
