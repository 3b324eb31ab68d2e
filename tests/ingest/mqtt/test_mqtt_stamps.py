"""The time given to a message that carries none."""

from __future__ import annotations

from ingest.mqtt.subscriber import ArrivalStamps
from storage.models import Reading


class LatestOnly:
    """A store that knows each sensor's latest reading, as storage.base.Store does."""

    def __init__(self, latest: dict[tuple[str, str], int]) -> None:
        self.latest = latest
        self.asked: list[tuple[str, str, int | None]] = []

    def latest_reading(self, user_id: str, sensor: str, *, now_ms: int,
                       before_ms: int | None = None) -> Reading | None:
        self.asked.append((user_id, sensor, before_ms))
        stamp = self.latest.get((user_id, sensor))
        return None if stamp is None else Reading(sensor, stamp, 1.0)


def test_a_message_is_stamped_on_arrival_when_its_sensors_are_behind() -> None:
    stamps = ArrivalStamps(LatestOnly({("u", "a"): 500}))  # type: ignore[arg-type]
    assert stamps.next([("u", "a")], 1000, 1000) == 1000


def test_messages_arriving_together_get_one_millisecond_each_per_sensor() -> None:
    stamps = ArrivalStamps(LatestOnly({}))  # type: ignore[arg-type]
    given = [stamps.next([("u", "a"), ("u", "b")], 1000, 1000) for _ in range(3)]
    assert given == [1000, 1001, 1002]
    assert stamps.next([("u", "c")], 1000, 1000) == 1000  # another sensor: its own line


def test_after_a_restart_the_stored_latest_reading_is_never_stamped_over() -> None:
    store = LatestOnly({("u", "a"): 1005})  # written by the run before, ahead of arrivals now
    stamps = ArrivalStamps(store)  # type: ignore[arg-type]

    assert stamps.next([("u", "a")], 1000, 2000) == 1006
    assert stamps.next([("u", "a")], 1000, 2000) == 1007
    assert store.asked == [("u", "a", 2001)]  # storage asked once, for what is not ahead
