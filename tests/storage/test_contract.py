"""One contract suite, run unchanged on SQLite, DynamoDB on moto and DynamoDB on dynalite."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from storage.base import DAY_MS
from storage.codec import canonical
from storage.errors import AlreadyExists, InvalidRecord
from storage.models import (
    AlertRule,
    AlertState,
    AlertStatus,
    ApiToken,
    ChatLink,
    Claim,
    HeatingOutlook,
    Invite,
    OutboxEntry,
    OutsideSettings,
    Reading,
    RuleKind,
    RuleSpec,
    TransitionKind,
    User,
)
from tests.support.common import NOW_MS

MINUTE = 60_000


def minutes(sensor: str, count: int, *, end: int = NOW_MS, value: float = 20.0) -> list[Reading]:
    return [Reading(sensor, end - (count - 1 - i) * MINUTE, value + i / 10) for i in range(count)]


# -- readings ---------------------------------------------------------------------------------

def test_it_reads_a_range_back_ascending_and_inclusive(store):
    readings = minutes("attic", 10)
    store.write_readings("u1", list(reversed(readings)), now_ms=NOW_MS)

    got = store.read_range("u1", "attic", readings[2].timestamp, readings[7].timestamp,
                           now_ms=NOW_MS)

    assert got == readings[2:8]


def test_it_keeps_values_exact(store):
    values = [-1.5, 0.0, 0.1 + 0.2, 21.3, 1e-7, -40.125, 12345.678]
    readings = [Reading("t", NOW_MS - i * MINUTE, v) for i, v in enumerate(values)]
    store.write_readings("u1", readings, now_ms=NOW_MS)

    got = store.read_range("u1", "t", 0, NOW_MS, now_ms=NOW_MS)

    assert sorted(r.value for r in got) == sorted(values)


def test_it_overwrites_a_reading_of_the_same_sensor_and_time(store):
    store.write_readings("u1", [Reading("attic", NOW_MS, 1.0)], now_ms=NOW_MS)
    store.write_readings("u1", [Reading("attic", NOW_MS, 2.0), Reading("attic", NOW_MS, 3.0)],
                         now_ms=NOW_MS)

    assert store.read_range("u1", "attic", 0, NOW_MS, now_ms=NOW_MS) == [
        Reading("attic", NOW_MS, 3.0)]


def test_it_writes_many_batches(store):
    readings = minutes("a", 40) + minutes("b", 37) + minutes("ruuvi/temperature", 3)
    assert store.write_readings("u1", readings, now_ms=NOW_MS) == 80

    for sensor, count in (("a", 40), ("b", 37), ("ruuvi/temperature", 3)):
        assert len(store.read_range("u1", sensor, 0, NOW_MS, now_ms=NOW_MS)) == count


def test_it_limits_a_range_read_to_the_oldest_readings(store):
    readings = minutes("attic", 30)
    store.write_readings("u1", readings, now_ms=NOW_MS)

    assert store.read_range("u1", "attic", 0, NOW_MS, now_ms=NOW_MS, limit=7) == readings[:7]


def test_it_takes_a_range_with_enormous_bounds(store):
    readings = minutes("attic", 3)
    store.write_readings("u1", readings, now_ms=NOW_MS)

    assert store.read_range("u1", "attic", -(10**30), 10**30, now_ms=NOW_MS) == readings
    assert store.read_range("u1", "attic", 10**30, 10**31, now_ms=NOW_MS) == []


def test_it_keeps_users_apart(store):
    store.write_readings("alice", [Reading("attic", NOW_MS, 1.0)], now_ms=NOW_MS)
    store.write_readings("bob", [Reading("attic", NOW_MS, 2.0)], now_ms=NOW_MS)

    assert store.latest_reading("alice", "attic", now_ms=NOW_MS).value == 1.0
    assert store.latest_reading("bob", "attic", now_ms=NOW_MS).value == 2.0
    assert [s.sensor_id for s in store.list_sensors("carol")] == []


def test_it_finds_the_latest_reading_of_one_and_of_many(store):
    store.write_readings("u1", minutes("a", 5, value=1) + minutes("b", 3, end=NOW_MS - MINUTE),
                         now_ms=NOW_MS)
    store.write_readings("u2", minutes("a", 2, value=9), now_ms=NOW_MS)

    latest = store.latest_readings([("u1", "a"), ("u1", "b"), ("u2", "a"), ("u1", "none")],
                                   now_ms=NOW_MS)

    assert store.latest_reading("u1", "a", now_ms=NOW_MS) == Reading("a", NOW_MS, 1.4)
    assert latest == {
        ("u1", "a"): Reading("a", NOW_MS, 1.4),
        ("u1", "b"): Reading("b", NOW_MS - MINUTE, 20.2),
        ("u2", "a"): Reading("a", NOW_MS, 9.1),
    }
    assert store.latest_reading("u1", "none", now_ms=NOW_MS) is None


def test_it_finds_the_latest_reading_before_a_time(store):
    readings = minutes("attic", 5)
    store.write_readings("u1", readings, now_ms=NOW_MS)

    assert store.latest_reading("u1", "attic", now_ms=NOW_MS,
                                before_ms=readings[3].timestamp) == readings[2]
    assert store.latest_reading("u1", "attic", now_ms=NOW_MS,
                                before_ms=readings[0].timestamp) is None


def test_it_never_returns_readings_past_retention(make_store):
    store = make_store(retention_days=2)
    old = Reading("attic", NOW_MS - 3 * DAY_MS, -5.0)
    recent = Reading("attic", NOW_MS - DAY_MS, 4.0)
    store.write_readings("u1", [old, recent], now_ms=NOW_MS)

    assert store.read_range("u1", "attic", 0, NOW_MS, now_ms=NOW_MS) == [recent]
    assert store.latest_reading("u1", "attic", now_ms=NOW_MS + 2 * DAY_MS) is None
    assert store.latest_readings([("u1", "attic")], now_ms=NOW_MS + 2 * DAY_MS) == {}


def test_it_refuses_ids_that_would_break_the_key(store):
    with pytest.raises(InvalidRecord):
        store.write_readings("u#1", [Reading("attic", NOW_MS, 1.0)], now_ms=NOW_MS)
    with pytest.raises(InvalidRecord):
        store.write_readings("u1", [Reading("at\ntic", NOW_MS, 1.0)], now_ms=NOW_MS)
    with pytest.raises(InvalidRecord):
        store.write_readings("u1", [Reading("x" * 201, NOW_MS, 1.0)], now_ms=NOW_MS)
    with pytest.raises(InvalidRecord):
        store.write_readings("u1", [Reading("attic", NOW_MS, float("nan"))], now_ms=NOW_MS)
    assert store.list_sensors("u1") == []


def test_it_returns_every_reading_of_a_range_larger_than_one_query_page(store):
    # Long ids make each item ~220 bytes, so 6,000 of them pass DynamoDB's 1 MB page.
    user, sensor = "u" * 64, "s" * 64
    readings = [Reading(sensor, NOW_MS - i * 1000, i % 50) for i in range(6000)]
    store.write_readings(user, readings, now_ms=NOW_MS)

    got = store.read_range(user, sensor, 0, NOW_MS, now_ms=NOW_MS)

    assert len(got) == 6000
    assert got == sorted(readings, key=lambda r: r.timestamp)


@pytest.mark.parametrize("sensor", ["Living room", "olohuone/lämpötila", "sauna#1", "x" * 65,
                                    "é" * 200])
def test_it_keeps_every_sensor_id_ranchdata_could_store(store, sensor):
    store.write_readings("u1", [Reading(sensor, NOW_MS, 1.5)], now_ms=NOW_MS)
    store.write_readings("u1", [Reading("sauna", NOW_MS, 9.0)], now_ms=NOW_MS)

    assert store.read_range("u1", sensor, 0, NOW_MS, now_ms=NOW_MS) == [
        Reading(sensor, NOW_MS, 1.5)]
    assert {s.sensor_id for s in store.list_sensors("u1")} == {sensor, "sauna"}
    assert store.update_sensor("u1", sensor, name="Sauna", now_ms=NOW_MS).name == "Sauna"


def test_it_keeps_a_user_id_with_spaces_as_ranchdata_did(store):
    store.add_user(User("my ranch", "my ranch", NOW_MS))
    store.write_readings("my ranch", [Reading("attic", NOW_MS, 1.0)], now_ms=NOW_MS)

    assert store.latest_reading("my ranch", "attic", now_ms=NOW_MS) == Reading("attic", NOW_MS,
                                                                                1.0)
    assert store.get_user("my ranch").name == "my ranch"


# -- items as ranchdata's DocumentClient stored them -------------------------------------------

def ranch_item(sensor_key: str, timestamp: str, value: dict[str, Any] | None) -> dict[str, Any]:
    """An item as measurement.js put it: value as the client sent it, expiry from insert time."""
    item = {"sensorId": {"S": sensor_key}, "timestamp": {"N": timestamp},
            "createdAt": {"N": str(NOW_MS - 1000)},
            "expires_at": {"N": str(round((NOW_MS + 28 * DAY_MS) / 1000))}}
    if value is not None:  # the DocumentClient leaves out an undefined value
        item["value"] = value
    return item


ODD_ITEMS = [
    ranch_item("23#attic", str(NOW_MS - 6000), {"N": "1.5"}),
    ranch_item("23#attic", str(NOW_MS - 5000), {"S": "5.25"}),        # telldus-style clients
    ranch_item("23#attic", str(NOW_MS - 4000), None),                 # the gateway's {}
    ranch_item("23#attic", str(NOW_MS - 3000), {"NULL": True}),       # {"value": null}
    ranch_item("23#attic", str(NOW_MS - 2500), {"S": "n/a"}),
    ranch_item("23#attic", str(NOW_MS - 2400), {"S": ""}),
    ranch_item("23#attic", str(NOW_MS - 2300), {"BOOL": True}),
    ranch_item("23#attic", str(NOW_MS - 2200), {"M": {"t": {"N": "1"}}}),
    ranch_item("23#attic", str(NOW_MS - 2000) + ".456", {"N": "-2"}),  # time.time() * 1000
    ranch_item("23#attic", str(NOW_MS - 1000), {"S": "NaN"}),
    ranch_item("23#attic", str(NOW_MS - 500), {"NULL": True}),        # the newest has no number
]


def write_raw(store: Any, items: list[dict[str, Any]]) -> None:
    if not hasattr(store, "measurements_table"):
        pytest.skip("only ranchdata's DynamoDB table can hold items sensorbot did not write")
    for item in items:
        store._client.put_item(TableName=store.measurements_table, Item=item)


def test_it_reads_every_item_shape_ranchdata_stored_skipping_those_without_a_number(store):
    write_raw(store, ODD_ITEMS)

    got = store.read_range("23", "attic", 0, NOW_MS, now_ms=NOW_MS)

    assert got == [Reading("attic", NOW_MS - 6000, 1.5), Reading("attic", NOW_MS - 5000, 5.25),
                   Reading("attic", NOW_MS - 2000, -2.0)]
    assert store.latest_reading("23", "attic", now_ms=NOW_MS) == got[-1]
    assert store.latest_readings([("23", "attic")], now_ms=NOW_MS) == {("23", "attic"): got[-1]}
    assert store.read_range("23", "attic", 0, NOW_MS, now_ms=NOW_MS, limit=2) == got[:2]


def test_it_finds_no_latest_reading_among_items_without_a_number(store):
    write_raw(store, [item for item in ODD_ITEMS if "N" not in item.get("value", {})
                      and "S" not in item.get("value", {})])

    assert store.read_range("23", "attic", 0, NOW_MS, now_ms=NOW_MS) == []
    assert store.latest_reading("23", "attic", now_ms=NOW_MS) is None


# -- sensors ----------------------------------------------------------------------------------

def test_it_registers_sensors_on_their_first_reading_and_keeps_their_names(store):
    store.write_readings("u1", [Reading("attic", NOW_MS, 1.0)], now_ms=NOW_MS)
    store.update_sensor("u1", "attic", name="Attic", unit="°C", now_ms=NOW_MS)
    store.write_readings("u1", [Reading("attic", NOW_MS + 1, 1.0), Reading("cellar", NOW_MS, 2)],
                         now_ms=NOW_MS + 5)

    sensors = {s.sensor_id: s for s in store.list_sensors("u1")}

    assert set(sensors) == {"attic", "cellar"}
    assert (sensors["attic"].name, sensors["attic"].unit) == ("Attic", "°C")
    assert sensors["cellar"].display_name == "cellar"
    assert store.get_sensor("u1", "attic") == sensors["attic"]


def test_it_changes_one_sensor_field_without_touching_the_other(store):
    store.update_sensor("u1", "attic", name="Attic", unit="°C", now_ms=NOW_MS)
    store.update_sensor("u1", "attic", unit=None, now_ms=NOW_MS + 1)

    sensor = store.get_sensor("u1", "attic")

    assert (sensor.name, sensor.unit, sensor.created) == ("Attic", None, NOW_MS)
    assert store.get_sensor("u1", "cellar") is None


# -- users and tokens -------------------------------------------------------------------------

def test_it_adds_and_lists_users_and_refuses_a_duplicate_id(store):
    store.add_user(User("23", "Cottage", NOW_MS))
    store.add_user(User("home", "Home", NOW_MS))

    with pytest.raises(AlreadyExists):
        store.add_user(User("23", "Another", NOW_MS))
    assert store.get_user("23") == User("23", "Cottage", NOW_MS)
    assert store.get_user("nobody") is None
    assert [u.user_id for u in store.list_users()] == ["23", "home"]


def make_token(token_id: str, user_id: str = "23", scope: str = "read") -> ApiToken:
    return ApiToken(token_id, f"hash-{token_id}", user_id, scope, f"label {token_id}", NOW_MS)


def test_it_finds_tokens_by_hash_and_id_and_lists_them_per_user(store):
    for token in (make_token("t1"), make_token("t2", scope="write"), make_token("t3", "other")):
        store.add_token(token)

    assert store.token_by_hash("hash-t2") == make_token("t2", scope="write")
    assert store.token_by_hash("hash-unknown") is None
    assert store.get_token("t3") == make_token("t3", "other")
    assert [t.token_id for t in store.list_tokens("23")] == ["t1", "t2"]
    assert {t.token_id for t in store.list_tokens()} == {"t1", "t2", "t3"}


def test_it_revokes_a_token_and_records_its_last_use(store):
    store.add_token(make_token("t1"))

    store.touch_token(make_token("t1"), now_ms=NOW_MS + 5)
    assert store.revoke_token("t1") is True
    assert store.revoke_token("missing") is False
    token = store.token_by_hash("hash-t1")

    assert (token.revoked, token.last_used) == (True, NOW_MS + 5)


# -- chats and invites ------------------------------------------------------------------------

def test_it_links_chats_to_users_and_forgets_them(store):
    store.put_chat_link(ChatLink(100, "u1", NOW_MS))
    store.put_chat_link(ChatLink(-200, "u1", NOW_MS, timezone="Europe/Helsinki"))
    store.put_chat_link(ChatLink(300, "u2", NOW_MS))
    store.put_chat_link(ChatLink(100, "u1", NOW_MS, active=False, quiet_hours="22:00-07:00"))

    assert store.get_chat_link(100) == ChatLink(100, "u1", NOW_MS, False, None, "22:00-07:00")
    assert [c.chat_id for c in store.chat_links_for_user("u1")] == [-200, 100]
    assert store.delete_chat_link(-200) is True
    assert store.delete_chat_link(-200) is False
    assert store.get_chat_link(-200) is None
    assert [c.chat_id for c in store.chat_links_for_user("u1")] == [100]


def test_it_moves_a_chat_to_another_user(store):
    store.put_chat_link(ChatLink(100, "u1", NOW_MS))
    store.put_chat_link(ChatLink(100, "u2", NOW_MS + 1))

    assert store.chat_links_for_user("u1") == []
    assert [c.chat_id for c in store.chat_links_for_user("u2")] == [100]


def test_it_lets_an_invite_link_one_chat_once_before_it_expires(store):
    store.add_invite(Invite("code1", "u1", NOW_MS, NOW_MS + DAY_MS))
    store.add_invite(Invite("late", "u1", NOW_MS, NOW_MS + 10))

    first = store.claim_invite("code1", 100, now_ms=NOW_MS + 5)
    again = store.claim_invite("code1", 200, now_ms=NOW_MS + 6)

    assert (first.user_id, first.used_by, first.used_at) == ("u1", 100, NOW_MS + 5)
    assert again is None
    assert store.claim_invite("late", 100, now_ms=NOW_MS + 11) is None
    assert store.claim_invite("unknown", 100, now_ms=NOW_MS) is None
    with pytest.raises(AlreadyExists):
        store.add_invite(Invite("code1", "u2", NOW_MS, NOW_MS + DAY_MS))


# -- alert rules ------------------------------------------------------------------------------

def make_rule(rule_id: str, user_id: str = "u1", sensor: str = "attic") -> AlertRule:
    spec = RuleSpec(RuleKind.BELOW, 3.0, for_s=600, clear=4.0, preset="freeze")
    return AlertRule(user_id, rule_id, sensor, spec, NOW_MS)


def test_it_stores_alert_rules_with_their_state(store):
    store.put_alert_rule(make_rule("r1"))
    store.put_alert_rule(make_rule("r2", sensor="ruuvi/temperature"))
    store.put_alert_rule(make_rule("r1", user_id="u2"))

    with pytest.raises(AlreadyExists):
        store.put_alert_rule(make_rule("r1"))
    expected = [make_rule("r1"), make_rule("r2", sensor="ruuvi/temperature")]
    assert store.list_alert_rules("u1") == expected
    assert len(store.list_alert_rules()) == 3
    assert store.delete_alert_rule("u1", "r1") is True
    assert store.delete_alert_rule("u1", "r1") is False
    assert [r.rule_id for r in store.list_alert_rules("u1")] == ["r2"]


def test_it_updates_alert_state_only_from_the_expected_version(store):
    store.put_alert_rule(make_rule("r1"))
    firing = AlertState(AlertStatus.FIRING, 0, since=NOW_MS, extreme=1.2)

    stored = store.update_alert_state("u1", "r1", firing, expected_version=0)
    lost_race = store.update_alert_state("u1", "r1", AlertState(), expected_version=0)

    assert stored == replace(firing, version=1)
    assert lost_race is None
    assert store.list_alert_rules("u1")[0].state == stored
    assert store.update_alert_state("u1", "gone", firing, expected_version=0) is None


def test_it_reads_one_alert_rule_with_its_whole_state(store):
    entry = OutboxEntry("e1", TransitionKind.FIRED, NOW_MS, 1.5, NOW_MS - 1000, 1.2,
                        NOW_MS - 600_000, -0.8, (11, -1002), Claim("w1", NOW_MS + 60_000))
    state = AlertState(AlertStatus.FIRING, 0, since=NOW_MS - 600_000, extreme=1.2,
                       notified=True, last_notice=NOW_MS, ack_by="Alice",
                       snoozed_until=NOW_MS + 1, outbox=(entry,))
    store.put_alert_rule(make_rule("r1"))
    stored = store.update_alert_state("u1", "r1", state, expected_version=0)

    assert store.get_alert_rule("u1", "r1") == replace(make_rule("r1"), state=stored)
    assert stored is not None and stored.outbox == (entry,)
    assert store.get_alert_rule("u1", "r2") is None
    assert store.get_alert_rule("u2", "r1") is None


def test_it_keeps_a_heating_rules_memory_and_its_warnings_outlook(store):
    outlook = HeatingOutlook(8.0, NOW_MS + 11 * 3_600_000, NOW_MS + 8 * 3_600_000,
                             NOW_MS + 15 * 3_600_000, -14.0, "forecast")
    entry = OutboxEntry("e1", TransitionKind.FIRED, NOW_MS, 6.1, NOW_MS, None, NOW_MS - 1,
                        -0.7, outlook=outlook)
    memory = canonical({"phase": "firing", "model": {"level": 8.0, "tau_h": 31.5}, "since": 1})
    state = AlertState(AlertStatus.FIRING, 0, since=NOW_MS - 1, notified=True, outbox=(entry,),
                       heating=memory)
    rule = AlertRule("u1", "r1", "attic", RuleSpec(RuleKind.HEATING), NOW_MS)
    store.put_alert_rule(rule)

    stored = store.update_alert_state("u1", "r1", state, expected_version=0)

    assert store.get_alert_rule("u1", "r1") == replace(rule, state=stored)
    assert stored is not None and stored.heating == memory


def test_it_keeps_each_users_outside_settings(store):
    assert store.get_outside_settings("u1") is None
    store.put_outside_settings(OutsideSettings("u1", "Outdoor/temp", 60.1699, 24.9384))
    store.put_outside_settings(OutsideSettings("u2", None, -33.8688, 151.2093))

    assert store.get_outside_settings("u1") == OutsideSettings("u1", "Outdoor/temp", 60.1699,
                                                                24.9384)
    store.put_outside_settings(OutsideSettings("u1", "Outdoor/temp"))
    assert store.get_outside_settings("u1") == OutsideSettings("u1", "Outdoor/temp")
    assert store.get_outside_settings("u2") == OutsideSettings("u2", None, -33.8688, 151.2093)


# -- Telegram updates a webhook took ----------------------------------------------------------

LEASE = 60_000


def test_an_update_is_claimed_once_and_its_redelivery_is_refused(store):
    assert store.claim_update(7, now_ms=NOW_MS, lease_ms=LEASE)
    assert not store.claim_update(7, now_ms=NOW_MS + 1, lease_ms=LEASE)  # still being handled
    store.finish_update(7, now_ms=NOW_MS + 2)

    assert not store.claim_update(7, now_ms=NOW_MS + LEASE + 3, lease_ms=LEASE)
    assert not store.claim_update(7, now_ms=NOW_MS + DAY_MS - 1, lease_ms=LEASE)
    assert store.claim_update(8, now_ms=NOW_MS, lease_ms=LEASE)


def test_an_update_abandoned_by_a_crashed_handler_is_claimed_again_after_the_lease(store):
    assert store.claim_update(7, now_ms=NOW_MS, lease_ms=LEASE)

    assert not store.claim_update(7, now_ms=NOW_MS + LEASE - 1, lease_ms=LEASE)
    assert store.claim_update(7, now_ms=NOW_MS + LEASE, lease_ms=LEASE)


def test_a_handled_update_is_forgotten_after_a_day(store):
    store.claim_update(7, now_ms=NOW_MS, lease_ms=LEASE)
    store.finish_update(7, now_ms=NOW_MS)
    store.purge_expired(now_ms=NOW_MS + DAY_MS)

    assert store.claim_update(7, now_ms=NOW_MS + DAY_MS + 1000, lease_ms=LEASE)


def test_of_concurrent_claims_of_one_update_exactly_one_wins(racing_store):
    store = racing_store
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    barrier = Barrier(8)

    def claim(update_id: int) -> bool:
        barrier.wait()
        return store.claim_update(update_id, now_ms=NOW_MS, lease_ms=LEASE)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(claim, [42] * 8))

    assert results.count(True) == 1


# -- a preset's rules, under derived ids ------------------------------------------------------

def test_a_preset_rule_is_written_once_kept_when_the_same_and_replaced_when_not(store):
    rule = AlertRule("u1", "fabc", "attic", RuleSpec(RuleKind.BELOW, 3.0, preset="freeze"),
                     NOW_MS)
    assert store.put_preset_rule(rule)
    firing = store.update_alert_state("u1", "fabc", AlertState(AlertStatus.FIRING, since=NOW_MS),
                                      expected_version=0)

    same = store.put_preset_rule(replace(rule, created=NOW_MS + 1))
    kept = store.get_alert_rule("u1", "fabc")
    other = store.put_preset_rule(replace(rule, spec=RuleSpec(RuleKind.BELOW, 5.0,
                                                              preset="freeze")))
    replaced = store.get_alert_rule("u1", "fabc")

    assert (same, kept.state.status, kept.created) == (False, AlertStatus.FIRING, NOW_MS)
    assert other
    assert (replaced.spec.threshold, replaced.state.status) == (5.0, AlertStatus.OK)
    assert replaced.state.version > firing.version
    assert [r.rule_id for r in store.list_alert_rules("u1")] == ["fabc"]


# -- deleting a sensor ------------------------------------------------------------------------

def test_deleting_a_sensor_removes_it_its_rules_and_readings_and_nothing_else(store):
    store.write_readings("u1", minutes("attic", 460) + minutes("cellar", 3), now_ms=NOW_MS)
    store.write_readings("u2", minutes("attic", 2), now_ms=NOW_MS)
    for user, sensor, rule_id in (("u1", "attic", "r1"), ("u1", "attic", "r2"),
                                  ("u1", "cellar", "r3"), ("u2", "attic", "r4")):
        store.put_alert_rule(AlertRule(user, rule_id, sensor, RuleSpec(RuleKind.BELOW, 3.0),
                                       NOW_MS))
    from storage.models import HourStats
    hour = HourStats(NOW_MS - NOW_MS % 3_600_000 - 3_600_000, 2, 1.0, 2.0, 1.5, 0, 1)
    for user, sensor in (("u1", "attic"), ("u1", "cellar")):
        store.write_statistics(user, sensor, [hour], now_ms=NOW_MS)
    seen = []

    done = store.delete_sensor("u1", "attic", progress=seen.append)

    assert (done.sensor, done.readings, done.rules, done.complete) == ("attic", 460, 2, True)
    assert seen and seen[-1].readings == 460
    assert [s.sensor_id for s in store.list_sensors("u1")] == ["cellar"]
    assert store.get_sensor("u1", "attic") is None
    assert store.read_range("u1", "attic", 0, NOW_MS, now_ms=NOW_MS) == []
    assert [r.rule_id for r in store.list_alert_rules("u1")] == ["r3"]
    assert len(store.read_range("u1", "cellar", 0, NOW_MS, now_ms=NOW_MS)) == 3
    assert len(store.read_range("u2", "attic", 0, NOW_MS, now_ms=NOW_MS)) == 2
    assert [r.rule_id for r in store.list_alert_rules("u2")] == ["r4"]
    assert store.read_statistics("u1", "attic", 0, NOW_MS, now_ms=NOW_MS) == []
    assert store.read_statistics("u1", "cellar", 0, NOW_MS, now_ms=NOW_MS) == [hour]


def test_deleting_a_sensor_nobody_has_removes_nothing(store):
    done = store.delete_sensor("u1", "ghost")

    assert (done.readings, done.rules, done.complete) == (0, 0, True)


def test_a_deleted_sensor_that_reports_again_is_listed_again(store):
    store.write_readings("u1", minutes("attic", 2), now_ms=NOW_MS)
    store.delete_sensor("u1", "attic")

    store.write_readings("u1", minutes("attic", 1, end=NOW_MS + MINUTE), now_ms=NOW_MS + MINUTE)

    assert [s.sensor_id for s in store.list_sensors("u1")] == ["attic"]
